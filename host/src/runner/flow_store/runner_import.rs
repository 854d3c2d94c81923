//! The `runner` import as a guest flow sees it: checkpoint calls, maps,
//! waits, the clock and randomness go to the execution, and what comes back
//! is turned into the WIT's types here. A [`Stop`] is an `Err` of the
//! import: it traps the flow, and the driver reads the reason back out of
//! the trap.

use wasmtime::component::Resource;

use super::FlowState;
use crate::bindings::runner;
use crate::bindings::types::{self, CallError, LogLevel};
use crate::call::{CallFailure, CallOutcome, CallSlot, PendingCall, Stop};
use crate::model::TrapKind;
use crate::runner::execution::Execution;
use crate::runtime::checkpoint::level_name;

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
            Err(refused) => Ok(Err(to_wit(refused))),
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
            Err(refused) => Ok(Err(to_wit(refused))),
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
        let (slot, in_place) = match self
            .execution
            .call(&self.component, &name, &input_json)
            .map_err(wasmtime::Error::new)?
        {
            Err(refused) => return Ok(Err(to_wit(refused))),
            Ok(called) => called,
        };
        if let Some(mut run) = in_place {
            let cancel = self.execution.cancel_token();
            // A cancel stops the wait, not the call: dropped unfinished, the
            // call runs on to its end in a task of its own.
            tokio::select! {
                () = &mut run => {}
                () = cancel.cancelled() => {}
            }
            // The call ran to its end in the flow's poll, unseen by a cancel
            // that came meanwhile: the flow stops here, as it would have
            // while waiting for a call run elsewhere (the call is journaled).
            if cancel.is_cancelled() {
                return Err(wasmtime::Error::new(Stop::Cancelled));
            }
        }
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
            Err(refused) => return Ok(Err(to_wit(refused))),
            Ok(slots) => slots,
        };
        let cancel = self.execution.cancel_token();
        // Every item is waited for, as a flow awaiting each handle would;
        // a flow waiting on a long map still stops when it is cancelled.
        let waited = async {
            let mut results = Vec::with_capacity(slots.len());
            for slot in &slots {
                match slot.result().await {
                    CallOutcome::Finished(outcome) => results.push(outcome.map_err(to_wit)),
                    CallOutcome::Stopped(stop) => return Err(stop),
                }
            }
            Ok(results)
        };
        let results = tokio::select! {
            results = waited => results,
            () = cancel.cancelled() => Err(Stop::Cancelled),
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
        // Waiting is an `Err`: it stops the flow, and the runner records
        // the execution as waiting.
        let answer = self
            .execution
            .wait(&name, &question, &schema_json)
            .await
            .map_err(wasmtime::Error::new)?;
        Ok(answer.map_err(to_wit))
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
pub(super) async fn result_of(
    slot: &CallSlot,
    execution: &Execution,
) -> wasmtime::Result<Result<String, CallError>> {
    let cancel = execution.cancel_token();
    let outcome = tokio::select! {
        outcome = slot.result() => outcome,
        () = cancel.cancelled() => CallOutcome::Stopped(Stop::Cancelled),
    };
    match outcome {
        CallOutcome::Finished(outcome) => Ok(outcome.map_err(to_wit)),
        CallOutcome::Stopped(stop) => Err(wasmtime::Error::new(stop)),
    }
}

/// A call's failure as the guest's WIT `call-error`.
pub(super) fn to_wit(failure: CallFailure) -> CallError {
    match failure {
        CallFailure::Failed(message) => CallError::Failed(message),
        CallFailure::Context(message) => CallError::Context(message),
        CallFailure::Trapped { kind, message } => CallError::Trapped(types::Trapped {
            kind: match kind {
                TrapKind::OutOfFuel => types::TrapKind::OutOfFuel,
                TrapKind::Memory => types::TrapKind::Memory,
                TrapKind::Timeout => types::TrapKind::Timeout,
                TrapKind::Trap => types::TrapKind::Trap,
            },
            message,
        }),
    }
}
