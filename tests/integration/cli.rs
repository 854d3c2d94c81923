//! The `cairn` binary as a user runs it: output on stdout, progress on
//! stderr, and the exit codes of DESIGN §3.4.

use std::path::Path;
use std::process::{Command, Output};

use crate::guests;
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
    let hello = guest(guests::HELLO);
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
    let probe = guest(guests::PROBE);
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
            guest(guests::PROBE).to_str().expect("utf8"),
            "--flow",
            "retrying",
        ],
    );
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("checkpoint `always_fails` failed: again"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("execution 1 failed:").count(),
        1,
        "the failure is reported once: {stderr}"
    );
    assert!(!stderr.contains("execution 1 failed\n"), "{stderr}");
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
        (&missing, "cannot read the component"),
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
    let probe = guest(guests::PROBE);
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
        (vec!["run", probe, "--memory", "12 parsecs"], "size"),
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
        &[
            "inspect",
            "--json",
            guest(guests::HELLO).to_str().expect("utf8"),
        ],
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
    let probe = guest(guests::PROBE);
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
    let env = guest(guests::ZOO_ENV);
    let out = run(
        dir.path(),
        &[
            "--json",
            "run",
            env.to_str().expect("utf8"),
            "--policy",
            policy,
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["output"], serde_json::json!([null, "cairn-tests"]));
    let recorded = &json["calls"][0]["attempts"][0]["policy"];
    assert_eq!(recorded["fuel"], 20_000_000);
    assert_eq!(recorded["memory_bytes"], 64 << 20);
    assert_eq!(recorded["dirs"][0], format!("{}:/data:ro", data.display()));

    let spin = guest(guests::ZOO_SPIN);
    let out = run(
        dir.path(),
        &[
            "--json",
            "run",
            spin.to_str().expect("utf8"),
            "--policy",
            policy,
            "--fuel",
            "1000000",
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
            "run",
            spin.to_str().expect("utf8"),
            "--policy",
            bad.to_str().expect("utf8"),
        ],
    );
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    let missing = run(
        dir.path(),
        &[
            "run",
            spin.to_str().expect("utf8"),
            "--allow-dir",
            "/no/such/folder:/data",
        ],
    );
    assert_eq!(code(&missing), 2);
    assert!(
        text(&missing.stderr).contains("is not a folder on this host"),
        "{}",
        text(&missing.stderr)
    );
}

/// What the `zoo_terminal_escape` guest puts in every text it hands over.
const HOSTILE: &str = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;cHduZWQ=\x07\x1b[6n\u{9b}31m\u{85}\rfake\x7f\u{202e}dlrow\u{2066}x\u{2069}";

/// Characters a terminal acts on rather than shows: ESC, BEL, CR (bare or
/// not), DEL and the other C0 controls but line breaks and tabs, C1 controls
/// and bidi controls.
fn terminal_controls(bytes: &[u8]) -> Vec<char> {
    text(bytes)
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// Runs `cairn` and checks that neither stream carries a terminal control.
fn run_clean(dir: &std::path::Path, args: &[&str]) -> Output {
    let out = run(dir, args);
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let controls = terminal_controls(bytes);
        assert!(
            controls.is_empty(),
            "{args:?} wrote {controls:?} to {stream}: {:?}",
            text(bytes)
        );
    }
    out
}

#[test]
fn guest_text_reaches_the_terminal_escaped_and_json_exact() {
    let dir = temp();
    let journal = dir.path().join("journal.redb");
    let journal = journal.to_str().expect("utf8");
    let hostile = guest(guests::ZOO_TERMINAL_ESCAPE);
    let hostile = hostile.to_str().expect("utf8");
    // An answer with controls of its own, as JSON.
    let answer = "\x1b]0;answer\x07";
    let answer_json = serde_json::to_string(answer).expect("json");

    for (id, fail) in [("1", false), ("2", true)] {
        let input = format!(r#"{{"fail": {fail}}}"#);
        let out = run_clean(dir.path(), &["run", hostile, "--input", &input]);
        assert_eq!(code(&out), 3, "{}", text(&out.stderr));
        let progress = text(&out.stderr);
        // The failure is shown, visibly escaped.
        assert!(
            progress.contains(r"failure \x1b[2J\x1b]0;pwned\x07"),
            "{progress}"
        );
        assert!(progress.contains(r"question \x1b[2J"), "{progress}");
        assert!(progress.contains(r"\u{202e}dlrow"), "{progress}");
        // The suggested commands name this journal and paste as they are.
        assert!(
            progress.contains(&format!(
                "answer: cairn --journal {journal} executions input {id} --wait answer --value '<JSON>'"
            )),
            "{progress}"
        );
        assert!(
            progress.contains(&format!(
                "then:   cairn --journal {journal} executions resume {id}"
            )),
            "{progress}"
        );
        let out = run_clean(
            dir.path(),
            &[
                "executions",
                "input",
                id,
                "--wait",
                "answer",
                "--value",
                &answer_json,
            ],
        );
        assert_eq!(code(&out), 0, "{}", text(&out.stderr));
        let out = run_clean(dir.path(), &["executions", "resume", id]);
        if fail {
            assert_eq!(code(&out), 1, "{}", text(&out.stderr));
            assert!(
                text(&out.stderr).contains(r"flow failure \x1b[2J"),
                "{}",
                text(&out.stderr)
            );
        } else {
            assert_eq!(code(&out), 0, "{}", text(&out.stderr));
            // The output on stdout is still JSON, with the same meaning.
            let shown: serde_json::Value =
                serde_json::from_slice(&out.stdout).expect("the output is still JSON");
            let output = shown.as_str().expect("a string");
            assert!(
                output.starts_with(&format!("output {HOSTILE} ")),
                "{output:?}"
            );
            assert!(output.contains(&format!("failure {HOSTILE}")), "{output:?}");
            assert!(output.ends_with(answer), "{output:?}");
        }
    }

    // Bad input that the guest quotes back in its error.
    let out = run_clean(
        dir.path(),
        &["run", hostile, "--input", r#"{"fail": "\u001b[2J\u0085"}"#],
    );
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));

    for args in [
        vec!["executions", "show", "1"],
        vec!["executions", "show", "2"],
        vec!["executions", "logs", "1"],
        vec!["executions", "logs", "2", "--call", "noisy"],
        vec!["executions", "list"],
        vec!["inspect", hostile],
    ] {
        let out = run_clean(dir.path(), &args);
        assert_eq!(code(&out), 0, "{args:?}: {}", text(&out.stderr));
    }
    let logs = text(&run_clean(dir.path(), &["executions", "logs", "1"]).stdout);
    assert!(logs.contains(r"stdout| out \x1b[2J"), "{logs}");
    assert!(logs.contains(r"log \x1b[2J"), "{logs}");
    assert!(logs.contains(r"flow log \x1b[2J"), "{logs}");
    let show = text(&run_clean(dir.path(), &["executions", "show", "2"]).stdout);
    assert!(show.contains(r"flow failure \x1b[2J"), "{show}");

    // `--json` keeps every string exact.
    let show = run(dir.path(), &["--json", "executions", "show", "1"]);
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    let output = json["output"].as_str().expect("an output");
    assert!(
        output.starts_with(&format!("output {HOSTILE} ")),
        "{output:?}"
    );
    assert!(output.ends_with(answer), "{output:?}");
    let calls = json["calls"].as_array().expect("calls");
    let noisy = calls.iter().find(|c| c["name"] == "noisy").expect("noisy");
    let attempt = &noisy["attempts"][0];
    assert_eq!(attempt["stdout"], format!("out {HOSTILE}\n"));
    assert!(
        attempt["stderr"]
            .as_str()
            .is_some_and(|s| s.contains(&format!("err {HOSTILE}\n"))),
        "{attempt}"
    );
    let fails = calls.iter().find(|c| c["name"] == "fails").expect("fails");
    assert!(
        fails["attempts"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("failure {HOSTILE}"))),
        "{fails}"
    );
    let logs = run(dir.path(), &["--json", "executions", "logs", "1"]);
    let json: serde_json::Value = serde_json::from_slice(&logs.stdout).expect("json");
    assert!(
        json["flow_log"]
            .as_str()
            .is_some_and(|log| log.contains(&format!("flow log {HOSTILE}\n"))),
        "{json}"
    );
    let show = run(dir.path(), &["--json", "executions", "show", "2"]);
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    assert!(
        json["failure"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("flow failure {HOSTILE} {answer}"))),
        "{json}"
    );
}

#[test]
fn files_the_cli_reads_must_be_regular_and_bounded() {
    let dir = temp();
    let probe = guest(guests::PROBE);
    let probe = probe.to_str().expect("utf8");
    let folder = dir.path().to_str().expect("utf8");
    for (args, expected) in [
        (vec!["run", "/dev/zero"], "not a regular file"),
        (vec!["inspect", "/dev/zero"], "not a regular file"),
        (vec!["run", folder], "not a regular file"),
        (
            vec!["run", probe, "--flow", "sum", "--input-file", "/dev/zero"],
            "not a regular file",
        ),
        (
            vec!["run", probe, "--flow", "sum", "--policy", "/dev/zero"],
            "not a regular file",
        ),
    ] {
        let out = run(dir.path(), &args);
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }

    #[cfg(unix)]
    {
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let fifo = fifo.to_str().expect("utf8");
            for args in [
                vec!["run", fifo],
                vec!["run", probe, "--flow", "sum", "--input-file", fifo],
                vec!["run", probe, "--flow", "sum", "--policy", fifo],
            ] {
                let out = run(dir.path(), &args);
                assert_eq!(code(&out), 2, "{args:?}: {}", text(&out.stderr));
                assert!(
                    text(&out.stderr).contains("not a regular file"),
                    "{args:?}: {}",
                    text(&out.stderr)
                );
            }
        }
    }

    // Sparse files: too large without writing gigabytes.
    let big = |name: &str, len: u64| {
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .and_then(|f| f.set_len(len))
            .expect("a sparse file");
        path.to_str().expect("utf8").to_owned()
    };
    let component = big("big.wasm", (256 << 20) + 1);
    let input = big("input.json", (64 << 20) + 1);
    let policy = big("policy.toml", (1 << 20) + 1);
    for (args, expected) in [
        (vec!["run", component.as_str()], "256 MiB"),
        (
            vec![
                "run",
                probe,
                "--flow",
                "sum",
                "--input-file",
                input.as_str(),
            ],
            "64MiB",
        ),
        (
            vec!["run", probe, "--flow", "sum", "--policy", policy.as_str()],
            "1MiB",
        ),
    ] {
        let out = run(dir.path(), &args);
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out.stderr));
        let error = text(&out.stderr);
        assert!(error.contains("larger than the limit"), "{args:?}: {error}");
        assert!(error.contains(expected), "{args:?}: {error}");
    }
}

#[test]
fn numbers_out_of_range_exit_2_with_the_range() {
    let dir = temp();
    let probe = guest(guests::PROBE);
    let probe = probe.to_str().expect("utf8");
    for (flag, value, expected) in [
        ("--stack", "18446744073709551615", "from 64KiB to 64MiB"),
        ("--stack", "18446744073709551615KiB", "too large"),
        ("--timeout", "0", "from 1ms to 24h"),
        ("--timeout", "99999999999999999999h", "too large"),
        ("--timeout", "18446744073709551615s", "too large"),
        ("--timeout", "25h", "from 1ms to 24h"),
        ("--memory", "1KiB", "from 64KiB to 1GiB"),
        ("--memory", "2GiB", "from 64KiB to 1GiB"),
        ("--fuel", "0", "the fuel must be from 1"),
        ("--max-output", "0", "from 1B to 1GiB"),
        ("--log-bytes", "1GiB", "from 0B to 64MiB"),
    ] {
        let args = ["run", probe, "--flow", "sum", flag, value];
        let out = run(dir.path(), &args);
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    for (line, expected) in [
        ("fuel = 0", "the fuel must be from 1"),
        ("stack = \"18446744073709551615\"", "from 64KiB to 64MiB"),
        ("timeout = \"0ms\"", "from 1ms to 24h"),
        ("memory = \"18446744073709551615KiB\"", "too large"),
    ] {
        let policy = dir.path().join("policy.toml");
        std::fs::write(&policy, format!("{line}\n")).expect("write");
        let args = [
            "run",
            probe,
            "--flow",
            "sum",
            "--policy",
            policy.to_str().expect("utf8"),
        ];
        let out = run(dir.path(), &args);
        assert_eq!(code(&out), 2, "{line}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(expected),
            "{line}: {}",
            text(&out.stderr)
        );
    }
    assert!(!dir.path().join("journal.redb").exists());
}

/// `cairn` with no `--journal` (so the default `.cairn/journal.redb`,
/// relative to `cwd`), sharing the run's artifact cache.
fn cairn_in(cwd: &Path) -> Command {
    let mut command = Command::new(cairn_tests::cairn_bin());
    command
        .current_dir(cwd)
        .env("CAIRN_ARTIFACTS", cairn_tests::artifact_dir())
        .env_remove("CAIRN_JOURNAL");
    command
}

#[test]
fn commands_on_a_missing_journal_exit_2_and_create_nothing() {
    let dir = temp();
    let missing = dir.path().join("no such folder/journal.redb");
    let missing = missing.to_str().expect("utf8");
    for args in [
        vec!["executions", "list"],
        vec!["executions", "show", "1"],
        vec!["executions", "logs", "1"],
        vec!["executions", "input", "1", "--wait", "w", "--value", "1"],
        vec![
            "executions",
            "input",
            "1",
            "--wait",
            "w",
            "--value",
            "1",
            "--resume",
        ],
        vec!["executions", "cancel", "1"],
        vec!["executions", "resume", "1"],
        vec!["executions", "replay", "1"],
    ] {
        // The default journal, and one named by --journal.
        let default = cairn_in(dir.path()).args(&args).output().expect("cairn");
        let named = cairn_in(dir.path())
            .args(["--journal", missing])
            .args(&args)
            .output()
            .expect("cairn");
        for (out, path) in [(default, ".cairn/journal.redb"), (named, missing)] {
            assert_eq!(code(&out), 2, "{args:?}: {}", text(&out.stderr));
            assert!(
                text(&out.stderr).contains(&format!("no journal at {path}")),
                "{args:?}: {}",
                text(&out.stderr)
            );
        }
        assert!(!dir.path().join(".cairn").exists(), "{args:?}");
        assert!(!Path::new(missing).exists(), "{args:?}");
        assert!(!dir.path().join("no such folder").exists(), "{args:?}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("the folder").count(),
        0,
        "nothing was created"
    );
}

#[test]
fn a_memory_limit_the_component_cannot_start_under_exits_2_with_the_minimum() {
    let dir = temp();
    let forged = guest(guests::ZOO_FORGED);
    let forged = forged.to_str().expect("utf8");
    let args = ["run", forged, "--flow", "map", "--input", r#"{"n": 1}"#];
    let out = run(dir.path(), &[&args[..], &["--memory", "2MiB"]].concat());
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("raise it to at least"), "{stderr}");
    let listed = run(dir.path(), &["executions", "list", "--json"]);
    assert_eq!(text(&listed.stdout).trim(), "[]", "nothing ran");
    let out = run(dir.path(), &[&args[..], &["--memory", "16MiB"]].concat());
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
}

#[test]
fn guest_limits_are_policy_flags_and_a_flow_past_one_exits_1() {
    let dir = temp();
    let forged = guest(guests::ZOO_FORGED);
    let forged = forged.to_str().expect("utf8");
    let out = run(
        dir.path(),
        &[
            "run",
            forged,
            "--flow",
            "calls_forever",
            "--input",
            r#"{"n": 0}"#,
            "--max-calls",
            "50",
        ],
    );
    assert_eq!(code(&out), 1, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("more than 50 checkpoint calls"));
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "max_map_items = 10\n").expect("policy");
    let policy = policy.to_str().expect("utf8");
    let map = |n: &str| {
        let input = format!(r#"{{"n": {n}}}"#);
        let out = run(
            dir.path(),
            &[
                "run", forged, "--flow", "map", "--input", &input, "--policy", policy,
            ],
        );
        code(&out)
    };
    assert_eq!((map("10"), map("11")), (0, 1));
    let zero = run(
        dir.path(),
        &[
            "run",
            forged,
            "--flow",
            "map",
            "--input",
            r#"{"n": 1}"#,
            "--max-waits",
            "0",
        ],
    );
    assert_eq!(code(&zero), 2, "a zero limit is refused");
    assert!(
        text(&zero.stderr).contains("a count limit must be from 1"),
        "{}",
        text(&zero.stderr)
    );
}

/// The char offsets where each of `header`'s column names start.
fn column_starts(header: &str) -> Vec<usize> {
    let chars: Vec<char> = header.chars().collect();
    (0..chars.len())
        .filter(|&i| chars[i] != ' ' && (i == 0 || chars[i - 1] == ' '))
        .collect()
}

/// Every row of the table whose header line starts with `first_column`
/// has each of its cells starting exactly where the cell's header starts,
/// or empty. Returns the rows.
fn assert_aligned(output: &str, first_column: &str) -> Vec<String> {
    let mut lines = output.lines().skip_while(|l| !l.starts_with(first_column));
    let header = lines.next().expect("a table header");
    let starts = column_starts(header);
    let rows: Vec<String> = lines
        .take_while(|l| !l.is_empty() && !l.starts_with("       attempt"))
        .map(str::to_owned)
        .collect();
    for row in &rows {
        let chars: Vec<char> = row.chars().collect();
        for (k, &start) in starts.iter().enumerate() {
            if start >= chars.len() {
                continue; // empty cells at the end of a row
            }
            let end = starts.get(k + 1).copied().unwrap_or(chars.len());
            let cell = chars.get(start..end.max(start)).unwrap_or_default();
            let empty = cell.iter().all(|c| *c == ' ');
            assert!(
                (empty || cell[0] != ' ') && (start == 0 || chars[start - 1] == ' '),
                "column {k} of {row:?} does not start under its header {header:?}"
            );
        }
    }
    rows
}

#[tokio::test]
async fn tables_line_up_under_their_headers_whatever_the_widths() {
    use cairn_host::{Checkpoint, FlowCtx, FlowError, HostFlow, Policy};
    use serde_json::{Value, json};

    // Longer than any fixed width would allow.
    const LONG: &str = "a_host_side_flow_whose_name_is_far_longer_than_any_column_width";
    let dir = temp();
    let host = cairn_tests::host(dir.path(), Policy::default());
    let probe = cairn_tests::load(&host, guests::PROBE).await;
    let add: Checkpoint<Value, i64> = probe.checkpoint("add").expect("probe has add");
    host.register(HostFlow::new(LONG, move |ctx: FlowCtx, n: i64| {
        let add = add.clone();
        async move {
            let sums = ctx
                .map(&add, (0..n).map(|i| json!({ "a": i, "b": 1_000_000_000 })))
                .await?;
            Ok::<_, FlowError>(sums.len())
        }
    }))
    .expect("registers");
    host.register(HostFlow::new("s", |_: FlowCtx, (): ()| async {
        Ok::<_, FlowError>(())
    }))
    .expect("registers");
    // Calls with seqs of one to three digits, and ids up to three digits.
    let mapped = host.run_flow(LONG, &120).await.expect("runs");
    for _ in 0..100 {
        host.run_flow("s", &()).await.expect("runs");
    }
    host.close().await.expect("closes");

    let list = run(dir.path(), &["executions", "list"]);
    assert_eq!(code(&list), 0, "{}", text(&list.stderr));
    let rows = assert_aligned(&text(&list.stdout), "ID");
    assert_eq!(rows.len(), 101, "{}", text(&list.stdout));
    assert!(rows.iter().any(|r| r.contains(LONG)));

    let id = mapped.id.to_string();
    let show = run(dir.path(), &["executions", "show", &id]);
    assert_eq!(code(&show), 0, "{}", text(&show.stderr));
    let rows = assert_aligned(&text(&show.stdout), "SEQ");
    assert_eq!(rows.len(), 120, "{}", text(&show.stdout));
    assert!(rows.iter().any(|r| r.contains("1000000119")));

    let inspect = run(
        dir.path(),
        &["inspect", guest(guests::PROBE).to_str().expect("utf8")],
    );
    assert_eq!(code(&inspect), 0, "{}", text(&inspect.stderr));
    assert!(assert_aligned(&text(&inspect.stdout), "FLOW").len() > 1);
    assert!(assert_aligned(&text(&inspect.stdout), "CHECKPOINT").len() > 1);
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_sigpipe_status() {
    let dir = temp();
    let probe = guest(guests::PROBE);
    let probe = probe.to_str().expect("utf8");
    for args in [vec!["inspect", probe], vec!["inspect", "--json", probe]] {
        let mut child = cairn(dir.path())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("cairn starts");
        // The reader goes away before cairn writes, as `| head` does once
        // it has its lines.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("cairn ends");
        assert_eq!(code(&out), 141, "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "", "{args:?}: nothing on stderr");
    }
}

#[test]
fn logs_say_when_there_is_nothing_to_show() {
    let dir = temp();
    let probe = guest(guests::PROBE);
    let ran = run(
        dir.path(),
        &[
            "run",
            probe.to_str().expect("utf8"),
            "--flow",
            "sum",
            "--input",
            r#"{"a": 1, "b": 2}"#,
        ],
    );
    assert_eq!(code(&ran), 0, "{}", text(&ran.stderr));
    let logs = run(dir.path(), &["executions", "logs", "1"]);
    assert_eq!(code(&logs), 0, "{}", text(&logs.stderr));
    assert_eq!(text(&logs.stdout), "", "stdout holds only logs");
    assert!(
        text(&logs.stderr).contains("no logs: nothing in execution 1 wrote"),
        "{}",
        text(&logs.stderr)
    );
}

#[test]
fn raw_prints_a_string_output_as_its_text() {
    let dir = temp();
    let probe = guest(guests::PROBE);
    let probe = probe.to_str().expect("utf8");
    let input = r#"{"text": "two\nlines \"quoted\" \u001b[2J"}"#;
    let talk = |extra: &[&str]| {
        let mut args = vec!["run", probe, "--flow", "talk", "--input", input];
        args.extend_from_slice(extra);
        run(dir.path(), &args)
    };
    let json = talk(&[]);
    assert_eq!(code(&json), 0, "{}", text(&json.stderr));
    assert_eq!(
        text(&json.stdout),
        "\"two\\nlines \\\"quoted\\\" \\u001b[2J\"\n",
        "a JSON string by default"
    );
    let raw = talk(&["--raw"]);
    assert_eq!(code(&raw), 0, "{}", text(&raw.stderr));
    assert_eq!(
        text(&raw.stdout),
        "two\nlines \"quoted\" \\x1b[2J\n",
        "its text, with the terminal control still escaped"
    );
    // Any other output stays JSON.
    let sum = run(
        dir.path(),
        &[
            "run",
            probe,
            "--flow",
            "sum",
            "--input",
            r#"{"a": 1, "b": 2}"#,
            "--raw",
        ],
    );
    assert_eq!(code(&sum), 0, "{}", text(&sum.stderr));
    assert!(
        serde_json::from_slice::<serde_json::Value>(&sum.stdout).is_ok(),
        "{}",
        text(&sum.stdout)
    );
}

/// Every flag that sets what the code a command runs may use.
const POLICY_FLAGS: [&str; 18] = [
    "--fuel",
    "--flow-fuel",
    "--memory",
    "--timeout",
    "--allow-http",
    "--allow-env",
    "--max-output",
    "--max-calls",
    "--max-map-items",
    "--max-pending",
    "--max-waits",
    "--max-held",
    "--max-message",
    "--log-bytes",
    "--stack",
    "--policy",
    "--allow-dir",
    "--durability",
];

#[test]
fn policy_flags_belong_to_the_commands_that_run_code() {
    let dir = temp();
    let help = |command: &[&str]| {
        let out = run(dir.path(), &[command, &["--help"]].concat());
        assert_eq!(code(&out), 0, "{command:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    for command in [
        &["run"][..],
        &["executions", "resume"],
        &["executions", "replay"],
        // For `--resume`.
        &["executions", "input"],
    ] {
        let help = help(command);
        for flag in POLICY_FLAGS {
            assert!(help.contains(flag), "{command:?} lacks {flag}: {help}");
        }
    }
    for command in [
        &["executions", "list"][..],
        &["executions", "show"],
        &["executions", "logs"],
        &["executions", "cancel"],
        &["inspect"],
    ] {
        let help = help(command);
        for flag in POLICY_FLAGS {
            // `describe` runs in the engine, whose stack is the one setting
            // that reaches it.
            if command == ["inspect"] && flag == "--stack" {
                assert!(help.contains(flag), "{help}");
                continue;
            }
            assert!(!help.contains(flag), "{command:?} offers {flag}: {help}");
        }
    }

    let probe = guest(guests::PROBE);
    let probe = probe.to_str().expect("utf8");
    for args in [
        vec!["executions", "list", "--fuel", "1"],
        vec!["executions", "show", "1", "--memory", "64MiB"],
        vec!["inspect", probe, "--policy", "policy.toml"],
        // Before the command, as they were once taken.
        vec!["--fuel", "1", "run", probe, "--flow", "sum"],
    ] {
        let out = run(dir.path(), &args);
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("unexpected argument"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert!(!dir.path().join("journal.redb").exists());

    let sum = ["run", probe, "--flow", "sum", "--input", r#"{"a":1,"b":2}"#];
    let out = run(
        dir.path(),
        &[&sum[..], &["--fuel", "1000000", "--json"]].concat(),
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["calls"][0]["attempts"][0]["policy"]["fuel"], 1_000_000);
    let inspect = run(dir.path(), &["inspect", probe, "--stack", "1MiB"]);
    assert_eq!(code(&inspect), 0, "{}", text(&inspect.stderr));
    // `input` runs nothing without --resume: a policy flag there would be
    // ignored, so it is refused.
    let out = run(
        dir.path(),
        &[
            "executions",
            "input",
            "1",
            "--wait",
            "w",
            "--value",
            "1",
            "--fuel",
            "5",
        ],
    );
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--fuel sets what the resumed execution may use"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs `command` as a shell would run a line pasted from cairn's output,
/// in `cwd`, with this build's `cairn` first on the PATH.
fn paste(cwd: &Path, command: &str) -> Output {
    let bin = cairn_tests::cairn_bin();
    let bin_dir = bin.parent().expect("a folder");
    let path = std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("a PATH");
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(cwd)
        .env("PATH", path)
        .env("CAIRN_ARTIFACTS", cairn_tests::artifact_dir())
        .env_remove("CAIRN_JOURNAL")
        .output()
        .expect("sh starts")
}

/// The command after `label` on a line of `stderr`.
fn hint(stderr: &str, label: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` line in {stderr}"))
        .trim()
        .to_owned()
}

#[test]
fn suggested_commands_paste_back_with_the_journal_and_the_policy() {
    let dir = temp();
    // Spaces, a quote and a `$` a shell would expand.
    let odd = dir.path().join("it's my $HOME");
    std::fs::create_dir_all(&odd).expect("a folder");
    let journal = odd.join("my journal.redb");
    let cwd = dir.path().join("elsewhere");
    std::fs::create_dir_all(&cwd).expect("a folder");
    let probe = guest(guests::PROBE);
    let probe = probe.to_str().expect("utf8");
    let cairn = |args: &[&str]| {
        cairn_in(&cwd)
            .arg("--journal")
            .arg(&journal)
            .args(args)
            .output()
            .expect("cairn starts")
    };

    let input = r#"{"question": "how many?"}"#;
    let policy = ["--max-waits", "5", "--timeout", "30s"];
    let out = cairn(
        &[
            &["run", probe, "--flow", "ask", "--input", input][..],
            &policy,
        ]
        .concat(),
    );
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let answer = hint(&stderr, "answer:");
    let then = hint(&stderr, "then:");
    assert!(
        answer.starts_with("cairn --journal '") && answer.contains("my journal.redb'"),
        "{answer}"
    );
    // The resume runs under the policy the run had.
    assert!(
        then.ends_with("executions resume 1 --timeout 30s --max-waits 5"),
        "{then}"
    );
    let out = paste(&cwd, &answer.replace("'<JSON>'", "21"));
    assert_eq!(code(&out), 0, "{answer}: {}", text(&out.stderr));
    let out = paste(&cwd, &then);
    assert_eq!(code(&out), 0, "{then}: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "44\n", "(1 + 1) + (21 + 21)");

    // A failure suggests its resume the same way.
    let out = cairn(&["run", probe, "--flow", "retrying"]);
    assert_eq!(code(&out), 1, "{}", text(&out.stderr));
    let resume = hint(&text(&out.stderr), "resume:");
    let out = paste(&cwd, &resume);
    assert_eq!(code(&out), 1, "{resume}: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("execution 2 resumed"),
        "{resume}: {}",
        text(&out.stderr)
    );
    assert!(
        !cwd.join(".cairn").exists(),
        "every command used the journal"
    );
}

#[test]
fn input_with_resume_answers_and_continues_in_one_step() {
    let dir = temp();
    let approval = guest(guests::APPROVAL);
    let approval = approval.to_str().expect("utf8");
    let out = run(
        dir.path(),
        &["run", approval, "--input", r#"{"topic": "durable flows"}"#],
    );
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    let input = |value: &str| {
        run(
            dir.path(),
            &[
                "executions",
                "input",
                "1",
                "--wait",
                "approve",
                "--value",
                value,
                "--resume",
            ],
        )
    };
    // A value the schema refuses: nothing is stored and nothing runs.
    let out = input(r#"{"approved": "yes", "reviewer": "ada"}"#);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("resumed"),
        "{}",
        text(&out.stderr)
    );
    let show = run(dir.path(), &["--json", "executions", "show", "1"]);
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    assert_eq!(json["status"], "waiting");

    let out = input(r#"{"approved": true, "reviewer": "ada"}"#);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("stored the value of `approve`"), "{stderr}");
    assert!(stderr.contains("execution 1 resumed"), "{stderr}");
    assert!(stderr.contains("execution 1 completed"), "{stderr}");
    let output: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the output");
    assert!(
        output.as_str().is_some_and(|o| o.starts_with("published ")),
        "{output}"
    );
    // Answered already: refused like `input` alone, exit 2.
    let out = input(r#"{"approved": false, "reviewer": "bob"}"#);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
}

/// Starts `cairn run` of the probe's `held` flow, which holds its second
/// call until the test creates `marks/release`, sends `signal` with `kill`
/// once the first step is journaled, and returns what the process said and
/// its status: the run is surely still going when the signal lands, however
/// loaded the machine. The caller releases the hold before resuming.
#[cfg(unix)]
fn interrupt_a_run(dir: &Path, grant: &str, signal: &str) -> (Output, String) {
    let probe = guest(guests::PROBE);
    let mut command = cairn(dir);
    command
        .args(["run", "--flow", "held", "--allow-dir", grant, "--input"])
        .arg(r#"{"flag": "release"}"#)
        .arg(&probe);
    // A completed call's line is printed after its record is durable.
    cairn_tests::signal_when(command, "✓ step ", signal)
}

#[cfg(unix)]
#[test]
fn ctrl_c_leaves_the_execution_running_and_says_how_to_resume_it() {
    let dir = temp();
    let marks = cairn_tests::marks(dir.path());
    let grant = format!("{}:/marks", marks.display());
    let journal = dir.path().join("journal.redb");
    let (out, stderr) = interrupt_a_run(dir.path(), &grant, "-INT");
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(out.stdout.is_empty(), "no output: the flow did not end");
    assert!(
        stderr.contains(
            "cairn: interrupted by SIGINT: execution 1 stays `running` in the journal; the calls it completed are kept"
        ),
        "{stderr}"
    );
    let resume = hint(&stderr, "resume:");
    assert_eq!(
        resume,
        format!(
            "cairn --journal {} executions resume 1 --allow-dir {grant}",
            journal.display()
        )
    );
    let show = run(dir.path(), &["--json", "executions", "show", "1"]);
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    assert_eq!(json["status"], "running");
    assert_eq!(json["calls"][0]["status"], "completed", "{json}");

    std::fs::write(marks.join("release"), b"").expect("releases the hold");
    let out = paste(dir.path(), &resume);
    assert_eq!(code(&out), 0, "{resume}: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "5\n", "0*0 + 1 + 2*2");
    assert_eq!(
        cairn_tests::count_marks(&marks, "step-0"),
        1,
        "the completed step did not run again"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_stops_a_run_with_status_143_and_it_resumes() {
    let dir = temp();
    let marks = cairn_tests::marks(dir.path());
    let grant = format!("{}:/marks", marks.display());
    let (out, stderr) = interrupt_a_run(dir.path(), &grant, "-TERM");
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("interrupted by SIGTERM: execution 1 stays `running`"),
        "{stderr}"
    );
    std::fs::write(marks.join("release"), b"").expect("releases the hold");
    let resumed = run(
        dir.path(),
        &["executions", "resume", "1", "--allow-dir", &grant],
    );
    assert_eq!(code(&resumed), 0, "{}", text(&resumed.stderr));
    assert_eq!(text(&resumed.stdout), "5\n");
    assert_eq!(cairn_tests::count_marks(&marks, "step-0"), 1);
    assert_eq!(cairn_tests::count_marks(&marks, "held"), 1);
}
