//! Durable sleeps, waits with a deadline and the attempt context, through
//! the `timers` guest: the library, the CLI and a real `cairn serve`
//! killed with SIGKILL while a flow sleeps. The guest's `note` checkpoint
//! leaves a mark outside the sandbox on every run, so what really ran is
//! counted apart from the journal under test.

use std::time::{Duration, Instant};

use cairn_host::{AnswerError, CallStatus, Clock, ExecutionStatus, SystemClock, TimerKind};
use cairn_serve::api::{Accepted, ComponentView, Health};
use cairn_tests::{count_marks, detail, host, load, marking_policy, marks, temp};
use serde_json::json;

use crate::guests;
use crate::serve::Served;

fn now_us() -> u64 {
    SystemClock.now_us()
}

#[tokio::test]
async fn a_sleep_parks_the_execution_and_a_resume_after_its_end_does_not_sleep_again() {
    let dir = temp();
    let marks = marks(dir.path());
    let host = host(dir.path(), marking_policy(dir.path()));
    let timers = load(&host, guests::TIMERS).await;

    // Long enough that the reads below surely end before the sleep does,
    // however loaded the machine: the resume then starts before the end.
    let began = now_us();
    let outcome = host
        .run(&timers, "nap", r#"{"ms": 3000}"#)
        .await
        .expect("runs");
    // The run ended (its flow store is gone) with the execution asleep.
    assert_eq!(outcome.status, ExecutionStatus::Waiting, "{outcome:?}");
    let id = outcome.id;
    let asleep = detail(&host, id).await;
    assert!(asleep.waits.is_empty(), "asleep, not waiting for input");
    assert_eq!(asleep.retries.len(), 1, "{:?}", asleep.retries);
    let timer = asleep.retries[0].clone();
    assert_eq!(timer.kind, TimerKind::Sleep);
    assert_eq!((timer.seq, timer.call_id.as_str()), (1, "@sleep"));
    assert!(timer.due_at_us >= began + 3_000_000, "{timer:?}");
    assert_eq!(
        asleep.execution.sleeping_until.as_deref(),
        Some(timer.due_at.as_str())
    );
    // The sleep is a step of the journal at its seq, open until its end.
    let step = &asleep.calls[1];
    assert_eq!(
        (step.name.as_str(), step.status),
        ("@sleep", CallStatus::Running)
    );
    assert_eq!(step.input, json!({"duration_ms": 3000}));
    assert!(step.attempts.is_empty());
    let json = serde_json::to_value(&asleep).expect("serializes");
    assert_eq!(json["sleeping_until"], json!(timer.due_at), "{json}");
    assert_eq!(json["retries"][0]["kind"], "sleep", "{json}");
    // `list` says it too, from one read of the timers.
    let listed = host
        .client()
        .executions(&cairn_host::ExecutionFilter::default())
        .await
        .expect("lists");
    assert_eq!(listed[0].sleeping_until, asleep.execution.sleeping_until);
    assert_eq!(
        (count_marks(&marks, "before"), count_marks(&marks, "after")),
        (1, 0)
    );

    // A resume before the end waits for it (holding no flow), then the
    // flow runs again: `before` is answered from the journal. How long it
    // must wait is what is left of the journaled sleep, not a guess.
    let left = Duration::from_micros(timer.due_at_us.saturating_sub(now_us()));
    let resumed = Instant::now();
    let outcome = host.resume(id).await.expect("resumes");
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
    assert!(now_us() >= timer.due_at_us, "woke before the end");
    assert!(
        resumed.elapsed() + Duration::from_millis(50) >= left,
        "waited {:?} of the {left:?} left",
        resumed.elapsed()
    );
    // The flow's journaled clock saw the whole sleep.
    let slept: u64 = outcome
        .output
        .as_deref()
        .unwrap_or("0")
        .parse()
        .expect("a number");
    assert!(slept >= 3000, "slept {slept} ms");
    let done = detail(&host, id).await;
    assert!(done.retries.is_empty(), "{:?}", done.retries);
    assert_eq!(done.execution.sleeping_until, None);
    assert_eq!(done.calls[1].status, CallStatus::Completed);
    assert_eq!(
        (count_marks(&marks, "before"), count_marks(&marks, "after")),
        (1, 1)
    );

    // Run again from the journal (a replay reuses every step): nothing
    // sleeps, nothing runs. A sleep of 3 s taken again would park the copy
    // (`waiting`, with a timer), so its ending at once, completed, with the
    // sleep step replayed, is the proof; no wall-clock bound is needed.
    let replayed = host
        .replay(id, cairn_host::ReplayRequest::default())
        .await
        .expect("replays");
    assert_eq!(replayed.status, ExecutionStatus::Completed, "{replayed:?}");
    assert_eq!(
        (count_marks(&marks, "before"), count_marks(&marks, "after")),
        (1, 1)
    );
    let copy = detail(&host, replayed.id).await;
    assert_eq!(copy.calls[1].source, cairn_host::CallSource::Replayed);
    assert!(copy.retries.is_empty(), "{:?}", copy.retries);
    assert_eq!(copy.execution.sleeping_until, None);
}

#[tokio::test]
async fn a_short_sleep_is_waited_out_in_place_and_journaled() {
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let timers = load(&host, guests::TIMERS).await;
    let began = Instant::now();
    let outcome = host
        .run(&timers, "two_naps", r#"{"ms": 200}"#)
        .await
        .expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
    assert_eq!(outcome.output.as_deref(), Some(r#""abc""#));
    assert!(began.elapsed() >= Duration::from_millis(400));
    let done = detail(&host, outcome.id).await;
    let steps: Vec<(&str, &str)> = done
        .calls
        .iter()
        .map(|c| (c.call_id.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("note", "note"),
            ("@sleep", "@sleep"),
            ("note_2", "note"),
            ("@sleep_2", "@sleep"),
            ("note_3", "note")
        ]
    );
    assert!(done.calls.iter().all(|c| c.status == CallStatus::Completed));
}

#[tokio::test]
async fn a_wait_with_a_deadline_gives_the_answer_or_none_and_refuses_a_late_value() {
    let dir = temp();
    let marks = marks(dir.path());
    let host = host(dir.path(), marking_policy(dir.path()));
    let timers = load(&host, guests::TIMERS).await;

    // Answered in time: a resume goes on at once, deadline or not.
    let first = host
        .run(&timers, "deadline", r#"{"ms": 60000}"#)
        .await
        .expect("runs");
    assert_eq!(first.status, ExecutionStatus::Waiting);
    let waiting = detail(&host, first.id).await;
    assert_eq!(waiting.waits.len(), 1);
    assert_eq!(waiting.retries[0].kind, TimerKind::WaitDeadline);
    assert_eq!(
        waiting.execution.sleeping_until, None,
        "it waits, it does not sleep"
    );
    host.answer(first.id, "approval", r#""yes""#)
        .await
        .expect("answers");
    let began = Instant::now();
    let done = host.resume(first.id).await.expect("resumes");
    assert!(
        began.elapsed() < Duration::from_secs(30),
        "the deadline (60 s) held the resume: {:?}",
        began.elapsed()
    );
    assert_eq!(done.status, ExecutionStatus::Completed, "{done:?}");
    assert_eq!(done.output.as_deref(), Some(r#""yes""#));
    assert!(detail(&host, first.id).await.retries.is_empty());

    // Not answered: after the deadline a value is refused, and the flow
    // goes on with `None`, durably. The deadline leaves seconds for the
    // early resume below, however loaded the machine.
    let second = host
        .run(&timers, "deadline", r#"{"ms": 4000}"#)
        .await
        .expect("runs");
    assert_eq!(second.status, ExecutionStatus::Waiting);
    let deadline = detail(&host, second.id).await.retries[0].clone();
    assert_eq!(deadline.kind, TimerKind::WaitDeadline);
    // A resume before the deadline finds no value and waits again.
    let left_ms = deadline.due_at_us.saturating_sub(now_us()) / 1000;
    let early = host.resume(second.id).await.expect("resumes");
    assert_eq!(
        early.status,
        ExecutionStatus::Waiting,
        "resumed {left_ms} ms before the deadline: {early:?}"
    );
    // Past the journaled deadline, not a guess of it.
    let past = deadline.due_at_us.saturating_sub(now_us()) + 100_000;
    tokio::time::sleep(Duration::from_micros(past)).await;
    let late = host
        .answer(second.id, "approval", r#""too late""#)
        .await
        .expect_err("the time is up");
    assert!(matches!(late, AnswerError::TimedOut { .. }), "{late:?}");
    let ended = host.resume(second.id).await.expect("resumes");
    assert_eq!(ended.status, ExecutionStatus::Completed, "{ended:?}");
    assert_eq!(ended.output.as_deref(), Some(r#""timed-out""#));
    let shown = detail(&host, second.id).await;
    assert_eq!(shown.waits[0].value, None);
    assert_eq!(
        shown.waits[0].source,
        Some(cairn_host::AnswerSource::TimedOut)
    );
    assert_eq!(shown.calls[0].output, Some(json!("timed_out")));
    // Still refused once the timeout is journaled; a resume runs nothing.
    let refused = host
        .answer(second.id, "approval", r#""later still""#)
        .await
        .expect_err("timed out");
    assert!(
        matches!(refused, AnswerError::TimedOut { .. }),
        "{refused:?}"
    );
    assert_eq!(count_marks(&marks, "timed-out"), 1);
    assert_eq!(count_marks(&marks, "yes"), 1);
}

#[tokio::test]
async fn a_checkpoint_knows_its_attempt_and_a_flow_has_none() {
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let timers = load(&host, guests::TIMERS).await;
    let outcome = host.run(&timers, "attempts", "{}").await.expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
    let id = outcome.id.0;
    let output: String =
        serde_json::from_str(outcome.output.as_deref().unwrap_or("")).expect("a string");
    assert_eq!(
        output,
        format!(
            "flow-has-none=true first=({id}, 0, \"whoami\", 1, \"cairn-{id}-0\") second=({id}, 1, \"whoami_2\", 1, \"cairn-{id}-1\") flaky=(2, \"cairn-{id}-2\")"
        )
    );

    // A durable sleep inside a checkpoint is refused with a clear error.
    let refused = host
        .run(&timers, "sleep_in_checkpoint", "{}")
        .await
        .expect("runs");
    let said: String =
        serde_json::from_str(refused.output.as_deref().unwrap_or("")).expect("a string");
    assert!(said.contains("only flows sleep durably"), "{said}");
}

#[test]
fn cairn_run_waits_out_a_sleep_and_a_resume_before_its_end_says_when() {
    let dir = temp();
    let marks = marks(dir.path());
    let grant = format!("{}:/marks", marks.display());
    let run = cairn_tests::cairn(dir.path())
        .arg("run")
        .arg(cairn_tests::guest(guests::TIMERS))
        .args(["--flow", "nap", "--input", r#"{"ms": 1200}"#])
        .args(["--allow-dir", grant.as_str()])
        .output()
        .expect("cairn runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("the flow sleeps until "), "{stderr}");
    assert!(stderr.contains("waiting for it here"), "{stderr}");
    assert_eq!(
        (count_marks(&marks, "before"), count_marks(&marks, "after")),
        (1, 1)
    );

    // Ctrl-C during a long sleep leaves it in the journal. A resume
    // straight after says it is not due yet, and Ctrl-C leaves it parked;
    // only two processes start between the sleep's start and that check,
    // and the sleep leaves seconds for them. `list` and `show` then say
    // until when (that holds past the end too: nothing wakes it), and a
    // last resume waits out the rest of the sleep.
    let mut command = cairn_tests::cairn(dir.path());
    command
        .arg("run")
        .arg(cairn_tests::guest(guests::TIMERS))
        .args(["--flow", "nap", "--input", r#"{"ms": 5000}"#])
        .args(["--allow-dir", grant.as_str()]);
    let (out, stderr) = cairn_tests::signal_when(command, "waiting for it here", "-INT");
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let mut command = cairn_tests::cairn(dir.path());
    command.args(["executions", "resume", "2", "--allow-dir", grant.as_str()]);
    let (out, stderr) = cairn_tests::signal_when(command, "is not due yet", "-INT");
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("execution 2 is not due yet: the flow sleeps until "),
        "{stderr}"
    );
    assert!(
        stderr.contains("before execution 2 resumed; it is as it was"),
        "{stderr}"
    );
    let list = cairn_tests::cairn(dir.path())
        .args(["executions", "list"])
        .output()
        .expect("cairn runs");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains("waiting (sleeping until "), "{listed}");
    let show = cairn_tests::cairn(dir.path())
        .args(["executions", "show", "2"])
        .output()
        .expect("cairn runs");
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(shown.contains("sleeping  until "), "{shown}");
    let show = cairn_tests::cairn(dir.path())
        .args(["--json", "executions", "show", "2"])
        .output()
        .expect("cairn runs");
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).expect("JSON");
    assert!(json["sleeping_until"].is_string(), "{json}");
    assert_eq!(
        (count_marks(&marks, "before"), count_marks(&marks, "after")),
        (2, 1),
        "the interrupted resume ran nothing"
    );
    let resume = cairn_tests::cairn(dir.path())
        .args(["executions", "resume", "2", "--allow-dir", grant.as_str()])
        .output()
        .expect("cairn runs");
    let stderr = String::from_utf8_lossy(&resume.stderr);
    assert!(resume.status.success(), "{stderr}");
    // The flow's journaled clock saw the whole sleep.
    let slept: Option<u64> = String::from_utf8_lossy(&resume.stdout).trim().parse().ok();
    assert!(
        slept.is_some_and(|ms| ms >= 5000),
        "slept {slept:?} ms: {stderr}"
    );
    assert_eq!(
        (count_marks(&marks, "before"), count_marks(&marks, "after")),
        (2, 2)
    );

    // A wait whose time is up at once: the flow goes on with `None`, and a
    // value given afterwards is refused with a clear error (exit 2).
    let run = cairn_tests::cairn(dir.path())
        .arg("run")
        .arg(cairn_tests::guest(guests::TIMERS))
        .args(["--flow", "deadline", "--input", r#"{"ms": 0}"#])
        .args(["--allow-dir", grant.as_str()])
        .output()
        .expect("cairn runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        r#""timed-out""#
    );
    let late = cairn_tests::cairn(dir.path())
        .args([
            "executions",
            "input",
            "3",
            "--wait",
            "approval",
            "--value",
            r#""yes""#,
        ])
        .output()
        .expect("cairn runs");
    let stderr = String::from_utf8_lossy(&late.stderr);
    assert_eq!(late.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("wait `approval` of execution 3 timed out at "),
        "{stderr}"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// SIGKILL of `cairn serve` while a flow sleeps: the next server wakes it
/// once, on time, and the flow does not sleep again nor run its first
/// checkpoint again. Before the end a resume is refused, `409 not_due`.
#[test]
fn a_server_killed_during_a_sleep_wakes_it_once_on_time_after_a_restart() {
    // Long enough for the refused resume and the kill to come well before
    // the end, however loaded the machine; the test waits it out once.
    const NAP_MS: u64 = 6000;
    let dir = temp();
    let marks = marks(dir.path());
    let grant = format!("{}:/marks", marks.display());
    let args = ["--allow-dir", grant.as_str()];
    let served = Served::start(dir.path(), &args);
    let (id, timer) = runtime().block_on(async {
        let client = served.client();
        let wasm = std::fs::read(cairn_tests::guest(guests::TIMERS)).expect("the guest");
        let component: ComponentView = client
            .post_bytes("/components", wasm)
            .await
            .expect("uploads");
        let accepted: Accepted = client
            .post(
                "/executions",
                &json!({"component": component.hash, "flow": "nap", "input": {"ms": NAP_MS}}),
            )
            .await
            .expect("starts");
        let asleep = crate::serve::settled(&client, accepted.id).await;
        assert_eq!(asleep.execution.status, ExecutionStatus::Waiting);
        // First what must come before the end: the refusal.
        let refused = client
            .post::<_, Accepted>(&format!("/executions/{}/resume", accepted.id), &json!({}))
            .await
            .expect_err("not due yet");
        assert_eq!(refused.kind(), Some("not_due"), "{refused:?}");
        assert_eq!(refused.status().map(|s| s.as_u16()), Some(409));
        assert!(refused.to_string().contains("sleeps until"), "{refused}");
        assert!(asleep.execution.sleeping_until.is_some(), "{asleep:?}");
        assert_eq!(asleep.retries.len(), 1, "{:?}", asleep.retries);
        // Asleep, it holds no slot (the server lets go of it a moment
        // after the run parks).
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let health: Health = client.get("/health").await.expect("health");
            if health.running == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "{health:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (accepted.id, asleep.retries[0].clone())
    });
    let (_, _) = served.stop("-KILL");
    assert_eq!(
        (count_marks(&marks, "before"), count_marks(&marks, "after")),
        (1, 0),
        "killed before the end of the sleep, due {} µs from now",
        timer.due_at_us as i64 - now_us() as i64
    );

    let served = Served::start(dir.path(), &args);
    // No request: the server wakes it by itself, not before its time.
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_marks(&marks, "after") < 1 {
        assert!(Instant::now() < deadline, "{}", served.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(now_us() >= timer.due_at_us, "woke before the end");
    runtime().block_on(async {
        let client = served.client();
        let done = crate::serve::settled(&client, id).await;
        assert_eq!(
            done.execution.status,
            ExecutionStatus::Completed,
            "{done:?}"
        );
        assert!(done.retries.is_empty());
        let slept = done.execution.output.as_ref().and_then(|o| o.as_u64());
        assert!(slept.is_some_and(|ms| ms >= NAP_MS), "{slept:?}");
        assert_eq!(done.calls[1].status, CallStatus::Completed);
    });
    // Woken once: a moment later nothing more has run.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        (count_marks(&marks, "before"), count_marks(&marks, "after")),
        (1, 1)
    );
}

/// A host-side flow: `FlowCtx::sleep` parks and a resume after the end goes
/// on without calling the first checkpoint again; `FlowCtx::wait_timeout`
/// gives `None` once its time is up, and the late value is refused.
#[tokio::test]
async fn a_host_side_flow_sleeps_and_waits_with_a_deadline() {
    use cairn_host::{Checkpoint, FlowCtx, FlowError, HostFlow};

    let dir = temp();
    let marks = marks(dir.path());
    let host = host(dir.path(), marking_policy(dir.path()));
    let timers = load(&host, guests::TIMERS).await;
    let note: Checkpoint<serde_json::Value, String> = timers.checkpoint("note").expect("note");
    host.register(HostFlow::new("hosted", move |ctx: FlowCtx, ms: u64| {
        let note = note.clone();
        async move {
            ctx.call(&note, &json!({"label": "host-before"})).await?;
            ctx.sleep(Duration::from_millis(ms)).await?;
            let schema = json!({"type": "string"});
            let answer: Option<String> = ctx
                .wait_timeout("go", "Go on?", &schema, Duration::from_millis(ms))
                .await?;
            let label = answer.unwrap_or_else(|| "host-timed-out".to_owned());
            Ok::<_, FlowError>(ctx.call(&note, &json!({ "label": label })).await?)
        }
    }))
    .expect("registers");

    let outcome = host.run_flow("hosted", &1200).await.expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Waiting, "{outcome:?}");
    let asleep = detail(&host, outcome.id).await;
    assert!(asleep.execution.sleeping_until.is_some(), "{asleep:?}");
    assert_eq!(asleep.calls[1].name, "@sleep");
    // The sleep ends, then the wait parks until its own deadline.
    let outcome = host.resume(outcome.id).await.expect("resumes");
    assert_eq!(outcome.status, ExecutionStatus::Waiting, "{outcome:?}");
    let waiting = detail(&host, outcome.id).await;
    assert_eq!(waiting.retries[0].kind, TimerKind::WaitDeadline);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let late = host
        .answer(outcome.id, "go", r#""now""#)
        .await
        .expect_err("too late");
    assert!(matches!(late, AnswerError::TimedOut { .. }), "{late:?}");
    let done = host.resume(outcome.id).await.expect("resumes");
    assert_eq!(done.status, ExecutionStatus::Completed, "{done:?}");
    assert_eq!(done.output.as_deref(), Some(r#""host-timed-out""#));
    assert_eq!(count_marks(&marks, "host-before"), 1);
    assert_eq!(count_marks(&marks, "host-timed-out"), 1);
}

/// The same steps on a PostgreSQL journal, when the run has a server
/// (`xtask with-postgres`): a sleep parks and a resume after its end goes
/// on without sleeping again; a wait's timeout is journaled and a late
/// value refused.
#[test]
fn sleeps_and_deadlines_on_postgres() {
    let Some(backend) = cairn_tests::backend::Backend::postgres() else {
        return;
    };
    let dir = temp();
    let journal = backend.journal(dir.path());
    let marks = marks(dir.path());
    runtime().block_on(async {
        let host = cairn_tests::backend::host_on(&journal, marking_policy(dir.path()));
        let timers = load(&host, guests::TIMERS).await;
        let outcome = host
            .run(&timers, "nap", r#"{"ms": 1100}"#)
            .await
            .expect("runs");
        assert_eq!(outcome.status, ExecutionStatus::Waiting, "{outcome:?}");
        let asleep = detail(&host, outcome.id).await;
        assert_eq!(asleep.retries[0].kind, TimerKind::Sleep);
        assert!(asleep.execution.sleeping_until.is_some());
        let done = host.resume(outcome.id).await.expect("resumes");
        assert_eq!(done.status, ExecutionStatus::Completed, "{done:?}");
        assert!(detail(&host, outcome.id).await.retries.is_empty());

        let timed_out = host
            .run(&timers, "deadline", r#"{"ms": 0}"#)
            .await
            .expect("runs");
        assert_eq!(timed_out.output.as_deref(), Some(r#""timed-out""#));
        let late = host
            .answer(timed_out.id, "approval", r#""yes""#)
            .await
            .expect_err("timed out");
        assert!(matches!(late, AnswerError::TimedOut { .. }), "{late:?}");
    });
    assert_eq!(
        (count_marks(&marks, "before"), count_marks(&marks, "after")),
        (1, 1)
    );
}
