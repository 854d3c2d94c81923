//! The forged guest (`tests/zoo/forged`, written against the raw WIT) and
//! the forged manifest (`tests/zoo/bad_names`): what a guest hands over is
//! checked and bounded, and what it makes the host hold is limited by the
//! policy. Limits come as obeyed/violated pairs.

use crate::guests;
use cairn_host::{
    Component, Engine, ExecutionStatus, FailureKind, Host, LoadError, Outcome, Policy, ReplayError,
    ReplayRequest, RunError, SelectorError,
};
use cairn_tests::{detail, engine, guest, temp};

async fn forged(host: &Host) -> Component {
    host.load_file(guest(guests::ZOO_FORGED))
        .await
        .expect("loads")
}

async fn run(host: &Host, flow: &str, n: u64) -> Outcome {
    let component = forged(host).await;
    host.run(&component, flow, &format!(r#"{{"n": {n}}}"#))
        .await
        .expect("the execution runs")
}

fn failure(outcome: &Outcome) -> (FailureKind, String) {
    let output = outcome.output.as_deref().unwrap_or_default();
    assert_eq!(
        outcome.status,
        ExecutionStatus::Failed,
        "output: {}",
        &output[..output.len().min(200)]
    );
    let failure = outcome.failure.clone().expect("a failure");
    (failure.kind, failure.message)
}

fn host_with(dir: &std::path::Path, policy: Policy) -> Host {
    cairn_tests::host(dir, policy)
}

#[tokio::test]
async fn a_manifest_with_forged_names_is_refused_at_load() {
    let error = match Component::from_file(&engine(), guest(guests::ZOO_BAD_NAMES)).await {
        Ok(_) => panic!("a manifest with a terminal escape in a flow name loaded"),
        Err(e) => e,
    };
    let LoadError::BadManifest(message) = &error else {
        panic!("{error:?}");
    };
    assert!(message.contains("flow name"), "{message}");
    assert!(
        !message.contains('\u{1b}') && !message.contains('\u{7}'),
        "the refusal quotes the escape raw: {message:?}"
    );
    assert!(message.len() < 400, "{} bytes", message.len());
}

#[tokio::test]
async fn an_output_that_is_not_json_fails_the_attempt() {
    let dir = temp();
    let host = host_with(dir.path(), Policy::default());
    for (flow, why) in [
        ("bad_json", "not valid JSON"),
        ("deep_json", "nested 100000 levels deep"),
    ] {
        let outcome = run(&host, flow, 0).await;
        let (kind, message) = failure(&outcome);
        assert_eq!(kind, FailureKind::FlowError, "{flow}: {message}");
        let detail = detail(&host, outcome.id).await;
        let attempt = &detail.calls[0].attempts[0];
        assert_eq!(attempt.status, "failed", "{flow}");
        let error = attempt.error.as_deref().unwrap_or_default();
        assert!(error.contains(why), "{flow}: {error}");
        assert_eq!(detail.calls[0].output, None, "{flow}: nothing stored");
    }
    let ok = run(&host, "map", 3).await;
    assert_eq!(ok.output.as_deref(), Some("3"), "a JSON output completes");
}

#[tokio::test]
async fn a_flow_output_must_be_json_within_the_output_limit() {
    let dir = temp();
    let host = host_with(dir.path(), Policy::default().max_output_bytes(1 << 20));
    let (kind, message) = failure(&run(&host, "flow_bad_output", 0).await);
    assert_eq!(kind, FailureKind::FlowError);
    assert!(message.contains("not valid JSON"), "{message}");
    assert!(!message.contains('\u{1b}'), "{message:?}");

    let fits = run(&host, "flow_huge_output", (1 << 20) - 2).await;
    assert_eq!(fits.status, ExecutionStatus::Completed);
    let (_, message) = failure(&run(&host, "flow_huge_output", 1 << 20).await);
    assert!(message.contains("the limit is 1048576 bytes"), "{message}");
}

#[tokio::test]
async fn error_messages_are_cut_to_the_message_limit() {
    let dir = temp();
    let host = host_with(dir.path(), Policy::default().max_message_bytes(1000));
    let outcome = run(&host, "huge_error", 20 << 20).await;
    let detail = detail(&host, outcome.id).await;
    let error = detail.calls[0].attempts[0]
        .error
        .clone()
        .unwrap_or_default();
    assert!(error.len() < 1100, "{} bytes journaled", error.len());
    assert!(error.ends_with(&format!(
        "({} of {} bytes cut)",
        (20 << 20) - 1000,
        20 << 20
    )));
    let (_, message) = failure(&run(&host, "flow_huge_error", 20 << 20).await);
    assert!(message.len() < 1100, "{} bytes journaled", message.len());

    let short = run(&host, "huge_error", 900).await;
    let detail = cairn_tests::detail(&host, short.id).await;
    let error = detail.calls[0].attempts[0]
        .error
        .clone()
        .unwrap_or_default();
    assert_eq!(
        error,
        "e".repeat(900),
        "a message within the limit is whole"
    );
}

#[tokio::test]
async fn calls_per_execution_are_bounded() {
    let dir = temp();
    let host = host_with(dir.path(), Policy::default().max_calls(300));
    let within = run(&host, "map", 300).await;
    assert_eq!(within.output.as_deref(), Some("300"));
    let forever = run(&host, "calls_forever", 0).await;
    let (kind, message) = failure(&forever);
    assert_eq!(kind, FailureKind::Limit, "{message}");
    assert!(message.contains("300 checkpoint calls"), "{message}");
    assert_eq!(detail(&host, forever.id).await.calls.len(), 300);
    // A limit is not a flow error: resuming runs into it again at once.
    let again = host.resume(forever.id).await.expect("resumes");
    assert_eq!(failure(&again).0, FailureKind::Limit);
}

#[tokio::test]
async fn items_per_map_are_bounded_before_anything_is_journaled() {
    let dir = temp();
    let host = host_with(dir.path(), Policy::default().max_map_items(100));
    assert_eq!(run(&host, "map", 100).await.output.as_deref(), Some("100"));
    let big = run(&host, "map", 2_000_000).await;
    let (kind, message) = failure(&big);
    assert_eq!(kind, FailureKind::Limit);
    assert!(message.contains("2000000 items"), "{message}");
    assert!(detail(&host, big.id).await.calls.is_empty());
}

#[tokio::test]
async fn handles_a_flow_holds_are_bounded() {
    let dir = temp();
    let host = host_with(dir.path(), Policy::default().max_pending(50));
    assert_eq!(run(&host, "hold", 50).await.output.as_deref(), Some("50"));
    let greedy = run(&host, "hold", 5_000).await;
    let (kind, message) = failure(&greedy);
    assert_eq!(kind, FailureKind::Limit, "{message}");
    assert!(message.contains("at most 50 at once"), "{message}");
    assert_eq!(detail(&host, greedy.id).await.calls.len(), 50);
    // Calls the flow is done with do not count: a long sequential flow is
    // fine under a small pending limit.
    assert_eq!(run(&host, "map", 50).await.output.as_deref(), Some("50"));
    let sequential = host_with(
        temp().path(),
        Policy::default().max_pending(2).max_calls(2_000),
    );
    let outcome = run(&sequential, "calls_forever", 0).await;
    assert_eq!(failure(&outcome).0, FailureKind::Limit);
    assert_eq!(detail(&sequential, outcome.id).await.calls.len(), 2_000);
}

#[tokio::test]
async fn waits_per_execution_are_bounded() {
    let dir = temp();
    let host = host_with(dir.path(), Policy::default().max_waits(2));
    let mut outcome = run(&host, "waits", 2).await;
    for name in ["w0", "w1"] {
        assert_eq!(outcome.status, ExecutionStatus::Waiting);
        host.answer(outcome.id, name, "true")
            .await
            .expect("answered");
        outcome = host.resume(outcome.id).await.expect("resumes");
    }
    assert_eq!(
        outcome.output.as_deref(),
        Some("2"),
        "two waits are allowed"
    );

    let mut outcome = run(&host, "waits", 3).await;
    for name in ["w0", "w1"] {
        host.answer(outcome.id, name, "true")
            .await
            .expect("answered");
        outcome = host.resume(outcome.id).await.expect("resumes");
    }
    let (kind, message) = failure(&outcome);
    assert_eq!(kind, FailureKind::Limit);
    assert!(message.contains("more than 2 waits"), "{message}");
}

#[tokio::test]
async fn forged_wait_names_are_refused_at_the_wait_call() {
    let dir = temp();
    let host = host_with(dir.path(), Policy::default());
    for n in 0..3 {
        let outcome = run(&host, "wait_bad_name", n).await;
        let (kind, message) = failure(&outcome);
        assert_eq!(kind, FailureKind::FlowError, "{message}");
        assert!(message.contains("wait name"), "{message}");
        assert!(message.len() < 400, "{} bytes", message.len());
        assert!(!message.contains('\u{1b}'), "{message:?}");
        assert!(
            detail(&host, outcome.id).await.waits.is_empty(),
            "nothing journaled"
        );
    }
}

#[tokio::test]
async fn one_wait_name_cannot_take_a_value_checked_against_another_schema() {
    let dir = temp();
    let host = host_with(dir.path(), Policy::default());
    let waiting = run(&host, "wait_two_schemas", 0).await;
    assert_eq!(waiting.status, ExecutionStatus::Waiting);
    host.answer(waiting.id, "choice", "7")
        .await
        .expect("a number");
    let outcome = host.resume(waiting.id).await.expect("resumes");
    let (kind, message) = failure(&outcome);
    assert_eq!(kind, FailureKind::FlowError);
    assert!(message.contains("another question or schema"), "{message}");
}

#[tokio::test]
async fn a_flow_out_of_memory_is_reported_as_memory() {
    let dir = temp();
    let host = host_with(dir.path(), Policy::default().memory_bytes(64 << 20));
    let (kind, message) = failure(&run(&host, "flow_grow", 0).await);
    assert_eq!(kind, FailureKind::FlowTrapped);
    assert!(message.contains("(memory)"), "{message}");
}

#[tokio::test]
async fn a_memory_limit_below_what_the_component_needs_is_refused_before_running() {
    let needed = Component::from_file(&engine(), guest(guests::ZOO_FORGED))
        .await
        .expect("loads")
        .min_memory_bytes();
    assert!(
        needed > 4 << 20,
        "the forged guest starts with {needed} bytes"
    );
    let dir = temp();
    let host = host_with(dir.path(), Policy::default().memory_bytes(2 << 20));
    let component = forged(&host).await;
    match host.run(&component, "map", r#"{"n": 1}"#).await {
        Err(RunError::MemoryTooSmall {
            needed: n, limit, ..
        }) => {
            assert_eq!((n, limit), (needed, 2 << 20));
        }
        other => panic!("{:?}", other.map(|o| o.status)),
    }
    let listed = host
        .client()
        .executions(&Default::default())
        .await
        .expect("reads");
    assert!(listed.is_empty(), "nothing was journaled");
    let enough = host_with(temp().path(), Policy::default().memory_bytes(needed));
    assert_eq!(run(&enough, "map", 1).await.output.as_deref(), Some("1"));
}

#[tokio::test]
async fn call_ids_stay_unique_and_an_ambiguous_selector_is_refused() {
    let dir = temp();
    let host = host_with(dir.path(), Policy::default());
    let outcome = run(&host, "collide", 0).await;
    assert_eq!(outcome.output.as_deref(), Some("6"));
    let ids: Vec<String> = detail(&host, outcome.id)
        .await
        .calls
        .iter()
        .map(|c| c.call_id.clone())
        .collect();
    assert_eq!(ids, ["step", "step_2", "step_2_2"]);
    let ambiguous = host
        .replay(
            outcome.id,
            ReplayRequest::default().override_output("step_2", "100"),
        )
        .await;
    assert!(
        matches!(
            ambiguous,
            Err(ReplayError::Selector(SelectorError::Ambiguous { .. }))
        ),
        "{ambiguous:?}"
    );
    let replayed = host
        .replay(
            outcome.id,
            ReplayRequest::default().override_output("step_2_2", "100"),
        )
        .await
        .expect("replays");
    assert_eq!(replayed.output.as_deref(), Some("103"));
}

#[tokio::test]
async fn an_artifact_copied_over_another_components_entry_is_not_run() {
    let root = temp();
    let cache = root.path().join("artifacts");
    let engine = Engine::builder()
        .artifact_cache(&cache)
        .build()
        .expect("engine");
    let probe = Component::from_file(&engine, guest(guests::PROBE))
        .await
        .expect("loads");
    let forged = Component::from_file(&engine, guest(guests::ZOO_FORGED))
        .await
        .expect("loads");
    let entry = |c: &Component| {
        std::fs::read_dir(&cache)
            .expect("cache")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().contains(&c.hash().to_hex()))
            .expect("an entry")
    };
    let (probe_entry, forged_entry) = (entry(&probe), entry(&forged));
    std::fs::copy(&forged_entry, &probe_entry).expect("copy over");

    // A new engine, as a later process would have, with the same cache and key.
    let engine = Engine::builder()
        .artifact_cache(&cache)
        .build()
        .expect("engine");
    let reloaded = Component::from_file(&engine, guest(guests::PROBE))
        .await
        .expect("loads");
    assert_eq!(
        reloaded.manifest(),
        probe.manifest(),
        "the probe's own code ran"
    );
    assert_ne!(
        std::fs::read(&probe_entry).expect("read"),
        std::fs::read(&forged_entry).expect("read"),
        "the foreign entry was replaced"
    );
    let key = root.path().join("artifacts.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key)
            .expect("the key sits beside the cache")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // Without the key, nothing in the cache is trusted.
    std::fs::copy(&key, root.path().join("saved.key")).expect("save");
    std::fs::write(&key, [7u8; 32]).expect("another key");
    let other = Engine::builder()
        .artifact_cache(&cache)
        .build()
        .expect("engine");
    let compiled_again = Component::from_file(&other, guest(guests::PROBE))
        .await
        .expect("loads");
    assert_eq!(compiled_again.manifest(), probe.manifest());
}

#[tokio::test]
async fn a_key_others_could_read_or_plant_is_not_used() {
    let root = temp();
    let cache = root.path().join("artifacts");
    let key = root.path().join("artifacts.key");
    let entries = || {
        std::fs::read_dir(&cache)
            .map(|d| d.filter_map(Result::ok).count())
            .unwrap_or(0)
    };
    // Readable by everyone: whoever read it could sign entries.
    std::fs::write(&key, [7u8; 32]).expect("a key");
    let mode: std::fs::Permissions = std::os::unix::fs::PermissionsExt::from_mode(0o644);
    std::fs::set_permissions(&key, mode).expect("chmod");
    let engine = Engine::builder()
        .artifact_cache(&cache)
        .build()
        .expect("engine");
    let probe = Component::from_file(&engine, guest(guests::PROBE))
        .await
        .expect("loads");
    assert_eq!(
        entries(),
        0,
        "nothing is cached under a key others can read"
    );
    // A symlink in the key's place is not followed.
    std::fs::remove_file(&key).expect("remove");
    let elsewhere = root.path().join("elsewhere.key");
    std::fs::write(&elsewhere, [7u8; 32]).expect("a key");
    std::os::unix::fs::symlink(&elsewhere, &key).expect("symlink");
    let engine = Engine::builder()
        .artifact_cache(&cache)
        .build()
        .expect("engine");
    let again = Component::from_file(&engine, guest(guests::PROBE))
        .await
        .expect("loads");
    assert_eq!(entries(), 0, "nothing is cached under a linked key");
    assert_eq!(again.manifest(), probe.manifest());
}

#[tokio::test]
async fn bytes_a_flow_keeps_in_the_host_are_bounded() {
    let dir = temp();
    let host = host_with(dir.path(), Policy::default().max_held_bytes(4 << 20));
    // 100 outputs of 100 kB: 10 MB if every one is kept, 100 kB at a time if not.
    let streamed = run(&host, "stream", 100_000).await;
    assert_eq!(streamed.output.as_deref(), Some("0"));
    let hoarded = run(&host, "hoard", 100_000).await;
    let (kind, message) = failure(&hoarded);
    assert_eq!(kind, FailureKind::Limit, "{message}");
    assert!(message.contains("max_held_bytes"), "{message}");
    let calls = detail(&host, hoarded.id).await.calls.len();
    assert!((30..=50).contains(&calls), "stopped after {calls} calls");
}

#[tokio::test]
async fn a_flow_blocked_outside_runner_requests_is_stopped_at_the_time_limit() {
    let dir = temp();
    let host = host_with(
        dir.path(),
        Policy::default().timeout(std::time::Duration::from_millis(300)),
    );
    let (kind, message) = failure(&run(&host, "sleep_forever", 0).await);
    assert_eq!(kind, FailureKind::FlowTrapped, "{message}");
    assert!(message.contains("(timeout)"), "{message}");
    // A flow waiting on checkpoints far longer than that is not stopped.
    // The limit here is 1 s: it also bounds each stretch of the flows' own
    // code between requests, where a loaded machine may pause them for a
    // while. The probe's `patience` waits in one request for a call that
    // fails three times and retries in place after 240, 480 and 960 ms:
    // 1.68 s at least, by the clock, however fast the machine.
    let limit = std::time::Duration::from_secs(1);
    let dir = temp();
    let policy = cairn_tests::marking_policy(dir.path())
        .timeout(limit)
        .retry_delay(std::time::Duration::from_millis(240));
    let host = host_with(dir.path(), policy);
    let probe = cairn_tests::load(&host, guests::PROBE).await;
    let began = std::time::Instant::now();
    let patient = host
        .run(&probe, "patience", r#"{"tries": 4}"#)
        .await
        .expect("the execution runs");
    let took = began.elapsed();
    assert_eq!(
        (patient.status, patient.output.as_deref()),
        (ExecutionStatus::Completed, Some("5")),
        "{patient:?}"
    );
    assert!(took > limit * 3 / 2, "waited in a request for {took:?}");
    assert_eq!(
        run(&host, "map", 2_000).await.output.as_deref(),
        Some("2000")
    );
    assert_eq!(
        run(&host, "stream", 1_000_000).await.output.as_deref(),
        Some("0")
    );
}

#[tokio::test]
async fn cancel_reaches_a_flow_blocked_anywhere() {
    let dir = temp();
    let host = host_with(dir.path(), Policy::default());
    let component = forged(&host).await;
    let running = {
        let host = host.clone();
        tokio::spawn(async move { host.run(&component, "sleep_forever", r#"{"n": 0}"#).await })
    };
    let id = cairn_host::ExecutionId(1);
    while host.client().execution(id).await.ok().flatten().is_none() {
        tokio::task::yield_now().await;
    }
    host.cancel(id).await.expect("cancels");
    let outcome = running.await.expect("joins").expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Cancelled);
}

#[tokio::test]
async fn a_grant_that_holds_the_journal_or_the_compiled_code_cache_is_refused() {
    let root = temp();
    let cache = root.path().join("cache").join("artifacts");
    let engine = Engine::builder()
        .artifact_cache(&cache)
        .build()
        .expect("engine");
    let open = |grant: &std::path::Path| {
        std::fs::create_dir_all(grant).expect("a folder");
        Host::builder()
            .journal(root.path().join("state").join("journal.redb"))
            .engine(engine.clone())
            .policy(Policy::default().allow_dir(grant, "/data", false))
            .open()
            .map(|_| ())
    };
    // The folder holding the journal, the one holding the cache and its
    // key, and the cache itself: a checkpoint there could rewrite history
    // or sign native code.
    for grant in [
        root.path().join("state"),
        root.path().join("cache"),
        cache.clone(),
        root.path().to_path_buf(),
    ] {
        let refused = open(&grant);
        assert!(
            matches!(&refused, Err(cairn_host::OpenError::Policy(m)) if m.contains("keeps for itself")),
            "{}: {refused:?}",
            grant.display()
        );
    }
    assert!(
        open(&root.path().join("data")).is_ok(),
        "a folder beside them is fine"
    );
}

#[tokio::test]
async fn a_map_whose_entries_all_point_at_one_string_is_measured_not_copied() {
    let dir = temp();
    let host = host_with(dir.path(), Policy::default().max_held_bytes(64 << 20));
    let before = cairn_tests::peak_rss_kib();
    // 4,000 entries of 1 MiB each, all the same bytes: 4 GB if lifted.
    // (wasmtime's own budget for data copied by one host call would trap
    // first, as an unexplained `trap`; the policy's limit says what it is.)
    let (kind, message) = failure(&run(&host, "shared_strings", 0).await);
    let grown_mib = cairn_tests::peak_rss_kib().saturating_sub(before) / 1024;
    assert_eq!(kind, FailureKind::Limit, "{message}");
    assert!(message.contains("max_held_bytes"), "{message}");
    assert!(grown_mib < 1024, "the host grew by {grown_mib} MiB");
}
