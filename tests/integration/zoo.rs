//! The hostile guest zoo: one component per behaviour (`tests/zoo/`), each
//! with the exact outcome it must get. In every case the host survives, the
//! attempt is recorded with the right kind, and the next run works. Limits
//! come in obeyed/violated pairs where a pair says more than one run.

use std::path::Path;
use std::time::Duration;

use crate::guests;
use cairn_host::{
    Component, Engine, ExecutionDetail, ExecutionStatus, Host, LoadError, Outcome, Policy, TrapKind,
};
use cairn_tests::{Guest, artifact_dir, chain, engine, guest, temp};

#[path = "forged.rs"]
mod forged;

/// A hostile run: its outcome, what the journal says, and proof that the
/// host still works afterwards.
async fn run(policy: Policy, zoo: Guest, input: &str) -> (Outcome, ExecutionDetail) {
    let dir = temp();
    let host = Host::builder()
        .journal(dir.path().join("journal.redb"))
        .engine(engine())
        .policy(policy)
        .open()
        .expect("opens");
    let component = host.load_file(zoo.path()).await.expect("loads");
    let outcome = host
        .run(&component, "run", input)
        .await
        .expect("the execution runs");
    let detail = cairn_tests::detail(&host, outcome.id).await;
    if outcome.status == ExecutionStatus::Failed {
        assert_eq!(detail.calls.len(), 1, "nothing runs after the failure");
    }
    // The engine and the journal are unharmed: the next run works (under
    // the default policy, since `policy` may be tight on purpose).
    let next_host = Host::builder()
        .in_memory()
        .engine(engine())
        .open()
        .expect("opens");
    let probe = next_host
        .load_file(guest(guests::PROBE))
        .await
        .expect("loads");
    let next = next_host
        .run(&probe, "sum", r#"{"a": 1, "b": 2}"#)
        .await
        .expect("runs");
    assert_eq!(next.output.as_deref(), Some("5"), "the host keeps working");
    let again = host
        .run(&component, "run", input)
        .await
        .expect("the journal still takes executions");
    assert_eq!(again.status, outcome.status);
    (outcome, detail)
}

/// The first call's only attempt: its status, trap kind and message.
fn attempt(detail: &ExecutionDetail) -> (&str, Option<TrapKind>, String) {
    let a = &detail.calls[0].attempts[0];
    (
        a.status.as_str(),
        a.trap,
        a.error.clone().unwrap_or_default(),
    )
}

async fn trapped(policy: Policy, zoo: Guest) -> (TrapKind, String) {
    let (outcome, detail) = run(policy, zoo, "{}").await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    let (status, kind, message) = attempt(&detail);
    assert_eq!(status, "trapped", "{message}");
    (kind.expect("a trap kind"), message)
}

async fn failed(policy: Policy, zoo: Guest) -> String {
    let (outcome, detail) = run(policy, zoo, "{}").await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    let (status, _, message) = attempt(&detail);
    assert_eq!(status, "failed", "{message}");
    message
}

async fn load_error(path: &Path) -> LoadError {
    match Component::from_file(&engine(), path).await {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e,
    }
}

fn data_dir(root: &Path) -> std::path::PathBuf {
    let data = root.join("data");
    std::fs::create_dir_all(&data).expect("data folder");
    std::fs::write(data.join("inside.txt"), b"fine").expect("a file");
    data
}

// ---- compute -------------------------------------------------------------

#[tokio::test]
async fn an_infinite_loop_runs_out_of_fuel_or_time() {
    let (kind, message) = trapped(Policy::default().fuel(50_000_000), guests::ZOO_SPIN).await;
    assert_eq!(
        (kind, message.as_str()),
        (TrapKind::OutOfFuel, "ran out of fuel")
    );
    let roomy = Policy::default()
        .fuel(u64::MAX / 4)
        .timeout(Duration::from_millis(200));
    let (kind, message) = trapped(roomy, guests::ZOO_SPIN).await;
    assert_eq!(
        (kind, message.as_str()),
        (TrapKind::Timeout, "ran past its time limit")
    );
}

#[tokio::test]
async fn an_infinite_loop_at_start_up_is_refused_at_load() {
    let error = load_error(&guest(guests::ZOO_STARTUP_LOOP)).await;
    assert!(
        matches!(&error, LoadError::BadManifest(m) if m == "`describe` trapped (out_of_fuel): ran out of fuel"),
        "{error}"
    );
}

#[tokio::test]
async fn endless_bulk_memory_fills_are_stopped_by_the_clock() {
    let policy = Policy::default()
        .fuel(u64::MAX / 4)
        .timeout(Duration::from_millis(300));
    let (kind, _) = trapped(policy, guests::ZOO_BULK_FILL).await;
    assert_eq!(kind, TrapKind::Timeout);
}

#[tokio::test]
async fn unbounded_recursion_traps_on_its_stack() {
    let (kind, message) = trapped(Policy::default(), guests::ZOO_RECURSION).await;
    // Rust keeps its stack in linear memory below the data: overflowing it
    // leaves memory, which wasmtime reports as an out-of-bounds access.
    assert_eq!(
        (kind, message.as_str()),
        (TrapKind::Trap, "wasm trap: out of bounds memory access")
    );
}

#[tokio::test]
async fn threads_are_not_available() {
    let (kind, message) = trapped(Policy::default(), guests::ZOO_THREADS).await;
    assert_eq!(kind, TrapKind::Trap);
    assert!(
        message.starts_with("panicked: failed to spawn thread"),
        "{message}"
    );
}

#[tokio::test]
async fn a_checkpoint_may_tighten_its_fuel_but_not_widen_it() {
    let (outcome, detail) = run(Policy::default(), guests::ZOO_TIGHTENED, r#"{"n": 1000}"#).await;
    assert_eq!(outcome.status, ExecutionStatus::Completed);
    let policy = detail.calls[0].attempts[0]
        .policy
        .clone()
        .expect("recorded");
    assert_eq!(
        policy.fuel, 1_000_000,
        "the checkpoint's own limit is in force and recorded"
    );
    let (outcome, detail) = run(
        Policy::default(),
        guests::ZOO_TIGHTENED,
        r#"{"n": 100000000}"#,
    )
    .await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(attempt(&detail).1, Some(TrapKind::OutOfFuel));
    let (_, detail) = run(
        Policy::default().fuel(1_000),
        guests::ZOO_TIGHTENED,
        r#"{"n": 1000}"#,
    )
    .await;
    assert_eq!(
        detail.calls[0].attempts[0].policy.as_ref().map(|p| p.fuel),
        Some(1_000),
        "never widened"
    );
}

// ---- memory and output ----------------------------------------------------

#[tokio::test]
async fn a_memory_bomb_hits_the_memory_limit() {
    let (kind, message) = trapped(
        Policy::default().memory_bytes(64 << 20),
        guests::ZOO_MEMORY_BOMB,
    )
    .await;
    assert_eq!(kind, TrapKind::Memory);
    assert_eq!(
        message,
        "tried to grow its memory past the limit of 67108864 bytes"
    );
}

#[tokio::test]
async fn a_huge_table_is_refused_at_load() {
    let error = load_error(&guest(guests::ZOO_HUGE_TABLE)).await;
    let message = chain(&error);
    assert!(
        message.contains("minimum element size of 20000086 which exceeds the limit"),
        "{message}"
    );
}

#[tokio::test]
async fn a_huge_output_fails_the_attempt_unless_the_policy_allows_it() {
    let message = failed(Policy::default(), guests::ZOO_HUGE_OUTPUT).await;
    assert_eq!(
        message,
        "the output is 33554434 bytes; the limit is 16777216 bytes"
    );
    let (outcome, _) = run(
        Policy::default().max_output_bytes(64 << 20),
        guests::ZOO_HUGE_OUTPUT,
        "{}",
    )
    .await;
    assert_eq!(outcome.status, ExecutionStatus::Completed);
}

#[tokio::test]
async fn a_log_flood_is_capped_and_says_how_much_was_dropped() {
    let (outcome, detail) = run(
        Policy::default().log_bytes(4096),
        guests::ZOO_LOG_FLOOD,
        "{}",
    )
    .await;
    assert_eq!(outcome.output.as_deref(), Some("7"));
    for stream in [
        &detail.calls[0].attempts[0].stdout,
        &detail.calls[0].attempts[0].stderr,
    ] {
        assert!(stream.len() < 4096 + 100, "{} bytes kept", stream.len());
        assert!(
            stream.contains("more bytes dropped; the cap is 4096 bytes"),
            "{}",
            &stream[stream.len() - 80..]
        );
    }
}

#[tokio::test]
async fn data_left_by_an_earlier_isolated_call_is_gone() {
    let (outcome, _) = run(Policy::default(), guests::ZOO_LEFTOVER, "{}").await;
    assert_eq!(
        outcome.output.as_deref(),
        Some(r#""""#),
        "the second store never saw the secret"
    );
}

// ---- traps ---------------------------------------------------------------

#[tokio::test]
async fn a_panic_is_a_trap_with_its_message() {
    let (kind, message) = trapped(Policy::default(), guests::ZOO_PANIC).await;
    assert_eq!(kind, TrapKind::Trap);
    assert!(
        message.starts_with("panicked: the guest gave up at tests/zoo/panic/src/lib.rs"),
        "{message}"
    );
}

#[tokio::test]
async fn unreachable_is_a_trap() {
    let (kind, message) = trapped(Policy::default(), guests::ZOO_UNREACHABLE).await;
    assert_eq!(
        (kind, message.as_str()),
        (
            TrapKind::Trap,
            "wasm trap: wasm `unreachable` instruction executed"
        )
    );
}

#[tokio::test]
async fn a_read_outside_memory_is_a_trap() {
    let (kind, message) = trapped(Policy::default(), guests::ZOO_OOB).await;
    assert_eq!(
        (kind, message.as_str()),
        (TrapKind::Trap, "wasm trap: out of bounds memory access")
    );
}

#[tokio::test]
async fn exiting_the_process_only_ends_the_attempt() {
    let (kind, message) = trapped(Policy::default(), guests::ZOO_EXIT).await;
    // WASI p2 only tells success from failure, so code 3 arrives as 1.
    assert_eq!(
        (kind, message.as_str()),
        (TrapKind::Trap, "exited with code 1")
    );
}

// ---- files, env, network, time --------------------------------------------

#[tokio::test]
async fn reading_outside_the_granted_folder_fails() {
    let root = temp();
    let policy = Policy::default().allow_dir(data_dir(root.path()), "/data", true);
    assert_eq!(
        failed(policy, guests::ZOO_READ_OUTSIDE).await,
        "No such file or directory (os error 44)"
    );
}

#[tokio::test]
async fn dot_dot_cannot_climb_out_of_the_granted_folder() {
    let root = temp();
    let policy = Policy::default().allow_dir(data_dir(root.path()), "/data", true);
    assert_eq!(
        failed(policy, guests::ZOO_DOTDOT).await,
        "Operation not permitted (os error 63)"
    );
}

#[tokio::test]
async fn a_symlink_in_the_granted_folder_cannot_point_out_of_it() {
    let root = temp();
    let data = data_dir(root.path());
    std::os::unix::fs::symlink("/etc", data.join("escape")).expect("symlink");
    let policy = Policy::default().allow_dir(&data, "/data", true);
    assert_eq!(
        failed(policy, guests::ZOO_SYMLINK).await,
        "Operation not permitted (os error 63)"
    );
}

#[tokio::test]
async fn a_read_only_folder_cannot_be_written_and_a_read_write_one_can() {
    let root = temp();
    let data = data_dir(root.path());
    let read_only = Policy::default().allow_dir(&data, "/data", true);
    assert_eq!(
        failed(read_only, guests::ZOO_WRITE_RO).await,
        "Operation not permitted (os error 63)"
    );
    assert!(!data.join("planted.txt").exists());
    let read_write = Policy::default().allow_dir(&data, "/data", false);
    let (outcome, _) = run(read_write, guests::ZOO_WRITE_RO, "{}").await;
    assert_eq!(outcome.output.as_deref(), Some(r#""written""#));
    assert_eq!(
        std::fs::read(data.join("planted.txt")).expect("written"),
        b"planted"
    );
}

#[tokio::test]
async fn environment_variables_are_only_seen_when_passed_through_by_name() {
    let (hidden, _) = run(Policy::default(), guests::ZOO_ENV, "{}").await;
    assert_eq!(hidden.output.as_deref(), Some("[null,null]"));
    let (shown, _) = run(
        Policy::default().allow_env("CARGO_PKG_NAME"),
        guests::ZOO_ENV,
        "{}",
    )
    .await;
    assert_eq!(
        shown.output.as_deref(),
        Some(r#"[null,"cairn-tests"]"#),
        "only the named variable"
    );
}

#[tokio::test]
async fn sockets_are_off_and_no_connection_is_made() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("address").to_string();
    let input = serde_json::json!({ "addr": addr }).to_string();
    let (outcome, detail) = run(Policy::default(), guests::ZOO_SOCKET, &input).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    let (status, _, message) = attempt(&detail);
    assert_eq!(status, "failed");
    assert!(
        message.contains("ermission denied") || message.contains("not permitted"),
        "{message}"
    );
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the guest reached the listener: {other:?}"),
    }
}

#[tokio::test]
async fn a_sleep_blocked_in_a_host_call_is_cut_off_at_the_time_limit() {
    let started = std::time::Instant::now();
    let (kind, message) = trapped(
        Policy::default().timeout(Duration::from_millis(300)),
        guests::ZOO_SLEEP,
    )
    .await;
    assert_eq!(kind, TrapKind::Timeout);
    assert_eq!(
        message,
        "blocked in a host call past its time limit of 300ms"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the 30 s sleep did not run out"
    );
}

#[tokio::test]
async fn flows_see_no_files_whatever_checkpoints_are_granted() {
    let root = temp();
    let policy = Policy::default().allow_dir(data_dir(root.path()), "/data", true);
    let (outcome, _) = run(policy, guests::ZOO_FLOW_FILES, "{}").await;
    assert_eq!(
        outcome.output.as_deref(),
        Some(r#""denied: No such file or directory (os error 44)""#)
    );
}

#[tokio::test]
async fn flows_see_no_environment_whatever_checkpoints_are_granted() {
    let (outcome, _) = run(
        Policy::default().allow_env("CARGO_PKG_NAME"),
        guests::ZOO_FLOW_ENV,
        "{}",
    )
    .await;
    assert_eq!(
        outcome.output.as_deref(),
        Some(r#"[null,"cairn-tests"]"#),
        "the flow saw nothing, the checkpoint did"
    );
}

#[tokio::test]
async fn the_policy_in_force_is_recorded_with_each_attempt() {
    let root = temp();
    let data = data_dir(root.path());
    let policy = Policy::default()
        .allow_dir(&data, "/data", true)
        .allow_env("CARGO_PKG_NAME")
        .fuel(123_456_789);
    let (_, detail) = run(policy, guests::ZOO_ENV, "{}").await;
    let recorded = detail.calls[0].attempts[0]
        .policy
        .clone()
        .expect("recorded");
    assert_eq!(recorded.fuel, 123_456_789);
    assert_eq!(recorded.dirs, [format!("{}:/data:ro", data.display())]);
    assert_eq!(recorded.env, ["CARGO_PKG_NAME"]);
}

// ---- bad components --------------------------------------------------------

#[tokio::test]
async fn a_malformed_file_is_refused_before_anything_runs() {
    let root = temp();
    let path = root.path().join("garbage.wasm");
    std::fs::write(&path, b"\0asm\x0d\0\x01\0garbage").expect("write");
    assert!(matches!(load_error(&path).await, LoadError::Invalid(_)));
}

#[tokio::test]
async fn a_core_module_is_refused_with_a_hint() {
    let root = temp();
    let path = root.path().join("core.wasm");
    std::fs::write(&path, b"\0asm\x01\0\0\0").expect("write");
    let error = load_error(&path).await;
    assert!(
        error
            .to_string()
            .contains("core WebAssembly module, not a component"),
        "{error}"
    );
}

#[tokio::test]
async fn a_component_of_another_world_is_refused() {
    let error = load_error(&guest(guests::ZOO_OTHER_WORLD)).await;
    assert!(
        matches!(&error, LoadError::NotACairnComponent(_))
            && chain(&error).contains("cairn:checkpoint/guest"),
        "{error}"
    );
}

#[tokio::test]
async fn a_component_with_imports_cairn_does_not_provide_is_refused() {
    let error = load_error(&guest(guests::ZOO_UNKNOWN_IMPORT)).await;
    assert!(
        matches!(&error, LoadError::UnsupportedImports(_))
            && chain(&error).contains("acme:zoo/vault"),
        "{error}"
    );
}

#[tokio::test]
async fn a_tampered_artifact_cache_entry_is_compiled_again_not_run() {
    let cache = temp();
    let engine = Engine::builder()
        .artifact_cache(cache.path())
        .build()
        .expect("engine");
    let probe = guest(guests::PROBE);
    drop(
        Component::from_file(&engine, &probe)
            .await
            .expect("compiles"),
    );
    let entry = std::fs::read_dir(cache.path())
        .expect("cache")
        .filter_map(Result::ok)
        .find(|entry| entry.path().extension().is_some_and(|e| e == "cwasm"))
        .expect("an entry");
    let mut bytes = std::fs::read(entry.path()).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(entry.path(), &bytes).expect("tamper");

    let component = Component::from_file(&engine, &probe)
        .await
        .expect("compiled again");
    let host = Host::builder()
        .in_memory()
        .engine(engine)
        .open()
        .expect("opens");
    let outcome = host
        .run(&component, "sum", r#"{"a": 1, "b": 2}"#)
        .await
        .expect("runs");
    assert_eq!(outcome.output.as_deref(), Some("5"));
    assert_ne!(
        std::fs::read(entry.path()).expect("read"),
        bytes,
        "the damaged entry was replaced"
    );
    let _ = artifact_dir();
}

/// A loopback HTTP server that answers `200 OK` and counts connections.
fn http_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    let addr = listener.local_addr().expect("address").to_string();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { continue };
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (addr, connections)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_reaches_only_the_hosts_the_policy_allows() {
    let (addr, connections) = http_server();
    let input = serde_json::json!({ "authority": addr }).to_string();
    let (outcome, detail) = run(
        Policy::default().allow_http("api.example.com"),
        guests::ZOO_HTTP,
        &input,
    )
    .await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    let (status, _, message) = attempt(&detail);
    assert_eq!(
        (status, message.as_str()),
        ("failed", "ErrorCode::HttpRequestDenied")
    );
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no connection was made"
    );

    let (outcome, detail) = run(
        Policy::default().allow_http(addr.clone()),
        guests::ZOO_HTTP,
        &input,
    )
    .await;
    assert_eq!(
        outcome.output.as_deref(),
        Some("200"),
        "{:?}",
        attempt(&detail)
    );
    assert!(
        connections.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the allowed request went through"
    );
    let recorded = detail.calls[0].attempts[0]
        .policy
        .clone()
        .expect("recorded");
    assert_eq!(recorded.http, [addr]);
}
