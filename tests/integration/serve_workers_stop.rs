//! Cancelling and upgrading an execution through a `cairn serve` worker
//! other than the one running it (issue #17): workers sharing a PostgreSQL
//! journal reach each other's runs through it, and the asker answers as a
//! single server does for its own run.
//!
//! Each test runs on both backends with the same assertions. On redb (one
//! process) the server asked is the one running the execution: that is the
//! answer the PostgreSQL variant, asking a second worker, must match.

use std::path::Path;
use std::time::{Duration, Instant};

use cairn_host::{CallStatus, ExecutionDetail, ExecutionId, ExecutionStatus};
use cairn_serve::api::{Accepted, ComponentView};
use cairn_serve::{ApiClient, ClientError};
use cairn_tests::backend::{Backend, LIVE_LEASE};
use cairn_tests::{on_backends, temp};
use serde_json::{Value, json};

use crate::guests;
use crate::serve::{Served, settled};
use crate::upgrade_running::{
    Gate, assert_moved_mid_run, cli, gates, marched, path_of, runtime, show, start_march,
    two_marches, upgrade_paced,
};

/// The worker that runs the executions, and the one asked to cancel or
/// upgrade them: another worker on PostgreSQL, the same server on redb.
/// Both live throughout, so their claims last [`LIVE_LEASE`]: nothing may
/// change hands because one of them stalled. Both grant `grant`.
fn workers(backend: Backend, journal: &Path, dir: &Path, grant: &str) -> (Served, Option<Served>) {
    let args = ["--allow-dir", grant];
    let running = Served::start_journal_with_lease(journal, dir, LIVE_LEASE, &args);
    let asked = (backend == Backend::Postgres)
        .then(|| Served::start_journal_with_lease(journal, dir, LIVE_LEASE, &args));
    (running, asked)
}

fn upload(
    runtime: &tokio::runtime::Runtime,
    client: &ApiClient,
    guest: cairn_tests::Guest,
) -> String {
    let bytes = std::fs::read(guest.path()).expect("the guest");
    let view: ComponentView = runtime
        .block_on(client.post_bytes("/components", bytes))
        .expect("uploads");
    view.hash.to_string()
}

/// Starts a `march` of v1 long enough (a minute) that only a cancel ends
/// it within the test.
fn start_long_march(
    runtime: &tokio::runtime::Runtime,
    client: &ApiClient,
    v1: &str,
) -> ExecutionId {
    let body = json!({"component": v1, "flow": "march", "input": {"steps": 600, "ms": 100}});
    let started: Accepted = runtime
        .block_on(client.post("/executions", &body))
        .expect("starts");
    started.id
}

fn completed(detail: &ExecutionDetail) -> usize {
    (detail.calls.iter())
        .filter(|c| c.status == CallStatus::Completed)
        .count()
}

/// Checks that execution `id`, cancelled through a worker, ended
/// `cancelled` and that its run stopped: no call is journaled after its
/// end, over ten steps' time.
fn assert_stopped(runtime: &tokio::runtime::Runtime, running: &Served, id: ExecutionId) {
    let client = running.client();
    let ended = runtime.block_on(settled(&client, id));
    assert_eq!(
        ended.execution.status,
        ExecutionStatus::Cancelled,
        "{ended:?}\n{}",
        running.log_text()
    );
    std::thread::sleep(Duration::from_secs(1));
    let later = show(runtime, &client, id);
    assert_eq!(
        later.calls.len(),
        ended.calls.len(),
        "a call after the cancel"
    );
    assert_eq!(completed(&later), completed(&ended));
    assert!(completed(&later) < 600, "the march was not cut short");
}

on_backends! {
    #[test]
    fn a_cancel_through_another_worker_stops_the_run_there_and_answers_as_one_server_does(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let (_, grant) = gates(dir.path());
        let (running, other) = workers(backend, &journal, dir.path(), &grant);
        let asked = other.as_ref().unwrap_or(&running);
        let runtime = runtime();
        let client = running.client();
        let v1 = upload(&runtime, &client, guests::UPGRADE_V1);

        // Through the CLI.
        let id = start_long_march(&runtime, &client, &v1);
        marched(&runtime, &client, id, 2);
        let began = Instant::now();
        let out = cli(asked, dir.path(), &["executions", "cancel", &id.to_string()]);
        let answered = show(&runtime, &client, id);
        assert_eq!(out.status.code(), Some(0), "{out:?}\n{}", running.log_text());
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim(),
            format!("cairn: execution {id} cancelled")
        );
        assert!(out.stdout.is_empty(), "{out:?}");
        eprintln!("{}: cancel through the CLI answered in {:?}", backend.name(), began.elapsed());
        if backend == Backend::Postgres {
            // Asked elsewhere, the answer waits for the end.
            assert_eq!(answered.execution.status, ExecutionStatus::Cancelled, "{answered:?}");
        }
        assert_stopped(&runtime, &running, id);

        // Through the API.
        let id = start_long_march(&runtime, &client, &v1);
        marched(&runtime, &client, id, 2);
        let answer: Accepted = runtime
            .block_on(asked.client().post(&format!("/executions/{id}/cancel"), &json!({})))
            .expect("cancels");
        let answered = show(&runtime, &client, id);
        assert_eq!((answer.id, answer.status), (id, ExecutionStatus::Cancelled));
        if backend == Backend::Postgres {
            assert_eq!(answered.execution.status, ExecutionStatus::Cancelled, "{answered:?}");
        }
        assert_stopped(&runtime, &running, id);

        // Once more: refused alike, through the API and the CLI.
        let refused = runtime
            .block_on(asked.client().post::<Value, Accepted>(&format!("/executions/{id}/cancel"), &json!({})));
        match refused {
            Err(ClientError::Api { status, body }) => {
                assert_eq!((status.as_u16(), body.error.as_str()), (409, "not_cancellable"), "{body:?}");
            }
            other => panic!("a second cancel: {other:?}"),
        }
        let out = cli(asked, dir.path(), &["executions", "cancel", &id.to_string()]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be cancelled"), "{out:?}");

        // A waiting execution (no run anywhere) is cancelled directly.
        let approval = upload(&runtime, &client, guests::APPROVAL);
        let waiting: Accepted = runtime
            .block_on(client.post("/executions", &json!({"component": approval, "input": {"topic": "wasm"}})))
            .expect("starts");
        let w = runtime.block_on(settled(&client, waiting.id));
        assert_eq!(w.execution.status, ExecutionStatus::Waiting, "{w:?}");
        let out = cli(asked, dir.path(), &["executions", "cancel", &waiting.id.to_string()]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let w = show(&runtime, &client, waiting.id);
        assert_eq!(w.execution.status, ExecutionStatus::Cancelled, "{w:?}");
        for served in [Some(&running), other.as_ref()].into_iter().flatten() {
            let log = served.log_text();
            assert!(!log.contains("adopted"), "nothing changed hands: {log}");
        }
    }

    #[test]
    fn an_upgrade_through_another_worker_moves_the_run_there_and_answers_as_one_server_does(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let (folder, grant) = gates(dir.path());
        let (running, other) = workers(backend, &journal, dir.path(), &grant);
        let asked = other.as_ref().unwrap_or(&running);
        let runtime = runtime();
        let client = running.client();
        let reading = (&runtime, &client);
        let v1 = upload(&runtime, &client, guests::UPGRADE_V1);
        let v2 = upload(&runtime, &client, guests::UPGRADE_V2);
        let (v2_file, reordered_file) = (
            path_of(guests::UPGRADE_V2),
            path_of(guests::UPGRADE_V2_REORDERED),
        );

        let mut gate = Gate::new(&folder, "march");
        let id = start_march(&runtime, &client, &v1, &gate);
        let shown = id.to_string();
        gate.through(2);
        marched(&runtime, &client, id, 2);

        // Refused with the divergence; it goes on with v1, still running.
        let out = upgrade_paced(asked, dir.path(), &["executions", "upgrade", &shown, "--component", &reordered_file], reading, &mut [(id, &mut gate)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{out:?}\n{}", running.log_text());
        assert!(stderr.contains("diverges at seq 0"), "{stderr}");
        gate.through(gate.let_through() + 2);
        let later = marched(&runtime, &client, id, gate.let_through() as usize);
        assert!(later.upgrades.is_empty(), "a refused upgrade changes nothing");
        assert!(later.calls.iter().all(|c| c.component == v1), "{:?}", later.calls);

        // The compatible build takes it over mid-run, in the worker that
        // runs it.
        let out = upgrade_paced(asked, dir.path(), &["executions", "upgrade", &shown, "--component", &v2_file], reading, &mut [(id, &mut gate)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{out:?}\n{}", running.log_text());
        assert!(stderr.contains("while it ran; it goes on with the new build"), "{stderr}");
        gate.open();
        let ended = runtime.block_on(settled(&client, id));
        assert_moved_mid_run(&ended, &v1, &v2);
        assert!(ended.upgrades[0].by.contains("upgrade"), "{:?}", ended.upgrades);

        // An ended execution is refused alike.
        let out = cli(asked, dir.path(), &["executions", "upgrade", &shown, "--component", &reordered_file]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("completed"), "{out:?}");

        // --all --flow through the other worker moves every march running.
        let [(a, mut gate_a), (b, mut gate_b)] = two_marches(&runtime, &client, &v1, &folder);
        let out = upgrade_paced(asked, dir.path(), &["--json", "executions", "upgrade", "--all", "--flow", "march", "--component", &v2_file], reading, &mut [(a, &mut gate_a), (b, &mut gate_b)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert!(stderr.contains("moved 2 executions to the new build, refused 0"), "{stderr}");
        let moved: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let moved = moved.as_array().expect("an array");
        assert_eq!(moved.len(), 2, "{moved:?}");
        for one in moved {
            assert_eq!((&one["from"], &one["to"], &one["running"]), (&json!(v1), &json!(v2), &json!(true)), "{one}");
            assert_eq!(one["check"]["verdict"], json!("compatible"), "{one}");
        }
        gate_a.open();
        gate_b.open();
        for id in [a, b] {
            let ended = runtime.block_on(settled(&client, id));
            assert_moved_mid_run(&ended, &v1, &v2);
        }
        for served in [Some(&running), other.as_ref()].into_iter().flatten() {
            let log = served.log_text();
            assert!(!log.contains("adopted"), "nothing changed hands: {log}");
        }
    }
}
