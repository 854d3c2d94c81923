//! The examples are built and run here, so they cannot rot.

use crate::guests;
use cairn_host::{ExecutionStatus, Policy, Runtime};
use cairn_tests::{host, load, temp};

#[tokio::test]
async fn the_markdown_example_renders_a_document() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let component = load(&host, guests::MARKDOWN).await;
    let input = serde_json::json!({
        "markdown": "# Cairn\n\nDurable *flows* of checkpoints.\n\n## Why\n\nSpeed and safety.\n"
    });
    let outcome = host
        .run(&component, "render", &input.to_string())
        .await
        .expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
    let page: serde_json::Value =
        serde_json::from_str(outcome.output.as_deref().expect("output")).expect("json");
    assert_eq!(page["title"], "Cairn");
    assert_eq!(page["headings"], serde_json::json!(["Cairn", "Why"]));
    assert_eq!(page["words"], 9);
    let html = page["html"].as_str().expect("html");
    assert!(
        html.contains("<h1>Cairn</h1>") && html.contains("<em>flows</em>"),
        "{html}"
    );
    let detail = cairn_tests::detail(&host, outcome.id).await;
    assert!(detail.calls.iter().any(|c| c.runtime == Runtime::Isolated));
}

fn cli(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = cairn_tests::cairn(dir)
        .args(args)
        .output()
        .expect("cairn runs");
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The approval example, as its doc comment and the README run it.
#[test]
fn the_approval_example_waits_for_a_person_and_continues_after_the_answer() {
    let dir = temp();
    let approval = cairn_tests::guest(guests::APPROVAL);
    let approval = approval.to_str().expect("utf8");
    let (code, out, err) = cli(
        dir.path(),
        &["run", approval, "--input", r#"{"topic": "durable flows"}"#],
    );
    assert_eq!(code, 3, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("execution 1 is waiting for `approve`: Publish this post?"),
        "{err}"
    );
    assert!(
        err.contains("executions input 1 --wait approve --value '<JSON>'"),
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
            r#"{"approved": "yes", "reviewer": "ada"}"#,
        ],
    );
    assert_eq!(code, 2, "a value that does not match the schema: {err}");
    // Where in the value, the value and the type it should have.
    assert!(
        err.contains("$.approved: ") && err.contains("\"yes\"") && err.contains("boolean"),
        "{err}"
    );

    let value = r#"{"approved": true, "reviewer": "ada", "note": null}"#;
    let (code, _, err) = cli(
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
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli(dir.path(), &["executions", "resume", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("\"published "), "{out}");
    assert!(
        err.contains("↺ draft"),
        "the draft was replayed from the journal: {err}"
    );
}

/// The replay guide of the README, step by step.
#[test]
fn the_invoice_example_is_fixed_by_a_replay_with_an_override() {
    let dir = temp();
    let invoice = cairn_tests::guest(guests::INVOICE);
    let input = r#"{"customer": "ACME", "lines": ["widget 12.00", "gadget -40.00", "bolt 5.50"]}"#;
    let (code, _, err) = cli(
        dir.path(),
        &["run", invoice.to_str().expect("utf8"), "--input", input],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("line 2: the amount -4000 is negative"),
        "{err}"
    );

    let (code, out, err) = cli(
        dir.path(),
        &[
            "executions",
            "replay",
            "1",
            "--override",
            "parse_lines=[1200, 4000, 550]",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "\"Invoice for ACME: 57.50\"\n");
    assert!(err.contains("execution 2 replays execution 1"), "{err}");

    let (_, out, _) = cli(dir.path(), &["--json", "executions", "show", "2"]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["original_exec_id"], 1);
    assert_eq!(json["calls"][0]["source"], "overridden");
    assert_eq!(json["calls"][1]["source"], "executed");

    let (code, _, err) = cli(dir.path(), &["executions", "replay", "1", "--from", "nope"]);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "no call matches `nope`; the calls are: parse_lines (seq 0), check_amounts (seq 1)"
        ),
        "{err}"
    );
}

#[test]
fn logs_and_cancel_from_the_command_line() {
    let dir = temp();
    let probe = cairn_tests::guest(guests::PROBE);
    let probe = probe.to_str().expect("utf8");
    let (code, _, _) = cli(
        dir.path(),
        &[
            "run",
            probe,
            "--flow",
            "logged",
            "--input",
            r#"{"text": "hey"}"#,
        ],
    );
    assert_eq!(code, 0);
    let (code, out, _) = cli(dir.path(), &["executions", "logs", "1"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("== flow `logged` ==\nflow| [info] starting with hey\nflow| [warn] done\n"),
        "{out}"
    );
    assert!(
        out.contains("== chatty (seq 0) attempt 1 ==\nstdout| out: hey\nstderr| err: hey\n"),
        "{out}"
    );
    let (_, only, _) = cli(dir.path(), &["executions", "logs", "1", "--call", "chatty"]);
    assert!(!only.contains("== flow"), "{only}");

    let (code, _, _) = cli(
        dir.path(),
        &[
            "run",
            probe,
            "--flow",
            "ask",
            "--input",
            r#"{"question": "n?"}"#,
        ],
    );
    assert_eq!(code, 3);
    let (code, _, err) = cli(dir.path(), &["executions", "cancel", "2"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(dir.path(), &["executions", "resume", "2"]);
    assert_eq!(code, 2);
    assert!(err.contains("was cancelled and cannot be resumed"), "{err}");
}
