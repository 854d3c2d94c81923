//! The flow store: the state a guest flow's store holds, its deterministic
//! WASI, and the linker that gives it the `runner` import through which the
//! flow makes its execution's calls (see [`runner_import`] and
//! [`map_imports`]). The two import files are the guest flow's boundary:
//! the WIT's generated types are converted there and nowhere else in the
//! runner.

mod children_import;
mod map_imports;
mod runner_import;
mod timers_import;

use std::time::Duration;

use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::execution::Execution;
use crate::bindings;
use crate::component::Component;
use crate::engine::Engine;
use crate::runtime::capture::Capture;
use crate::runtime::deterministic::{FixedWallClock, FrozenMonotonicClock, SeededRandom};
use crate::runtime::flow_activity::FlowActivity;
use crate::runtime::http::HttpGate;
use crate::runtime::limiter::MemoryLimiter;

/// What a flow store holds: its deterministic WASI and the execution whose
/// calls it makes.
pub(crate) struct FlowState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    gate: HttpGate,
    table: ResourceTable,
    stdout: Capture,
    stderr: Capture,
    limiter: MemoryLimiter,
    /// When the flow last asked the runner for something.
    activity: FlowActivity,
    /// The component the flow belongs to, whose checkpoints it calls.
    component: Component,
    pub(super) execution: Execution,
}

/// A component whose checkpoints use HTTP imports `wasi:http` in its flows'
/// store too; there, every request is refused.
impl WasiHttpView for FlowState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.gate,
        }
    }
}

impl WasiView for FlowState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl FlowState {
    /// The flow's stdout and stderr so far (capped like a checkpoint's).
    pub(super) fn take_output(&self) -> (Vec<u8>, Vec<u8>) {
        (self.stdout.take(), self.stderr.take())
    }

    /// Watches the time the flow's own code takes between runner requests.
    pub(super) fn activity(&self) -> FlowActivity {
        self.activity.clone()
    }

    /// Whether the flow's memory limit refused a growth, and the limit: a
    /// flow out of memory traps like a panic, and this tells them apart.
    pub(super) fn memory_hit(&self) -> (bool, usize) {
        (self.limiter.hit, self.limiter.max_bytes())
    }
}

/// The linker of flow stores: the same imports a checkpoint store has (so a
/// component that loads has every import its flows need), with the `runner`
/// import that journals calls.
pub(super) fn linker(engine: &Engine) -> wasmtime::Result<Linker<FlowState>> {
    let mut linker = Linker::<FlowState>::new(engine.wasm());
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    bindings::Component::add_to_linker::<_, HasSelf<FlowState>>(&mut linker, |s| s)?;
    map_imports::define(&mut linker)?;
    Ok(linker)
}

/// A new flow store for `execution`: no files, env or network whatever the
/// policy; time and randomness from the journal; fuel for the flow's own code.
pub(super) fn new_store(
    engine: &Engine,
    component: Component,
    execution: Execution,
) -> Store<FlowState> {
    let record = execution.record();
    let seed = record.seed;
    let started = Duration::from_micros(record.created_at_us);
    let output_bytes = execution.policy().log_bytes;
    let flow_fuel = execution.policy().flow_fuel;
    let limiter = MemoryLimiter::new(
        execution
            .policy()
            .memory_bytes
            .min(engine.max_memory_bytes()),
    );
    let stdout = Capture::new(output_bytes);
    let stderr = Capture::new(output_bytes);
    let wasi = WasiCtx::builder()
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .wall_clock(FixedWallClock {
            since_epoch: started,
        })
        .monotonic_clock(FrozenMonotonicClock)
        .secure_random(SeededRandom::new(seed, "secure"))
        .insecure_random(SeededRandom::new(seed, "insecure"))
        .insecure_random_seed(u128::from(seed))
        .build();
    let mut store = Store::new(
        engine.wasm(),
        FlowState {
            wasi,
            http: WasiHttpCtx::new(),
            gate: HttpGate::closed(),
            table: ResourceTable::new(),
            stdout,
            stderr,
            limiter,
            activity: FlowActivity::new(),
            component,
            execution,
        },
    );
    store.limiter(|s| &mut s.limiter);
    let _ = store.set_fuel(flow_fuel);
    // A flow spends most of its life waiting for checkpoints, so it has no
    // wall-clock deadline; fuel bounds its own work.
    store.set_epoch_deadline(u64::MAX / 2);
    store
}
