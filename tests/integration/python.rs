//! Python components built with the Python SDK (`guest-sdk/python`,
//! `python -m cairn build`) run through the real host and the real CLI:
//! the manifest has the Rust SDK's shape, calls inline and isolated,
//! handles, map and product, retries, a wait answered and resumed, replay
//! with an override, SIGKILL and resume, a failure with its traceback, and
//! traps of the right kind. The components are built by `cargo xtask
//! test` into `target/python-guests/`.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::guests;
use cairn_host::Policy;
use cairn_tests::python::{APPROVAL, HELLO, PYPROBE, PythonGuest};
use cairn_tests::{cairn, count_marks, host, marks, temp};

/// Runs the CLI on the journal in `dir`: exit code, stdout, stderr.
fn cli(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = cairn(dir).args(args).output().expect("cairn runs");
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path(guest: PythonGuest) -> String {
    guest.path().to_str().expect("utf8").to_owned()
}

/// `cairn run` of flow `flow` of the probe with `input`.
fn run_probe(dir: &Path, flow: &str, input: &str) -> (i32, String, String) {
    cli(
        dir,
        &["run", &path(PYPROBE), "--flow", flow, "--input", input],
    )
}

/// `executions show --json` of execution `id`.
fn show(dir: &Path, id: u64) -> serde_json::Value {
    let (code, out, err) = cli(dir, &["--json", "executions", "show", &id.to_string()]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("json")
}

#[tokio::test]
async fn a_python_manifest_has_the_rust_sdks_shape() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let rust = host
        .load_file(cairn_tests::guest(guests::HELLO))
        .await
        .expect("the Rust hello loads");
    let python = host
        .load_file(HELLO.path())
        .await
        .expect("the Python hello loads");
    let (rust, python) = (rust.manifest(), python.manifest());
    assert_eq!(python.sdk_version, rust.sdk_version);
    assert_eq!(python.flows.len(), rust.flows.len());
    assert_eq!(python.checkpoints.len(), rust.checkpoints.len());
    for (p, r) in python.flows.iter().zip(&rust.flows) {
        assert_eq!(
            (
                &p.name,
                &p.params,
                &p.optional_params,
                p.retries,
                p.cache,
                &p.doc
            ),
            (
                &r.name,
                &r.params,
                &r.optional_params,
                r.retries,
                r.cache,
                &r.doc
            ),
        );
        assert_eq!(p.param_types, ["str"], "Python spells its own types");
    }
    for (p, r) in python.checkpoints.iter().zip(&rust.checkpoints) {
        // Everything but the type names, which each language spells its way.
        assert_eq!(
            (
                &p.name,
                &p.params,
                &p.optional_params,
                &p.doc,
                p.retries,
                p.cache,
                &p.kind,
                p.runtime
            ),
            (
                &r.name,
                &r.params,
                &r.optional_params,
                &r.doc,
                r.retries,
                r.cache,
                &r.kind,
                r.runtime
            ),
        );
    }
}

#[test]
fn the_python_hello_runs_inline_and_isolated_calls() {
    let dir = temp();
    let (code, out, err) = cli(
        dir.path(),
        &["run", &path(HELLO), "--input", r#"{"name": "world"}"#],
    );
    assert_eq!(code, 0, "{err}");
    let output: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        output,
        serde_json::json!({"text": "HELLO, WORLD, FROM A DURABLE FLOW!", "words": 6})
    );
    let json = show(dir.path(), 1);
    let calls = json["calls"].as_array().expect("calls");
    let names: Vec<&str> = calls.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["greet", "shout", "count_words"]);
    assert_eq!(calls[1]["runtime"], "isolated");
    assert_eq!(calls[2]["kind"], "metric");

    // A checkpoint's exception fails the flow with the Rust SDK's message.
    let (code, _, err) = cli(
        dir.path(),
        &["run", &path(HELLO), "--input", r#"{"name": "  "}"#],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("checkpoint `greet` failed: a greeting needs a name"),
        "{err}"
    );
    // `inspect` names the SDK that built it.
    let (code, out, err) = cli(dir.path(), &["inspect", &path(HELLO)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .next()
            .is_some_and(|l| l.ends_with("(cairn Python SDK 0.1.0 (componentize-py 0.25.1))")),
        "{out}"
    );
    let (_, rust, _) = cli(
        dir.path(),
        &[
            "inspect",
            cairn_tests::guest(guests::HELLO).to_str().expect("utf8"),
        ],
    );
    assert!(
        rust.lines()
            .next()
            .is_some_and(|l| l.ends_with("(cairn-guest 0.1.0)")),
        "{rust}"
    );
    // Bad input is refused before an execution is made.
    let (code, _, err) = cli(dir.path(), &["run", &path(HELLO), "--input", "{}"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn handles_maps_products_and_dataclasses_cross_the_boundary() {
    let dir = temp();
    let (code, out, err) = run_probe(dir.path(), "calls", r#"{"n": 3}"#);
    assert_eq!(code, 0, "{err}");
    let output: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        output,
        serde_json::json!({
            "add": 4, "square": 16, "handles": [9, 13], "product": [11, 21, 12, 22],
            "point": {"x": 4, "y": 5, "label": "start"}
        })
    );
    let json = show(dir.path(), 1);
    let ids: Vec<&str> = json["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .filter_map(|c| c["call_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "add", "square", "square_2", "add_2", "add_3[0]", "add_3[1]", "add_3[2]", "add_3[3]",
            "move"
        ]
    );
    assert_eq!(
        json["calls"][3]["input"],
        serde_json::json!({"a": 3, "b": 10})
    );

    let (code, out, err) = run_probe(dir.path(), "fanout", r#"{"items": [1, 2, 3, 4]}"#);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "30");
    let json = show(dir.path(), 2);
    assert_eq!(json["calls"][3]["call_id"], "square[3]");
    assert_eq!(json["calls"][3]["runtime"], "isolated");
}

#[test]
fn retries_reuse_the_inline_store_and_failures_keep_their_traceback() {
    let dir = temp();
    let (code, out, err) = run_probe(dir.path(), "retrying", r#"{"fail_times": 2}"#);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "3", "the third attempt succeeds");
    let json = show(dir.path(), 1);
    let attempts = json["calls"][0]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 3);
    assert_eq!(attempts[0]["error"], "attempt 1 fails on purpose");

    let (code, _, err) = run_probe(dir.path(), "failing", r#"{"depth": 3}"#);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("checkpoint `broken` failed: the ledger does not balance"),
        "{err}"
    );
    let json = show(dir.path(), 2);
    let attempt = &json["calls"][0]["attempts"][0];
    assert_eq!(attempt["error"], "the ledger does not balance");
    let stderr = attempt["stderr"].as_str().expect("stderr");
    assert!(
        stderr.contains("Traceback (most recent call last):")
            && stderr.contains("in _nested_failure")
            && stderr.contains("ValueError: the ledger does not balance"),
        "{stderr}"
    );

    // A checkpoint calling a checkpoint is a context error, not a crash.
    let (code, _, err) = run_probe(dir.path(), "nested", r#"{"n": 1}"#);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("from inside a checkpoint"), "{err}");
}

#[test]
fn memory_recursion_and_fuel_trap_with_the_right_kind() {
    let dir = temp();
    let cases = [
        ("memory_bomb", r#"{"chunk_mib": 4}"#, "memory", "hog"),
        ("recursion", "{}", "trap", "deep"),
        ("infinite", "{}", "out_of_fuel", "spin"),
    ];
    for (id, (flow, input, kind, checkpoint)) in (1..).zip(cases) {
        let (code, _, err) = run_probe(dir.path(), flow, input);
        assert_eq!(code, 1, "{flow}: {err}");
        assert!(
            err.contains(&format!("checkpoint `{checkpoint}` trapped")),
            "{flow}: {err}"
        );
        let json = show(dir.path(), id);
        let attempt = &json["calls"][0]["attempts"][0];
        assert_eq!(attempt["trap"], kind, "{flow}: {attempt}");
        if flow == "recursion" {
            let error = attempt["error"].as_str().unwrap_or_default();
            assert!(error.contains("RecursionError"), "{attempt}");
        }
    }
}

/// CPython needs megabytes of memory before the first line of the app
/// runs: a limit below that floor is refused up front, naming the floor,
/// instead of failing every attempt.
#[test]
fn a_memory_limit_below_cpythons_floor_is_refused_naming_the_floor() {
    let dir = temp();
    let (code, _, err) = cli(
        dir.path(),
        &[
            "run",
            &path(HELLO),
            "--memory",
            "4MiB",
            "--input",
            r#"{"name": "world"}"#,
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the memory limit of 4194304 bytes is below the ")
            && err.contains("needs to start; raise it to at least"),
        "{err}"
    );
    let (_, executions, _) = cli(dir.path(), &["--json", "executions", "list"]);
    assert_eq!(executions.trim(), "[]", "nothing was started");
}

#[test]
fn a_python_wait_is_answered_and_resumed_and_replayed_with_an_override() {
    let dir = temp();
    let approval = path(APPROVAL);
    let (code, _, err) = cli(
        dir.path(),
        &[
            "run",
            &approval,
            "--flow",
            "publish_post",
            "--input",
            r#"{"topic": "durable flows"}"#,
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("execution 1 is waiting for `approve`: Publish this post?"),
        "{err}"
    );
    // The schema comes from the dataclass: a string is not a boolean.
    let (code, _, err) = cli(
        dir.path(),
        &[
            "executions",
            "input",
            "1",
            "--wait",
            "approve",
            "--value",
            r#"{"approved": "yes", "reviewer": "ada"}"#,
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("$.approved: ") && err.contains("boolean"),
        "{err}"
    );
    let (code, _, err) = cli(
        dir.path(),
        &[
            "executions",
            "input",
            "1",
            "--wait",
            "approve",
            "--value",
            r#"{"approved": true, "reviewer": "ada"}"#,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli(dir.path(), &["executions", "resume", "1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "\"published 90 characters\"");
    assert!(err.contains("↺ draft"), "the draft was replayed: {err}");

    // A replay with the draft overridden asks again (the question names
    // the draft), here answered up front, and publishes the new text.
    let (code, out, err) = cli(
        dir.path(),
        &[
            "executions",
            "replay",
            "1",
            "--override",
            r#"draft="short""#,
            "--answer",
            r#"approve={"approved": true, "reviewer": "bo"}"#,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "\"published 5 characters\"");
    let json = show(dir.path(), 2);
    assert_eq!(json["calls"][0]["source"], "overridden");
    assert_eq!(json["calls"][1]["source"], "executed");

    // A map example, and a TypedDict wait in the probe.
    let (code, out, err) = cli(
        dir.path(),
        &[
            "run",
            &approval,
            "--flow",
            "longest_word",
            "--input",
            r#"{"text": "a durable flow"}"#,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "7");
    let (code, _, err) = run_probe(dir.path(), "ask", r#"{"question": "a number?"}"#);
    assert_eq!(code, 3, "{err}");
    let (code, out, err) = cli(
        dir.path(),
        &[
            "executions",
            "input",
            "4",
            "--wait",
            "answer",
            "--value",
            r#"{"number": 21, "reason": "why not"}"#,
            "--resume",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let output: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        output,
        serde_json::json!({"doubled": 42, "reason": "why not"})
    );
}

#[test]
fn time_and_randomness_are_the_same_when_a_flow_resumes() {
    let dir = temp();
    let (code, _, err) = run_probe(dir.path(), "clock", "{}");
    assert_eq!(code, 3, "{err}");
    let (code, out, err) = cli(
        dir.path(),
        &[
            "executions",
            "input",
            "1",
            "--wait",
            "go",
            "--value",
            "true",
            "--resume",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let output: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(output[0], true);
    assert_eq!(output[3], true);
    assert_ne!(output[1], output[2], "two draws differ");
    // Both runs of the flow (before the wait and resumed) logged the same
    // draws, the ones it returned.
    let (code, logs, err) = cli(dir.path(), &["executions", "logs", "1"]);
    assert_eq!(code, 0, "{err}");
    let expected = format!("draws {} {}", output[1], output[2]);
    let draws: Vec<&str> = logs.lines().filter(|l| l.contains("draws ")).collect();
    assert!(draws.len() >= 2, "{logs}");
    assert!(draws.iter().all(|l| l.ends_with(&expected)), "{logs}");
}

/// A `cairn run` of the probe's `steps` is killed with SIGKILL once some
/// steps have left their marks; resuming finishes the flow and runs no
/// completed step again.
#[test]
fn a_python_flow_killed_with_sigkill_resumes_without_redoing_steps() {
    let dir = temp();
    let marks = marks(dir.path());
    let count: usize = 8;
    let mut child = cairn(dir.path())
        .arg("run")
        .arg("--allow-dir")
        .arg(format!("{}:/marks", marks.display()))
        .arg(PYPROBE.path())
        .args(["--flow", "steps", "--input"])
        .arg(format!(r#"{{"count": {count}, "work": 300000}}"#))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cairn starts");
    let deadline = Instant::now() + Duration::from_secs(180);
    while count_marks(&marks, "step") < 3 {
        assert!(Instant::now() < deadline, "no steps ran");
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("the run ended before the kill: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let before = count_marks(&marks, "step");
    assert!(before < count, "killed mid-flow: {before} marks");

    let (code, out, err) = cli(
        dir.path(),
        &[
            "executions",
            "resume",
            "1",
            "--allow-dir",
            &format!("{}:/marks", marks.display()),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let expected: usize = (0..count).map(|i| i * i).sum();
    assert_eq!(out.trim(), expected.to_string());
    // Each step ran once, but the one in flight at the kill may have run
    // twice (its mark was written, its output not yet journaled).
    let after = count_marks(&marks, "step");
    assert!(
        (count..=count + 1).contains(&after),
        "{after} marks for {count} steps"
    );
    for i in 0..count {
        assert!(
            count_marks(&marks, &format!("step.{i}")) >= 1,
            "step {i} ran"
        );
    }
}

#[test]
fn a_lazily_imported_module_is_preloaded_or_named_in_a_clear_error() {
    let dir = temp();
    // xtask builds the probe with `--preload fractions`.
    let (code, out, err) = run_probe(dir.path(), "lazy", r#"{"preloaded": true}"#);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "\"1/2\"");
    let (code, _, err) = run_probe(dir.path(), "lazy", r#"{"preloaded": false}"#);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("No module named 'statistics': a module imported only at run time is not in the component")
            && err.contains("--preload statistics"),
        "{err}"
    );
}

/// A flow's own code runs on fuel of its own (checkpoint calls do not
/// count): `--flow-fuel N`, or `flow_fuel` in a policy file, sets it; past
/// it the execution fails as trapped out of fuel, while the default runs
/// the same CPython flow through.
#[test]
fn flow_fuel_is_set_by_its_flag_and_by_the_policy_file() {
    let dir = temp();
    let probe = path(PYPROBE);
    let run = |extra: &[&str]| {
        let mut args = vec!["run", &probe, "--flow", "calls", "--input", r#"{"n": 2}"#];
        args.extend_from_slice(extra);
        cli(dir.path(), &args)
    };
    let (code, _, err) = run(&["--flow-fuel", "100000"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the flow trapped (out_of_fuel): ran out of fuel")
            && err.contains("executions resume 1 --flow-fuel 100000"),
        "{err}"
    );
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "flow_fuel = 100_000\n").expect("a policy file");
    let policy = policy.to_str().expect("utf8");
    let (code, _, err) = run(&["--policy", policy]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the flow trapped (out_of_fuel)"), "{err}");
    // The flag overrides the file; the default is enough for this flow.
    let (code, out, err) = run(&["--policy", policy, "--flow-fuel", "20000000000"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#""square":9"#), "{out}");
    let (code, out, err) = run(&[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#""square":9"#), "{out}");
    // No fuel at all is refused before anything runs.
    let (code, _, err) = run(&["--flow-fuel", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the fuel must be from 1"), "{err}");
    std::fs::write(dir.path().join("zero.toml"), "flow_fuel = 0\n").expect("a policy file");
    let zero = dir.path().join("zero.toml");
    let (code, _, err) = run(&["--policy", zero.to_str().expect("utf8")]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`flow_fuel`: the fuel must be from 1"),
        "{err}"
    );
}

/// The `timers` and `attempt` imports from Python: a sleep (waited out in
/// place), a wait whose time is up at once (`None`, journaled) and a
/// checkpoint's idempotency key; the flow itself has no attempt.
#[test]
fn a_python_flow_sleeps_times_out_a_wait_and_reads_its_attempt() {
    let dir = temp();
    let (code, out, err) = run_probe(dir.path(), "timers", r#"{"ms": 0}"#);
    assert_eq!(code, 0, "{err}");
    let output: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(output, serde_json::json!([null, "cairn-1-2", true]));
    let shown = show(dir.path(), 1);
    let names: Vec<&str> = shown["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["@sleep", "@wait", "attempt_key"]);
    assert_eq!(shown["waits"][0]["source"], "timed_out", "{shown}");
}

/// Deep recursion in CPython's C code (`json.dumps` of a list nested
/// 2,000 deep: native frames, which CPython's recursion limit does not
/// count) in an isolated checkpoint, an inline one and the flow itself:
/// at the default native stack it ends as a trap of kind `trap` that says
/// to raise `--stack`, recorded in the journal like any other trap, never
/// a crash of the host; with `--stack 2MiB` the same call completes.
#[test]
fn deep_recursion_in_cpythons_c_code_traps_and_never_crashes_the_host() {
    let dir = temp();
    let probe = path(PYPROBE);
    let run = |flow: &str, input: &str, stack: Option<&str>| {
        let mut args = vec!["run", probe.as_str(), "--flow", flow, "--input", input];
        if let Some(stack) = stack {
            args.extend(["--stack", stack]);
        }
        cli(dir.path(), &args)
    };
    let exhausted = |text: &str| text.contains("call stack exhausted") && text.contains("--stack");
    let mut id = 0;
    for (flow, input, checkpoint) in [
        (
            "c_recursion",
            r#"{"depth": 2000, "inline": false}"#,
            Some("c_deep"),
        ),
        (
            "c_recursion",
            r#"{"depth": 2000, "inline": true}"#,
            Some("c_deep_inline"),
        ),
        ("c_recursion_in_flow", r#"{"depth": 2000}"#, None),
    ] {
        let (code, _, err) = run(flow, input, None);
        id += 1;
        assert_eq!(code, 1, "{input}: {err}");
        let json = show(dir.path(), id);
        assert_eq!(json["status"], "failed", "{json}");
        match checkpoint {
            Some(checkpoint) => {
                assert!(
                    err.contains(&format!("checkpoint `{checkpoint}` trapped")),
                    "{input}: {err}"
                );
                let attempt = &json["calls"][0]["attempts"][0];
                assert_eq!(attempt["trap"], "trap", "{input}: {attempt}");
                let error = attempt["error"].as_str().unwrap_or_default();
                assert!(exhausted(error), "{input}: {attempt}");
            }
            None => {
                assert_eq!(json["failure"]["kind"], "flow_trapped", "{json}");
                let failure = json["failure"].to_string();
                assert!(exhausted(&failure), "{json}");
            }
        }
        let (code, out, err) = run(flow, input, Some("2MiB"));
        id += 1;
        assert_eq!(
            (code, out.trim()),
            (0, "4002"),
            "{input} with a 2 MiB stack: {err}"
        );
    }
    // The journal is whole: every execution reads back.
    let (code, listed, err) = cli(dir.path(), &["--json", "executions", "list"]);
    assert_eq!(code, 0, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(6));
}
