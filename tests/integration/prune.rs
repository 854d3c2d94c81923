//! Retention: `cairn executions prune` through the real CLI, on a journal
//! and through a real `cairn serve`, on both backends: it removes exactly
//! the ended executions it selects (with their calls, attempts and cache
//! entries) and leaves the rest intact and resumable, runs while the
//! server runs executions, and leaves a consistent journal when killed with
//! SIGKILL half-way (and a second run finishes the job). What it does to a
//! redb file's size is in `prune_bounds`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use cairn_host::{
    ExecutionDetail, ExecutionFilter, ExecutionId, ExecutionStatus, Host, PruneReport,
    ReplayRequest,
};
use cairn_tests::backend::{Backend, cairn_on, host_on};
use cairn_tests::{count_marks, detail, load, marking_policy, marks, on_backends, temp};
use serde_json::{Value, json};

use crate::guests;
use crate::serve::{Served, settled};

/// `cairn --json executions prune ARGS` on `journal`.
fn prune_cli(journal: &Path, args: &[&str]) -> Output {
    cairn_on(journal)
        .args(["--json", "executions", "prune"])
        .args(args)
        .output()
        .expect("cairn starts")
}

/// `prune_cli` with `--older-than` the whole seconds since `old_end`, so the
/// executions that ended before it go, and those that ended `gap` later
/// stay however long the test took to get here: only the CLI's own start
/// must take less than `gap` less a second (whole seconds).
fn prune_between(journal: &Path, old_end: Instant, gap: Duration, args: &[&str]) -> Output {
    let age = old_end.elapsed().as_secs();
    let asked = Instant::now();
    let output = prune_cli(
        journal,
        &[&["--older-than", &format!("{age}s")], args].concat(),
    );
    // Shown with a failure: a prune slower than this may have counted the
    // new executions as old.
    eprintln!(
        "prune --older-than {age}s took {:?} (the new ones are safe under {:?})",
        asked.elapsed(),
        gap - Duration::from_secs(1)
    );
    output
}

/// The report of a prune that succeeded.
fn report(output: &Output) -> PruneReport {
    assert!(
        output.status.success(),
        "prune failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a prune report")
}

/// Every execution's id, in order.
async fn ids(host: &Host) -> Vec<ExecutionId> {
    let listed = host
        .client()
        .executions(&ExecutionFilter::default())
        .await
        .expect("lists");
    listed.into_iter().map(|e| e.id).collect()
}

fn as_json(detail: &ExecutionDetail) -> Value {
    serde_json::to_value(detail).expect("serializes")
}

on_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn prune_removes_exactly_the_selected_executions_and_leaves_the_rest_resumable(
        backend
    ) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let policy = marking_policy(dir.path());
        // Old: two completed (one of them the source of a later replay),
        // one failed, one cancelled, one waiting.
        let host = host_on(&journal, policy.clone());
        let probe = load(&host, guests::PROBE).await;
        let run = |flow: &'static str, input: &'static str| {
            let (host, probe) = (host.clone(), probe.clone());
            async move { host.run(&probe, flow, input).await.expect("runs") }
        };
        let a = run("additions", r#"{"a": 1, "b": 2}"#).await;
        let b = run("additions", r#"{"a": 5, "b": 6}"#).await;
        let f = run("gated", r#"{"flag": "open"}"#).await;
        let c = run("gated", r#"{"flag": "never"}"#).await;
        host.cancel(c.id).await.expect("cancels");
        let w = run("ask", r#"{"question": "a number?"}"#).await;
        assert_eq!(
            [a.status, b.status, f.status, w.status],
            [
                ExecutionStatus::Completed,
                ExecutionStatus::Completed,
                ExecutionStatus::Failed,
                ExecutionStatus::Waiting
            ]
        );
        let old_end = Instant::now();
        let gap = Duration::from_secs(4);
        tokio::time::sleep(gap).await;
        // New: a replay of `b` (so `b` must stay), and a call that the
        // cache answered from `a`.
        let r = host
            .replay(b.id, ReplayRequest::default())
            .await
            .expect("replays");
        let d = run("additions", r#"{"a": 1, "b": 2}"#).await;
        assert_eq!(count_marks(&marks(dir.path()), "add"), 2, "d's add was cached");
        let mut before = Vec::new();
        for id in [b.id, w.id, r.id, d.id] {
            before.push(as_json(&detail(&host, id).await));
        }
        let pruned_calls: usize = [
            detail(&host, a.id).await,
            detail(&host, f.id).await,
            detail(&host, c.id).await,
        ]
        .iter()
        .map(|d| d.calls.len())
        .sum();
        drop(probe);
        host.close().await.expect("closes");

        let refused = prune_cli(&journal, &["--older-than", "0", "--status", "waiting"]);
        assert_eq!(refused.status.code(), Some(2), "a status that has not ended");

        let dry = report(&prune_between(&journal, old_end, gap, &["--dry-run"]));
        assert!(dry.dry_run);
        assert_eq!(dry.removed.executions, 3, "{dry:?}");

        let done = report(&prune_between(&journal, old_end, gap, &[]));
        assert!(!done.dry_run);
        assert_eq!(done.removed, dry.removed, "the dry run counted what goes");
        assert_eq!(done.removed.executions, 3, "{done:?}");
        assert_eq!(done.removed.calls, pruned_calls as u64);
        assert!(done.removed.attempts >= 4, "{done:?}");
        assert_eq!(done.removed.cache_entries, 1, "a's cached add: {done:?}");
        assert_eq!(done.kept_as_replay_sources, 1, "b, which r replays");
        assert!(done.removed.bytes > 0);

        let host = host_on(&journal, policy);
        assert_eq!(ids(&host).await, vec![b.id, w.id, r.id, d.id]);
        for (id, before) in [b.id, w.id, r.id, d.id].into_iter().zip(&before) {
            assert_eq!(&as_json(&detail(&host, id).await), before, "execution {id} is intact");
        }
        for gone in [a.id, f.id, c.id] {
            let read = host.client().execution(gone).await.expect("reads");
            assert!(read.is_none(), "execution {gone} is gone");
        }

        // The cache no longer answers from a's call: the add runs again.
        let probe = load(&host, guests::PROBE).await;
        let again = host
            .run(&probe, "additions", r#"{"a": 1, "b": 2}"#)
            .await
            .expect("runs");
        assert_eq!(again.status, ExecutionStatus::Completed);
        assert_eq!(count_marks(&marks(dir.path()), "add"), 3);
        // b's entry stays: its add is answered from the cache.
        host.run(&probe, "additions", r#"{"a": 5, "b": 6}"#)
            .await
            .expect("runs");
        assert_eq!(count_marks(&marks(dir.path()), "add"), 3);

        // What stayed resumes.
        host.answer(w.id, "number", "3").await.expect("answers");
        let resumed = host.resume(w.id).await.expect("resumes");
        assert_eq!(resumed.status, ExecutionStatus::Completed);
        assert_eq!(resumed.output.as_deref(), Some("8"));
        let replayed = host.resume(r.id).await.expect("resumes");
        assert_eq!(replayed.status, ExecutionStatus::Completed);
        assert!(
            ids(&host).await.len() >= 6,
            "new executions take new ids, none of a pruned one"
        );
        assert!(again.id.0 > d.id.0);
    }
}

on_backends! {
    #[test]
    fn prune_through_the_server_while_it_runs_executions(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let marks = marks(dir.path());
        let grant = format!("{}:/marks", marks.display());
        let served = Served::start_journal(&journal, dir.path(), &["--allow-dir", grant.as_str()]);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let client = served.client();
            let bytes = std::fs::read(cairn_tests::guest(guests::PROBE)).expect("the guest");
            let view: cairn_serve::api::ComponentView =
                client.post_bytes("/components", bytes).await.expect("uploads");
            let start = |flow: &str, input: Value| {
                let client = client.clone();
                let body = json!({"component": view.hash, "flow": flow, "input": input});
                async move {
                    let accepted: cairn_serve::api::Accepted =
                        client.post("/executions", &body).await.expect("starts");
                    accepted.id
                }
            };
            let mut old = Vec::new();
            for i in 0..6 {
                old.push(start("additions", json!({"a": i, "b": 100})).await);
            }
            for id in &old {
                let end = settled(&client, *id).await;
                assert_eq!(end.execution.status, ExecutionStatus::Completed);
            }
            tokio::time::sleep(Duration::from_millis(2_300)).await;
            // Six that run until the prune has answered: each holds at its
            // second step until the flag is there (the probe's `held`; the
            // holds beyond the isolated pool's slots wait for one).
            let mut running = Vec::new();
            for _ in 0..6 {
                running.push(start("held", json!({"flag": "pruned"})).await);
            }
            let output = crate::serve_cli::bare(dir.path())
                .args(["--server", served.url(), "--json", "executions", "prune"])
                .args(["--older-than", "2s", "--step-executions", "1"])
                .output()
                .expect("cairn starts");
            let pruned = report(&output);
            let mut still_running = 0;
            for id in &running {
                let now: ExecutionDetail =
                    client.get(&format!("/executions/{id}")).await.expect("shows");
                if now.execution.status == ExecutionStatus::Running {
                    still_running += 1;
                }
            }
            assert_eq!(still_running, 6, "the prune ran while executions ran");
            std::fs::write(marks.join("pruned"), b"").expect("releases the holds");
            assert_eq!(pruned.removed.executions, 6, "{pruned:?}");
            assert_eq!(pruned.removed.calls, 12);
            for id in &old {
                let gone = client.get::<ExecutionDetail>(&format!("/executions/{id}")).await;
                assert_eq!(gone.err().and_then(|e| e.status()).map(|s| s.as_u16()), Some(404));
            }
            for id in &running {
                let end = settled(&client, *id).await;
                assert_eq!(end.execution.status, ExecutionStatus::Completed, "{end:?}");
                assert_eq!(end.execution.output, Some(json!(5)), "0*0 + 1 + 2*2");
                assert_eq!(end.calls.len(), 3);
            }
            assert_eq!(count_marks(&marks, "held"), 6, "each hold ran once");
            let page: cairn_serve::api::ExecutionPage =
                client.get("/executions").await.expect("lists");
            let left: Vec<ExecutionId> = page.executions.iter().map(|e| e.id).collect();
            let mut expected = running.clone();
            expected.sort();
            let mut left_sorted = left.clone();
            left_sorted.sort();
            assert_eq!(left_sorted, expected, "only the old ones went");
        });
    }
}

/// Records that belong to no execution, and cache entries whose call is
/// gone, read straight from the backend's storage.
fn orphans(backend: Backend, journal: &Path) -> (u64, u64) {
    match backend {
        Backend::Redb => {
            let db = redb::Database::open(journal).expect("the journal opens");
            let txn = redb::ReadableDatabase::begin_read(&db).expect("reads");
            let executions: redb::TableDefinition<u64, &[u8]> =
                redb::TableDefinition::new("executions");
            let calls: redb::TableDefinition<(u64, u32), &[u8]> =
                redb::TableDefinition::new("calls");
            let attempts: redb::TableDefinition<(u64, u32, u32), &[u8]> =
                redb::TableDefinition::new("attempts");
            let cache: redb::TableDefinition<&[u8], (u64, u32)> =
                redb::TableDefinition::new("cache");
            let executions = txn.open_table(executions).expect("table");
            let calls = txn.open_table(calls).expect("table");
            let attempts = txn.open_table(attempts).expect("table");
            let cache = txn.open_table(cache).expect("table");
            let mut homeless = 0;
            for entry in redb::ReadableTable::iter(&calls).expect("iterates") {
                let (key, _) = entry.expect("reads");
                let (exec, _) = key.value();
                if executions.get(exec).expect("reads").is_none() {
                    homeless += 1;
                }
            }
            for entry in redb::ReadableTable::iter(&attempts).expect("iterates") {
                let (key, _) = entry.expect("reads");
                let (exec, seq, _) = key.value();
                if calls.get((exec, seq)).expect("reads").is_none() {
                    homeless += 1;
                }
            }
            let mut dangling = 0;
            for entry in redb::ReadableTable::iter(&cache).expect("iterates") {
                let (_, at) = entry.expect("reads");
                if calls.get(at.value()).expect("reads").is_none() {
                    dangling += 1;
                }
            }
            (homeless, dangling)
        }
        Backend::Postgres => {
            let url = journal.to_string_lossy().into_owned();
            let count = |sql: &'static str| {
                let url = url.clone();
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime");
                    runtime.block_on(async move {
                        let (client, connection) =
                            tokio_postgres::connect(&url, tokio_postgres::NoTls)
                                .await
                                .expect("connects");
                        let driver = tokio::spawn(connection);
                        let row = client.query_one(sql, &[]).await.expect("counts");
                        let n: i64 = row.get(0);
                        drop(client);
                        let _ = driver.await;
                        n.unsigned_abs()
                    })
                })
                .join()
                .expect("the count thread ends")
            };
            let homeless = count(
                "SELECT (SELECT count(*) FROM cairn_calls c WHERE NOT EXISTS
                    (SELECT 1 FROM cairn_executions e WHERE e.id = c.exec))
                  + (SELECT count(*) FROM cairn_attempts a WHERE NOT EXISTS
                    (SELECT 1 FROM cairn_calls c WHERE c.exec = a.exec AND c.seq = a.seq))",
            );
            let dangling = count(
                "SELECT count(*) FROM cairn_cache k WHERE NOT EXISTS
                    (SELECT 1 FROM cairn_calls c WHERE c.exec = k.exec AND c.seq = k.seq)",
            );
            (homeless, dangling)
        }
    }
}

on_backends! {
    #[test]
    fn sigkill_during_a_prune_leaves_a_consistent_journal_and_a_second_run_finishes(backend) {
        const EXECUTIONS: usize = 200;
        let dir = temp();
        let journal = backend.journal(dir.path());
        let policy = marking_policy(dir.path());
        // Killed as soon as it says it removed some, the prune has its
        // other steps (one commit each) still to make. A machine that
        // stalls the test past all of them lets the prune end first: that
        // tested nothing, so the journal is filled again and the prune
        // killed again (twice more at most).
        let mut made = 0;
        let left = loop {
            cairn_tests::block_on(async {
                let host = host_on(&journal, policy.clone());
                let probe = load(&host, guests::PROBE).await;
                for i in 0..EXECUTIONS {
                    let input = format!(r#"{{"a": {i}, "b": 7}}"#);
                    let done = host.run(&probe, "additions", &input).await.expect("runs");
                    assert_eq!(done.status, ExecutionStatus::Completed);
                }
                host.close().await.expect("closes");
            });
            made += EXECUTIONS;

            let mut child = cairn_on(&journal)
                .args(["executions", "prune", "--older-than", "0", "--step-executions", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("cairn starts");
            let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
            let mut seen = String::new();
            loop {
                let mut line = String::new();
                let n = stderr.read_line(&mut line).expect("reads stderr");
                assert!(n > 0, "the prune ended before its first step: {seen}");
                seen.push_str(&line);
                if line.contains("removed so far") {
                    break;
                }
            }
            child.kill().expect("SIGKILL");
            let status = child.wait().expect("waits");

            assert_eq!(orphans(backend, &journal), (0, 0), "nothing left half-removed");
            let left = cairn_tests::block_on(async {
                let host = host_on(&journal, policy.clone());
                let left = ids(&host).await;
                for id in &left {
                    let read = host.client().execution(*id).await.expect("a whole history");
                    assert!(read.is_some());
                }
                host.close().await.expect("closes");
                left.len()
            });
            eprintln!("prune killed with {left} of {EXECUTIONS} executions left ({status})");
            assert!(left < EXECUTIONS, "it said it removed some: {left} left");
            if left > 0 {
                assert!(!status.success(), "killed mid-prune: {status}");
                break left;
            }
            assert!(made < 3 * EXECUTIONS, "the prune ended before the kill, three times");
            // The killed process's claims lapse (PostgreSQL).
            std::thread::sleep(cairn_tests::backend::TEST_LEASE + Duration::from_millis(500));
        };

        // A killed process's claims lapse (PostgreSQL), then the next run
        // finishes the job.
        std::thread::sleep(cairn_tests::backend::TEST_LEASE + Duration::from_millis(500));
        let second = report(&prune_cli(&journal, &["--older-than", "0"]));
        assert_eq!(second.removed.executions, left as u64, "{second:?}");
        assert_eq!(orphans(backend, &journal), (0, 0));
        cairn_tests::block_on(async {
            let host = host_on(&journal, policy.clone());
            assert!(ids(&host).await.is_empty());
            // No cached call of a pruned execution answers: the add runs.
            let before = count_marks(&marks(dir.path()), "add");
            let probe = load(&host, guests::PROBE).await;
            let after = host
                .run(&probe, "additions", r#"{"a": 0, "b": 7}"#)
                .await
                .expect("runs");
            assert_eq!(count_marks(&marks(dir.path()), "add"), before + 1);
            assert!(
                after.id.0 > made as u64,
                "no pruned execution's id is given out again: {}",
                after.id
            );
            host.close().await.expect("closes");
        });
    }
}
