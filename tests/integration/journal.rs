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

#[test]
fn an_empty_file_is_refused_and_left_as_it_is() {
    let dir = temp();
    let path = dir.path().join("journal.redb");
    std::fs::write(&path, b"").expect("write");
    let result = open(&path);
    assert!(
        matches!(
            result,
            Err(OpenError::Journal(JournalError::NotAJournal { .. }))
        ),
        "{:?}",
        result.err()
    );
    assert_eq!(
        std::fs::read(&path).expect("read").len(),
        0,
        "not recreated"
    );
}

#[test]
fn a_foreign_file_is_refused_and_left_as_it_is() {
    let dir = temp();
    let path = dir.path().join("journal.redb");
    let foreign = b"name,age\nada,36\n".repeat(200);
    std::fs::write(&path, &foreign).expect("write");
    let result = open(&path);
    assert!(
        matches!(
            result,
            Err(OpenError::Journal(JournalError::NotAJournal { .. }))
        ),
        "{:?}",
        result.err()
    );
    assert_eq!(std::fs::read(&path).expect("read"), foreign, "untouched");
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
