//! Durable control flow: resume reuses what completed and continues what did
//! not, flow retries, the output cache, non-determinism, durability modes.
//! Real executions are counted from outside the sandbox, by the marks the
//! checkpoints leave in a granted folder.

use cairn_host::{
    CallSource, CallStatus, Durability, ExecutionStatus, FailureKind, Host, Policy, RunError,
};
use cairn_tests::{count_marks, engine, host, load, marking_policy, marks, temp};

#[tokio::test]
async fn resume_reuses_completed_calls_and_gives_the_failed_one_new_attempts() {
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let probe = load(&host, "probe").await;
    let first = host
        .run(&probe, "gated", r#"{"flag": "open"}"#)
        .await
        .expect("runs");
    assert_eq!(first.status, ExecutionStatus::Failed);
    assert_eq!(count_marks(&marks(dir.path()), "step-1"), 1);

    std::fs::write(marks(dir.path()).join("open"), b"").expect("flag");
    let resumed = host.resume(first.id).await.expect("resumes");
    assert_eq!(resumed.id, first.id, "resume keeps the execution id");
    assert_eq!(resumed.status, ExecutionStatus::Completed, "{resumed:?}");
    assert_eq!(resumed.output.as_deref(), Some("5"));
    assert_eq!(
        count_marks(&marks(dir.path()), "step-1"),
        1,
        "the completed step did not run again"
    );
    assert_eq!(count_marks(&marks(dir.path()), "gate"), 2);

    let detail = cairn_tests::detail(&host, first.id);
    let gate = &detail.calls[1];
    assert_eq!(gate.status, CallStatus::Completed);
    let attempts: Vec<(u32, &str)> = gate.attempts.iter().map(|a| (a.n, a.status)).collect();
    assert_eq!(
        attempts,
        [(1, "failed"), (2, "ok")],
        "attempt numbers continue"
    );
    assert_eq!(detail.calls.len(), 3);
}

#[tokio::test]
async fn resuming_a_completed_execution_returns_its_output_and_runs_nothing() {
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let probe = load(&host, "probe").await;
    let done = host
        .run(&probe, "steps", r#"{"count": 3, "work": 0}"#)
        .await
        .expect("runs");
    let again = host.resume(done.id).await.expect("resumes");
    assert_eq!(again, done);
    for i in 0..3 {
        assert_eq!(count_marks(&marks(dir.path()), &format!("step-{i}")), 1);
    }
    let unknown = host.resume(cairn_host::ExecutionId(99)).await;
    assert!(
        matches!(unknown, Err(RunError::UnknownExecution(_))),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn a_flow_with_retries_runs_again_reusing_completed_calls() {
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let probe = load(&host, "probe").await;
    let outcome = host
        .run(&probe, "persistent", r#"{"tries": 3}"#)
        .await
        .expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
    assert_eq!(outcome.output.as_deref(), Some("4"), "1 + the third try");
    assert_eq!(
        count_marks(&marks(dir.path()), "step-1"),
        1,
        "reused across flow retries"
    );
    assert_eq!(count_marks(&marks(dir.path()), "stubborn"), 3);
    let detail = cairn_tests::detail(&host, outcome.id);
    assert_eq!(detail.calls[1].attempts.len(), 3);
}

#[tokio::test]
async fn a_flow_that_changes_its_calls_on_resume_fails_with_non_determinism() {
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let probe = load(&host, "probe").await;
    let first = host
        .run(&probe, "fickle", r#"{"flag": "open"}"#)
        .await
        .expect("runs");
    assert_eq!(first.status, ExecutionStatus::Failed);
    let before = cairn_tests::detail(&host, first.id);

    std::fs::write(marks(dir.path()).join("open"), b"").expect("flag");
    let resumed = host.resume(first.id).await.expect("resumes");
    let failure = resumed.failure.expect("a failure");
    assert_eq!(failure.kind, FailureKind::NonDeterminism);
    assert!(failure.message.contains("seq 1"), "{}", failure.message);
    assert!(
        failure
            .message
            .contains(r#"`add` (add) with {"a":2,"b":2}"#),
        "{}",
        failure.message
    );
    assert!(
        failure
            .message
            .contains(r#"`add` (add) with {"a":1,"b":1}"#),
        "{}",
        failure.message
    );

    let after = cairn_tests::detail(&host, first.id);
    assert_eq!(
        after.calls.len(),
        before.calls.len(),
        "nothing new journaled"
    );
    assert_eq!(
        after.calls[1].input, before.calls[1].input,
        "nothing overwritten"
    );
    assert_eq!(after.calls[1].output, before.calls[1].output);
}

#[tokio::test]
async fn identical_calls_reuse_cached_outputs_unless_caching_is_off() {
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let probe = load(&host, "probe").await;
    let first = host
        .run(&probe, "additions", r#"{"a": 1, "b": 2}"#)
        .await
        .expect("runs");
    let second = host
        .run(&probe, "additions", r#"{"b": 2, "a": 1}"#)
        .await
        .expect("runs");
    assert_eq!(first.output, second.output);
    assert_eq!(
        count_marks(&marks(dir.path()), "add"),
        1,
        "the second call was a cache hit"
    );
    assert_eq!(
        count_marks(&marks(dir.path()), "uncached"),
        2,
        "cache = false always runs"
    );
    let detail = cairn_tests::detail(&host, second.id);
    assert_eq!(detail.calls[0].source, CallSource::Cached);
    assert!(detail.calls[0].attempts.is_empty());
    assert_eq!(detail.calls[1].source, CallSource::Executed);

    let other = host
        .run(&probe, "additions", r#"{"a": 1, "b": 3}"#)
        .await
        .expect("runs");
    assert_eq!(other.output.as_deref(), Some("[4,4]"));
    assert_eq!(
        count_marks(&marks(dir.path()), "add"),
        2,
        "another input is a miss"
    );
}

#[tokio::test]
async fn a_changed_component_never_hits_the_cache() {
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let probe = load(&host, "probe").await;
    let twin = load(&host, "twin").await;
    host.run(&probe, "additions", r#"{"a": 1, "b": 2}"#)
        .await
        .expect("runs");
    let outcome = host
        .run(&twin, "addition", r#"{"a": 1, "b": 2}"#)
        .await
        .expect("runs");
    assert_eq!(outcome.output.as_deref(), Some("3"));
    assert_eq!(
        count_marks(&marks(dir.path()), "add"),
        2,
        "same checkpoint and input, other code"
    );
}

#[tokio::test]
async fn an_unknown_checkpoint_is_a_clear_error_for_the_flow() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, "probe").await;
    let outcome = host
        .run(&probe, "unknown_checkpoint", "{}")
        .await
        .expect("runs");
    let message = outcome.failure.expect("a failure").message;
    assert!(
        message.contains("unknown checkpoint `no_such_checkpoint`"),
        "{message}"
    );
}

#[tokio::test]
async fn eventual_durability_is_made_durable_when_the_journal_closes() {
    let dir = temp();
    let id = {
        let host = Host::builder()
            .journal(dir.path().join("journal.redb"))
            .engine(engine())
            .policy(marking_policy(dir.path()))
            .durability(Durability::Eventual)
            .open()
            .expect("opens");
        let probe = load(&host, "probe").await;
        host.run(&probe, "steps", r#"{"count": 4, "work": 0}"#)
            .await
            .expect("runs")
            .id
    };
    let host = host(dir.path(), Policy::default());
    let detail = cairn_tests::detail(&host, id);
    assert_eq!(detail.execution.status, ExecutionStatus::Completed);
    assert_eq!(detail.calls.len(), 4);
}

#[tokio::test]
async fn a_checkpoints_cache_option_beats_its_flows() {
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let probe = load(&host, "probe").await;
    for _ in 0..2 {
        let outcome = host
            .run(&probe, "additions_uncached", r#"{"a": 5, "b": 5}"#)
            .await
            .expect("runs");
        assert_eq!(outcome.output.as_deref(), Some("[10,10]"));
    }
    assert_eq!(
        count_marks(&marks(dir.path()), "add"),
        2,
        "the flow's cache = false applies"
    );
    assert_eq!(
        count_marks(&marks(dir.path()), "forced"),
        1,
        "the checkpoint's cache = true wins"
    );
}

#[tokio::test]
async fn retries_wait_the_policys_delay_doubling_each_time() {
    let dir = temp();
    let delay = std::time::Duration::from_millis(40);
    let host = host(dir.path(), Policy::default().retry_delay(delay));
    let probe = load(&host, "probe").await;
    let outcome = host.run(&probe, "retrying", "{}").await.expect("runs");
    let detail = cairn_tests::detail(&host, outcome.id);
    let starts: Vec<String> = detail.calls[0]
        .attempts
        .iter()
        .map(|a| a.started_at.clone())
        .collect();
    let micros = |t: &str| -> u64 {
        // HH:MM:SS.ffffff of one run are enough to compare within a minute.
        let clock = &t[11..26];
        let (h, m, s) = (&clock[0..2], &clock[3..5], &clock[6..]);
        let secs: f64 = s.parse().expect("seconds");
        h.parse::<u64>().expect("h") * 3_600_000_000
            + m.parse::<u64>().expect("m") * 60_000_000
            + (secs * 1e6) as u64
    };
    let gaps: Vec<u64> = starts
        .windows(2)
        .map(|w| micros(&w[1]).saturating_sub(micros(&w[0])))
        .collect();
    assert_eq!(gaps.len(), 2);
    assert!(gaps[0] >= 40_000, "first retry waited {} µs", gaps[0]);
    assert!(gaps[1] >= 80_000, "second retry waited {} µs", gaps[1]);
}
