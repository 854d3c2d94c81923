//! The `children` import as a guest flow sees it: a child flow is started
//! by the execution (see `runner::execution::child`) and its handle is a
//! `pending`, as a call's is.

use std::sync::Arc;

use wasmtime::component::Resource;

use super::FlowState;
use super::runner_import::{result_of, to_wit};
use crate::bindings::children;
use crate::bindings::types::CallError;
use crate::call::{CallSlot, PendingCall};
use crate::runner::execution::child::StartedBy;

impl children::Host for FlowState {
    async fn start(
        &mut self,
        name: String,
        input_json: String,
    ) -> wasmtime::Result<Result<Resource<PendingCall>, CallError>> {
        let _request = self.activity.request();
        match self.start_child(&name, &input_json)? {
            Ok(slot) => Ok(Ok(self.table.push(PendingCall(slot))?)),
            Err(refused) => Ok(Err(refused)),
        }
    }

    async fn run(
        &mut self,
        name: String,
        input_json: String,
    ) -> wasmtime::Result<Result<String, CallError>> {
        let _request = self.activity.request();
        let slot = match self.start_child(&name, &input_json)? {
            Ok(slot) => slot,
            Err(refused) => return Ok(Err(refused)),
        };
        let result = result_of(&slot, &self.execution).await;
        // The output now goes to the flow; the host keeps no other use of it.
        slot.release();
        result
    }
}

impl FlowState {
    /// Starts child flow `name` of the flow's component (or a host-side
    /// flow): its slot, or why it is refused. An `Err` stops the flow (a
    /// limit, non-determinism, the journal).
    fn start_child(
        &mut self,
        name: &str,
        input_json: &str,
    ) -> wasmtime::Result<Result<Arc<CallSlot>, CallError>> {
        let start = match (self.execution).child_start(
            StartedBy::Guest,
            Some(&self.component),
            name,
            input_json,
        ) {
            Ok(start) => start,
            Err(refused) => return Ok(Err(to_wit(refused))),
        };
        let slot = (self.execution.start_child(start)).map_err(wasmtime::Error::new)?;
        Ok(Ok(slot))
    }
}
