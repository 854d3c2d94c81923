//! The state of a checkpoint store (inline or isolated) and the `runner`
//! import as a checkpoint sees it: no checkpoint calls, no waits.

use wasmtime::Store;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use super::capture::Capture;
use super::limiter::MemoryLimiter;
use super::outcome::{self, AttemptReport};
use super::pending::PendingCall;
use crate::bindings::runner;
use crate::bindings::types::{self, CallError, GuestError, LogLevel};
use crate::clock::SharedClock;
use crate::engine::Engine;
use crate::policy::Policy;

/// What a checkpoint store holds.
pub(crate) struct CheckpointState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    stdout: Capture,
    stderr: Capture,
    clock: SharedClock,
}

impl WasiView for CheckpointState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A new checkpoint store: no files, no env, no network; stdout and stderr
/// captured; memory limited by the policy (and the engine's maximum).
pub(crate) fn new_store(
    engine: &Engine,
    policy: &Policy,
    clock: &SharedClock,
) -> Store<CheckpointState> {
    let stdout = Capture::new(policy.output_bytes);
    let stderr = Capture::new(policy.output_bytes);
    let mut wasi = WasiCtx::builder();
    wasi.stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    for dir in &policy.dirs {
        let perms = if dir.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        // The host checked the folder when the policy was set; if it has gone
        // since, the guest finds no such folder and fails on its own terms.
        if let Err(e) = wasi.preopened_dir(&dir.host, &dir.guest, perms) {
            tracing::warn!(dir = %dir.host.display(), error = %e, "cannot grant a folder");
        }
    }
    let wasi = wasi.build();
    let state = CheckpointState {
        wasi,
        table: ResourceTable::new(),
        limiter: MemoryLimiter::new(policy.memory_bytes.min(engine.max_memory_bytes())),
        stdout,
        stderr,
        clock: clock.clone(),
    };
    let mut store = Store::new(engine.wasm(), state);
    store.limiter(|s| &mut s.limiter);
    store
}

/// Gives the store a full budget for the next attempt: fuel and a deadline.
pub(crate) fn arm(store: &mut Store<CheckpointState>, engine: &Engine, policy: &Policy) {
    // A fresh store always accepts fuel; the error case is a store without
    // fuel metering, which this engine never makes.
    let _ = store.set_fuel(policy.fuel);
    store.set_epoch_deadline(engine.ticks_for(policy.timeout));
    store.data_mut().limiter.hit = false;
}

/// Reads the attempt's result and leftovers out of the store.
pub(crate) fn finish(
    store: &mut Store<CheckpointState>,
    policy: &Policy,
    call: wasmtime::Result<Result<String, GuestError>>,
) -> AttemptReport {
    let fuel_used = policy.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
    let state = store.data();
    let stdout = state.stdout.take();
    let stderr = state.stderr.take();
    let result = outcome::classify(call, state.limiter.hit, state.limiter.max_bytes(), &stderr);
    AttemptReport {
        result,
        fuel_used,
        stdout,
        stderr,
    }
}

impl types::Host for CheckpointState {}

impl runner::Host for CheckpointState {
    async fn submit(
        &mut self,
        name: String,
        _input_json: String,
    ) -> wasmtime::Result<Result<Resource<PendingCall>, CallError>> {
        Ok(Err(CallError::Context(format!(
            "checkpoint `{name}` was called from inside a checkpoint; only flows call checkpoints"
        ))))
    }

    async fn submit_map(
        &mut self,
        name: String,
        _inputs: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<Resource<PendingCall>>, CallError>> {
        Ok(Err(CallError::Context(format!(
            "a map of checkpoint `{name}` was submitted from inside a checkpoint; only flows call checkpoints"
        ))))
    }

    async fn wait(
        &mut self,
        name: String,
        _question: String,
        _schema_json: String,
    ) -> wasmtime::Result<Result<String, CallError>> {
        Ok(Err(CallError::Context(format!(
            "wait `{name}` was called from inside a checkpoint; only flows wait"
        ))))
    }

    async fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        // Log lines go with the attempt's stderr, so they are capped with it.
        self.stderr
            .append(format!("[{}] {message}\n", level_name(level)).as_bytes());
        Ok(())
    }

    async fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(self.clock.now_us() / 1000)
    }

    async fn random(&mut self) -> wasmtime::Result<u64> {
        // Checkpoints are not replayed, so they get real randomness.
        use wasmtime_wasi::Rng;
        Ok(wasmtime_wasi::thread_rng().next_u64())
    }
}

impl runner::HostPending for CheckpointState {
    async fn result(
        &mut self,
        pending: Resource<PendingCall>,
    ) -> wasmtime::Result<Result<String, CallError>> {
        // A checkpoint can never obtain a handle (submit refuses), so this is
        // a forged handle: the table lookup fails and the guest traps.
        self.table.get(&pending)?;
        Err(wasmtime::Error::msg("a checkpoint cannot wait for a call"))
    }

    async fn drop(&mut self, pending: Resource<PendingCall>) -> wasmtime::Result<()> {
        self.table.delete(pending)?;
        Ok(())
    }
}

pub(crate) fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}
