//! Crash safety of `cairn serve`, proven: 200 executions run at once in a
//! real server process on loopback, which is killed with SIGKILL at random
//! moments and started again; in the end every execution has completed
//! with its own output, and no call whose completion the journal held at a
//! kill ever ran again.
//!
//! Each execution is the probe's `tagged_steps` with a tag of its own; each
//! step leaves a mark `{tag}-{i}` in a granted folder once its work is done,
//! so real runs are counted from outside the sandbox and outside the journal
//! under test. After each kill, with the process dead, the test reads the
//! journal and the marks as the kill left them:
//!
//! - every start the server acknowledged (`202`) is in the journal;
//! - a call the journal holds as completed left a mark, and never leaves
//!   another (it is reused on resume);
//! - any other call runs at most once in each life of the server, and
//!   exactly once after the last kill: a call killed after its work but
//!   before its completion was journaled legitimately runs again, since
//!   nothing acknowledged it.
//!
//! 3 kills by default; CAIRN_SERVE_CRASH_ROUNDS for more, and
//! CAIRN_SERVE_CRASH_SEED to replay a run's kill moments.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::time::{Duration, Instant};

use cairn_host::{CallStatus, ExecutionDetail, ExecutionId, ExecutionStatus, Host};
use cairn_serve::api::{Accepted, ComponentView, ExecutionPage};
use cairn_tests::{engine, guest, marks, temp};
use serde_json::json;

use crate::guests;
use crate::serve::Served;

const EXECUTIONS: usize = 200;
const STEPS: u64 = 5;
const WORK: u64 = 1_000_000;

/// splitmix64: a tiny seeded generator, so a failing run can be replayed.
struct Kills(u64);

impl Kills {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below.max(1)
    }
}

fn tag(n: usize) -> String {
    format!("e{n:03}")
}

fn mark_name(n: usize, step: u64) -> String {
    format!("{}-{step}", tag(n))
}

fn expected_output(n: usize) -> serde_json::Value {
    json!(format!(
        "{}={}",
        tag(n),
        (0..STEPS).map(|i| i * i).sum::<u64>()
    ))
}

/// Every mark in the folder, counted by name (`{name}.{nonce}`).
fn mark_counts(marks: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for entry in std::fs::read_dir(marks)
        .expect("the marks folder")
        .flatten()
    {
        let file = entry.file_name().to_string_lossy().into_owned();
        let name = file.split_once('.').map_or(file.as_str(), |(name, _)| name);
        *counts.entry(name.to_owned()).or_insert(0) += 1;
    }
    counts
}

fn all_marks(marks: &Path) -> usize {
    std::fs::read_dir(marks).map(Iterator::count).unwrap_or(0)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Uploads the probe and starts the 200 executions at once; returns their
/// ids by number once every start is acknowledged.
fn start_all(served: &Served) -> Vec<ExecutionId> {
    runtime().block_on(async {
        let client = served.client();
        let wasm = std::fs::read(guest(guests::PROBE)).expect("the probe");
        let view: ComponentView = client
            .post_bytes("/components", wasm)
            .await
            .expect("uploads");
        let mut tasks = Vec::new();
        for n in 0..EXECUTIONS {
            let client = served.client();
            let body = json!({
                "component": view.hash,
                "flow": "tagged_steps",
                "input": {"tag": tag(n), "count": STEPS, "work": WORK},
            });
            tasks.push(tokio::spawn(async move {
                let accepted: Accepted = client.post("/executions", &body).await.expect("starts");
                accepted.id
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.expect("a client"));
        }
        ids
    })
}

/// Which calls of each execution the journal holds as completed, read with
/// the server dead. Every acknowledged execution must be there.
fn journaled(journal: &Path, ids: &[ExecutionId], round: usize) -> Vec<Vec<bool>> {
    let host = Host::builder()
        .journal(journal)
        .engine(engine())
        .read_only(true)
        .open()
        .expect("the journal opens after a kill");
    let client = host.client();
    ids.iter()
        .enumerate()
        .map(|(n, id)| {
            let detail = cairn_tests::block_on(client.execution(*id))
                .expect("readable")
                .unwrap_or_else(|| panic!("kill {round}: acknowledged execution {id} is gone"));
            let mut done = vec![false; STEPS as usize];
            for call in &detail.calls {
                assert_eq!(
                    call.call_id,
                    call_id(call.seq),
                    "kill {round}: execution {n}"
                );
                if call.status == CallStatus::Completed {
                    done[call.seq as usize] = true;
                }
            }
            done
        })
        .collect()
}

fn call_id(seq: u32) -> String {
    match seq {
        0 => "tagged_step".to_owned(),
        n => format!("tagged_step_{}", n + 1),
    }
}

/// Waits until no execution is left running, then shows each one.
fn finished(served: &Served, ids: &[ExecutionId]) -> Vec<ExecutionDetail> {
    runtime().block_on(async {
        let client = served.client();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let running: ExecutionPage = client
                .get("/executions?status=running&limit=1")
                .await
                .expect("lists");
            if running.executions.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "executions still running: {}",
                served.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut details = Vec::new();
        for id in ids {
            let detail: ExecutionDetail = client
                .get(&format!("/executions/{id}"))
                .await
                .expect("shows");
            details.push(detail);
        }
        details
    })
}

#[test]
fn sigkill_during_200_executions_then_restart_completes_all_and_reruns_no_journaled_call() {
    let rounds: usize = std::env::var("CAIRN_SERVE_CRASH_ROUNDS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(3);
    let seed = std::env::var("CAIRN_SERVE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::hash::RandomState::new().build_hasher().finish());
    eprintln!("serve crash test: {rounds} kills, CAIRN_SERVE_CRASH_SEED={seed}");
    let mut kills = Kills(seed);

    let dir = temp();
    let marks = marks(dir.path());
    let journal = dir.path().join("journal.redb");
    let grant = format!("{}:/marks", marks.display());
    // All 200 run at once rather than waiting for a slot, so every start is
    // acknowledged before the first kill.
    let args = ["--allow-dir", grant.as_str(), "--max-executions", "200"];
    let mut served = Served::start(dir.path(), &args);
    let ids = start_all(&served);

    let total = EXECUTIONS * STEPS as usize;
    // Marks by name when each call was first seen completed in the journal.
    let mut frozen: BTreeMap<String, usize> = BTreeMap::new();
    let mut previous: BTreeMap<String, usize> = BTreeMap::new();
    let mut progress = Vec::new();
    for round in 1..=rounds {
        // A random point of the remaining work (how many marks, from what
        // is there already), then a random millisecond or two more.
        let done = all_marks(&marks);
        let target = done + kills.next(((total - done.min(total)) * 3 / 4) as u64 + 1) as usize;
        let give_up = Instant::now() + Duration::from_secs(60);
        while all_marks(&marks) < target && Instant::now() < give_up {
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(kills.next(2_000)));
        let (status, _) = served.stop("-KILL");
        assert!(!status.success(), "kill {round}: {status}");

        let counts = mark_counts(&marks);
        let journaled = journaled(&journal, &ids, round);
        let completed = journaled.iter().flatten().filter(|d| **d).count();
        progress.push((counts.values().sum::<usize>(), completed));
        for (n, done) in journaled.iter().enumerate() {
            for (step, journaled) in done.iter().enumerate() {
                let name = mark_name(n, step as u64);
                let now = counts.get(&name).copied().unwrap_or(0);
                let before = previous.get(&name).copied().unwrap_or(0);
                match frozen.get(&name) {
                    Some(at) => assert_eq!(
                        now, *at,
                        "kill {round}: call {name}, journaled as completed, ran again"
                    ),
                    None => assert!(
                        now <= before + 1,
                        "kill {round}: call {name} ran {} times in one life of the server",
                        now - before
                    ),
                }
                if *journaled {
                    assert!(
                        now >= 1,
                        "kill {round}: call {name} is journaled as completed but never ran"
                    );
                    frozen.entry(name).or_insert(now);
                }
            }
        }
        previous = counts;
        served = Served::start(dir.path(), &args);
    }
    eprintln!("serve crash test: (marks, calls journaled completed) at each kill: {progress:?}");

    let details = finished(&served, &ids);
    let counts = mark_counts(&marks);
    for (n, detail) in details.iter().enumerate() {
        assert_eq!(
            detail.execution.status,
            ExecutionStatus::Completed,
            "execution {n}: {detail:?}"
        );
        assert_eq!(detail.execution.output, Some(expected_output(n)));
        assert_eq!(detail.calls.len(), STEPS as usize, "execution {n}");
        for (i, call) in detail.calls.iter().enumerate() {
            assert_eq!(call.status, CallStatus::Completed);
            assert_eq!(call.output, Some(json!(i * i)));
            let (last, earlier) = call.attempts.split_last().expect("an attempt");
            assert_eq!(last.status, "ok", "execution {n}, call {i}");
            assert!(
                earlier.iter().all(|a| a.status == "failed"),
                "execution {n}, call {i}: interrupted attempts are closed"
            );
            let name = mark_name(n, i as u64);
            let now = counts.get(&name).copied().unwrap_or(0);
            match frozen.get(&name) {
                Some(at) => assert_eq!(now, *at, "call {name}, journaled as completed, ran again"),
                None => {
                    let before = previous.get(&name).copied().unwrap_or(0);
                    assert_eq!(
                        now,
                        before + 1,
                        "call {name} ran {} times after the last kill",
                        now - before
                    );
                }
            }
        }
    }
    // Not every kill may land mid-run, but the kills must have tested
    // something: some calls were journaled at a kill and some were not.
    assert!(
        progress.iter().any(|(_, c)| *c > 0 && *c < total),
        "no kill landed mid-run: {progress:?}"
    );
}
