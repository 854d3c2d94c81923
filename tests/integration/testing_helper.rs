//! `cairn_host::testing`, the guest author's integration-test path, used as
//! an author would: a real guest crate built with cargo by
//! `build_component`, run in a `TestHost`, its journal read back; and the
//! artifact cache a host on a journal file keeps beside it by default.

use std::path::{Path, PathBuf};

use cairn_host::testing::{
    BuildError, ComponentBuild, KEEP_ENV, TEST_EPOCH_US, TestError, TestHost, build_component,
    completed,
};
use cairn_host::{CallSource, ExecutionStatus, Host, Runtime};
use cairn_tests::temp;
use serde_json::{Value, json};

use crate::guests;

/// A guest crate's folder, as its own tests would pass
/// `env!("CARGO_MANIFEST_DIR")`.
fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

/// hello, built as `cargo xtask build-guests` builds it (same profile, same
/// target folder), so cargo finds it fresh when xtask built it first.
fn build_hello() -> PathBuf {
    ComponentBuild::new(example("hello"))
        .profile("guest")
        .target_dir(cairn_tests::target_dir())
        .build()
        .unwrap_or_else(|e| panic!("hello builds: {}", cairn_tests::chain(&e)))
}

#[tokio::test]
async fn a_guest_crate_built_by_cargo_runs_in_a_test_host_and_its_journal_reads_back() {
    let wasm = build_hello();
    assert_eq!(
        std::fs::canonicalize(&wasm).expect("the component is there"),
        std::fs::canonicalize(guests::HELLO.path()).expect("xtask's is there"),
        "the component found in cargo's JSON output is the one xtask built"
    );
    assert_eq!(build_hello(), wasm, "built once, remembered");

    let t = TestHost::new().expect("a test host opens");
    let hello = t.host().load_file(&wasm).await.expect("hello loads");
    let done = t
        .run_completed::<Value>(&hello, "hello", &json!({ "name": "Ada" }))
        .await
        .expect("hello completes");
    assert_eq!(
        done.output,
        json!({ "text": "HELLO, ADA, FROM A DURABLE FLOW!", "words": 6 })
    );
    // The output is decoded as the type asked for, or it is a typed error.
    let not_a_number = t
        .run_completed::<u64>(&hello, "hello", &json!({ "name": "Ada" }))
        .await;
    assert!(
        matches!(not_a_number, Err(TestError::Decode { .. })),
        "{not_a_number:?}"
    );

    let execution = t.execution(done.id).await.expect("journaled");
    let calls: Vec<(&str, Runtime, usize)> = execution
        .calls
        .iter()
        .map(|c| (c.call_id.as_str(), c.runtime, c.attempts.len()))
        .collect();
    assert_eq!(
        calls,
        [
            ("greet", Runtime::Inline, 1),
            ("shout", Runtime::Isolated, 1),
            ("count_words", Runtime::Inline, 1)
        ]
    );
    assert!(
        execution
            .calls
            .iter()
            .all(|c| c.source == CallSource::Executed && c.attempts[0].status == "ok"),
        "{:?}",
        execution.calls
    );
    // The fixed clock: the same timestamps in every run.
    assert_eq!(execution.execution.created_at_us, TEST_EPOCH_US);
    assert_eq!(
        execution.calls[0].attempts[0].started_at,
        execution.execution.created_at
    );

    // A failing flow is an outcome, and `completed` says why it is not one.
    let outcome = t
        .run(&hello, "hello", &json!({ "name": " " }))
        .await
        .expect("runs");
    match completed::<Value>(&outcome) {
        Err(TestError::NotCompleted {
            id,
            status: ExecutionStatus::Failed,
            failure: Some(_),
        }) => assert_eq!(id, outcome.id),
        other => panic!("expected NotCompleted, got {other:?}"),
    }
    let failed = t.execution(outcome.id).await.expect("journaled");
    assert_eq!(failed.calls.len(), 1, "nothing runs after greet fails");
    assert_eq!(failed.calls[0].attempts[0].status, "failed");
}

#[tokio::test]
async fn a_wait_is_answered_and_the_execution_resumed_through_the_test_host() {
    let t = TestHost::new().expect("a test host opens");
    let approval = t
        .host()
        .load_file(guests::APPROVAL.path())
        .await
        .expect("loads");
    let outcome = t
        .run(&approval, "publish_post", &json!({ "topic": "tests" }))
        .await
        .expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Waiting);
    let waiting = t.execution(outcome.id).await.expect("journaled");
    assert_eq!(waiting.waits.len(), 1);
    assert_eq!(waiting.waits[0].name, "approve");
    assert_eq!(waiting.waits[0].value, None);

    // A value the wait's schema refuses is the host's typed error.
    let refused = t
        .answer(outcome.id, "approve", &json!({ "approved": "yes" }))
        .await;
    assert!(matches!(refused, Err(TestError::Answer(_))), "{refused:?}");

    t.answer(
        outcome.id,
        "approve",
        &json!({ "approved": true, "reviewer": "ada" }),
    )
    .await
    .expect("answered");
    let done = t
        .resume_completed::<String>(outcome.id)
        .await
        .expect("completes");
    assert_eq!(done.id, outcome.id);
    assert!(done.output.starts_with("published "), "{}", done.output);
    let answered = t.execution(outcome.id).await.expect("journaled");
    assert_eq!(
        answered.waits[0].value,
        Some(json!({ "approved": true, "reviewer": "ada" }))
    );
    assert_eq!(answered.calls.len(), 2, "draft and publish");
    assert_eq!(answered.calls[0].attempts.len(), 1, "draft ran once");
}

#[tokio::test]
async fn the_temporary_journal_goes_with_the_test_host_unless_kept() {
    let t = TestHost::new().expect("a test host opens");
    let dir = t.dir().to_path_buf();
    assert_eq!(t.journal_path(), dir.join("journal.redb"));
    assert!(t.journal_path().is_file(), "the journal is made on open");
    let other = TestHost::new().expect("a second one opens");
    assert_ne!(other.dir(), dir, "each test host has its own folder");
    drop(t);
    // Someone running the tests with the variable set keeps every folder.
    if std::env::var_os(KEEP_ENV).is_none() {
        assert!(!dir.exists(), "{} is removed", dir.display());
    }

    let mut kept = TestHost::new().expect("a test host opens");
    kept.keep();
    let dir = kept.dir().to_path_buf();
    drop(kept);
    assert!(dir.join("journal.redb").is_file(), "kept as asked");
    // A kept journal is a real one: a host opens it again.
    let host = Host::builder()
        .journal(dir.join("journal.redb"))
        .read_only(true)
        .open()
        .expect("the kept journal opens");
    drop(host);
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}

#[test]
fn a_folder_without_a_cargo_manifest_is_a_typed_error() {
    let dir = temp();
    let missing = dir.path().join("no-such-crate");
    match build_component(&missing) {
        Err(BuildError::NoManifest { manifest_dir }) => assert_eq!(manifest_dir, missing),
        other => panic!("expected NoManifest, got {other:?}"),
    }
    // A folder that exists but holds no crate is the same error.
    match build_component(dir.path()) {
        Err(BuildError::NoManifest { manifest_dir }) => assert_eq!(manifest_dir, dir.path()),
        other => panic!("expected NoManifest, got {other:?}"),
    }
}

/// The one cache entry in `artifacts`, with what would change if it were
/// written again (a new file is renamed over it: a new inode).
fn only_entry(artifacts: &Path) -> (PathBuf, u64, std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let entries: Vec<PathBuf> = std::fs::read_dir(artifacts)
        .expect("the cache folder")
        .map(|e| e.expect("an entry").path())
        // Beside whole components, the folder holds the incremental cache.
        .filter(|path| path.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let meta = std::fs::metadata(&entries[0]).expect("metadata");
    (
        entries[0].clone(),
        meta.ino(),
        meta.modified().expect("mtime"),
    )
}

#[tokio::test]
async fn a_host_on_a_journal_file_caches_compiled_components_beside_it() {
    let dir = temp();
    let state = dir.path().join("state");
    let journal = state.join("journal.redb");
    let artifacts = state.join("artifacts");
    let open = || Host::builder().journal(&journal).open().expect("opens");

    let host = open();
    assert_eq!(host.artifact_dir(), Some(artifacts.as_path()));
    let hello = host.load_file(guests::HELLO.path()).await.expect("loads");
    let (entry, inode, modified) = only_entry(&artifacts);
    assert!(
        entry.to_string_lossy().contains(&hello.hash().to_hex()),
        "{}",
        entry.display()
    );
    assert!(state.join("artifacts.key").is_file(), "its key beside it");
    host.close().await.expect("closes");

    // A later process: the load is served from the cache, which is not
    // written again.
    let host = open();
    let again = host.load_file(guests::HELLO.path()).await.expect("loads");
    assert_eq!(again.hash(), hello.hash());
    assert_eq!(only_entry(&artifacts), (entry, inode, modified));
    host.close().await.expect("closes");
}

#[tokio::test]
async fn the_default_artifact_cache_can_be_moved_or_turned_off_and_read_only_hosts_write_none() {
    let dir = temp();
    let journal = dir.path().join("journal.redb");
    let elsewhere = dir.path().join("compiled");
    let host = Host::builder()
        .journal(&journal)
        .artifact_cache(&elsewhere)
        .open()
        .expect("opens");
    assert_eq!(host.artifact_dir(), Some(elsewhere.as_path()));
    host.load_file(guests::HELLO.path()).await.expect("loads");
    only_entry(&elsewhere);
    host.close().await.expect("closes");

    let host = Host::builder()
        .journal(&journal)
        .no_artifact_cache()
        .open()
        .expect("opens");
    assert_eq!(host.artifact_dir(), None);
    host.close().await.expect("closes");

    let host = Host::builder()
        .journal(&journal)
        .read_only(true)
        .open()
        .expect("opens");
    assert_eq!(host.artifact_dir(), None);
    host.load_file(guests::HELLO.path())
        .await
        .expect("loads, compiled in memory");
    drop(host);

    let memory = Host::builder().in_memory().open().expect("opens");
    assert_eq!(memory.artifact_dir(), None);

    // Nothing was made beside the journal by any of them.
    assert!(!dir.path().join("artifacts").exists());
    assert!(!dir.path().join("artifacts.key").exists());
}
