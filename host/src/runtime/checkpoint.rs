//! The state of a checkpoint store (inline or isolated) and the `runner`
//! import as a checkpoint sees it: no checkpoint calls, no waits.

use wasmtime::Store;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::attempt_info::AttemptId;
use super::capture::Capture;
use super::http::HttpGate;
use super::limiter::MemoryLimiter;
use super::outcome::{self, AttemptReport, AttemptResult};
use crate::bindings::runner;
use crate::bindings::types::{self, CallError, GuestError, LogLevel};
use crate::call::PendingCall;
use crate::clock::SharedClock;
use crate::engine::Engine;
use crate::guest_text;
use crate::policy::Policy;

/// What a checkpoint store holds.
pub(crate) struct CheckpointState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    gate: HttpGate,
    table: ResourceTable,
    limiter: MemoryLimiter,
    stdout: Capture,
    stderr: Capture,
    clock: SharedClock,
    /// The engine's native stack for WebAssembly, named when it runs out.
    native_stack: usize,
    /// The attempt running now, for the `attempt` import.
    attempt: Option<AttemptId>,
}

impl WasiHttpView for CheckpointState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.gate,
        }
    }
}

impl WasiView for CheckpointState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A new checkpoint store: only the folders and env vars the policy grants,
/// no sockets; stdout and stderr captured; memory limited by the policy (and
/// the engine's maximum).
pub(crate) fn new_store(
    engine: &Engine,
    policy: &Policy,
    clock: &SharedClock,
) -> Store<CheckpointState> {
    let stdout = Capture::new(policy.log_bytes);
    let stderr = Capture::new(policy.log_bytes);
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
    for name in &policy.env {
        // Passed through by name, with the host's value now; an unset
        // variable stays unset for the guest too.
        if let Ok(value) = std::env::var(name) {
            wasi.env(name, value);
        }
    }
    let wasi = wasi.build();
    let state = CheckpointState {
        wasi,
        http: WasiHttpCtx::new(),
        gate: HttpGate::new(&policy.http_hosts),
        table: ResourceTable::new(),
        limiter: MemoryLimiter::new(policy.memory_bytes.min(engine.max_memory_bytes())),
        stdout,
        stderr,
        clock: clock.clone(),
        native_stack: engine.max_wasm_stack(),
        attempt: None,
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
    let limiter = &mut store.data_mut().limiter;
    limiter.hit = false;
    limiter.set_max_bytes(policy.memory_bytes.min(engine.max_memory_bytes()));
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
    let result = outcome::classify(
        call,
        state.limiter.hit,
        state.limiter.max_bytes(),
        &stderr,
        Some(state.native_stack),
    );
    let bounded = |message| guest_text::bounded(message, policy.max_message_bytes);
    let result = match result {
        AttemptResult::Output(output) => {
            match guest_text::check_output(&output, policy.max_output_bytes) {
                Ok(()) => AttemptResult::Output(output),
                Err(reason) => AttemptResult::Failed(format!("the output {reason}")),
            }
        }
        AttemptResult::Failed(message) => AttemptResult::Failed(bounded(message)),
        AttemptResult::Trapped(kind, message) => AttemptResult::Trapped(kind, bounded(message)),
    };
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

    async fn call(
        &mut self,
        name: String,
        _input_json: String,
    ) -> wasmtime::Result<Result<String, CallError>> {
        Ok(Err(CallError::Context(format!(
            "checkpoint `{name}` was called from inside a checkpoint; only flows call checkpoints"
        ))))
    }

    async fn call_map(
        &mut self,
        name: String,
        _inputs: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<Result<String, CallError>>, CallError>> {
        Ok(Err(CallError::Context(format!(
            "a map of checkpoint `{name}` was called from inside a checkpoint; only flows call checkpoints"
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
        self.stderr.append_line(level_name(level), &message);
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

/// How long an attempt may stay blocked in a host call (a sleep, a read)
/// past its time limit. Epoch interruption only stops running WebAssembly,
/// so the host bounds the whole attempt too.
const HOST_CALL_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs `attempt` under the policy's wall-clock limit plus a grace for the
/// epoch to act; `None` if it had to be cut off while blocked in the host.
pub(crate) async fn bounded<T>(policy: &Policy, attempt: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(policy.timeout.saturating_add(HOST_CALL_GRACE), attempt)
        .await
        .ok()
}

/// The report of an attempt cut off while blocked in a host call.
pub(crate) fn blocked(policy: &Policy, stdout: Vec<u8>, stderr: Vec<u8>) -> AttemptReport {
    AttemptReport {
        result: AttemptResult::Trapped(
            crate::model::TrapKind::Timeout,
            format!(
                "blocked in a host call past its time limit of {:?}",
                policy.timeout
            ),
        ),
        fuel_used: 0,
        stdout,
        stderr,
    }
}

impl CheckpointState {
    /// The attempt running now, if the store runs one.
    pub(crate) fn attempt(&self) -> Option<&AttemptId> {
        self.attempt.as_ref()
    }

    /// Names the attempt the store runs next.
    pub(crate) fn set_attempt(&mut self, attempt: AttemptId) {
        self.attempt = Some(attempt);
    }

    /// The most linear memory the store has held so far, in bytes.
    pub(crate) fn memory_peak(&self) -> u64 {
        self.limiter.peak as u64
    }

    /// Output captured so far (for an attempt that was cut off).
    pub(crate) fn take_output(&self) -> (Vec<u8>, Vec<u8>) {
        (self.stdout.take(), self.stderr.take())
    }
}
