//! What `cairn executions show` and `cairn inspect` show, how a run's input
//! is checked before an execution is made, and what a file that is not a
//! component is called: through the `cairn` binary, and the host library
//! beneath it.

use std::path::Path;
use std::process::Output;

use cairn_host::{
    Component, ExecutionFilter, ExecutionStatus, FailureKind, LoadError, Policy, RunError,
};
use serde_json::{Value, json};

use crate::guests;
use cairn_tests::{cairn, chain, engine, guest, temp};

fn run(dir: &Path, args: &[&str]) -> Output {
    cairn(dir).args(args).output().expect("cairn starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&output.stdout)))
}

/// Characters a terminal acts on rather than shows (see `cli.rs`).
fn terminal_controls(bytes: &[u8]) -> Vec<char> {
    text(bytes)
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// The lines of the table whose header starts with `first_column`, header
/// first, up to the blank line after it.
fn table<'a>(output: &'a str, first_column: &str) -> Vec<&'a str> {
    output
        .lines()
        .skip_while(|l| !l.starts_with(first_column))
        .take_while(|l| !l.is_empty())
        .collect()
}

#[test]
fn show_lists_the_waits_with_their_questions_and_answers() {
    let dir = temp();
    let approval = guest(guests::APPROVAL);
    let approval = approval.to_str().expect("utf8");
    let ran = run(
        dir.path(),
        &["run", approval, "--input", r#"{"topic": "durable flows"}"#],
    );
    assert_eq!(code(&ran), 3, "{}", text(&ran.stderr));
    let waiting = json_of(&run(dir.path(), &["--json", "executions", "show", "1"]));
    let calls = waiting["calls"].as_array().expect("calls").len();
    assert!(calls >= 1, "{waiting}");
    assert_eq!(
        waiting["call_count"], calls,
        "a waiting execution: {waiting}"
    );

    let asked = run(dir.path(), &["executions", "show", "1"]);
    assert_eq!(code(&asked), 0, "{}", text(&asked.stderr));
    let stdout = text(&asked.stdout);
    let calls = table(&stdout, "SEQ");
    assert!(calls.iter().any(|l| l.contains("draft")), "{stdout}");
    let waits = table(&stdout, "WAIT");
    assert_eq!(waits.len(), 2, "a header and one wait: {stdout}");
    assert!(
        waits[0].starts_with("WAIT") && waits[0].contains("QUESTION"),
        "{stdout}"
    );
    let row = waits[1];
    assert!(row.starts_with("approve "), "{row}");
    assert!(row.contains(" asked "), "{row}");
    assert!(
        row.contains("Publish this post? Why durable flows"),
        "{row}"
    );
    assert!(row.contains('…'), "a long question is cut: {row}");
    assert!(row.ends_with(" -"), "no value yet: {row}");

    let value = r#"{"approved": true, "reviewer": "ada"}"#;
    let answered = run(
        dir.path(),
        &[
            "executions",
            "input",
            "1",
            "--wait",
            "approve",
            "--value",
            value,
        ],
    );
    assert_eq!(code(&answered), 0, "{}", text(&answered.stderr));
    let resumed = run(dir.path(), &["executions", "resume", "1"]);
    assert_eq!(code(&resumed), 0, "{}", text(&resumed.stderr));
    let shown = run(dir.path(), &["executions", "show", "1"]);
    let stdout = text(&shown.stdout);
    let waits = table(&stdout, "WAIT");
    assert_eq!(waits.len(), 2, "{stdout}");
    assert!(waits[1].contains(" answered "), "{stdout}");
    assert!(
        waits[1].contains(r#"{"approved":true,"note":null,"reviewer":"ada"}"#)
            || waits[1].contains(r#"{"approved":true,"reviewer":"ada"}"#),
        "the value, compact: {stdout}"
    );
    // The calls are still there, above the waits.
    let calls = table(&stdout, "SEQ");
    assert!(calls.iter().any(|l| l.contains("publish")), "{stdout}");

    let json = json_of(&run(dir.path(), &["--json", "executions", "show", "1"]));
    assert_eq!(json["waits"][0]["name"], "approve");
    assert_eq!(json["waits"][0]["value"]["reviewer"], "ada");
    // `call_count` says how many calls there are without reading them: from
    // the record of an ended execution, from the journal's keys otherwise.
    let calls = json["calls"].as_array().expect("calls").len();
    assert!(calls >= 2, "{json}");
    assert_eq!(json["call_count"], calls, "{json}");
    let listed = json_of(&run(dir.path(), &["executions", "list", "--json"]));
    assert_eq!(listed[0]["call_count"], calls, "{listed}");
}

#[test]
fn show_escapes_a_hostile_question() {
    let dir = temp();
    let hostile = guest(guests::ZOO_TERMINAL_ESCAPE);
    let ran = run(
        dir.path(),
        &[
            "run",
            hostile.to_str().expect("utf8"),
            "--input",
            r#"{"fail": false}"#,
        ],
    );
    assert_eq!(code(&ran), 3, "{}", text(&ran.stderr));
    let shown = run(dir.path(), &["executions", "show", "1"]);
    assert_eq!(code(&shown), 0, "{}", text(&shown.stderr));
    let controls = terminal_controls(&shown.stdout);
    assert!(
        controls.is_empty(),
        "{controls:?} in {}",
        text(&shown.stdout)
    );
    let stdout = text(&shown.stdout);
    let waits = table(&stdout, "WAIT");
    assert_eq!(waits.len(), 2, "{stdout}");
    assert!(waits[1].contains(r"question \x1b[2J"), "{stdout}");
}

#[test]
fn inspect_shows_parameter_types_and_docs() {
    let dir = temp();
    let signatures = guest(guests::SIGNATURES);
    let signatures = signatures.to_str().expect("utf8");
    let out = run(dir.path(), &["inspect", signatures]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let flows = table(&stdout, "FLOW");
    assert!(
        !flows[0].contains("WAITS"),
        "no journal, no waits: {stdout}"
    );
    let welcome = flows
        .iter()
        .find(|l| l.starts_with("welcome "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        welcome.contains("name: String, times: Option<u32>, suffix: Maybe<String>"),
        "{welcome}"
    );
    let checkpoints = table(&stdout, "CHECKPOINT");
    assert!(
        checkpoints
            .iter()
            .any(|l| l.starts_with("tally ") && l.contains("counts: BTreeMap<String, Vec<u32>>")),
        "{stdout}"
    );
    let docs = table(&stdout, "NAME");
    assert_eq!(
        docs[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "DOC"]
    );
    let doc_of = |name: &str| {
        docs.iter()
            .find(|l| l.starts_with(&format!("{name} ")))
            .map(|l| l[name.len()..].trim().to_owned())
    };
    assert_eq!(
        doc_of("welcome").as_deref(),
        Some("Greets someone, once unless told otherwise.")
    );
    assert_eq!(
        doc_of("greet").as_deref(),
        Some("Greets `name`, `times` times.…"),
        "the first line, and a mark that there is more"
    );
    assert_eq!(doc_of("undocumented"), None, "{stdout}");
    // Every line fits a terminal of 120 columns.
    for line in stdout.lines() {
        assert!(line.chars().count() <= 120, "{line}");
    }

    let json = json_of(&run(dir.path(), &["inspect", "--json", signatures]));
    let flow = |name: &str| {
        json["flows"]
            .as_array()
            .and_then(|flows| flows.iter().find(|f| f["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no flow {name}: {json}"))
    };
    let welcome = flow("welcome");
    assert_eq!(welcome["params"], json!(["name", "times", "suffix"]));
    assert_eq!(
        welcome["param_types"],
        json!(["String", "Option<u32>", "Maybe<String>"])
    );
    assert_eq!(
        welcome["optional_params"],
        json!(["times", "suffix"]),
        "serde says which may be left out, through the alias too"
    );
    assert_eq!(
        welcome["doc"],
        "Greets someone, once unless told otherwise."
    );
    assert!(welcome.get("waits").is_none(), "not known: {welcome}");
    assert_eq!(flow("undocumented")["doc"], Value::Null);
    let greet = json["checkpoints"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "greet"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        greet["doc"],
        "Greets `name`, `times` times.\n\nThis second paragraph is only in `cairn inspect --json`."
    );
    assert_eq!(greet["param_types"], json!(["String", "u32"]));
    assert_eq!(greet["optional_params"], json!([]));
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("the folder").count(),
        0,
        "inspect creates no journal"
    );
}

#[test]
fn inspect_lists_the_waits_the_journal_saw_each_flow_ask() {
    let dir = temp();
    let approval = guest(guests::APPROVAL);
    let approval = approval.to_str().expect("utf8");
    let ran = run(
        dir.path(),
        &["run", approval, "--input", r#"{"topic": "waits"}"#],
    );
    assert_eq!(code(&ran), 3, "{}", text(&ran.stderr));
    let out = run(dir.path(), &["inspect", approval]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let flows = table(&stdout, "FLOW");
    assert!(flows[0].ends_with("WAITS SEEN"), "{stdout}");
    assert!(
        flows[1].starts_with("publish_post ") && flows[1].ends_with(" approve"),
        "{stdout}"
    );
    let json = json_of(&run(dir.path(), &["inspect", "--json", approval]));
    assert_eq!(json["flows"][0]["waits"], json!(["approve"]));

    // Another component's executions say nothing of this one's flows.
    let signatures = guest(guests::SIGNATURES);
    let json = json_of(&run(
        dir.path(),
        &["inspect", "--json", signatures.to_str().expect("utf8")],
    ));
    assert!(json["flows"][0].get("waits").is_none(), "{json}");

    // A journal another process holds costs the column, not the command.
    let holder = cairn_tests::host(dir.path(), Policy::default());
    let out = run(dir.path(), &["inspect", approval]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains("WAITS"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("waits seen are not shown"),
        "{}",
        text(&out.stderr)
    );
    drop(holder);
}

#[test]
fn a_run_refused_for_its_input_leaves_no_execution() {
    let dir = temp();
    let signatures = guest(guests::SIGNATURES);
    let signatures = signatures.to_str().expect("utf8");
    for (input, expected) in [
        ("{bad", "not valid JSON"),
        ("[1]", "expected a JSON object"),
        (
            "{}",
            "missing parameter `name`; the flow takes name: String, times: Option<u32>, suffix: Maybe<String>",
        ),
        (r#"{"name": "Ada", "nmae": 1}"#, "unknown parameter `nmae`"),
    ] {
        let args = ["run", signatures, "--flow", "welcome", "--input", input];
        let out = run(dir.path(), &args);
        assert_eq!(code(&out), 2, "{input}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(stderr.contains("bad input for flow `welcome`"), "{stderr}");
        assert!(stderr.contains(expected), "{input}: {stderr}");
        assert!(!stderr.contains("execution 1"), "{input}: {stderr}");
    }
    let listed = run(dir.path(), &["executions", "list", "--json"]);
    assert_eq!(code(&listed), 0, "{}", text(&listed.stderr));
    assert_eq!(json_of(&listed), json!([]), "nothing was created");

    // The optional parameters may be left out.
    let ok = run(
        dir.path(),
        &[
            "run",
            signatures,
            "--flow",
            "welcome",
            "--input",
            r#"{"name": "Ada"}"#,
        ],
    );
    assert_eq!(code(&ok), 0, "{}", text(&ok.stderr));
    assert_eq!(text(&ok.stdout), "\"hello Ada\"\n");

    // A value of a standard type the manifest names is checked by the
    // host: refused with the parameter and its place, nothing is made.
    let refused = run(
        dir.path(),
        &[
            "run",
            signatures,
            "--flow",
            "welcome",
            "--input",
            r#"{"name": 5}"#,
        ],
    );
    assert_eq!(code(&refused), 2, "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains(
            "parameter `name` at /name: expected a string, got the number 5; `name` is a String"
        ),
        "{}",
        text(&refused.stderr)
    );
    let listed = json_of(&run(dir.path(), &["executions", "list", "--json"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

    // A value of the wrong type for a type only the guest knows (an alias
    // the macros cannot see through) is found by the guest: the execution
    // is made, and fails as bad input.
    let wrong = run(
        dir.path(),
        &[
            "run",
            signatures,
            "--flow",
            "welcome",
            "--input",
            r#"{"name": "Ada", "suffix": 5}"#,
        ],
    );
    assert_eq!(code(&wrong), 2, "{}", text(&wrong.stderr));
    assert!(
        text(&wrong.stderr).contains("bad input: invalid type: integer `5`"),
        "{}",
        text(&wrong.stderr)
    );
    let listed = json_of(&run(dir.path(), &["executions", "list", "--json"]));
    let statuses: Vec<&str> = listed
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|e| e["status"].as_str())
        .collect();
    assert_eq!(statuses, ["completed", "failed"]);
    assert_eq!(listed[1]["failure"]["kind"], "bad_input");
}

#[tokio::test]
async fn the_library_refuses_bad_input_before_it_makes_an_execution() {
    let dir = temp();
    let host = cairn_tests::host(dir.path(), Policy::default());
    let signatures = cairn_tests::load(&host, guests::SIGNATURES).await;
    for input in [
        "{bad",
        "null",
        "{}",
        r#"{"times": 2}"#,
        r#"{"name": "Ada", "extra": true}"#,
    ] {
        match host.run(&signatures, "welcome", input).await {
            Err(RunError::BadInput { flow, .. }) => assert_eq!(flow, "welcome"),
            other => panic!("{input}: {other:?}"),
        }
    }
    let client = host.client();
    let none = client
        .executions(&ExecutionFilter::default())
        .await
        .expect("the journal reads");
    assert!(none.is_empty(), "{none:?}");

    let optional = host
        .run(&signatures, "welcome", r#"{"name": "Ada", "times": 2}"#)
        .await
        .expect("runs");
    assert_eq!(optional.status, ExecutionStatus::Completed);
    assert_eq!(optional.output.as_deref(), Some("\"hello Ada, hello Ada\""));
    let explicit_null = host
        .run(&signatures, "welcome", r#"{"name": "Ada", "suffix": null}"#)
        .await
        .expect("runs");
    assert_eq!(explicit_null.status, ExecutionStatus::Completed);

    // A standard type the host reads from the manifest: refused before
    // anything is written, naming the parameter and the place.
    match host
        .run(&signatures, "welcome", r#"{"name": ["Ada"]}"#)
        .await
    {
        Err(RunError::InputType {
            flow,
            param,
            pointer,
            ..
        }) => assert_eq!((&*flow, &*param, &*pointer), ("welcome", "name", "/name")),
        other => panic!("a list is not a String: {other:?}"),
    }
    let still_none = client
        .executions(&ExecutionFilter::default())
        .await
        .expect("the journal reads");
    assert_eq!(still_none.len(), 2, "{still_none:?}");
    // An alias the host cannot see through is the guest's to read.
    let wrong_type = host
        .run(&signatures, "welcome", r#"{"name": "Ada", "suffix": 5}"#)
        .await
        .expect("the guest finds it");
    assert_eq!(wrong_type.status, ExecutionStatus::Failed);
    assert_eq!(
        wrong_type.failure.map(|f| f.kind),
        Some(FailureKind::BadInput)
    );

    let manifest = signatures.manifest();
    let welcome = manifest.flow("welcome").expect("welcome");
    assert_eq!(welcome.optional_params, ["times", "suffix"]);
    assert_eq!(
        welcome.signature(),
        "name: String, times: Option<u32>, suffix: Maybe<String>"
    );
}

/// Writes `bytes` to `dir/name` and returns its path as text.
fn file(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path.to_str().expect("utf8").to_owned()
}

#[test]
fn a_file_that_is_not_a_component_is_named_with_what_it_looks_like() {
    let dir = temp();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).expect("a folder");
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(4096, 0);
    let mut zip = b"PK\x03\x04\x14\0\0\0\x08\0".to_vec();
    zip.extend((0..4000u32).map(|i| (i * 7 % 251) as u8));
    let readme = "# Cairn\n\nDurable flows whose checkpoints are components.\n".repeat(50);
    let cases = [
        (
            file(&files, "README.md", readme.as_bytes()),
            "README.md is not a valid WebAssembly component: it looks like a text file",
        ),
        (
            file(&files, "some.zip", &zip),
            "some.zip is not a valid WebAssembly component: it looks like a zip archive",
        ),
        (
            file(&files, "empty.wasm", b""),
            "empty.wasm is not a valid WebAssembly component: it is empty",
        ),
        (
            file(&files, "core.wasm", b"\0asm\x01\0\0\0"),
            "core.wasm is a core WebAssembly module, not a component; build the guest for wasm32-wasip2",
        ),
        (
            file(&files, "tool", &elf),
            "tool is not a valid WebAssembly component: it looks like an ELF executable",
        ),
        (
            file(&files, "flow.wat", b"(component\n  (core module)\n)\n"),
            "flow.wat is not a valid WebAssembly component: it looks like WebAssembly text (WAT)",
        ),
        (
            files.join("folder").to_str().expect("utf8").to_owned(),
            "folder: not a regular file",
        ),
        (
            files
                .join("missing.wasm")
                .to_str()
                .expect("utf8")
                .to_owned(),
            "missing.wasm: No such file or directory",
        ),
    ];
    std::fs::create_dir_all(files.join("folder")).expect("a folder");
    for (path, expected) in &cases {
        for command in ["run", "inspect"] {
            let out = run(dir.path(), &[command, path]);
            assert_eq!(code(&out), 2, "{command} {path}: {}", text(&out.stderr));
            let stderr = text(&out.stderr);
            assert!(stderr.contains(expected), "{command} {path}: {stderr}");
            assert!(
                stderr.len() < 400 && stderr.lines().count() <= 2,
                "{command} {path}: no dump of bytes: {stderr}"
            );
            assert!(!stderr.contains("0x"), "{command} {path}: {stderr}");
        }
    }
    let listed = run(dir.path(), &["executions", "list", "--json"]);
    assert_eq!(json_of(&listed), json!([]), "nothing ran");
}

#[tokio::test]
async fn the_library_says_what_a_file_looks_like_and_keeps_its_path() {
    let dir = temp();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "some notes\n").expect("write");
    match Component::from_file(&engine(), &path).await {
        Err(LoadError::NotWasm {
            path: Some(named),
            kind,
        }) => {
            assert_eq!(named, path);
            assert_eq!(kind, "a text file");
        }
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("a text file loaded"),
    }
    match Component::from_bytes(&engine(), &b"\x1f\x8b\x08\0\0\0"[..]).await {
        Err(LoadError::NotWasm { path: None, kind }) => assert_eq!(kind, "a gzip archive"),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("a gzip archive loaded"),
    }
    match Component::from_bytes(&engine(), &b"\0asm\x01\0\0\0"[..]).await {
        Err(LoadError::CoreModule { path: None }) => {}
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("a core module loaded"),
    }
}

#[tokio::test]
async fn a_component_of_an_older_sdk_is_told_to_rebuild() {
    let error = match Component::from_file(&engine(), guest(guests::ZOO_OLD_SDK)).await {
        Err(e) => e,
        Ok(_) => panic!("a component of cairn:checkpoint@0.1.0 loaded"),
    };
    let LoadError::IncompatibleSdk { found, expected } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(found, "0.1.0");
    assert_ne!(expected, "0.1.0");
    let message = chain(&error);
    assert!(
        message.contains("built with an older cairn-guest"),
        "{message}"
    );
    assert!(
        message.contains("rebuild it with the current cairn-guest"),
        "{message}"
    );
    assert!(message.len() < 300, "no type dump: {message}");

    let dir = temp();
    let out = run(
        dir.path(),
        &["run", guest(guests::ZOO_OLD_SDK).to_str().expect("utf8")],
    );
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("older cairn-guest"),
        "{}",
        text(&out.stderr)
    );
}
