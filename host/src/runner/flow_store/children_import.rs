//! The `children` import as a guest flow sees it: a child flow is started
//! by the execution (see `runner::execution::child`) and its handle is a
//! `pending`, as a call's is.

use wasmtime::component::Resource;

use super::FlowState;
use super::runner_import::{result_of, to_wit};
use crate::bindings::children;
use crate::bindings::types::CallError;
use crate::call::PendingCall;

impl children::Host for FlowState {
    async fn start(
        &mut self,
        name: String,
        input_json: String,
    ) -> wasmtime::Result<Result<Resource<PendingCall>, CallError>> {
        let _request = self.activity.request();
        let start = match self
            .execution
            .child_start(Some(&self.component), &name, &input_json)
        {
            Ok(start) => start,
            Err(refused) => return Ok(Err(to_wit(refused))),
        };
        // An `Err` stops the flow (a limit, non-determinism, the journal).
        let slot = self
            .execution
            .start_child(start)
            .map_err(wasmtime::Error::new)?;
        Ok(Ok(self.table.push(PendingCall(slot))?))
    }

    async fn run(
        &mut self,
        name: String,
        input_json: String,
    ) -> wasmtime::Result<Result<String, CallError>> {
        let _request = self.activity.request();
        let start = match self
            .execution
            .child_start(Some(&self.component), &name, &input_json)
        {
            Ok(start) => start,
            Err(refused) => return Ok(Err(to_wit(refused))),
        };
        let slot = self
            .execution
            .start_child(start)
            .map_err(wasmtime::Error::new)?;
        let result = result_of(&slot, &self.execution).await;
        // The output now goes to the flow; the host keeps no other use of it.
        slot.release();
        result
    }
}
