//! Following an execution through a `cairn serve` worker other than the
//! one running it (issue #17): the event stream of the worker asked reads
//! the execution's progress from the shared PostgreSQL journal, so a
//! follower sees each call complete and the end, as it does on the worker
//! that runs it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cairn_host::ExecutionStatus;
use cairn_serve::api::{Accepted, ComponentView};
use cairn_tests::backend::{Backend, LIVE_LEASE};
use cairn_tests::temp;
use serde_json::{Value, json};

use crate::guests;
use crate::serve::{Served, settled};
use crate::upgrade_running::{Gate, STEPS, gates, marched, runtime};

#[test]
fn a_stream_on_another_worker_follows_the_execution_to_its_end() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let dir = temp();
    let journal = backend.journal(dir.path());
    // Two live workers, neither killed: claims that outlast a stall.
    let (folder, grant) = gates(dir.path());
    let args = ["--allow-dir", grant.as_str()];
    let running = Served::start_journal_with_lease(&journal, dir.path(), LIVE_LEASE, &args);
    let other = Served::start_journal_with_lease(&journal, dir.path(), LIVE_LEASE, &args);
    let runtime = runtime();
    let client = running.client();
    let wasm = std::fs::read(guests::UPGRADE_V1.path()).expect("the guest");
    let v1: ComponentView = runtime
        .block_on(client.post_bytes("/components", wasm))
        .expect("uploads");
    // Held at its third step until the stream is open.
    let mut gate = Gate::new(&folder, "march");
    let body = json!({"component": v1.hash, "flow": "march", "input": gate.march_input()});
    let started: Accepted = runtime
        .block_on(client.post("/executions", &body))
        .expect("starts");
    let id = started.id;
    gate.through(2);
    marched(&runtime, &client, id, 2);

    let (names, seqs, finished) = runtime.block_on(async {
        let mut events = other
            .client()
            .events(&format!("/events?execution={id}"))
            .await
            .expect("streams");
        let (mut names, mut seqs, mut finished) = (Vec::new(), Vec::new(), None);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = tokio::time::timeout(left, events.next()).await;
            let Ok(next) = next else {
                panic!("the stream did not end: {names:?}");
            };
            // The stream ends by itself once the execution completed.
            let Some((name, data)) = next.expect("an event") else {
                break;
            };
            let value: Value = serde_json::from_str(&data).expect("JSON data");
            assert_eq!(
                value["exec"].as_u64().or(value["id"].as_u64()),
                Some(id.0),
                "{value}"
            );
            if name == "call_completed" {
                seqs.push(value["seq"].as_u64().expect("a seq"));
            }
            if name == "execution_finished" {
                finished = Some(value["status"].clone());
            }
            // The stream is open once it told what it found: the rest
            // of the march runs now.
            if name == "snapshot" {
                gate.open();
            }
            names.push(name);
        }
        (names, seqs, finished)
    });
    assert_eq!(
        names.first().map(String::as_str),
        Some("snapshot"),
        "{names:?}"
    );
    assert_eq!(
        names.last().map(String::as_str),
        Some("execution_finished"),
        "{names:?}"
    );
    assert_eq!(finished, Some(json!("completed")));
    let detail = runtime.block_on(settled(&client, id));
    assert_eq!(detail.execution.status, ExecutionStatus::Completed);
    // Each call completed after the stream opened is told, once, in order.
    let unique: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), seqs.len(), "a call told twice: {seqs:?}");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let last = detail.calls.len() as u64 - 1;
    assert_eq!(seqs.last(), Some(&last), "{seqs:?}");
    assert_eq!(
        seqs,
        (2..STEPS as u64).collect::<Vec<_>>(),
        "the calls completed while it was followed, and not those before"
    );
    assert!(
        !running.log_text().contains("adopted") && !other.log_text().contains("adopted"),
        "the run stayed where it was"
    );
}
