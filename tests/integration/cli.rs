//! The `cairn` binary as a user runs it: output on stdout, progress on
//! stderr, and the exit codes of DESIGN §3.4.

use std::process::Output;

use cairn_tests::{cairn, guest, temp};

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    cairn(dir).args(args).output().expect("cairn starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

#[test]
fn run_prints_the_output_on_stdout_and_progress_on_stderr() {
    let dir = temp();
    let hello = guest("hello");
    let out = run(
        dir.path(),
        &[
            "run",
            hello.to_str().expect("utf8"),
            "--input",
            r#"{"name":"Ada"}"#,
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"text\":\"HELLO, ADA, FROM A DURABLE FLOW!\",\"words\":6}\n"
    );
    let progress = text(&out.stderr);
    assert!(
        progress.contains("execution 1 of flow `hello` started"),
        "{progress}"
    );
    assert!(progress.contains("shout"), "{progress}");
    assert!(progress.contains("execution 1 completed"), "{progress}");
}

#[test]
fn show_and_list_give_the_design_json() {
    let dir = temp();
    let probe = guest("probe");
    let probe = probe.to_str().expect("utf8");
    assert_eq!(
        code(&run(
            dir.path(),
            &["run", probe, "--flow", "sum", "--input", r#"{"a":1,"b":2}"#]
        )),
        0
    );
    assert_eq!(
        code(&run(dir.path(), &["run", probe, "--flow", "retrying"])),
        1
    );

    let show = run(dir.path(), &["--json", "executions", "show", "1"]);
    assert_eq!(code(&show), 0, "{}", text(&show.stderr));
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    for field in [
        "id",
        "flow",
        "status",
        "input",
        "output",
        "failure",
        "original_exec_id",
        "component",
        "calls",
    ] {
        assert!(json.get(field).is_some(), "missing {field}: {json}");
    }
    assert_eq!(json["output"], serde_json::json!(5), "(1 + 2) + 1 + 1");
    let call = &json["calls"][1];
    for field in [
        "call_id", "seq", "name", "kind", "runtime", "status", "source", "input", "output",
        "attempts",
    ] {
        assert!(call.get(field).is_some(), "missing {field}: {call}");
    }
    assert_eq!(call["runtime"], "isolated");
    assert_eq!(call["source"], "executed");
    let attempt = &call["attempts"][0];
    for field in [
        "n",
        "status",
        "started_at",
        "ended_at",
        "error",
        "fuel_used",
    ] {
        assert!(attempt.get(field).is_some(), "missing {field}: {attempt}");
    }

    let get = run(dir.path(), &["--json", "executions", "get", "2"]);
    let json: serde_json::Value = serde_json::from_slice(&get.stdout).expect("json");
    assert_eq!(json["status"], "failed");
    assert_eq!(
        json["calls"][0]["attempts"].as_array().map(Vec::len),
        Some(3)
    );

    let list = run(
        dir.path(),
        &["executions", "list", "--json", "--status", "failed"],
    );
    let json: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    let ids: Vec<i64> = json
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["id"].as_i64())
        .collect();
    assert_eq!(ids, [2]);
    assert!(json[0].get("calls").is_none(), "list has no calls");

    let human = run(dir.path(), &["executions", "show", "2"]);
    assert!(
        text(&human.stdout).contains("always_fails"),
        "{}",
        text(&human.stdout)
    );
}

#[test]
fn a_failed_flow_exits_1_with_its_failure_on_stderr() {
    let dir = temp();
    let out = run(
        dir.path(),
        &[
            "run",
            guest("probe").to_str().expect("utf8"),
            "--flow",
            "retrying",
        ],
    );
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("checkpoint `always_fails` failed: again"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_components_exit_2_with_a_clear_error() {
    let dir = temp();
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"this is not wasm at all").expect("write");
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").expect("write");
    let missing = dir.path().join("missing.wasm");
    for (path, expected) in [
        (&garbage, "not a valid WebAssembly component"),
        (&core, "core WebAssembly module, not a component"),
        (&missing, "cannot read component"),
    ] {
        let out = run(dir.path(), &["run", path.to_str().expect("utf8")]);
        assert_eq!(code(&out), 2, "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(expected),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn unknown_flows_and_bad_inputs_exit_2() {
    let dir = temp();
    let probe = guest("probe");
    let probe = probe.to_str().expect("utf8");
    for (args, expected) in [
        (vec!["run", probe, "--flow", "nope"], "unknown flow `nope`"),
        (vec!["run", probe], "choose one with --flow"),
        (
            vec!["run", probe, "--flow", "sum", "--input", "{\"a\": 1,"],
            "not valid JSON",
        ),
        (
            vec!["run", probe, "--flow", "sum", "--input", "[1]"],
            "expected a JSON object",
        ),
        (
            vec![
                "run",
                probe,
                "--flow",
                "sum",
                "--input",
                r#"{"a":"x","b":1}"#,
            ],
            "bad input",
        ),
        (vec!["executions", "show", "99"], "no execution 99"),
        (vec!["--memory", "12 parsecs", "run", probe], "size"),
    ] {
        let out = run(dir.path(), &args);
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_journal_in_use_exits_4() {
    let dir = temp();
    let _holder = cairn_tests::host(dir.path(), Default::default());
    let out = run(dir.path(), &["executions", "list"]);
    assert_eq!(code(&out), 4);
    assert!(
        text(&out.stderr).contains("in use"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn inspect_lists_flows_and_checkpoints_with_their_options() {
    let dir = temp();
    let out = run(
        dir.path(),
        &["inspect", "--json", guest("hello").to_str().expect("utf8")],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["flows"][0]["name"], "hello");
    assert_eq!(json["flows"][0]["params"], serde_json::json!(["name"]));
    let shout = json["checkpoints"]
        .as_array()
        .expect("array")
        .iter()
        .find(|c| c["name"] == "shout")
        .cloned();
    assert_eq!(
        shout.map(|c| c["runtime"].clone()),
        Some(serde_json::json!("isolated"))
    );
}

#[test]
fn a_big_fan_out_shows_a_running_count_instead_of_a_line_per_call() {
    let dir = temp();
    let probe = guest("probe");
    let out = run(
        dir.path(),
        &[
            "run",
            probe.to_str().expect("utf8"),
            "--flow",
            "squares",
            "--input",
            r#"{"n": 500}"#,
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let progress = text(&out.stderr);
    let call_lines = progress.lines().filter(|l| l.contains("square[")).count();
    assert!(call_lines <= 40, "{call_lines} call lines");
    assert!(progress.contains("calls completed"), "{progress}");
    assert!(
        progress.contains("500 calls completed, 0 failed, 0 running or queued"),
        "{progress}"
    );
}

#[test]
fn a_policy_file_sets_the_sandbox_and_flags_override_it() {
    let dir = temp();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "fuel = 20_000_000\nmemory = \"64MiB\"\ntimeout = \"5s\"\nallow_env = [\"CARGO_PKG_NAME\"]\n\n[[allow_dir]]\nhost = \"{}\"\nguest = \"/data\"\nread_only = true\n",
            data.display()
        ),
    )
    .expect("write");
    let policy = policy.to_str().expect("utf8");
    let env = guest("zoo_env");
    let out = run(
        dir.path(),
        &[
            "--policy",
            policy,
            "--json",
            "run",
            env.to_str().expect("utf8"),
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["output"], serde_json::json!([null, "cairn-tests"]));
    let recorded = &json["calls"][0]["attempts"][0]["policy"];
    assert_eq!(recorded["fuel"], 20_000_000);
    assert_eq!(recorded["memory_bytes"], 64 << 20);
    assert_eq!(recorded["dirs"][0], format!("{}:/data:ro", data.display()));

    let spin = guest("zoo_spin");
    let out = run(
        dir.path(),
        &[
            "--policy",
            policy,
            "--fuel",
            "1000000",
            "--json",
            "run",
            spin.to_str().expect("utf8"),
        ],
    );
    assert_eq!(code(&out), 1);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        json["calls"][0]["attempts"][0]["policy"]["fuel"], 1_000_000,
        "the flag wins"
    );
    assert_eq!(json["calls"][0]["attempts"][0]["trap"], "out_of_fuel");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "fuel = \"lots\"\n").expect("write");
    let out = run(
        dir.path(),
        &[
            "--policy",
            bad.to_str().expect("utf8"),
            "run",
            spin.to_str().expect("utf8"),
        ],
    );
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    let missing = run(
        dir.path(),
        &[
            "--allow-dir",
            "/no/such/folder:/data",
            "run",
            spin.to_str().expect("utf8"),
        ],
    );
    assert_eq!(code(&missing), 2);
    assert!(
        text(&missing.stderr).contains("is not a folder on this host"),
        "{}",
        text(&missing.stderr)
    );
}
