//! The journal file: created when missing, refused (and left untouched) when
//! it is not a Cairn journal, locked against a second opener, and read back
//! intact by a new process.

use cairn_host::{ExecutionId, Host, JournalError, OpenError, Policy};
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

#[tokio::test]
async fn executions_survive_a_reopen_and_ids_continue() {
    let dir = temp();
    let first = {
        let host = host(dir.path(), Policy::default());
        let probe = load(&host, "probe").await;
        host.run(&probe, "sum", r#"{"a": 1, "b": 1}"#)
            .await
            .expect("runs")
            .id
    };
    let host = host(dir.path(), Policy::default());
    let probe = load(&host, "probe").await;
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
        .expect("readable");
    assert_eq!(
        all.iter().map(|e| e.id).collect::<Vec<_>>(),
        [first, second]
    );
}

#[tokio::test]
async fn an_in_memory_journal_runs_flows_too() {
    let host = Host::builder()
        .in_memory()
        .engine(engine())
        .open()
        .expect("opens");
    let probe = load(&host, "probe").await;
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
        let probe = load(&host, "probe").await;
        let a = host
            .run(&probe, "sum", r#"{"a": 1, "b": 2}"#)
            .await
            .expect("runs")
            .id;
        let b = host.run(&probe, "retrying", "{}").await.expect("runs").id;
        let read = |id| {
            serde_json::to_value(host.client().execution(id).expect("readable")).expect("json")
        };
        (vec![a, b], vec![read(a), read(b)])
    };
    let original = std::fs::read(dir.path().join("journal.redb")).expect("read");
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
            match host.client().execution(*id) {
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
