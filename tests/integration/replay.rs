//! Replay with overrides, durable waits, cancel, logs, and the flow's
//! journaled time and randomness.

use crate::guests;
use cairn_host::{
    AnswerError, CallSource, CallStatus, CancelError, ExecutionStatus, Host, Policy, ReplayError,
    ReplayRequest, ResumeError, RunError, SelectorError,
};
use cairn_tests::{count_marks, detail, host, load, marking_policy, marks, temp};

fn sources(detail: &cairn_host::ExecutionDetail) -> Vec<(&str, CallSource)> {
    detail
        .calls
        .iter()
        .map(|c| (c.call_id.as_str(), c.source))
        .collect()
}

#[tokio::test]
async fn a_replay_with_an_overridden_output_reruns_only_its_descendants() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let invoice = load(&host, guests::INVOICE).await;
    let input = r#"{"customer": "ACME", "lines": ["widget 12.00", "gadget -40.00", "bolt 5.50"]}"#;
    let failed = host.run(&invoice, "invoice", input).await.expect("runs");
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert!(
        failed
            .failure
            .as_ref()
            .is_some_and(|f| f.message.contains("line 2: the amount -4000 is negative"))
    );

    let request = ReplayRequest::default().override_output("parse_lines", "[1200, 4000, 550]");
    let fixed = host.replay(failed.id, request).await.expect("replays");
    assert_ne!(fixed.id, failed.id, "a replay is a new execution");
    assert_eq!(fixed.status, ExecutionStatus::Completed, "{fixed:?}");
    assert_eq!(
        fixed.output.as_deref(),
        Some(r#""Invoice for ACME: 57.50""#)
    );
    let replay = detail(&host, fixed.id).await;
    assert_eq!(replay.execution.original_exec_id, Some(failed.id));
    use CallSource::{Executed, Overridden};
    assert_eq!(
        sources(&replay),
        [
            ("parse_lines", Overridden),
            ("check_amounts", Executed),
            ("total", Executed),
            ("render", Executed)
        ]
    );
    assert!(
        replay.calls[0].attempts.is_empty(),
        "an overridden call does not run"
    );

    // The source is untouched.
    let source = detail(&host, failed.id).await;
    assert_eq!(source.execution.status, ExecutionStatus::Failed);
    assert_eq!(source.calls.len(), 2);
}

#[tokio::test]
async fn a_replay_reuses_what_did_not_change_and_runs_the_root_live() {
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let probe = load(&host, guests::PROBE).await;
    let first = host
        .run(&probe, "steps", r#"{"count": 4, "work": 0}"#)
        .await
        .expect("runs");
    assert_eq!(count_marks(&marks(dir.path()), "step-2"), 1);

    let plain = host
        .replay(first.id, ReplayRequest::default())
        .await
        .expect("replays");
    assert_eq!(plain.output, first.output);
    use CallSource::{Executed, Replayed};
    let all_replayed = [
        ("step", Replayed),
        ("step_2", Replayed),
        ("step_3", Replayed),
        ("step_4", Replayed),
    ];
    assert_eq!(sources(&detail(&host, plain.id).await), all_replayed);
    assert_eq!(count_marks(&marks(dir.path()), "step-2"), 1, "nothing ran");

    let from = host
        .replay(first.id, ReplayRequest::default().from("step_3"))
        .await
        .expect("replays");
    assert_eq!(
        sources(&detail(&host, from.id).await),
        [
            ("step", Replayed),
            ("step_2", Replayed),
            ("step_3", Executed),
            ("step_4", Replayed)
        ],
        "the root runs live; the next call's input did not change, so it is reused"
    );
    assert_eq!(
        count_marks(&marks(dir.path()), "step-2"),
        2,
        "the root ran again"
    );

    let by_seq = host
        .replay(first.id, ReplayRequest::default().from("0"))
        .await
        .expect("replays");
    assert_eq!(detail(&host, by_seq.id).await.calls[0].source, Executed);
}

#[tokio::test]
async fn a_replay_with_a_new_input_runs_the_calls_whose_input_changed() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    let first = host
        .run(&probe, "sum", r#"{"a": 1, "b": 2}"#)
        .await
        .expect("runs");
    let replay = host
        .replay(
            first.id,
            ReplayRequest::default().input(r#"{"a": 10, "b": 2}"#),
        )
        .await
        .expect("replays");
    assert_eq!(replay.output.as_deref(), Some("14"));
    let sources: Vec<CallSource> = detail(&host, replay.id)
        .await
        .calls
        .iter()
        .map(|c| c.source)
        .collect();
    assert!(
        sources.iter().all(|s| *s != CallSource::Replayed),
        "every input changed: {sources:?}"
    );
}

#[tokio::test]
async fn selectors_that_name_no_call_or_several_list_the_candidates() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    // A call id wins (`add` is the first call's id); a checkpoint name that
    // is no call id is ambiguous when several calls have it.
    let map = host
        .run(&probe, "squares", r#"{"n": 3}"#)
        .await
        .expect("runs");
    let ambiguous = host
        .replay(map.id, ReplayRequest::default().from("square"))
        .await;
    match ambiguous {
        Err(ReplayError::Selector(SelectorError::Ambiguous { candidates, .. })) => {
            let ids: Vec<(&str, u32)> = candidates
                .iter()
                .map(|c| (c.call_id.as_str(), c.seq))
                .collect();
            assert_eq!(ids, [("square[0]", 0), ("square[1]", 1), ("square[2]", 2)]);
        }
        other => panic!("expected an ambiguous selector, got {other:?}"),
    }
    let first = host
        .run(&probe, "sum", r#"{"a": 1, "b": 2}"#)
        .await
        .expect("runs");
    let unknown = host
        .replay(
            first.id,
            ReplayRequest::default().override_output("nope", "1"),
        )
        .await;
    match unknown {
        Err(ReplayError::Selector(SelectorError::Unknown { candidates, .. })) => {
            let ids: Vec<(&str, u32)> = candidates
                .iter()
                .map(|c| (c.call_id.as_str(), c.seq))
                .collect();
            assert_eq!(ids, [("add", 0), ("add_isolated", 1), ("add_2", 2)]);
        }
        other => panic!("expected an unknown selector, got {other:?}"),
    }
    let bad = host
        .replay(
            first.id,
            ReplayRequest::default().override_output("add_2", "{oops"),
        )
        .await;
    assert!(
        matches!(bad, Err(ReplayError::OverrideNotJson { .. })),
        "{bad:?}"
    );
    let all = host
        .client()
        .executions(&Default::default())
        .await
        .expect("readable");
    assert_eq!(all.len(), 2, "no replay was created");
}

#[tokio::test]
async fn a_replay_that_makes_other_calls_reports_where_it_diverges() {
    let dir = temp();
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = events.clone();
    let host = Host::builder()
        .journal(dir.path().join("journal.redb"))
        .engine(cairn_tests::engine())
        .policy(marking_policy(dir.path()))
        .events(std::sync::Arc::new(move |e: &cairn_host::Event| {
            if let cairn_host::Event::ReplayDiverged {
                seq, source, now, ..
            } = e
            {
                sink.lock()
                    .expect("lock")
                    .push((*seq, source.clone(), now.clone()));
            }
        }))
        .open()
        .expect("opens");
    let probe = load(&host, guests::PROBE).await;
    let twin = load(&host, guests::TWIN).await;
    let first = host
        .run(&probe, "additions", r#"{"a": 1, "b": 2}"#)
        .await
        .expect("runs");
    // `twin` has a flow named `addition`, not `additions`: replaying probe's
    // execution with it fails to find the flow...
    let missing = host
        .replay(first.id, ReplayRequest::default().component(twin.clone()))
        .await;
    assert!(
        matches!(missing, Err(ReplayError::Run(RunError::UnknownFlow { .. }))),
        "{missing:?}"
    );
    // ... while a replay of `branchy` whose gate has opened calls `square`
    // where the source called `add`: it diverges at seq 1, and says so.
    let first = host
        .run(&probe, "branchy", r#"{"flag": "open"}"#)
        .await
        .expect("runs");
    assert_eq!(first.output.as_deref(), Some("4"));
    std::fs::write(marks(dir.path()).join("open"), b"").expect("flag");
    let replay = host
        .replay(first.id, ReplayRequest::default().from("gate"))
        .await
        .expect("replays");
    assert_eq!(replay.output.as_deref(), Some("9"));
    let seen = events.lock().expect("lock").clone();
    assert_eq!(
        seen,
        [(1, "`add` (add)".to_owned(), "`square` (square)".to_owned())]
    );
    assert_eq!(
        detail(&host, replay.id).await.calls[1].source,
        CallSource::Executed
    );
}

#[tokio::test]
async fn a_durable_wait_suspends_the_execution_until_its_value_is_supplied() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    let waiting = host
        .run(&probe, "ask", r#"{"question": "How many?"}"#)
        .await
        .expect("runs");
    assert_eq!(waiting.status, ExecutionStatus::Waiting);
    let before = detail(&host, waiting.id).await;
    assert_eq!(before.waits.len(), 1);
    assert_eq!(before.waits[0].name, "number");
    assert_eq!(before.waits[0].question, "How many?");
    assert_eq!(before.waits[0].schema["type"], "integer");

    let wrong = host.answer(waiting.id, "number", r#""seven""#).await;
    assert!(
        matches!(wrong, Err(AnswerError::InvalidValue { .. })),
        "{wrong:?}"
    );
    let unknown = host.answer(waiting.id, "count", "7").await;
    assert!(
        matches!(unknown, Err(AnswerError::UnknownWait { ref waits, .. }) if waits == &["number"]),
        "{unknown:?}"
    );

    host.answer(waiting.id, "number", "7")
        .await
        .expect("stored");
    let again = host.answer(waiting.id, "number", "8").await;
    assert!(
        matches!(again, Err(AnswerError::AlreadyAnswered { .. })),
        "{again:?}"
    );

    let done = host.resume(waiting.id).await.expect("resumes");
    assert_eq!(done.status, ExecutionStatus::Completed, "{done:?}");
    assert_eq!(done.output.as_deref(), Some("16"));
    let after = detail(&host, waiting.id).await;
    assert_eq!(
        after.calls[0].attempts.len(),
        1,
        "the call before the wait was not run again"
    );
    assert!(after.waits[0].answered_at.is_some());
}

#[tokio::test]
async fn waiting_inside_a_checkpoint_is_a_clear_error() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    let outcome = host
        .run(&probe, "wait_in_checkpoint", "{}")
        .await
        .expect("runs");
    let message = outcome.failure.expect("a failure").message;
    assert!(
        message.contains("wait `inside` was called from inside a checkpoint"),
        "{message}"
    );
}

#[tokio::test]
async fn a_cancelled_execution_cannot_be_resumed_or_answered() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    let waiting = host
        .run(&probe, "ask", r#"{"question": "?"}"#)
        .await
        .expect("runs");
    host.cancel(waiting.id).await.expect("cancelled");
    let status = detail(&host, waiting.id).await.execution.status;
    assert_eq!(status, ExecutionStatus::Cancelled);
    assert!(matches!(
        host.resume(waiting.id).await,
        Err(ResumeError::Cancelled(_))
    ));
    assert!(matches!(
        host.answer(waiting.id, "number", "1").await,
        Err(AnswerError::Cancelled(_))
    ));
    assert!(matches!(
        host.cancel(waiting.id).await,
        Err(CancelError::NotCancellable { .. })
    ));

    let done = host
        .run(&probe, "sum", r#"{"a": 1, "b": 1}"#)
        .await
        .expect("runs");
    assert!(matches!(
        host.cancel(done.id).await,
        Err(CancelError::NotCancellable { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_execution_stops_its_flow() {
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let probe = load(&host, guests::PROBE).await;
    let running = {
        let host = host.clone();
        tokio::spawn(async move {
            host.run(&probe, "steps", r#"{"count": 50, "work": 3000000}"#)
                .await
        })
    };
    let marks = marks(dir.path());
    while count_marks(&marks, "step-1") == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    host.cancel(cairn_host::ExecutionId(1))
        .await
        .expect("cancels");
    let outcome = running.await.expect("joined").expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Cancelled);
    let detail = detail(&host, outcome.id).await;
    assert!(
        detail.calls.len() < 50,
        "the flow stopped early: {} calls",
        detail.calls.len()
    );
    assert!(
        detail.calls.iter().all(|c| c.status != CallStatus::Running),
        "calls in flight finished"
    );
    assert!(matches!(
        host.resume(outcome.id).await,
        Err(ResumeError::Cancelled(_))
    ));
}

#[tokio::test]
async fn a_resumed_flow_sees_the_same_time_and_random_numbers() {
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let probe = load(&host, guests::PROBE).await;
    let first = host
        .run(&probe, "clock_and_dice", r#"{"flag": "go"}"#)
        .await
        .expect("runs");
    assert_eq!(first.status, ExecutionStatus::Failed);
    let recorded = detail(&host, first.id).await.calls[0].input.clone();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    std::fs::write(marks(dir.path()).join("go"), b"").expect("flag");
    let resumed = host.resume(first.id).await.expect("resumes");
    assert_eq!(
        resumed.status,
        ExecutionStatus::Completed,
        "no non-determinism: {resumed:?}"
    );
    let (t, r): (u64, u64) =
        serde_json::from_str(resumed.output.as_deref().expect("output")).expect("pair");
    assert_eq!(serde_json::json!({"t": t, "r": r}), recorded);
    let other = host
        .run(&probe, "clock_and_dice", r#"{"flag": "go"}"#)
        .await
        .expect("runs");
    let (_, r2): (u64, u64) =
        serde_json::from_str(other.output.as_deref().expect("output")).expect("pair");
    assert_ne!(r, r2, "another execution draws other numbers");
}

#[tokio::test]
async fn the_flows_log_lines_and_each_attempts_output_are_kept() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    let outcome = host
        .run(&probe, "logged", r#"{"text": "hi"}"#)
        .await
        .expect("runs");
    let detail = detail(&host, outcome.id).await;
    assert_eq!(detail.flow_log, "[info] starting with hi\n[warn] done\n");
    let chatty = detail.call("chatty").expect("one call");
    assert_eq!(chatty.attempts[0].stdout, "out: hi\n");
}
