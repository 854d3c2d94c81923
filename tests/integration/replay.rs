//! Replay with overrides, durable waits, cancel, logs, and the flow's
//! journaled time and randomness.

use crate::guests;
use cairn_host::{
    AnswerError, AnswerSource, CallSource, CallStatus, CancelError, Checkpoint, Component,
    ExecutionId, ExecutionStatus, FailureKind, FlowCtx, FlowError, Host, HostFlow, Policy,
    ReplayError, ReplayRequest, ResumeError, RunError, SelectorError,
};
use cairn_tests::backend::host_on;
use cairn_tests::on_backends;
use cairn_tests::{count_marks, detail, host, load, marking_policy, marks, temp};
use serde_json::{Value, json};

fn sources(detail: &cairn_host::ExecutionDetail) -> Vec<(&str, CallSource)> {
    detail
        .calls
        .iter()
        .map(|c| (c.call_id.as_str(), c.source))
        .collect()
}

on_backends! {
    #[tokio::test]
    async fn a_replay_with_an_overridden_output_reruns_only_its_descendants(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
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
}

on_backends! {
    #[tokio::test]
    async fn a_replay_reuses_what_did_not_change_and_runs_the_root_live(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, marking_policy(dir.path()));
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
}

on_backends! {
    #[tokio::test]
    async fn a_replay_with_a_new_input_runs_the_calls_whose_input_changed(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
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
}

on_backends! {
    #[tokio::test]
    async fn selectors_that_name_no_call_or_several_list_the_candidates(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
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

on_backends! {
    #[tokio::test]
    async fn a_durable_wait_suspends_the_execution_until_its_value_is_supplied(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
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
}

on_backends! {
    #[tokio::test]
    async fn waiting_inside_a_checkpoint_is_a_clear_error(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
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
}

on_backends! {
    #[tokio::test]
    async fn a_cancelled_execution_cannot_be_resumed_or_answered(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
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
}

on_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelling_a_running_execution_stops_its_flow(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, marking_policy(dir.path()));
        let probe = load(&host, guests::PROBE).await;
        let marks = marks(dir.path());
        let mut events = host.subscribe();
        // `held`: step 0, then a hold until the test creates `release`,
        // then step 2. The cancel comes while the hold surely runs.
        let running = {
            let host = host.clone();
            tokio::spawn(async move { host.run(&probe, "held", r#"{"flag": "release"}"#).await })
        };
        let wait = async {
            loop {
                match events.recv().await {
                    Ok(cairn_host::Event::AttemptStarted { exec, call_id, .. }) if call_id == "hold" => {
                        break exec;
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(closed) => panic!("events: {closed}"),
                }
            }
        };
        let exec = tokio::time::timeout(std::time::Duration::from_secs(60), wait)
            .await
            .expect("the hold starts within a minute");
        host.cancel(exec).await.expect("cancels");
        std::fs::write(marks.join("release"), b"").expect("releases the hold");
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(60), running)
            .await
            .expect("the run ends within a minute")
            .expect("joined")
            .expect("runs");
        assert_eq!(outcome.status, ExecutionStatus::Cancelled);
        let detail = detail(&host, outcome.id).await;
        let calls: Vec<(&str, CallStatus)> =
            detail.calls.iter().map(|c| (c.call_id.as_str(), c.status)).collect();
        assert_eq!(
            calls,
            [("step", CallStatus::Completed), ("hold", CallStatus::Completed)],
            "the call in flight finished; nothing after the cancel was submitted"
        );
        assert_eq!(count_marks(&marks, "step-2"), 0, "the flow stopped");
        assert!(matches!(
            host.resume(outcome.id).await,
            Err(ResumeError::Cancelled(_))
        ));
    }
}

on_backends! {
    #[tokio::test]
    async fn a_resumed_flow_sees_the_same_time_and_random_numbers(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, marking_policy(dir.path()));
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
}

on_backends! {
    #[tokio::test]
    async fn the_flows_log_lines_and_each_attempts_output_are_kept(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
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
}

// ---- a replay keeps answers -------------------------------------------------

/// Runs the probe's `approved_gate` (a step, the wait `approval`, a gate
/// whose flag is not there yet): `ann` approves it, then it fails at the gate.
async fn approved_then_failed(host: &Host, probe: &Component) -> ExecutionId {
    let waiting = host
        .run(probe, "approved_gate", r#"{"flag": "open"}"#)
        .await
        .expect("runs");
    assert_eq!(waiting.status, ExecutionStatus::Waiting, "{waiting:?}");
    host.answer(waiting.id, "approval", r#""ann""#)
        .await
        .expect("answers");
    let failed = host.resume(waiting.id).await.expect("resumes");
    assert_eq!(failed.status, ExecutionStatus::Failed, "{failed:?}");
    failed.id
}

/// The name, value, source and origin of an execution's only wait.
async fn the_wait(
    host: &Host,
    id: ExecutionId,
) -> (
    String,
    Option<Value>,
    Option<AnswerSource>,
    Option<ExecutionId>,
) {
    let waits = detail(host, id).await.waits;
    assert_eq!(waits.len(), 1, "{waits:?}");
    let wait = waits.into_iter().next().expect("one wait");
    (wait.name, wait.value, wait.source, wait.carried_from)
}

#[tokio::test]
async fn a_replay_keeps_the_answers_of_waits_before_its_root() {
    use AnswerSource::{Answered, Replayed};
    use CallSource::{Executed, Overridden};
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let probe = load(&host, guests::PROBE).await;
    let source = approved_then_failed(&host, &probe).await;
    assert_eq!(
        the_wait(&host, source).await,
        (
            "approval".to_owned(),
            Some(json!("ann")),
            Some(Answered),
            None
        )
    );

    // The failing call after the wait is overridden: the wait keeps its
    // answer, and the journal says where it comes from.
    let request = ReplayRequest::default().override_output("gate", r#""forced""#);
    let fixed = host.replay(source, request).await.expect("replays");
    assert_eq!(fixed.status, ExecutionStatus::Completed, "{fixed:?}");
    assert_eq!(
        fixed.output.as_deref(),
        Some(r#""forced (1), approved by ann""#)
    );
    assert_eq!(
        the_wait(&host, fixed.id).await,
        (
            "approval".to_owned(),
            Some(json!("ann")),
            Some(Replayed),
            Some(source)
        )
    );
    let replay = detail(&host, fixed.id).await;
    assert_eq!(
        sources(&replay),
        [("step", CallSource::Replayed), ("gate", Overridden)]
    );

    // The failing call is the root, run live now that its flag is there:
    // the wait before it keeps its answer too.
    std::fs::write(marks(dir.path()).join("open"), b"").expect("flag");
    let live = host
        .replay(source, ReplayRequest::default().from("gate"))
        .await
        .expect("replays");
    assert_eq!(
        live.output.as_deref(),
        Some(r#""open is there (1), approved by ann""#),
        "{live:?}"
    );
    assert_eq!(the_wait(&host, live.id).await.2, Some(Replayed));
    assert_eq!(
        sources(&detail(&host, live.id).await),
        [("step", CallSource::Replayed), ("gate", Executed)]
    );

    // A replay of that replay carries the answer on, from its own source.
    let again = host
        .replay(live.id, ReplayRequest::default().from("gate"))
        .await
        .expect("replays");
    assert_eq!(again.status, ExecutionStatus::Completed, "{again:?}");
    let (_, value, from_where, carried_from) = the_wait(&host, again.id).await;
    assert_eq!(
        (value, from_where, carried_from),
        (Some(json!("ann")), Some(Replayed), Some(live.id))
    );

    // The root is the step before the wait: the wait lies after it, so
    // it is asked again, and answered as usual.
    let early = host
        .replay(source, ReplayRequest::default().from("step"))
        .await
        .expect("replays");
    assert_eq!(early.status, ExecutionStatus::Waiting, "{early:?}");
    let (_, value, from_where, _) = the_wait(&host, early.id).await;
    assert_eq!((value, from_where), (None, None));
    host.answer(early.id, "approval", r#""bob""#)
        .await
        .expect("answers");
    let done = host.resume(early.id).await.expect("resumes");
    assert_eq!(
        done.output.as_deref(),
        Some(r#""open is there (1), approved by bob""#)
    );
    assert_eq!(the_wait(&host, early.id).await.2, Some(Answered));
}

on_backends! {
    #[tokio::test]
    async fn an_answer_given_with_a_replay_replaces_the_sources_or_asking(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, marking_policy(dir.path()));
        let probe = load(&host, guests::PROBE).await;
        let source = approved_then_failed(&host, &probe).await;
        let forced = || ReplayRequest::default().override_output("gate", r#""forced""#);

        // Before the root: instead of the source's answer.
        let replaced = host
            .replay(source, forced().answer("approval", r#""carol""#))
            .await
            .expect("replays");
        assert_eq!(
            replaced.output.as_deref(),
            Some(r#""forced (1), approved by carol""#),
            "{replaced:?}"
        );
        assert_eq!(
            the_wait(&host, replaced.id).await,
            (
                "approval".to_owned(),
                Some(json!("carol")),
                Some(AnswerSource::Overridden),
                None
            )
        );
        // After the root: instead of asking. The last value given counts.
        let request = forced()
            .from("step")
            .answer("approval", r#""nobody""#)
            .answer("approval", r#""dave""#);
        let asked = host.replay(source, request).await.expect("replays");
        assert_eq!(
            asked.output.as_deref(),
            Some(r#""forced (1), approved by dave""#),
            "{asked:?}"
        );

        // Refused before anything runs: not JSON, not what the source's wait
        // asks for (a string), not a wait's name.
        let executions = || async {
            let all = host.client().executions(&Default::default()).await;
            all.expect("readable").len()
        };
        let before = executions().await;
        let not_json = host.replay(source, forced().answer("approval", "{")).await;
        assert!(
            matches!(&not_json, Err(ReplayError::AnswerNotJson { name, .. }) if name == "approval"),
            "{not_json:?}"
        );
        let wrong = host.replay(source, forced().answer("approval", "7")).await;
        assert!(
            matches!(&wrong, Err(ReplayError::BadAnswer { name, .. }) if name == "approval"),
            "{wrong:?}"
        );
        let badly_named = host.replay(source, forced().answer("no such", "1")).await;
        assert!(
            matches!(&badly_named, Err(ReplayError::BadAnswer { .. })),
            "{badly_named:?}"
        );
        assert_eq!(executions().await, before, "no replay was created");

        // A wait the flow never asks cannot be known in advance (a replay's
        // flow may ask waits its source never reached): its answer is kept
        // unused, and the wait that is asked keeps the source's answer.
        let unused = host
            .replay(source, forced().answer("later", "1"))
            .await
            .expect("replays");
        assert_eq!(unused.status, ExecutionStatus::Completed, "{unused:?}");
        let (name, _, from_where, _) = the_wait(&host, unused.id).await;
        assert_eq!(
            (name.as_str(), from_where),
            ("approval", Some(AnswerSource::Replayed))
        );
    }
}

on_backends! {
    #[tokio::test]
    async fn a_host_flows_replay_keeps_answers_unless_its_input_changed(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, marking_policy(dir.path()));
        let probe = load(&host, guests::PROBE).await;
        let step: Checkpoint<Value, u64> = probe.checkpoint("step").expect("step");
        let gate: Checkpoint<Value, String> = probe.checkpoint("gate").expect("gate");
        let string = json!({ "type": "string" });
        let (first_step, first_gate, schema) = (step.clone(), gate.clone(), string.clone());
        // The question names nothing of the input: only the input rule tells a
        // replay with another input from one that fixes a later call.
        host.register(HostFlow::new(
            "approved_gate",
            move |ctx: FlowCtx, flag: String| {
                let (step, gate, schema) = (first_step.clone(), first_gate.clone(), schema.clone());
                async move {
                    let first = ctx.call(&step, &json!({ "i": 1, "work": 0 })).await?;
                    let approver: String = ctx.wait("approval", "Open the gate?", &schema).await?;
                    let opened = ctx.call(&gate, &json!({ "flag": flag })).await?;
                    Ok::<_, FlowError>(format!("{opened} ({first}), approved by {approver}"))
                }
            },
        ))
        .expect("registers");
        // The same, gate first: its source fails before it ever waits.
        host.register(HostFlow::new(
            "gate_then_approval",
            move |ctx: FlowCtx, flag: String| {
                let (gate, schema) = (gate.clone(), string.clone());
                async move {
                    let opened = ctx.call(&gate, &json!({ "flag": flag })).await?;
                    let approver: String = ctx.wait("approval", "Open the gate?", &schema).await?;
                    Ok::<_, FlowError>(format!("{opened}, approved by {approver}"))
                }
            },
        ))
        .expect("registers");

        let waiting = host.run_flow("approved_gate", "open").await.expect("runs");
        assert_eq!(waiting.status, ExecutionStatus::Waiting, "{waiting:?}");
        host.answer(waiting.id, "approval", r#""ann""#)
            .await
            .expect("answers");
        let source = host.resume(waiting.id).await.expect("resumes");
        assert_eq!(source.status, ExecutionStatus::Failed, "{source:?}");
        let forced = || ReplayRequest::default().override_output("gate", r#""forced""#);

        let fixed = host.replay(source.id, forced()).await.expect("replays");
        assert_eq!(
            fixed.output.as_deref(),
            Some(r#""forced (1), approved by ann""#),
            "{fixed:?}"
        );
        assert_eq!(
            the_wait(&host, fixed.id).await.3,
            Some(source.id),
            "carried from the source"
        );
        // Another input is another run: what was approved may be what changed.
        let other = host
            .replay(source.id, forced().input(r#""shut""#))
            .await
            .expect("replays");
        assert_eq!(other.status, ExecutionStatus::Waiting, "{other:?}");
        // The source's input given again is no change.
        let same = host
            .replay(source.id, forced().input(r#""open""#))
            .await
            .expect("replays");
        assert_eq!(same.status, ExecutionStatus::Completed, "{same:?}");

        // An answer for a wait the source never reached is kept with the
        // replay until its flow asks, after a resume if need be, and checked
        // against the schema it asks with then.
        let early = host
            .run_flow("gate_then_approval", "late")
            .await
            .expect("runs");
        assert_eq!(early.status, ExecutionStatus::Failed, "{early:?}");
        let request = ReplayRequest::default().answer("approval", r#""erin""#);
        let replay = host.replay(early.id, request).await.expect("replays");
        assert_eq!(replay.status, ExecutionStatus::Failed, "the gate is shut");
        assert!(detail(&host, replay.id).await.waits.is_empty());
        std::fs::write(marks(dir.path()).join("late"), b"").expect("flag");
        let resumed = host.resume(replay.id).await.expect("resumes");
        assert_eq!(
            resumed.output.as_deref(),
            Some(r#""late is there, approved by erin""#),
            "{resumed:?}"
        );
        assert_eq!(
            the_wait(&host, replay.id).await.2,
            Some(AnswerSource::Overridden)
        );
        let wrong = host
            .replay(early.id, ReplayRequest::default().answer("approval", "7"))
            .await
            .expect("replays: the source never asked, so nothing to check against yet");
        assert_eq!(wrong.status, ExecutionStatus::Failed, "{wrong:?}");
        let failure = wrong.failure.expect("a failure");
        assert_eq!(failure.kind, FailureKind::FlowError, "{failure:?}");
        assert!(failure.message.contains("approval"), "{failure:?}");
        assert!(detail(&host, wrong.id).await.waits.is_empty());
    }
}

#[test]
fn the_cli_replays_keep_answers_and_take_answer_flags() {
    let dir = temp();
    let marks = marks(dir.path());
    let allow = format!("{}:/marks", marks.display());
    let probe = cairn_tests::guest(guests::PROBE);
    // Policy flags go with the commands that run code.
    let cairn = |args: &[&str]| {
        let runs = matches!(args, ["run", ..] | ["executions", "resume" | "replay", ..]);
        let mut command = cairn_tests::cairn(dir.path());
        command.args(args);
        if runs {
            command.arg("--allow-dir").arg(&allow);
        }
        command.output().expect("cairn starts")
    };
    let code = |out: &std::process::Output| out.status.code().expect("exited");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let show = |id: &str| -> Value {
        let out = cairn(&["--json", "executions", "show", id]);
        serde_json::from_slice(&out.stdout).expect("json")
    };

    let input = r#"{"flag": "open"}"#;
    let probe = probe.to_str().expect("utf8");
    let out = cairn(&["run", probe, "--flow", "approved_gate", "--input", input]);
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    let out = cairn(&[
        "executions",
        "input",
        "1",
        "--wait",
        "approval",
        "--value",
        r#""ann""#,
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let out = cairn(&["executions", "resume", "1"]);
    assert_eq!(code(&out), 1, "the gate fails: {}", text(&out.stderr));

    // Execution 2: the failing gate overridden; the approval is kept.
    let out = cairn(&[
        "executions",
        "replay",
        "1",
        "--override",
        r#"gate="forced""#,
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("approved by ann"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("wait `approval` keeps its answer from execution 1"),
        "{}",
        text(&out.stderr)
    );
    let wait = &show("2")["waits"][0];
    assert_eq!(
        (&wait["source"], &wait["carried_from"], &wait["value"]),
        (&json!("replayed"), &json!(1), &json!("ann"))
    );

    // Execution 3: the root before the wait; it is asked again.
    let out = cairn(&["executions", "replay", "1", "--from", "step"]);
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is waiting for `approval`"),
        "{}",
        text(&out.stderr)
    );

    // Execution 4: the same, answered with the replay.
    let out = cairn(&[
        "executions",
        "replay",
        "1",
        "--from",
        "step",
        "--override",
        r#"gate="forced""#,
        "--answer",
        r#"approval="bob""#,
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("approved by bob"),
        "{}",
        text(&out.stdout)
    );
    let wait = &show("4")["waits"][0];
    assert_eq!(
        (&wait["source"], &wait["carried_from"]),
        (&json!("overridden"), &Value::Null)
    );

    // A value the source's wait refuses, or no NAME=JSON at all: usage
    // errors, and no execution.
    for bad in ["approval=7", "approval"] {
        let out = cairn(&["executions", "replay", "1", "--answer", bad]);
        assert_eq!(code(&out), 2, "{bad}: {}", text(&out.stderr));
    }
    // An answer the flow never waits for is a warning.
    let out = cairn(&[
        "executions",
        "replay",
        "1",
        "--override",
        r#"gate="forced""#,
        "--answer",
        "later=1",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--answer later=... was not used"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        show("5")["original_exec_id"],
        json!(1),
        "no other replay was made"
    );
}
