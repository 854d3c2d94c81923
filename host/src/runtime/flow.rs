//! The state of a flow store and the `runner` import as a flow sees it:
//! checkpoint calls go to the execution's journaled call logic, and the flow's
//! WASI is deterministic.

use std::time::Duration;

use wasmtime::Store;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::capture::Capture;
use super::checkpoint::level_name;
use super::deterministic::{FixedWallClock, FrozenMonotonicClock, SeededRandom};
use super::flow_activity::FlowActivity;
use super::http::HttpGate;
use super::limiter::MemoryLimiter;
use super::pending::PendingCall;
use crate::bindings::runner;
use crate::bindings::types::{self, CallError, LogLevel};
use crate::component::Component;
use crate::engine::Engine;
use crate::runner::execution::{Abort, Execution};
use crate::runner::slot::{CallOutcome, CallSlot};

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
    pub(crate) execution: Execution,
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
    pub(crate) fn take_output(&self) -> (Vec<u8>, Vec<u8>) {
        (self.stdout.take(), self.stderr.take())
    }

    /// Watches the time the flow's own code takes between runner requests.
    pub(crate) fn activity(&self) -> FlowActivity {
        self.activity.clone()
    }

    /// Whether the flow's memory limit refused a growth, and the limit: a
    /// flow out of memory traps like a panic, and this tells them apart.
    pub(crate) fn memory_hit(&self) -> (bool, usize) {
        (self.limiter.hit, self.limiter.max_bytes())
    }
}

/// A new flow store for `execution`: no files, env or network whatever the
/// policy; time and randomness from the journal; fuel for the flow's own code.
pub(crate) fn new_store(
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

impl types::Host for FlowState {}

impl runner::Host for FlowState {
    async fn submit(
        &mut self,
        name: String,
        input_json: String,
    ) -> wasmtime::Result<Result<Resource<PendingCall>, CallError>> {
        let _request = self.activity.request();
        // An `Err` here is a host failure or non-determinism: it traps the
        // flow, and the runner reports it as such.
        match self
            .execution
            .submit(&self.component, &name, &input_json)
            .map_err(wasmtime::Error::new)?
        {
            Err(refused) => Ok(Err(refused)),
            Ok(slot) => Ok(Ok(self.table.push(PendingCall(slot))?)),
        }
    }

    async fn submit_map(
        &mut self,
        name: String,
        inputs: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<Resource<PendingCall>>, CallError>> {
        let _request = self.activity.request();
        match self
            .execution
            .submit_map(&self.component, &name, &inputs)
            .map_err(wasmtime::Error::new)?
        {
            Err(refused) => Ok(Err(refused)),
            Ok(slots) => {
                let mut handles = Vec::with_capacity(slots.len());
                for slot in slots {
                    handles.push(self.table.push(PendingCall(slot))?);
                }
                Ok(Ok(handles))
            }
        }
    }

    async fn call(
        &mut self,
        name: String,
        input_json: String,
    ) -> wasmtime::Result<Result<String, CallError>> {
        let _request = self.activity.request();
        let slot = match self
            .execution
            .submit(&self.component, &name, &input_json)
            .map_err(wasmtime::Error::new)?
        {
            Err(refused) => return Ok(Err(refused)),
            Ok(slot) => slot,
        };
        let result = result_of(&slot, &self.execution).await;
        // The output now goes to the flow; the host keeps no other use of it.
        slot.release();
        result
    }

    async fn call_map(
        &mut self,
        name: String,
        inputs: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<Result<String, CallError>>, CallError>> {
        let _request = self.activity.request();
        let slots = match self
            .execution
            .submit_map(&self.component, &name, &inputs)
            .map_err(wasmtime::Error::new)?
        {
            Err(refused) => return Ok(Err(refused)),
            Ok(slots) => slots,
        };
        let cancel = self.execution.cancel_token();
        // Every item is waited for, as a flow awaiting each handle would;
        // a flow waiting on a long map still stops when it is cancelled.
        let waited = async {
            let mut results = Vec::with_capacity(slots.len());
            for slot in &slots {
                match slot.result().await {
                    CallOutcome::Finished(outcome) => results.push(outcome),
                    CallOutcome::Aborted(abort) => return Err(abort),
                }
            }
            Ok(results)
        };
        let results = tokio::select! {
            results = waited => results,
            () = cancel.cancelled() => Err(Abort::Cancelled),
        };
        // The outputs count against the execution until every item is in,
        // then they go to the flow.
        slots.iter().for_each(|slot| slot.release());
        results.map(Ok).map_err(wasmtime::Error::new)
    }

    async fn wait(
        &mut self,
        name: String,
        question: String,
        schema_json: String,
    ) -> wasmtime::Result<Result<String, CallError>> {
        let _request = self.activity.request();
        // Suspending is an `Err`: it stops the flow, and the runner records
        // the execution as waiting.
        self.execution
            .wait(&name, &question, &schema_json)
            .await
            .map_err(wasmtime::Error::new)
    }

    async fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        let _request = self.activity.request();
        self.stderr.append_line(level_name(level), &message);
        Ok(())
    }

    async fn now(&mut self) -> wasmtime::Result<u64> {
        let _request = self.activity.request();
        Ok(self.execution.now_us().map_err(wasmtime::Error::new)? / 1000)
    }

    async fn random(&mut self) -> wasmtime::Result<u64> {
        let _request = self.activity.request();
        Ok(self.execution.random())
    }
}

impl runner::HostPending for FlowState {
    async fn result(
        &mut self,
        pending: Resource<PendingCall>,
    ) -> wasmtime::Result<Result<String, CallError>> {
        let _request = self.activity.request();
        let slot = self.table.get(&pending)?.0.clone();
        result_of(&slot, &self.execution).await
    }

    async fn drop(&mut self, pending: Resource<PendingCall>) -> wasmtime::Result<()> {
        let _request = self.activity.request();
        self.table.delete(pending)?.0.release();
        Ok(())
    }
}

/// Waits for a call's outcome as the flow sees it. An `Err` stops the flow
/// (the host could not run the call, or the execution was cancelled: a flow
/// waiting on a long call still stops when it is cancelled).
async fn result_of(
    slot: &CallSlot,
    execution: &Execution,
) -> wasmtime::Result<Result<String, CallError>> {
    let cancel = execution.cancel_token();
    let outcome = tokio::select! {
        outcome = slot.result() => outcome,
        () = cancel.cancelled() => CallOutcome::Aborted(Abort::Cancelled),
    };
    match outcome {
        CallOutcome::Finished(outcome) => Ok(outcome),
        CallOutcome::Aborted(abort) => Err(wasmtime::Error::new(abort)),
    }
}
