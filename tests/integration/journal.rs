//! The journal file: created when missing, refused (and left untouched) when
//! it is not a Cairn journal or is damaged, locked against a second opener,
//! read back intact by a new process, and readable read-only without ever
//! being created or written.

use crate::guests;
use cairn_host::{ExecutionId, Host, JournalError, OpenError, Policy, RunError};
use cairn_tests::backend::host_on;
use cairn_tests::on_backends;
use cairn_tests::{engine, host, load, temp};

fn open(path: &std::path::Path) -> Result<Host, OpenError> {
    Host::builder().journal(path).engine(engine()).open()
}

#[test]
fn a_missing_journal_is_created_with_its_folder() {
    let dir = temp();
    let path = dir.path().join("nested/folder/journal.redb");
    open(&path).expect("created");
    assert!(path.exists());
}

/// Opening a file that holds `contents` is refused, and the file is left
/// exactly as it was (not recreated).
fn refused_and_untouched(contents: &[u8]) {
    let dir = temp();
    let path = dir.path().join("journal.redb");
    std::fs::write(&path, contents).expect("write");
    let result = open(&path);
    assert!(
        matches!(
            result,
            Err(OpenError::Journal(JournalError::NotAJournal { .. }))
        ),
        "{:?}",
        result.err()
    );
    assert_eq!(std::fs::read(&path).expect("read"), contents, "untouched");
}

#[test]
fn an_empty_file_is_refused_and_left_as_it_is() {
    refused_and_untouched(b"");
}

#[test]
fn a_foreign_file_is_refused_and_left_as_it_is() {
    refused_and_untouched(&b"name,age\nada,36\n".repeat(200));
}

#[test]
fn a_second_opener_is_told_the_journal_is_in_use() {
    let dir = temp();
    let path = dir.path().join("journal.redb");
    let _first = open(&path).expect("opens");
    let second = open(&path);
    assert!(
        matches!(second, Err(OpenError::Journal(JournalError::InUse { .. }))),
        "{:?}",
        second.err()
    );
}

on_backends! {
    /// A journal opened again (a new process) holds what was run, and its
    /// ids go on.
    #[tokio::test]
    async fn executions_survive_a_reopen_and_ids_continue(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let first = {
            let host = host_on(&journal, Policy::default());
            let probe = load(&host, guests::PROBE).await;
            host.run(&probe, "sum", r#"{"a": 1, "b": 1}"#)
                .await
                .expect("runs")
                .id
        };
        let host = host_on(&journal, Policy::default());
        let probe = load(&host, guests::PROBE).await;
        let second = host
            .run(&probe, "sum", r#"{"a": 1, "b": 1}"#)
            .await
            .expect("runs")
            .id;
        assert_eq!(first, ExecutionId(1));
        assert_eq!(second, ExecutionId(2));
        let all = host
            .client()
            .executions(&Default::default())
            .await
            .expect("readable");
        assert_eq!(
            all.iter().map(|e| e.id).collect::<Vec<_>>(),
            [first, second]
        );
    }
}

#[tokio::test]
async fn an_in_memory_journal_runs_flows_too() {
    let host = Host::builder()
        .in_memory()
        .engine(engine())
        .open()
        .expect("opens");
    let probe = load(&host, guests::PROBE).await;
    let outcome = host
        .run(&probe, "sum", r#"{"a": 40, "b": 0}"#)
        .await
        .expect("runs");
    assert_eq!(outcome.output.as_deref(), Some("42"));
    assert!(host.journal_path().is_none());
}

#[test]
fn a_journal_of_another_format_version_is_refused_and_keeps_its_version() {
    for (version, newer) in [(99, true), (1, false)] {
        let dir = temp();
        let path = dir.path().join("journal.redb");
        drop(open(&path).expect("created"));
        {
            let db = redb::Database::open(&path).expect("redb opens it");
            let txn = db.begin_write().expect("write");
            {
                let meta: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
                let mut table = txn.open_table(meta).expect("meta table");
                table.insert("format_version", version).expect("insert");
            }
            txn.commit().expect("commit");
        }
        let result = open(&path);
        match (newer, &result) {
            (true, Err(OpenError::Journal(JournalError::TooNew { found, .. })))
            | (false, Err(OpenError::Journal(JournalError::TooOld { found, .. }))) => {
                assert_eq!(*found, version);
            }
            _ => panic!("version {version}: {:?}", result.err()),
        }
        // Nothing was migrated or rewritten: the journal keeps its version.
        let db = redb::Database::open(&path).expect("redb opens it");
        let txn = redb::ReadableDatabase::begin_read(&db).expect("read");
        let meta: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
        let table = txn.open_table(meta).expect("meta table");
        let kept = table.get("format_version").expect("get").map(|v| v.value());
        assert_eq!(kept, Some(version));
    }
}

/// Flips bytes all over a real journal: each damaged copy must be refused,
/// or read back exactly as it was, or report the damage; never a wrong
/// record and never a panic.
#[tokio::test]
async fn a_damaged_journal_is_reported_never_read_back_wrong() {
    let dir = temp();
    let (ids, reference) = {
        let host = host(dir.path(), Policy::default());
        let probe = load(&host, guests::PROBE).await;
        let a = host
            .run(&probe, "sum", r#"{"a": 1, "b": 2}"#)
            .await
            .expect("runs")
            .id;
        let b = host.run(&probe, "retrying", "{}").await.expect("runs").id;
        let client = host.client();
        let read = async |id| {
            serde_json::to_value(client.execution(id).await.expect("readable")).expect("json")
        };
        (vec![a, b], vec![read(a).await, read(b).await])
    };
    // The damage is done to a journal its host has closed. The host's last
    // tasks may hold it a moment after the host is dropped, and a file still
    // open is one redb repairs when it opens it: a repair falls back to the
    // commit before the last when the last does not verify (redb commits in
    // one phase, so a torn last commit looks like a damaged one), which is
    // the crash case, not this one. redb's header says when it was closed:
    // the god byte after the magic number, whose bit 2 is "recovery
    // required" while a writer has it open.
    let file = dir.path().join("journal.redb");
    let waited = std::time::Instant::now();
    let deadline = waited + std::time::Duration::from_secs(120);
    let original = loop {
        let bytes = std::fs::read(&file).expect("read");
        if bytes[9] & 2 == 0 {
            eprintln!("the journal was closed after {:?}", waited.elapsed());
            break bytes;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the journal is never closed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    // Most of a redb file is free space, so aim at the records: every byte
    // around each place the journal stores a call's input or a checkpoint's
    // name, plus a spread over the whole file.
    let mut targets: Vec<usize> = Vec::new();
    for needle in [&br#"{"a":1,"b":2}"#[..], b"always_fails", b"add_isolated"] {
        for at in original
            .windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle)
            .map(|(i, _)| i)
        {
            targets.extend(at.saturating_sub(24)..(at + needle.len() + 24).min(original.len()));
        }
    }
    targets.extend((0..200).map(|k| (k * 7919 + k / 3) % original.len()));
    let (mut refused, mut intact, mut reported, mut missing) = (0, 0, 0, 0);
    let flips = targets.len();
    for (k, at) in targets.into_iter().enumerate() {
        let mut damaged = original.clone();
        damaged[at] ^= 1 << (k % 8);
        let copy = temp();
        let path = copy.path().join("journal.redb");
        std::fs::write(&path, &damaged).expect("write");
        let Ok(host) = open(&path) else {
            refused += 1;
            continue;
        };
        for (id, expected) in ids.iter().zip(&reference) {
            match host.client().execution(*id).await {
                Err(_) => reported += 1,
                Ok(None) => missing += 1,
                Ok(found) => {
                    let found = serde_json::to_value(found).expect("json");
                    assert_eq!(
                        &found, expected,
                        "flip of byte {at} changed execution {id} silently"
                    );
                    intact += 1;
                }
            }
        }
    }
    eprintln!(
        "{flips} flips: {refused} refused at open, {reported} reads reported damage, {missing} records missing, {intact} intact"
    );
    assert!(refused + reported > 0, "some damage must be noticed");
}

/// Opens `path` read-only.
fn open_read_only(path: &std::path::Path) -> Result<Host, OpenError> {
    Host::builder()
        .journal(path)
        .engine(engine())
        .read_only(true)
        .open()
}

/// An outcome's output as the client shows it.
fn output_of(outcome: &cairn_host::Outcome) -> Option<serde_json::Value> {
    let output = outcome.output.as_deref().expect("an output");
    Some(serde_json::from_str(output).expect("JSON"))
}

/// The bytes and modification time of a file, to prove nothing wrote it.
fn fingerprint(path: &std::path::Path) -> (Vec<u8>, std::time::SystemTime) {
    let bytes = std::fs::read(path).expect("read");
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime");
    (bytes, modified)
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The journal file is released as soon as the last clone of its host is
/// dropped, even when the runtime has run no task since the last execution
/// ended (a current-thread runtime, no await between the drop and the next
/// open): a new host opens it at once, every time.
#[tokio::test]
async fn dropping_the_last_host_releases_the_journal_at_once() {
    let dir = temp();
    let path = dir.path().join("journal.redb");
    for round in 0..20 {
        let host = Host::builder()
            .journal(&path)
            .engine(engine())
            .open()
            .unwrap_or_else(|e| panic!("round {round}: the journal did not open again: {e}"));
        let probe = load(&host, guests::PROBE).await;
        let done = host
            .run(&probe, "sum", r#"{"a": 2, "b": 3}"#)
            .await
            .expect("runs");
        assert_eq!(done.output.as_deref(), Some("7"), "{done:?}");
    }
}

#[tokio::test]
async fn a_read_only_journal_is_listed_and_shown_and_never_written() {
    let dir = temp();
    let folder = dir.path().join("ro");
    let path = folder.join("journal.redb");
    let done = {
        let host = Host::builder()
            .journal(&path)
            .engine(engine())
            .open()
            .expect("opens");
        let probe = load(&host, guests::PROBE).await;
        host.run(&probe, "sum", r#"{"a": 2, "b": 3}"#)
            .await
            .expect("runs")
    };
    let id = done.id;
    // A read-only file in a read-only folder (root ignores both, so the
    // fingerprint below is what proves nothing was written).
    set_mode(&path, 0o444);
    set_mode(&folder, 0o555);
    let before = fingerprint(&path);

    let host = open_read_only(&path).expect("opens read-only");
    assert!(host.is_read_only());
    let listed = host
        .client()
        .executions(&Default::default())
        .await
        .expect("listed");
    assert_eq!(listed.iter().map(|e| e.id).collect::<Vec<_>>(), [id]);
    let shown = cairn_tests::detail(&host, id).await;
    assert_eq!(shown.execution.output, output_of(&done));
    assert!(!shown.calls.is_empty());
    // Writing is refused, with a typed error.
    let probe = load(&host, guests::PROBE).await;
    let refused = host.run(&probe, "sum", r#"{"a": 1, "b": 1}"#).await;
    assert!(
        matches!(
            refused,
            Err(RunError::Journal(JournalError::ReadOnly { .. }))
        ),
        "{refused:?}"
    );
    host.close().await.expect("a read-only host closes");

    assert!(fingerprint(&path) == before, "the journal was written");
    set_mode(&folder, 0o755);
    set_mode(&path, 0o644);
}

#[test]
fn a_read_only_open_of_a_missing_journal_creates_nothing() {
    let dir = temp();
    let path = dir.path().join("missing/journal.redb");
    let result = open_read_only(&path);
    assert!(
        matches!(
            result,
            Err(OpenError::Journal(JournalError::Missing { .. }))
        ),
        "{:?}",
        result.err()
    );
    assert!(!dir.path().join("missing").exists(), "nothing was created");
}

/// A copy of an open journal's file is what a kill -9 leaves: redb's own
/// read-only open refuses to repair it; a read-only host reads it anyway,
/// without writing to it. A journal in use by a writer is refused.
#[tokio::test]
async fn a_journal_left_by_a_dead_process_is_read_read_only() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, guests::PROBE).await;
    let done = host
        .run(&probe, "sum", r#"{"a": 1, "b": 2}"#)
        .await
        .expect("runs");
    let id = done.id;
    let in_use = open_read_only(&dir.path().join("journal.redb"));
    assert!(
        matches!(in_use, Err(OpenError::Journal(JournalError::InUse { .. }))),
        "{:?}",
        in_use.err()
    );
    let crashed = dir.path().join("crashed.redb");
    std::fs::copy(dir.path().join("journal.redb"), &crashed).expect("copy");
    drop(host);
    let before = fingerprint(&crashed);

    let host = open_read_only(&crashed).expect("opens read-only");
    let shown = cairn_tests::detail(&host, id).await;
    assert_eq!(shown.execution.output, output_of(&done));
    drop(host);
    assert!(fingerprint(&crashed) == before, "the journal was written");
    // And it still opens for writing (and is repaired) as it was.
    open(&crashed).expect("opens");
}

/// A journal cut short is a damaged journal, not a foreign file, whichever
/// way it is opened; it is left as it is, and the error says how much of it
/// can still be read.
#[tokio::test]
async fn a_truncated_journal_is_reported_damaged_and_left_as_it_is() {
    let dir = temp();
    {
        let host = host(dir.path(), Policy::default());
        let probe = load(&host, guests::PROBE).await;
        for b in 0..2 {
            host.run(&probe, "sum", &format!(r#"{{"a": 1, "b": {b}}}"#))
                .await
                .expect("runs");
        }
    }
    let original = std::fs::read(dir.path().join("journal.redb")).expect("read");
    for (what, len) in [
        ("one byte short", original.len() - 1),
        ("half", original.len() / 2),
        ("its first 5 bytes", 5),
    ] {
        let copy = temp();
        let path = copy.path().join("journal.redb");
        std::fs::write(&path, &original[..len]).expect("write");
        for read_only in [false, true] {
            let result = if read_only {
                open_read_only(&path)
            } else {
                open(&path)
            };
            match &result {
                Err(OpenError::Journal(error @ JournalError::Damaged { surviving, .. })) => {
                    eprintln!("{what} (read-only: {read_only}): {error}");
                    if len == original.len() - 1 {
                        assert_eq!(*surviving, Some(2), "{what}: both executions survive");
                    }
                }
                other => panic!("{what}: {:?}", other.as_ref().err()),
            }
            assert_eq!(
                std::fs::read(&path).expect("read"),
                &original[..len],
                "{what}: untouched"
            );
        }
    }
}

on_backends! {
    /// `cairn components prune` removes a build no execution refers to (one
    /// stored, never run) and keeps the one an execution ran: it still
    /// reads back, byte for byte, and a replay runs it; a second prune
    /// removes nothing.
    #[tokio::test]
    async fn components_prune_removes_only_builds_no_execution_refers_to(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let (ran, stored, first_run) = {
            let host = host_on(&journal, Policy::default());
            let probe = load(&host, guests::PROBE).await;
            let hello = load(&host, guests::HELLO).await;
            let outcome = host
                .run(&probe, "sum", r#"{"a": 1, "b": 2}"#)
                .await
                .expect("runs");
            host.store_component(&hello).await.expect("stored");
            host.close().await.expect("closes");
            (probe, hello, outcome)
        };
        let prune = || {
            let out = std::process::Command::new(cairn_tests::cairn_bin())
                .arg("--journal")
                .arg(&journal)
                .args(["--json", "components", "prune"])
                .env("CAIRN_ARTIFACTS", cairn_tests::artifact_dir())
                .output()
                .expect("cairn runs");
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert_eq!(out.status.code(), Some(0), "{stderr}");
            serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
        };
        let first = prune();
        assert_eq!(first["components"], 1, "{first}");
        assert!(first["chunks"].as_u64() > Some(0), "{first}");
        assert!(first["bytes"].as_u64() >= Some(stored.bytes().len() as u64 / 2), "{first}");
        let second = prune();
        assert_eq!(
            second,
            serde_json::json!({"components": 0, "chunks": 0, "bytes": 0})
        );
        let host = host_on(&journal, Policy::default());
        let client = host.client();
        assert_eq!(
            client.component(ran.hash()).await.expect("reads").as_deref(),
            Some(&ran.bytes()[..])
        );
        assert_eq!(client.component(stored.hash()).await.expect("reads"), None);
        assert_eq!(client.component_hashes().await.expect("reads"), [ran.hash()]);
        let replayed = host
            .replay(first_run.id, cairn_host::ReplayRequest::default())
            .await
            .expect("replays");
        assert!(first_run.output.is_some());
        assert_eq!(replayed.output, first_run.output);
    }
}
