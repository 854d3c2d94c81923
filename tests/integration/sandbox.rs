//! A checkpoint that loops forever, eats memory or panics ends as a failed
//! attempt of the right kind; the execution fails without running anything
//! after it, and the host goes on working. Each limit is shown as a pair: the
//! same guest within the limit, and past it.

use std::time::Duration;

use crate::guests;
use cairn_host::{ExecutionStatus, FailureKind, Host, Policy, TrapKind};
use cairn_tests::{host, load, temp};

/// Runs `flow` with `input` and returns the status and, if the one call
/// trapped, its kind and message.
async fn run_one(
    host: &Host,
    flow: &str,
    input: serde_json::Value,
) -> (ExecutionStatus, Option<(TrapKind, String)>) {
    let probe = load(host, guests::PROBE).await;
    let outcome = host
        .run(&probe, flow, &input.to_string())
        .await
        .expect("the execution runs");
    let detail = cairn_tests::detail(host, outcome.id).await;
    let attempt = &detail.calls[0].attempts[0];
    assert!(attempt.ended_at.is_some(), "the attempt is closed");
    let trap = attempt
        .trap
        .map(|kind| (kind, attempt.error.clone().unwrap_or_default()));
    (outcome.status, trap)
}

/// Runs a hostile checkpoint and checks the aftermath: one trapped call,
/// nothing after it, and a host that still works.
async fn hostile(host: &Host, which: &str) -> (TrapKind, String) {
    let probe = load(host, guests::PROBE).await;
    let input = serde_json::json!({ "which": which }).to_string();
    let outcome = host
        .run(&probe, "hostile", &input)
        .await
        .expect("the execution runs");
    assert_eq!(outcome.status, ExecutionStatus::Failed, "{outcome:?}");
    assert_eq!(
        outcome.failure.as_ref().map(|f| f.kind),
        Some(FailureKind::FlowError)
    );
    let detail = cairn_tests::detail(host, outcome.id).await;
    assert_eq!(
        detail.calls.len(),
        1,
        "no checkpoint runs after the unhandled failure"
    );
    let attempt = &detail.calls[0].attempts[0];
    assert_eq!(attempt.status, "trapped");

    let next = host
        .run(&probe, "sum", r#"{"a": 1, "b": 2}"#)
        .await
        .expect("runs");
    assert_eq!(next.output.as_deref(), Some("5"), "the host keeps working");
    (
        attempt.trap.expect("a trap kind"),
        attempt.error.clone().unwrap_or_default(),
    )
}

#[tokio::test]
async fn fuel_bounds_work_and_an_infinite_loop_runs_out_of_it() {
    let dir = temp();
    let host = host(dir.path(), Policy::default().fuel(50_000_000));
    let (status, trap) = run_one(&host, "work", serde_json::json!({"n": 100_000})).await;
    assert_eq!((status, trap), (ExecutionStatus::Completed, None));
    let (status, trap) = run_one(&host, "work", serde_json::json!({"n": 1_000_000_000u64})).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(trap.map(|t| t.0), Some(TrapKind::OutOfFuel));

    let (kind, message) = hostile(&host, "loop").await;
    assert_eq!(
        (kind, message.as_str()),
        (TrapKind::OutOfFuel, "ran out of fuel")
    );
}

#[tokio::test]
async fn an_infinite_loop_with_fuel_to_spare_times_out() {
    let dir = temp();
    // The limit also bounds every attempt of the harmless flows `hostile`
    // runs on this host, and each stretch of their flows' own code: 2 s
    // keeps a loaded machine's pauses from tripping it there, and the loop
    // still cannot outlast it.
    let host = host(
        dir.path(),
        Policy::default()
            .fuel(u64::MAX / 4)
            .timeout(Duration::from_secs(2)),
    );
    let (kind, message) = hostile(&host, "loop").await;
    assert_eq!(kind, TrapKind::Timeout, "{message}");
}

#[tokio::test]
async fn memory_is_capped_per_store() {
    let dir = temp();
    let host = host(dir.path(), Policy::default().memory_bytes(64 << 20));
    let (status, trap) = run_one(&host, "allocate", serde_json::json!({"mib": 16})).await;
    assert_eq!((status, trap), (ExecutionStatus::Completed, None));
    let (status, trap) = run_one(&host, "allocate", serde_json::json!({"mib": 96})).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(trap.map(|t| t.0), Some(TrapKind::Memory));

    let (kind, message) = hostile(&host, "memory").await;
    assert_eq!(kind, TrapKind::Memory);
    assert!(message.contains(&(64u64 << 20).to_string()), "{message}");
}

#[tokio::test]
async fn a_panic_is_a_trap_that_carries_the_panic_message() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let (kind, message) = hostile(&host, "panic").await;
    assert_eq!(kind, TrapKind::Trap);
    assert!(message.starts_with("panicked: kaboom"), "{message}");
}
