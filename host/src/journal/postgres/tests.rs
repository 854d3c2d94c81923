//! The PostgreSQL journal against a real server: `cargo xtask test` starts
//! a throwaway one and names it in `CAIRN_TEST_POSTGRES`; each test gets a
//! schema of its own, so they run in parallel.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;
use crate::journal::chunks::noise;
use crate::journal::record::WaitRecord;
use crate::model::ExecutionStatus;

/// The server's URL: required when xtask runs the tests, else the test is
/// skipped with a notice.
fn server() -> Option<String> {
    match std::env::var("CAIRN_TEST_POSTGRES") {
        Ok(url) => Some(url),
        Err(_)
            if std::env::var_os("CI").is_some()
                || std::env::var_os("CAIRN_TEST_POSTGRES_REQUIRED").is_some() =>
        {
            panic!("CAIRN_TEST_POSTGRES is not set: run the tests with `cargo xtask test`")
        }
        Err(_) => {
            eprintln!("skipped: CAIRN_TEST_POSTGRES is not set (`cargo xtask test` sets it)");
            None
        }
    }
}

/// A URL on a fresh, empty schema of the test server.
fn fresh() -> Option<String> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let url = server()?;
    let schema = format!(
        "unit_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let (runtime, pool) = connect(&url).expect("connects");
    let create = format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}");
    block_on(runtime.handle(), async move {
        let client = pool.get().await.map_err(leases::storage("test"))?;
        client
            .batch_execute(&create)
            .await
            .map_err(leases::storage("test"))
    })
    .expect("schema made");
    runtime.shutdown_background();
    let join = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{join}options=-csearch_path%3D{schema}"))
}

fn open(url: &str, lease: Duration) -> PostgresJournal {
    PostgresJournal::open(
        url,
        Options {
            read_only: false,
            lease,
        },
    )
    .expect("opens")
}

fn record(id: ExecutionId) -> ExecutionRecord {
    ExecutionRecord {
        flow: "f".to_owned(),
        component: None,
        input: "{}".to_owned(),
        status: ExecutionStatus::Running,
        output: None,
        failure: None,
        original_exec_id: None,
        created_at_us: 1,
        updated_at_us: 1,
        seed: id.0,
        calls: 0,
        replay: None,
        flow_log: Vec::new(),
    }
}

/// Creating hands out ids in order, writes the record, and claims it: a
/// second journal on the same database (another worker) cannot claim it
/// until the lease is dropped.
#[tokio::test]
async fn a_created_execution_is_written_and_claimed_across_journals() {
    let Some(url) = fresh() else { return };
    let one = open(&url, DEFAULT_LEASE);
    let two = open(&url, DEFAULT_LEASE);
    let first = one
        .create_execution(None, Box::new(record))
        .await
        .expect("created");
    let second = two
        .create_execution(None, Box::new(record))
        .await
        .expect("created");
    assert_eq!((first.id, second.id), (ExecutionId(1), ExecutionId(2)));
    let read = two.execution(first.id).await.expect("readable");
    assert_eq!(read.map(|r| r.seed), Some(1), "the other worker reads it");
    assert!(matches!(
        two.claim(first.id).await,
        Err(JournalError::Claimed { .. })
    ));
    assert!(matches!(
        one.claim(first.id).await,
        Err(JournalError::Claimed { .. })
    ));
    drop(first.lease);
    // The release is sent in the background: it lands within moments.
    let mut claimed = None;
    for _ in 0..100 {
        if let Ok(lease) = two.claim(ExecutionId(1)).await {
            claimed = Some(lease);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lease = claimed.expect("released to the other worker");
    assert_eq!(lease.epoch(), 2, "a takeover raises the epoch");
}

/// A worker whose lease expired (its heartbeat stopped, as a process
/// paused by SIGSTOP) and was taken over cannot commit for the execution
/// any more: its write fails with `TakenOver` (naming the epoch it held,
/// and saying so in words), and the row stays as the new
/// holder has it. Its writes for executions it still holds commit.
#[tokio::test]
async fn a_taken_over_lease_fences_the_old_holders_writes() {
    let Some(url) = fresh() else { return };
    let paused = open(&url, Duration::from_millis(300));
    let other = open(&url, DEFAULT_LEASE);
    let lost = paused
        .create_execution(None, Box::new(record))
        .await
        .expect("created");
    paused.leases.stop_heartbeat();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let takeover = other
        .claim(lost.id)
        .await
        .expect("the lapsed lease is taken over");
    let mut done = record(lost.id);
    done.status = ExecutionStatus::Completed;
    let entry = Entry::Execution {
        id: lost.id,
        record: &done,
    };
    let fenced = paused
        .write(std::slice::from_ref(&entry), Sync::Durable)
        .await;
    assert!(
        matches!(fenced, Err(JournalError::TakenOver { exec, epoch: 1 }) if exec == lost.id),
        "{fenced:?}"
    );
    let message = fenced.expect_err("fenced").to_string();
    assert!(
        message.contains(&format!(
            "execution {} was taken over by another worker",
            lost.id
        )) && message.contains("epoch 1"),
        "{message}"
    );
    assert_eq!(takeover.epoch(), 2);
    let still = other.execution(lost.id).await.expect("reads");
    assert_eq!(still.map(|r| r.status), Some(ExecutionStatus::Running));
    // The journal is not broken by it: the new holder writes, and the old
    // one writes what it still holds.
    other
        .write(std::slice::from_ref(&entry), Sync::Durable)
        .await
        .expect("the new holder writes");
    let kept = paused
        .create_execution(None, Box::new(record))
        .await
        .expect("the old holder still writes its own");
    assert_eq!(kept.id, ExecutionId(2));
    drop(takeover);
}

/// Everything written in one group reads back: calls, attempts, waits in
/// byte order, times, a timer put then removed in the same write, the
/// cache, components once per hash, an upgrade, and the listing's filters.
#[tokio::test]
async fn what_is_written_reads_back() {
    let Some(url) = fresh() else { return };
    let journal = open(&url, DEFAULT_LEASE);
    let bytes: Arc<[u8]> = Arc::from(&b"component"[..]);
    let hash = ComponentHash::of(&bytes);
    let created = journal
        .create_execution(Some((hash, bytes.clone())), Box::new(record))
        .await
        .expect("created");
    let id = created.id;
    let call = CallRecord {
        call_id: "a".to_owned(),
        name: "a".to_owned(),
        component: hash,
        kind: None,
        runtime: crate::model::Runtime::Isolated,
        input: "{}".to_owned(),
        status: crate::model::CallStatus::Completed,
        source: crate::model::CallSource::Executed,
        output: Some("1".to_owned()),
        attempts: 1,
    };
    let attempt = crate::journal::record::AttemptRecord {
        started_at_us: 1,
        ended_at_us: Some(2),
        outcome: None,
        fuel_used: 3,
        stdout: b"out".to_vec(),
        stderr: Vec::new(),
        policy: None,
    };
    let wait = |q: &str| WaitRecord {
        question: q.to_owned(),
        schema: "{}".to_owned(),
        value: None,
        asked_at_us: 1,
        answered_at_us: None,
        source: None,
        carried_from: None,
    };
    let (wb, wa) = (wait("b"), wait("a"));
    let timer = TimerRecord {
        call_id: "a".to_owned(),
        attempt: 2,
        retry: 1,
        due_at_us: 9,
    };
    journal
        .queue(&[
            Entry::Component {
                hash,
                bytes: bytes.clone(),
            },
            Entry::Call {
                exec: id,
                seq: 0,
                record: &call,
            },
        ])
        .expect("queued");
    journal
        .write(
            &[
                Entry::Attempt {
                    exec: id,
                    seq: 0,
                    n: 1,
                    record: &attempt,
                },
                Entry::Wait {
                    exec: id,
                    name: "b",
                    record: &wb,
                },
                Entry::Wait {
                    exec: id,
                    name: "a",
                    record: &wa,
                },
                Entry::Time {
                    exec: id,
                    n: 0,
                    us: 5,
                },
                Entry::Time {
                    exec: id,
                    n: 1,
                    us: 6,
                },
                Entry::Timer {
                    exec: id,
                    seq: 0,
                    record: &timer,
                },
                Entry::Timer {
                    exec: id,
                    seq: 1,
                    record: &timer,
                },
                Entry::TimerDone { exec: id, seq: 0 },
                Entry::Cache {
                    key: [7; 32],
                    exec: id,
                    seq: 0,
                },
            ],
            Sync::Lazy,
        )
        .await
        .expect("written");
    let upgrade = crate::journal::record::UpgradeRecord {
        from: hash,
        to: ComponentHash([9; 32]),
        at_us: 3,
        by: "test".to_owned(),
    };
    journal
        .write(
            &[Entry::Upgrade {
                exec: id,
                n: 0,
                record: &upgrade,
            }],
            Sync::Durable,
        )
        .await
        .expect("written");
    journal.sync().await.expect("synced");
    assert_eq!(journal.upgrades(id).await.expect("reads"), [upgrade]);
    let history = journal.history(id).await.expect("reads").expect("exists");
    assert_eq!(history.calls.len(), 1);
    assert_eq!(history.calls[0].call, call);
    assert_eq!(history.calls[0].attempts, vec![(1, attempt)]);
    let names: Vec<String> = journal
        .waits(id)
        .await
        .expect("reads")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(journal.times(id).await.expect("reads"), [5, 6]);
    let timers = journal.timers(None).await.expect("reads");
    assert_eq!(timers, vec![(id, 1, timer)], "seq 0's timer was removed");
    let cached = journal.cached_call([7; 32]).await.expect("reads");
    assert_eq!(cached.map(|(e, s, _)| (e, s)), Some((id, 0)));
    assert_eq!(
        journal.component(hash).await.expect("reads").as_deref(),
        Some(&bytes[..])
    );
    assert_eq!(journal.component_hashes().await.expect("reads"), [hash]);
    let counted = journal.counted_execution(id).await.expect("reads");
    assert_eq!(
        counted.map(|(_, n)| n),
        Some(1),
        "a running one's calls are counted"
    );
    let mut filter = ExecutionFilter {
        status: Some(ExecutionStatus::Completed),
        ..ExecutionFilter::default()
    };
    assert!(journal.executions(&filter).await.expect("lists").is_empty());
    filter.status = Some(ExecutionStatus::Running);
    let listed = journal.executions(&filter).await.expect("lists");
    assert_eq!(listed.len(), 1);
    assert!(journal.commits() >= 2);
}

/// A database whose schema is newer than this build's is refused with the
/// error redb gives a newer file, and left as it is; a read-only open of
/// an empty database makes nothing and says there is no journal.
#[tokio::test]
async fn a_newer_schema_is_refused_and_an_empty_database_is_not_a_journal() {
    let Some(url) = fresh() else { return };
    let read_only = Options {
        read_only: true,
        lease: DEFAULT_LEASE,
    };
    assert!(matches!(
        PostgresJournal::open(&url, read_only),
        Err(JournalError::Missing { .. })
    ));
    assert_eq!(PostgresJournal::migrate(&url).expect("migrates"), None);
    assert_eq!(
        PostgresJournal::migrate(&url).expect("migrates"),
        Some(schema::SCHEMA_VERSION)
    );
    let (runtime, pool) = connect(&url).expect("connects");
    block_on(runtime.handle(), async move {
        let client = pool.get().await.map_err(leases::storage("test"))?;
        client
            .batch_execute("UPDATE cairn_schema_version SET version = version + 1")
            .await
            .map_err(leases::storage("test"))
    })
    .expect("bumped");
    runtime.shutdown_background();
    let newer = PostgresJournal::open(&url, read_only);
    assert!(
        matches!(
            newer,
            Err(JournalError::TooNew {
                found,
                supported,
                ..
            }) if found == schema::SCHEMA_VERSION.unsigned_abs() + 1
                && supported == schema::SCHEMA_VERSION.unsigned_abs()
        ),
        "{:?}",
        newer.err()
    );
    assert!(matches!(
        PostgresJournal::migrate(&url),
        Err(JournalError::TooNew { .. })
    ));
}

/// Runs `sql` on the database at `url` (a test's own schema).
fn sql(url: &str, sql: &str) {
    let (runtime, pool) = connect(url).expect("connects");
    let sql = sql.to_owned();
    block_on(runtime.handle(), async move {
        let client = pool.get().await.map_err(leases::storage("test"))?;
        client
            .batch_execute(&sql)
            .await
            .map_err(leases::storage("test"))
    })
    .expect("the statement runs");
    runtime.shutdown_background();
}

/// The bytes of the stored chunks.
fn chunk_bytes(url: &str) -> i64 {
    let (runtime, pool) = connect(url).expect("connects");
    let bytes = block_on(runtime.handle(), async move {
        let client = pool.get().await.map_err(leases::storage("test"))?;
        let row = client
            .query_one(
                "SELECT coalesce(sum(length(bytes)), 0)::BIGINT FROM cairn_component_chunks",
                &[],
            )
            .await
            .map_err(leases::storage("test"))?;
        Ok::<i64, JournalError>(row.get(0))
    })
    .expect("counted");
    runtime.shutdown_background();
    bytes
}

/// Components are stored as chunks, once each: a rebuilt one (an edit in
/// the middle) costs the chunks that changed; both read back exactly; a
/// prune removes the build no execution names and its own chunks only.
#[tokio::test]
async fn components_are_chunked_shared_and_pruned() {
    let Some(url) = fresh() else { return };
    let journal = open(&url, DEFAULT_LEASE);
    let first: Arc<[u8]> = Arc::from(noise(3 << 20, 1));
    let at = 1 << 20;
    let second: Arc<[u8]> = Arc::from([&first[..at], &noise(1_000, 2), &first[at..]].concat());
    let (a, b) = (ComponentHash::of(&first), ComponentHash::of(&second));
    let made = journal
        .create_execution(
            Some((a, first.clone())),
            Box::new(move |id| ExecutionRecord {
                component: Some(a),
                ..record(id)
            }),
        )
        .await
        .expect("created");
    assert_eq!(chunk_bytes(&url), first.len() as i64, "every byte once");
    let entry = Entry::Component {
        hash: b,
        bytes: second.clone(),
    };
    journal
        .write(&[entry], Sync::Durable)
        .await
        .expect("written");
    let added = chunk_bytes(&url) - first.len() as i64;
    assert!(
        added <= 3 * crate::journal::chunks::MAX_CHUNK as i64,
        "the edited build added {added} bytes"
    );
    assert_eq!(
        journal.component(a).await.expect("reads").as_deref(),
        Some(&first[..])
    );
    assert_eq!(
        journal.component(b).await.expect("reads").as_deref(),
        Some(&second[..])
    );
    let pruned = journal.prune_components().await.expect("prunes");
    assert_eq!(
        (pruned.components, pruned.bytes),
        (1, added.unsigned_abs()),
        "{pruned:?}"
    );
    assert_eq!(journal.component(b).await.expect("reads"), None);
    assert_eq!(
        journal.component(a).await.expect("reads").as_deref(),
        Some(&first[..])
    );
    assert_eq!(journal.component_hashes().await.expect("reads"), [a]);
    drop(made);
}

/// A database of schema version 1 (components stored whole) is migrated
/// when a journal opens it: the whole components still read, new ones are
/// chunked, and a prune removes a whole one no execution names.
#[tokio::test]
async fn a_version_1_database_is_migrated_and_its_whole_components_read() {
    let Some(url) = fresh() else { return };
    assert_eq!(PostgresJournal::migrate(&url).expect("migrates"), None);
    // Back to version 1's tables (undoing every later step), with a
    // component stored whole.
    sql(
        &url,
        "DELETE FROM cairn_schema_version WHERE version > 1;
         DROP TABLE cairn_component_chunks;
         DROP TABLE IF EXISTS cairn_schedules;
         DROP TABLE IF EXISTS cairn_stop_requests;
         DROP TABLE IF EXISTS cairn_children;
         ALTER TABLE cairn_components DROP COLUMN chunks;
         ALTER TABLE cairn_components ALTER COLUMN bytes SET NOT NULL;",
    );
    let old = noise(200_000, 3);
    let old_hash = ComponentHash::of(&old);
    let hex: String = old.iter().map(|b| format!("{b:02x}")).collect();
    sql(
        &url,
        &format!(
            "INSERT INTO cairn_components (hash, bytes) VALUES ('\\x{}', '\\x{hex}')",
            old_hash.to_hex()
        ),
    );
    assert!(matches!(
        PostgresJournal::open(
            &url,
            Options {
                read_only: true,
                lease: DEFAULT_LEASE,
            }
        ),
        Err(JournalError::TooOld { found: 1, .. })
    ));
    let journal = open(&url, DEFAULT_LEASE);
    assert_eq!(
        journal.component(old_hash).await.expect("reads"),
        Some(old.clone())
    );
    let new: Arc<[u8]> = Arc::from(noise(100_000, 4));
    let new_hash = ComponentHash::of(&new);
    let entry = Entry::Component {
        hash: new_hash,
        bytes: new.clone(),
    };
    journal
        .write(&[entry], Sync::Durable)
        .await
        .expect("written");
    assert_eq!(
        journal.component(new_hash).await.expect("reads").as_deref(),
        Some(&new[..])
    );
    let pruned = journal.prune_components().await.expect("prunes");
    assert_eq!(pruned.components, 2);
    assert_eq!(pruned.bytes, (old.len() + new.len()) as u64);
    assert!(journal.component_hashes().await.expect("reads").is_empty());
    assert_eq!(
        PostgresJournal::migrate(&url).expect("migrates"),
        Some(schema::SCHEMA_VERSION)
    );
}
