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
use cairn_tests::backend::{Backend, TEST_LEASE};
use cairn_tests::{engine, guest, marks, on_backends, temp};
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

on_backends! {
    #[test]
    fn sigkill_during_200_executions_then_restart_completes_all_and_reruns_no_journaled_call(backend) {
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
        let journal = backend.journal(dir.path());
        let marks = marks(dir.path());
        let grant = format!("{}:/marks", marks.display());
        // All 200 run at once rather than waiting for a slot, so every start is
        // acknowledged before the first kill.
        let args = ["--allow-dir", grant.as_str(), "--max-executions", "200"];
        let mut served = Served::start_journal(&journal, dir.path(), &args);
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
            // PostgreSQL finishes a statement whose sender died a moment ago:
            // the journal is read as the kill left it once the dead server's
            // claims have lapsed (as a resume must wait for anyway).
            if backend == Backend::Postgres {
                std::thread::sleep(TEST_LEASE + Duration::from_millis(200));
            }

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
            served = Served::start_journal(&journal, dir.path(), &args);
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
}

/// A `cairn serve` worker on a shared PostgreSQL journal, found by the
/// address it prints (a database has no folder for an address file).
struct Worker {
    child: std::process::Child,
    url: String,
}

impl Worker {
    fn start(journal: &Path, dir: &Path, name: &str) -> Worker {
        let log = dir.join(format!("{name}.log"));
        let child = cairn_tests::backend::cairn_on(journal)
            .args(["serve", "--listen", "127.0.0.1:0", "--allow-dir"])
            .arg(format!("{}:/marks", marks(dir).display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log"))
            .spawn()
            .expect("cairn serve starts");
        // Owned at once: a failed start is killed and reaped on drop.
        let mut worker = Worker {
            child,
            url: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(url) = text
                .split("listening on ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
            {
                worker.url = url.to_owned();
                return worker;
            }
            assert!(Instant::now() < deadline, "{name} did not start: {text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two workers share one PostgreSQL journal; the one running the
/// executions is killed with SIGKILL mid-way. Within its lease (1 s here)
/// and the other's look-out (every second), the other worker takes every
/// execution over and completes it, from the component the database holds;
/// no call the journal held as completed at the kill ran again, and every
/// other call ran once more at most.
#[test]
fn a_second_worker_takes_over_the_executions_of_a_killed_one() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    const RUNS: usize = 20;
    // Built now, so that the snapshot at the kill is read within the lease.
    drop(engine());
    let dir = temp();
    let journal = backend.journal(dir.path());
    let marks = marks(dir.path());
    let mut first = Worker::start(&journal, dir.path(), "first");
    let second = Worker::start(&journal, dir.path(), "second");
    let ids: Vec<ExecutionId> = runtime().block_on(async {
        let client = cairn_serve::ApiClient::new(&first.url, None).expect("a client");
        let wasm = std::fs::read(guest(guests::PROBE)).expect("the probe");
        let view: ComponentView = client
            .post_bytes("/components", wasm)
            .await
            .expect("uploads");
        // All at once, so that the kill finds most of them mid-way.
        let tasks: Vec<_> = (0..RUNS)
            .map(|n| {
                let client = cairn_serve::ApiClient::new(&first.url, None).expect("a client");
                let body = json!({
                    "component": view.hash,
                    "flow": "tagged_steps",
                    "input": {"tag": tag(n), "count": STEPS, "work": WORK * 40},
                });
                tokio::spawn(async move {
                    let accepted: Accepted =
                        client.post("/executions", &body).await.expect("starts");
                    accepted.id
                })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.expect("a client"));
        }
        ids
    });
    // Kill once a fifth of the steps have run.
    let deadline = Instant::now() + Duration::from_secs(60);
    while all_marks(&marks) < RUNS * STEPS as usize / 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let marks_at_signal = all_marks(&marks);
    let _ = first.child.kill(); // SIGKILL
    first.child.wait().expect("reaped");
    // Within the lease: nobody may have taken over yet.
    let at_kill = journaled(&journal, &ids, 0);
    let marks_at_kill = mark_counts(&marks);
    let done_at_kill: usize = at_kill.iter().flatten().filter(|d| **d).count();
    eprintln!(
        "worker takeover: {marks_at_signal} marks at the kill, {done_at_kill} of {} calls \
         journaled as completed then",
        RUNS * STEPS as usize
    );
    assert!(
        done_at_kill < RUNS * STEPS as usize,
        "the kill came after everything was done"
    );

    let host = Host::builder()
        .journal(&journal)
        .engine(engine())
        .read_only(true)
        .open()
        .expect("the journal opens");
    let deadline = Instant::now() + Duration::from_secs(120);
    let details: Vec<ExecutionDetail> = loop {
        let details: Vec<ExecutionDetail> = ids
            .iter()
            .map(|id| {
                cairn_tests::block_on(host.client().execution(*id))
                    .expect("readable")
                    .expect("there")
            })
            .collect();
        if details
            .iter()
            .all(|d| d.execution.status == ExecutionStatus::Completed)
        {
            break details;
        }
        assert!(
            Instant::now() < deadline,
            "the second worker did not complete them: {:?}",
            details
                .iter()
                .map(|d| d.execution.status)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let counts = mark_counts(&marks);
    for (n, detail) in details.iter().enumerate() {
        assert_eq!(detail.execution.output, Some(expected_output(n)));
        for step in 0..STEPS {
            let name = mark_name(n, step);
            let (before, after) = (
                marks_at_kill.get(&name).copied().unwrap_or(0),
                counts.get(&name).copied().unwrap_or(0),
            );
            if at_kill[n][step as usize] {
                assert_eq!(after, before, "{name}: completed at the kill, ran again");
            } else {
                assert!(
                    after >= 1 && after <= before + 1,
                    "{name}: ran {before} times before the kill and {after} in all"
                );
            }
        }
    }
    drop(second);
}

/// Sends `signal` (`STOP`, `CONT`) to `child`.
fn signal(child: &std::process::Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal}");
}

/// Fencing, at process level: the worker running an execution is paused
/// (SIGSTOP) past its lease; the other worker takes the execution over and
/// completes it. When the paused one continues (SIGCONT), none of its
/// writes for the execution commits (they are fenced by the lease epoch):
/// the execution stays completed with the second worker's output and
/// calls, and the paused worker lives on.
#[test]
fn a_paused_worker_cannot_write_after_its_execution_was_taken_over() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    const COUNT: u64 = 12;
    drop(engine());
    let dir = temp();
    let journal = backend.journal(dir.path());
    let marks = marks(dir.path());
    let first = Worker::start(&journal, dir.path(), "paused");
    let second = Worker::start(&journal, dir.path(), "other");
    let id = runtime().block_on(async {
        let client = cairn_serve::ApiClient::new(&first.url, None).expect("a client");
        let wasm = std::fs::read(guest(guests::PROBE)).expect("the probe");
        let view: ComponentView = client
            .post_bytes("/components", wasm)
            .await
            .expect("uploads");
        let body = json!({
            "component": view.hash,
            "flow": "tagged_steps",
            "input": {"tag": tag(0), "count": COUNT, "work": WORK * 40},
        });
        let accepted: Accepted = client.post("/executions", &body).await.expect("starts");
        accepted.id
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while all_marks(&marks) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    signal(&first.child, "STOP");
    let host = Host::builder()
        .journal(&journal)
        .engine(engine())
        .read_only(true)
        .open()
        .expect("the journal opens");
    let read = || {
        cairn_tests::block_on(host.client().execution(id))
            .expect("readable")
            .expect("there")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let taken = loop {
        let detail = read();
        if detail.execution.status == ExecutionStatus::Completed {
            break detail;
        }
        assert!(
            Instant::now() < deadline,
            "the other worker did not take it over: {:?}",
            detail.execution.status
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    signal(&first.child, "CONT");
    // The paused worker finishes the step it was in and tries to journal it.
    std::thread::sleep(Duration::from_secs(2));
    let after = read();
    assert_eq!(after.execution.status, ExecutionStatus::Completed);
    assert_eq!(after.execution.output, taken.execution.output);
    let expected = json!(format!(
        "{}={}",
        tag(0),
        (0..COUNT).map(|i| i * i).sum::<u64>()
    ));
    assert_eq!(after.execution.output, Some(expected));
    assert_eq!(after.calls.len(), COUNT as usize);
    for (before, now) in taken.calls.iter().zip(&after.calls) {
        assert_eq!(
            before.attempts.len(),
            now.attempts.len(),
            "seq {}: the paused worker journaled an attempt after the takeover",
            now.seq
        );
        assert_eq!(now.status, CallStatus::Completed);
    }
    // It says why it let go of the execution, in words.
    let said = format!("execution {id} was taken over by another worker");
    let deadline = Instant::now() + Duration::from_secs(30);
    let log = loop {
        let log = std::fs::read_to_string(dir.path().join("paused.log")).unwrap_or_default();
        if log.contains(&said) || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("the paused worker's log:\n{log}");
    assert!(log.contains(&said), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    let mut first = first;
    assert!(
        first.child.try_wait().expect("waits").is_none(),
        "the paused worker died instead of dropping the execution"
    );
    drop(second);
}
