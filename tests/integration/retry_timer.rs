//! Checkpoint retries with a delay, scheduled durably: a retry due a second
//! or more later parks the execution (`waiting`, its timer in the journal,
//! no flow instance held); a resume runs the retry at its due time, and a
//! server resumes it by itself, across a restart. The probe's `patient`
//! checkpoint leaves a mark outside the sandbox on every attempt, so real
//! attempts are counted outside the journal under test.

use std::time::{Duration, Instant};

use cairn_host::{Clock, ExecutionDetail, ExecutionStatus, SystemClock};
use cairn_serve::api::{Accepted, ComponentView, Health};
use cairn_tests::{count_marks, detail, host, load, marking_policy, marks, temp};
use serde_json::json;

use crate::guests;
use crate::serve::Served;

fn now_us() -> u64 {
    SystemClock.now_us()
}

/// The attempts of a call as (number, status).
fn attempts(detail: &ExecutionDetail, seq: usize) -> Vec<(u32, String)> {
    detail.calls[seq]
        .attempts
        .iter()
        .map(|a| (a.n, a.status.clone()))
        .collect()
}

#[tokio::test]
async fn a_delayed_retry_parks_and_a_resume_runs_it_when_due_without_resetting_retries() {
    let dir = temp();
    let marks = marks(dir.path());
    let policy = marking_policy(dir.path()).retry_delay(Duration::from_secs(1));
    let host = host(dir.path(), policy);
    let probe = load(&host, guests::PROBE).await;

    // `patient` fails twice, then succeeds on its third try.
    let outcome = host
        .run(&probe, "patience", r#"{"tries": 3}"#)
        .await
        .expect("runs");
    let parked_at = now_us();
    // The run ended (its flow store is gone) with the execution parked.
    assert_eq!(outcome.status, ExecutionStatus::Waiting, "{outcome:?}");
    let id = outcome.id;
    let first = detail(&host, id).await;
    assert_eq!(first.execution.status, ExecutionStatus::Waiting);
    assert!(first.waits.is_empty(), "parked, not waiting for input");
    assert_eq!(first.retries.len(), 1, "{:?}", first.retries);
    let retry = &first.retries[0];
    assert_eq!((retry.seq, retry.call_id.as_str()), (1, "patient"));
    assert_eq!(retry.attempt, 2);
    // Due a second after the failed attempt ended (which was before the
    // run returned).
    assert!(
        retry.due_at_us <= parked_at + 1_000_000,
        "due {} µs after the park",
        retry.due_at_us as i64 - parked_at as i64
    );
    let failed_at = first.calls[1].attempts[0].ended_at.clone();
    assert!(
        Some(retry.due_at.clone()) > failed_at,
        "due {} before the failure ended ({failed_at:?})",
        retry.due_at
    );
    assert_eq!(attempts(&first, 1), [(1, "failed".to_owned())]);
    // The JSON shows it too, additively.
    let json = serde_json::to_value(&first).expect("serializes");
    assert_eq!(json["retries"][0]["attempt"], 2, "{json}");
    assert!(json["retries"][0]["due_at"].is_string(), "{json}");

    // Nothing runs it while it is parked.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count_marks(&marks, "patient"), 1);

    // A resume before the due time waits for it, then retries: the second
    // try fails too, and the next retry (the call's second) waits twice as
    // long: the park did not reset the call's retries.
    let outcome = host.resume(id).await.expect("resumes");
    assert_eq!(outcome.status, ExecutionStatus::Waiting, "{outcome:?}");
    let second = detail(&host, id).await;
    let retried = &second.calls[1].attempts[1];
    assert!(
        retried.started_at >= retry.due_at,
        "the retry started at {} before its due time {}",
        retried.started_at,
        retry.due_at
    );
    assert_eq!(second.retries.len(), 1, "{:?}", second.retries);
    let again = &second.retries[0];
    assert_eq!(again.attempt, 3);
    assert!(
        again.due_at_us >= retry.due_at_us + 2_000_000,
        "the second retry is due {} µs after the first",
        again.due_at_us - retry.due_at_us
    );
    assert_eq!(count_marks(&marks, "patient"), 2);

    // Resumed at once: it waits out what is left of the two seconds (as
    // journaled, not guessed), and the third try works.
    let left = Duration::from_micros(again.due_at_us.saturating_sub(now_us()));
    let began = Instant::now();
    let outcome = host.resume(id).await.expect("resumes");
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
    assert!(
        began.elapsed() + Duration::from_millis(50) >= left,
        "resumed after {:?}, with {left:?} left",
        began.elapsed()
    );
    assert_eq!(outcome.output.as_deref(), Some("4"), "step 1 + 3 tries");
    let done = detail(&host, id).await;
    assert!(done.retries.is_empty(), "{:?}", done.retries);
    assert_eq!(
        attempts(&done, 1),
        [
            (1, "failed".to_owned()),
            (2, "failed".to_owned()),
            (3, "ok".to_owned())
        ]
    );
    assert!(done.calls[1].attempts[2].started_at >= again.due_at);
    // The step before it completed once and was never run again.
    assert_eq!(count_marks(&marks, "step-1"), 1);
    assert_eq!(count_marks(&marks, "patient"), 3);
}

#[tokio::test]
async fn a_short_retry_delay_keeps_the_flow_and_a_cancel_drops_a_parked_timer() {
    let dir = temp();
    // 300 ms, then 600 ms: under a second, the run waits in place.
    let policy = marking_policy(dir.path()).retry_delay(Duration::from_millis(300));
    let host = host(dir.path(), policy);
    let probe = load(&host, guests::PROBE).await;
    let outcome = host
        .run(&probe, "patience", r#"{"tries": 3}"#)
        .await
        .expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
    assert!(detail(&host, outcome.id).await.retries.is_empty());

    // Parked, then cancelled while a resume waits for the due time: no
    // retry runs and the timer goes with it. The delay is far longer than
    // the test, so the retry cannot come due first; the cancel ends the
    // wait.
    let dir = temp();
    let policy = marking_policy(dir.path()).retry_delay(Duration::from_secs(60));
    let host = cairn_tests::host(dir.path(), policy);
    let probe = load(&host, guests::PROBE).await;
    let outcome = host
        .run(&probe, "patience", r#"{"tries": 3}"#)
        .await
        .expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Waiting);
    assert_eq!(host.client().retries(None).await.expect("reads").len(), 1);
    // A resume waiting for the due time is cancelled where it waits: it
    // has claimed the execution when `start_resume` returns.
    let resuming = host.start_resume(outcome.id).await.expect("claims");
    host.cancel(outcome.id).await.expect("cancels");
    let resumed = tokio::time::timeout(Duration::from_secs(60), resuming.outcome())
        .await
        .expect("the cancel ends the wait")
        .expect("resumes");
    assert_eq!(resumed.status, ExecutionStatus::Cancelled);
    assert_eq!(
        count_marks(&marks(dir.path()), "patient"),
        1,
        "no retry ran"
    );
    let cancelled = detail(&host, outcome.id).await;
    assert_eq!(cancelled.execution.status, ExecutionStatus::Cancelled);
    assert!(cancelled.retries.is_empty());
    assert!(host.client().retries(None).await.expect("reads").is_empty());
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn a_server_resumes_a_parked_retry_when_due_even_across_a_restart() {
    let dir = temp();
    let marks = marks(dir.path());
    let grant = format!("{}:/marks", marks.display());
    let args = [
        "--grace",
        "20s",
        "--allow-dir",
        grant.as_str(),
        "--retry-delay",
        "5s",
    ];
    let served = Served::start(dir.path(), &args);
    let (id, retry) = runtime().block_on(async {
        let client = served.client();
        let wasm = std::fs::read(cairn_tests::guest(guests::PROBE)).expect("the guest");
        let component: ComponentView = client
            .post_bytes("/components", wasm)
            .await
            .expect("uploads");
        let accepted: Accepted = client
            .post(
                "/executions",
                &json!({"component": component.hash, "flow": "patience", "input": {"tries": 2}}),
            )
            .await
            .expect("starts");
        let parked = crate::serve::settled(&client, accepted.id).await;
        assert_eq!(parked.execution.status, ExecutionStatus::Waiting);
        assert_eq!(parked.retries.len(), 1, "{:?}", parked.retries);
        // Parked, it holds no slot.
        let health: Health = client.get("/health").await.expect("health");
        assert_eq!(health.running, 0);
        (accepted.id, parked.retries[0].clone())
    });
    assert_eq!(retry.attempt, 2);
    assert!(retry.due_at_us > now_us(), "still ahead");

    // SIGTERM while parked: nothing to finish, so no grace is spent.
    let (status, took) = served.stop("-TERM");
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(count_marks(&marks, "patient"), 1);

    let served = Served::start(dir.path(), &args);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !served.log_text().contains("1 execution parked on a retry") {
        assert!(Instant::now() < deadline, "{}", served.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    // No request: the server runs the retry by itself, not before its time
    // (watched from outside, through the marks).
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_marks(&marks, "patient") < 2 {
        assert!(Instant::now() < deadline, "{}", served.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        now_us() >= retry.due_at_us,
        "the retry ran before it was due"
    );
    runtime().block_on(async {
        let client = served.client();
        let done = crate::serve::settled(&client, id).await;
        assert_eq!(done.execution.status, ExecutionStatus::Completed);
        assert_eq!(done.execution.output, Some(json!(3)), "step 1 + 2 tries");
        assert!(done.retries.is_empty());
        assert_eq!(
            attempts(&done, 1),
            [(1, "failed".to_owned()), (2, "ok".to_owned())]
        );
        assert!(done.calls[1].attempts[1].started_at >= retry.due_at);
    });
    // The completed step ran once; the checkpoint exactly twice.
    assert_eq!(count_marks(&marks, "step-1"), 1);
    assert_eq!(count_marks(&marks, "patient"), 2);
}

#[test]
fn cairn_run_waits_out_a_parked_retry_and_completes() {
    let dir = temp();
    let marks = marks(dir.path());
    let grant = format!("{}:/marks", marks.display());
    let run = cairn_tests::cairn(dir.path())
        .arg("run")
        .arg(cairn_tests::guest(guests::PROBE))
        .args(["--flow", "patience", "--input", r#"{"tries": 2}"#])
        .args(["--allow-dir", grant.as_str(), "--retry-delay", "1s"])
        .output()
        .expect("cairn runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "3");
    assert!(
        stderr.contains("`patient` retries (attempt 2) at "),
        "{stderr}"
    );
    assert!(
        stderr.contains("waiting for it here (Ctrl-C leaves execution 1 parked in the journal)"),
        "{stderr}"
    );
    assert_eq!(count_marks(&marks, "patient"), 2);
    assert_eq!(count_marks(&marks, "step-1"), 1);
}

/// Ctrl-C while `cairn run` waits for a parked retry: the timer stays in the
/// journal, `show` says when it is due, and a resume waits for it and
/// finishes the execution without running the completed step again.
#[cfg(unix)]
#[test]
fn ctrl_c_during_a_parked_retry_keeps_it_for_resume() {
    let dir = temp();
    let marks = marks(dir.path());
    let grant = format!("{}:/marks", marks.display());
    let mut command = cairn_tests::cairn(dir.path());
    command
        .arg("run")
        .arg(cairn_tests::guest(guests::PROBE))
        .args(["--flow", "patience", "--input", r#"{"tries": 2}"#])
        .args(["--allow-dir", grant.as_str(), "--retry-delay", "3s"]);
    let (out, stderr) = cairn_tests::signal_when(command, "waiting for it here", "-INT");
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("execution 1 stays parked in the journal until its retry is due"),
        "{stderr}"
    );
    assert!(stderr.contains("resume: "), "{stderr}");
    assert!(stderr.contains("--retry-delay 3s"), "{stderr}");
    assert_eq!(count_marks(&marks, "patient"), 1, "the retry did not run");

    let show = cairn_tests::cairn(dir.path())
        .args(["executions", "show", "1"])
        .output()
        .expect("cairn runs");
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(
        shown.contains("retry     `patient` attempt 2 due at "),
        "{shown}"
    );

    let resume = cairn_tests::cairn(dir.path())
        .args(["executions", "resume", "1", "--allow-dir", grant.as_str()])
        .output()
        .expect("cairn runs");
    let stderr = String::from_utf8_lossy(&resume.stderr);
    assert!(resume.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&resume.stdout).trim(), "3");
    assert_eq!(count_marks(&marks, "patient"), 2);
    assert_eq!(count_marks(&marks, "step-1"), 1);
}

/// A resume over the API of an execution whose retry is parked and not due
/// is refused at once, `409 not_due` naming the due time, and holds no
/// slot: with one slot, another execution runs meanwhile. The CLI's
/// `resume --server` says when the retry is due and follows the execution
/// until the server runs the retry by itself, as a resume on the journal
/// waits for it.
#[test]
fn a_resume_before_a_parked_retry_is_due_is_refused_without_holding_a_slot() {
    let dir = temp();
    let marks = marks(dir.path());
    let grant = format!("{}:/marks", marks.display());
    let args = [
        "--max-executions",
        "1",
        "--allow-dir",
        grant.as_str(),
        "--retry-delay",
        "10s",
    ];
    let served = Served::start(dir.path(), &args);
    let client = served.client();
    let (id, retry) = runtime().block_on(async {
        let wasm = std::fs::read(cairn_tests::guest(guests::PROBE)).expect("the guest");
        let component: ComponentView = client
            .post_bytes("/components", wasm)
            .await
            .expect("uploads");
        let accepted: Accepted = client
            .post(
                "/executions",
                &json!({"component": component.hash, "flow": "patience", "input": {"tries": 2}}),
            )
            .await
            .expect("starts");
        let parked = crate::serve::settled(&client, accepted.id).await;
        assert_eq!(parked.execution.status, ExecutionStatus::Waiting);
        assert_eq!(parked.retries.len(), 1, "{:?}", parked.retries);
        let retry = parked.retries[0].clone();

        let began = Instant::now();
        let refused = client
            .post::<_, Accepted>(&format!("/executions/{}/resume", accepted.id), &json!({}))
            .await
            .expect_err("not due yet");
        assert!(began.elapsed() < Duration::from_secs(2), "answered at once");
        assert_eq!(refused.kind(), Some("not_due"), "{refused:?}");
        assert_eq!(refused.status().map(|s| s.as_u16()), Some(409));
        assert!(refused.to_string().contains(&retry.due_at), "{refused}");
        // The one slot is free: another execution runs to its end now.
        let other: cairn_host::ExecutionSummary = client
            .post(
                "/executions?wait=60s",
                &json!({"component": component.hash, "flow": "sum", "input": {"a": 1, "b": 2}}),
            )
            .await
            .expect("runs");
        assert_eq!(other.status, ExecutionStatus::Completed);
        // None is held: the parked one gave the one slot back (`other`
        // ran in it), and the server gives a run's slot back before it
        // answers for the run.
        let health: Health = client.get("/health").await.expect("health");
        assert_eq!(health.running, 0, "{health:?}");
        (accepted.id, retry)
    });
    assert!(retry.due_at_us > now_us(), "the test ran within the delay");

    let cwd = temp();
    let resume = std::process::Command::new(cairn_tests::cairn_bin())
        .current_dir(cwd.path())
        .env("CAIRN_ARTIFACTS", cairn_tests::artifact_dir())
        .env_remove("CAIRN_JOURNAL")
        .env_remove("CAIRN_SERVER")
        .args(["--server", served.url(), "executions", "resume"])
        .arg(id.to_string())
        .output()
        .expect("cairn runs");
    let stderr = String::from_utf8_lossy(&resume.stderr);
    assert!(resume.status.success(), "{stderr}");
    assert!(stderr.contains("is due at"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&resume.stdout).trim(), "3");
    assert!(now_us() >= retry.due_at_us, "the retry waited for its time");
    assert_eq!(count_marks(&marks, "patient"), 2);
    assert_eq!(count_marks(&marks, "step-1"), 1);
}
