//! Host-side flows: Rust async closures registered with the host, calling
//! checkpoints of real components, journaled with the same semantics as
//! guest flows (resume, cache, retries, replay, waits, cancel), and several
//! executions at once in one host.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::guests;
use cairn_host::{
    AnswerError, CallSource, CallStatus, Checkpoint, CheckpointError, Component, Event,
    ExecutionId, ExecutionStatus, FailureKind, FlowCtx, FlowError, Host, HostFlow, LoadError,
    Policy, RegisterError, ReplayError, ReplayRequest, ResumeError, RunError, TrapKind,
};
use cairn_tests::{count_marks, detail, engine, host, load, marking_policy, marks, temp};
use serde_json::{Value, json};

/// The probe's `add` (inline) and `add_isolated`, typed.
fn adders(probe: &Component) -> (Checkpoint<Value, i64>, Checkpoint<Value, i64>) {
    (
        probe.checkpoint("add").expect("probe has add"),
        probe
            .checkpoint("add_isolated")
            .expect("probe has add_isolated"),
    )
}

/// `total(xs)`: adds each x to a running sum, alternating inline and
/// isolated calls, then maps `add_isolated` over the pairs (x, x).
fn total_flow(probe: &Component) -> HostFlow {
    let (add, add_isolated) = adders(probe);
    HostFlow::new("total", move |ctx: FlowCtx, xs: Vec<i64>| {
        let (add, add_isolated) = (add.clone(), add_isolated.clone());
        async move {
            let mut sum = 0;
            for (i, x) in xs.iter().enumerate() {
                let adder = if i % 2 == 0 { &add } else { &add_isolated };
                sum = ctx.call(adder, &json!({ "a": sum, "b": x })).await?;
            }
            let doubled = ctx
                .map(&add_isolated, xs.iter().map(|x| json!({ "a": x, "b": x })))
                .await?;
            Ok::<_, FlowError>((sum, doubled))
        }
    })
}

#[tokio::test]
async fn a_host_flow_calls_checkpoints_and_is_journaled_like_a_guest_flow() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    host.register(total_flow(&probe)).expect("registers");

    let outcome = host.run_flow("total", &[1, 2, 3]).await.expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
    assert_eq!(outcome.output.as_deref(), Some("[6,[2,4,6]]"));

    let detail = detail(&host, outcome.id).await;
    assert_eq!(detail.execution.flow, "total");
    assert_eq!(detail.execution.component, None, "a host-side flow");
    assert_eq!(detail.execution.input, json!([1, 2, 3]));
    let ids: Vec<&str> = detail.calls.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "add",
            "add_isolated",
            "add_2",
            "add_isolated_2[0]",
            "add_isolated_2[1]",
            "add_isolated_2[2]"
        ]
    );
    let hash = probe.hash().to_hex();
    assert!(detail.calls.iter().all(|c| c.component == hash));
    // The journal keeps the code the flow called.
    let bytes = host
        .client()
        .component(probe.hash())
        .await
        .expect("readable");
    assert_eq!(bytes.as_deref(), Some(&*probe.bytes()));
}

#[tokio::test]
async fn submitted_calls_take_seqs_in_program_order_whatever_order_they_are_awaited() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    let busy: Checkpoint<Value, u64> = probe.checkpoint("busy").expect("busy");
    host.register(HostFlow::new("race", move |ctx: FlowCtx, (): ()| {
        let busy = busy.clone();
        async move {
            let slow = ctx.submit(&busy, &json!({ "n": 30_000_000 }));
            let quick = ctx.submit(&busy, &json!({ "n": 1 }));
            assert_eq!(slow.call_id(), Some("busy"));
            assert_eq!(quick.call_id(), Some("busy_2"));
            let quick = quick.await?;
            let slow = slow.await?;
            Ok::<_, FlowError>((slow > 0, quick))
        }
    }))
    .expect("registers");
    let outcome = host.run_flow("race", &()).await.expect("runs");
    assert_eq!(outcome.output.as_deref(), Some("[true,0]"), "{outcome:?}");
    let detail = detail(&host, outcome.id).await;
    let by_seq: Vec<(u32, &str)> = detail
        .calls
        .iter()
        .map(|c| (c.seq, c.call_id.as_str()))
        .collect();
    assert_eq!(by_seq, [(0, "busy"), (1, "busy_2")]);
}

/// `gated(flag)`: a marking step, a gate that fails until `/marks/{flag}`
/// exists, another step.
fn gated_flow(probe: &Component) -> HostFlow {
    let step: Checkpoint<Value, u64> = probe.checkpoint("step").expect("step");
    let gate: Checkpoint<Value, String> = probe.checkpoint("gate").expect("gate");
    HostFlow::new("gated", move |ctx: FlowCtx, flag: String| {
        let (step, gate) = (step.clone(), gate.clone());
        async move {
            let first = ctx.call(&step, &json!({ "i": 1, "work": 0 })).await?;
            ctx.call(&gate, &json!({ "flag": flag })).await?;
            let second = ctx.call(&step, &json!({ "i": 2, "work": 0 })).await?;
            Ok::<_, FlowError>(first + second)
        }
    })
}

#[tokio::test]
async fn a_failed_host_flow_resumes_in_a_new_host_reusing_completed_calls() {
    let dir = temp();
    let marks = marks(dir.path());
    let id = {
        let host = host(dir.path(), marking_policy(dir.path()));
        let probe = load(&host, guests::PROBE).await;
        host.register(gated_flow(&probe)).expect("registers");
        let first = host.run_flow("gated", "open").await.expect("runs");
        assert_eq!(first.status, ExecutionStatus::Failed);
        let failure = first.failure.expect("a failure");
        assert_eq!(failure.kind, FailureKind::FlowError);
        assert!(failure.message.contains("waiting for open"), "{failure:?}");
        first.id
    };
    std::fs::write(marks.join("open"), b"").expect("flag");

    // A new host (a restart) knows the flow only once it is registered again.
    let host = host(dir.path(), marking_policy(dir.path()));
    match host.resume(id).await {
        Err(ResumeError::UnregisteredFlow { name, registered }) => {
            assert_eq!(name, "gated");
            assert!(registered.is_empty(), "{registered:?}");
        }
        other => panic!("expected UnregisteredFlow, got {other:?}"),
    }
    let probe = load(&host, guests::PROBE).await;
    host.register(gated_flow(&probe)).expect("registers");
    let resumed = host.resume(id).await.expect("resumes");
    assert_eq!(resumed.status, ExecutionStatus::Completed, "{resumed:?}");
    assert_eq!(resumed.output.as_deref(), Some("5"));
    assert_eq!(
        count_marks(&marks, "step-1"),
        1,
        "the completed step did not run again"
    );
    assert_eq!(count_marks(&marks, "gate"), 2);
    let gate = &detail(&host, id).await.calls[1];
    let attempts: Vec<(u32, &str)> = gate
        .attempts
        .iter()
        .map(|a| (a.n, a.status.as_str()))
        .collect();
    assert_eq!(
        attempts,
        [(1, "failed"), (2, "ok")],
        "attempt numbers continue"
    );
}

#[tokio::test]
async fn a_host_flow_that_changes_its_calls_is_stopped_on_resume() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    let (add, _) = adders(&probe);
    let runs = Arc::new(AtomicU32::new(0));
    let counter = runs.clone();
    host.register(HostFlow::new("drifting", move |ctx: FlowCtx, (): ()| {
        let add = add.clone();
        let run = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            // Nondeterministic on purpose: each run adds another number.
            ctx.call(&add, &json!({ "a": run, "b": 1 })).await?;
            if run == 0 {
                return Err(FlowError::msg("first run fails"));
            }
            Ok(())
        }
    }))
    .expect("registers");
    let first = host.run_flow("drifting", &()).await.expect("runs");
    assert_eq!(first.status, ExecutionStatus::Failed);
    let resumed = host.resume(first.id).await.expect("resumes");
    assert_eq!(resumed.status, ExecutionStatus::Failed);
    let failure = resumed.failure.expect("a failure");
    assert_eq!(failure.kind, FailureKind::NonDeterminism, "{failure:?}");
    let divergence = failure.divergence.expect("the divergence as data");
    assert_eq!(divergence.seq, 0, "{divergence:?}");
    assert_ne!(divergence.expected, divergence.found);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn host_flows_retry_cache_and_replay_like_guest_flows() {
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let probe = load(&host, guests::PROBE).await;
    let logged: Checkpoint<Value, i64> = probe.checkpoint("logged_add").expect("logged_add");
    let runs = Arc::new(AtomicU32::new(0));
    let counter = runs.clone();
    host.register(
        HostFlow::new("flaky", move |ctx: FlowCtx, b: i64| {
            let logged = logged.clone();
            let run = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let sum = ctx.call(&logged, &json!({ "a": 40, "b": b })).await?;
                if run == 0 {
                    return Err(FlowError::msg("the first run fails after its call"));
                }
                Ok(sum * 10)
            }
        })
        .retries(1),
    )
    .expect("registers");

    let mut events = host.subscribe();
    let first = host.run_flow("flaky", &2).await.expect("runs");
    assert_eq!(first.status, ExecutionStatus::Completed, "{first:?}");
    assert_eq!(first.output.as_deref(), Some("420"));
    assert_eq!(runs.load(Ordering::SeqCst), 2, "the flow ran twice");
    assert_eq!(
        count_marks(&marks(dir.path()), "add"),
        1,
        "the call ran once"
    );
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::FlowRetrying { exec, .. } if *exec == first.id)),
        "{seen:?}"
    );
    assert!(seen.iter().any(|e| matches!(e, Event::CallReplayed { .. })));
    // The run ends once, completed: the failure the flow retried was not its
    // end, and a listener that stops at the end (a client following it over
    // the server's events) must not stop there.
    let ends: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            Event::ExecutionFinished { exec, status } if *exec == first.id => Some(*status),
            _ => None,
        })
        .collect();
    assert_eq!(ends, [ExecutionStatus::Completed], "{seen:?}");

    // Another execution with the same call takes the cached output.
    let second = host.run_flow("flaky", &2).await.expect("runs");
    assert_eq!(second.output.as_deref(), Some("420"));
    assert_eq!(
        detail(&host, second.id).await.calls[0].source,
        CallSource::Cached
    );
    assert_eq!(count_marks(&marks(dir.path()), "add"), 1);

    // A replay with an overridden output gives the flow that output.
    let replay = host
        .replay(
            second.id,
            ReplayRequest::default().override_output("logged_add", "7"),
        )
        .await
        .expect("replays");
    assert_eq!(replay.output.as_deref(), Some("70"), "{replay:?}");
    assert_eq!(
        detail(&host, replay.id).await.calls[0].source,
        CallSource::Overridden
    );
    let swap = host
        .replay(second.id, ReplayRequest::default().component(probe.clone()))
        .await;
    assert!(matches!(swap, Err(ReplayError::ComponentForHostFlow(id)) if id == second.id));
}

#[tokio::test]
async fn a_host_flow_waits_for_a_value_and_continues_after_it_is_answered() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    let (add, _) = adders(&probe);
    host.register(HostFlow::new("ask", move |ctx: FlowCtx, a: i64| {
        let add = add.clone();
        async move {
            let schema = json!({ "type": "integer" });
            let b: i64 = ctx.wait("b", "What is b?", &schema).await?;
            Ok::<_, FlowError>(ctx.call(&add, &json!({ "a": a, "b": b })).await?)
        }
    }))
    .expect("registers");
    let first = host.run_flow("ask", &1).await.expect("runs");
    assert_eq!(first.status, ExecutionStatus::Waiting, "{first:?}");
    let refused = host.answer(first.id, "b", r#""two""#).await;
    assert!(
        matches!(refused, Err(AnswerError::InvalidValue { .. })),
        "{refused:?}"
    );
    host.answer(first.id, "b", "2").await.expect("answers");
    let done = host.resume(first.id).await.expect("resumes");
    assert_eq!(done.output.as_deref(), Some("3"), "{done:?}");
}

#[tokio::test]
async fn failures_of_host_flows_are_typed_and_journal_nothing_when_refused() {
    let dir = temp();
    let host = host(dir.path(), Policy::default().fuel(200_000_000));
    let probe = load(&host, guests::PROBE).await;
    assert!(matches!(
        probe.checkpoint::<Value, Value>("nope"),
        Err(LoadError::UnknownCheckpoint { .. })
    ));
    let (add, _) = adders(&probe);
    let boom: Checkpoint<Value, u32> = probe.checkpoint("boom").expect("boom");
    let fail: Checkpoint<Value, i64> = probe.checkpoint("fail").expect("fail");
    let spin: Checkpoint<Value, u64> = probe.checkpoint("spin").expect("spin");
    let wrong: Checkpoint<Value, String> = probe.checkpoint("add").expect("add");
    host.register(HostFlow::new("errors", move |ctx: FlowCtx, (): ()| {
        let (add, boom, fail, spin, wrong) = (
            add.clone(),
            boom.clone(),
            fail.clone(),
            spin.clone(),
            wrong.clone(),
        );
        async move {
            let mut seen = Vec::new();
            match ctx.call(&add, &json!([1, 2])).await {
                Err(CheckpointError::Refused(message)) => seen.push(message),
                other => panic!("{other:?}"),
            }
            match ctx.call(&fail, &json!({ "message": "no" })).await {
                Err(CheckpointError::Failed { call_id, message }) => {
                    seen.push(format!("{call_id}: {message}"));
                }
                other => panic!("{other:?}"),
            }
            match ctx.call(&boom, &json!({ "message": "bang" })).await {
                Err(CheckpointError::Trapped { kind, .. }) => assert_eq!(kind, TrapKind::Trap),
                other => panic!("{other:?}"),
            }
            match ctx.call(&spin, &json!({})).await {
                Err(CheckpointError::Trapped { kind, .. }) => {
                    assert_eq!(kind, TrapKind::OutOfFuel);
                }
                other => panic!("{other:?}"),
            }
            match ctx.call(&wrong, &json!({ "a": 1, "b": 2 })).await {
                Err(CheckpointError::Decode { what, .. }) => seen.push(what),
                other => panic!("{other:?}"),
            }
            Ok::<_, FlowError>(seen)
        }
    }))
    .expect("registers");
    let outcome = host.run_flow("errors", &()).await.expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
    let seen: Vec<String> =
        serde_json::from_str(outcome.output.as_deref().unwrap_or("[]")).expect("a list");
    assert!(seen[0].contains("JSON object"), "{seen:?}");
    assert_eq!(seen[1], "fail: no");
    assert_eq!(seen[2], "add", "the refused call took no call id");
    let calls = detail(&host, outcome.id).await.calls;
    assert_eq!(calls.len(), 4, "the refused call was not journaled");
    assert_eq!(
        calls[3].status,
        CallStatus::Completed,
        "a decode error keeps the output"
    );

    assert!(matches!(
        host.register(HostFlow::new("errors", |_: FlowCtx, (): ()| async {
            Ok::<_, FlowError>(())
        })),
        Err(RegisterError::AlreadyRegistered(_))
    ));
    let before = host
        .client()
        .executions(&Default::default())
        .await
        .expect("list")
        .len();
    let bad = host.run_flow("errors", &"not unit").await;
    assert!(matches!(bad, Err(RunError::BadInput { .. })), "{bad:?}");
    let unknown = host.run_flow("nope", &()).await;
    assert!(
        matches!(unknown, Err(RunError::UnregisteredFlow { .. })),
        "{unknown:?}"
    );
    let after = host
        .client()
        .executions(&Default::default())
        .await
        .expect("list")
        .len();
    assert_eq!(before, after, "refused runs journal nothing");
}

#[tokio::test]
async fn a_panicking_host_flow_fails_its_execution_and_the_host_goes_on() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    let (add, _) = adders(&probe);
    host.register(HostFlow::new("panics", move |ctx: FlowCtx, (): ()| {
        let add = add.clone();
        async move {
            ctx.call(&add, &json!({ "a": 1, "b": 1 })).await?;
            if ctx.random_u64() != u64::MAX {
                panic!("the flow's own bug");
            }
            Ok::<_, FlowError>(())
        }
    }))
    .expect("registers");
    let outcome = host.run_flow("panics", &()).await.expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    let failure = outcome.failure.expect("a failure");
    assert_eq!(failure.kind, FailureKind::FlowTrapped);
    assert!(
        failure.message.contains("the flow's own bug"),
        "{}",
        failure.message
    );
    host.register(total_flow(&probe)).expect("registers");
    let next = host.run_flow("total", &[1]).await.expect("runs");
    assert_eq!(next.status, ExecutionStatus::Completed);
}

/// The file in the marks folder whose creation lets [`long_flow`]'s held
/// call end.
const RELEASE: &str = "release";

/// `long()`: the probe's `hold`, which runs until the test creates the
/// file [`RELEASE`] in the marks folder, then `add(1, 1)`, whose sum it
/// returns. A test acts while the call surely runs, however loaded the
/// machine, and lets it end afterwards.
fn long_flow(probe: &Component) -> HostFlow {
    let hold: Checkpoint<Value, u64> = probe.checkpoint("hold").expect("hold");
    let (add, _) = adders(probe);
    HostFlow::new("long", move |ctx: FlowCtx, (): ()| {
        let (hold, add) = (hold.clone(), add.clone());
        async move {
            ctx.call(&hold, &json!({ "flag": RELEASE })).await?;
            Ok::<_, FlowError>(ctx.call(&add, &json!({ "a": 1, "b": 1 })).await?)
        }
    })
}

/// The next event that `pick` takes, within a minute (events a lagging
/// receiver missed are skipped).
async fn next_event<T>(
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> T {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Some(found) = pick(event) {
                        return found;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(closed) => panic!("events: {closed}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .expect("the event comes within a minute")
}

/// The execution of the next attempt that starts.
async fn attempt_started(events: &mut tokio::sync::broadcast::Receiver<Event>) -> ExecutionId {
    next_event(events, |event| match event {
        Event::AttemptStarted { exec, .. } => Some(exec),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn a_running_host_flow_is_cancelled_while_its_call_runs() {
    let dir = temp();
    let marks = marks(dir.path());
    let host = host(dir.path(), marking_policy(dir.path()));
    let probe = load(&host, guests::PROBE).await;
    host.register(long_flow(&probe)).expect("registers");
    let mut events = host.subscribe();
    let running = tokio::spawn({
        let host = host.clone();
        async move { host.run_flow("long", &()).await }
    });
    let exec = attempt_started(&mut events).await;
    // Cancelled while `hold` surely runs; it may end only afterwards.
    host.cancel(exec).await.expect("cancels");
    std::fs::write(marks.join(RELEASE), b"").expect("releases the hold");
    let outcome = tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .expect("the run ends within a minute")
        .expect("joins")
        .expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Cancelled);
    let calls = detail(&host, exec).await.calls;
    assert_eq!(calls.len(), 1, "nothing after the cancel was submitted");
    assert_eq!(
        calls[0].status,
        CallStatus::Completed,
        "the running call finished"
    );
    assert_eq!(count_marks(&marks, "held"), 1);
    assert!(matches!(
        host.resume(exec).await,
        Err(ResumeError::Cancelled(_))
    ));
}

#[tokio::test]
async fn many_executions_run_at_once_in_one_host_and_events_reach_subscribers() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    host.register(total_flow(&probe)).expect("registers");
    let mut events = host.subscribe();
    let runs: Vec<_> = (0..8i64)
        .map(|k| {
            let host = host.clone();
            let probe = probe.clone();
            tokio::spawn(async move {
                // Guest and host-side flows side by side.
                if k % 2 == 0 {
                    host.run_flow("total", &[k, k + 1, k + 2]).await
                } else {
                    host.run(&probe, "sum", &format!(r#"{{"a": {k}, "b": 1}}"#))
                        .await
                }
            })
        })
        .collect();
    for (k, run) in (0i64..).zip(runs) {
        let outcome = run.await.expect("joins").expect("runs");
        assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
        let expected = if k % 2 == 0 {
            format!("[{},[{},{},{}]]", 3 * k + 3, 2 * k, 2 * k + 2, 2 * k + 4)
        } else {
            (k + 3).to_string()
        };
        assert_eq!(outcome.output, Some(expected));
    }
    let mut finished = 0;
    tokio::time::timeout(Duration::from_secs(5), async {
        while finished < 8 {
            if let Ok(Event::ExecutionFinished { status, .. }) = events.recv().await {
                assert_eq!(status, ExecutionStatus::Completed);
                finished += 1;
            }
        }
    })
    .await
    .expect("every execution's end is reported");
}

#[test]
fn the_hosts_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    // The host bounds guest time with tokio timers, so its runtime has them.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let host = Host::builder()
        .engine(engine())
        .in_memory()
        .open()
        .expect("opens");
    let component = runtime.block_on(load(&host, guests::PROBE));
    send(&host.run(&component, "sum", "{}"));
    send(&host.run_flow("total", &()));
    send(&host.resume(cairn_host::ExecutionId(1)));
    send(&host.replay(cairn_host::ExecutionId(1), ReplayRequest::default()));
    send(&host.answer(cairn_host::ExecutionId(1), "b", "1"));
    send(&host.cancel(cairn_host::ExecutionId(1)));
    send(&host.load_file("x.wasm"));
}

#[tokio::test]
async fn a_context_kept_past_its_run_cannot_add_calls() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    let (add, _) = adders(&probe);
    let (report, reported) = tokio::sync::mpsc::unbounded_channel();
    let (go, gate) = tokio::sync::watch::channel(false);
    host.register(HostFlow::new("leaky", move |ctx: FlowCtx, (): ()| {
        let (add, report, mut gate) = (add.clone(), report.clone(), gate.clone());
        async move {
            // The flow's code hands its context to a task of its own and
            // returns without waiting for it.
            tokio::spawn(async move {
                let _ = gate.wait_for(|open| *open).await;
                let late = ctx.call(&add, &json!({ "a": 1, "b": 1 })).await;
                let _ = report.send(late);
            });
            Ok::<_, FlowError>(())
        }
    }))
    .expect("registers");
    let outcome = host.run_flow("leaky", &()).await.expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Completed);
    go.send(true).expect("the task waits");
    let mut reported = reported;
    let late = reported.recv().await.expect("the task reports");
    assert!(
        matches!(&late, Err(CheckpointError::Stopped(m)) if m.contains("run is over")),
        "{late:?}"
    );
    assert!(
        detail(&host, outcome.id).await.calls.is_empty(),
        "nothing was journaled"
    );
}

#[tokio::test]
async fn the_cli_shows_a_host_side_flow_and_explains_it_cannot_resume_it() {
    let dir = temp();
    let id = {
        let host = host(dir.path(), marking_policy(dir.path()));
        let probe = load(&host, guests::PROBE).await;
        host.register(gated_flow(&probe)).expect("registers");
        let failed = host.run_flow("gated", "shut").await.expect("runs");
        assert_eq!(failed.status, ExecutionStatus::Failed);
        failed.id
    };
    let show = cairn_tests::cairn(dir.path())
        .args(["executions", "show", &id.to_string()])
        .output()
        .expect("cairn runs");
    assert_eq!(show.status.code(), Some(0));
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(shown.contains("host-side flow"), "{shown}");
    assert!(shown.contains("gate"), "{shown}");

    let resume = cairn_tests::cairn(dir.path())
        .args(["executions", "resume", &id.to_string()])
        .output()
        .expect("cairn runs");
    assert_eq!(resume.status.code(), Some(2), "a usage error");
    let said = String::from_utf8_lossy(&resume.stderr);
    assert!(
        said.contains("no host-side flow `gated` is registered"),
        "{said}"
    );
}

#[tokio::test]
async fn a_map_waits_for_every_call_so_a_handled_failure_is_handled() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    let fail: Checkpoint<Value, i64> = probe.checkpoint("fail").expect("fail");
    host.register(HostFlow::new("forgiving", move |ctx: FlowCtx, (): ()| {
        let fail = fail.clone();
        async move {
            let inputs = ["a", "b", "c"].map(|m| json!({ "message": m }));
            match ctx.map(&fail, inputs).await {
                Err(CheckpointError::Failed { call_id, .. }) => Ok(call_id),
                other => Err(FlowError::msg(format!("{other:?}"))),
            }
        }
    }))
    .expect("registers");
    let outcome = host.run_flow("forgiving", &()).await.expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
    assert_eq!(
        outcome.output.as_deref(),
        Some(r#""fail[0]""#),
        "the first by input order"
    );
}

#[tokio::test]
async fn a_panic_before_the_flow_s_first_await_fails_the_execution_too() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    host.register(HostFlow::new("eager", |_: FlowCtx, n: u32| {
        assert!(n > 100, "n is too small: {n}");
        async move { Ok::<_, FlowError>(n) }
    }))
    .expect("registers");
    let outcome = host.run_flow("eager", &1).await.expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    let failure = outcome.failure.expect("a failure");
    assert_eq!(failure.kind, FailureKind::FlowTrapped);
    assert!(
        failure.message.contains("n is too small: 1"),
        "{}",
        failure.message
    );
    let fine = host.run_flow("eager", &101).await.expect("runs");
    assert_eq!(fine.output.as_deref(), Some("101"));
}

#[tokio::test]
async fn dropping_a_run_stops_its_flow_and_leaves_it_to_resume() {
    let dir = temp();
    let marks = marks(dir.path());
    let host = host(dir.path(), marking_policy(dir.path()));
    let probe = load(&host, guests::PROBE).await;
    host.register(long_flow(&probe)).expect("registers");
    let mut events = host.subscribe();
    // The run is given up while its held call surely runs.
    let mut run = Box::pin(host.run_flow("long", &()));
    let exec = tokio::select! {
        ended = &mut run => panic!("the run ended while its call was held: {ended:?}"),
        exec = attempt_started(&mut events) => exec,
    };
    drop(run);
    std::fs::write(marks.join(RELEASE), b"").expect("releases the hold");
    // The running call finishes and is journaled; the flow does not go on.
    next_event(&mut events, |event| {
        matches!(event, Event::CallCompleted { .. }).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let left = detail(&host, exec).await;
    assert_eq!(left.execution.status, ExecutionStatus::Running);
    assert_eq!(
        left.calls.len(),
        1,
        "nothing was submitted after the run was dropped"
    );
    let resumed = host.resume(exec).await.expect("resumes");
    assert_eq!(resumed.output.as_deref(), Some("2"), "{resumed:?}");
    assert_eq!(
        detail(&host, exec).await.calls[0].attempts.len(),
        1,
        "the held call ran once"
    );
    assert_eq!(count_marks(&marks, "held"), 1);
}
