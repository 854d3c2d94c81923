//! The `timers` and `attempt` imports as a guest flow sees them: a sleep
//! and a wait with a deadline go to the execution (see
//! `runner::execution::timed_step`); a flow has no attempt of its own.
//! A [`Stop`](crate::call::Stop) is an `Err` of the import, as in the
//! `runner` import: it traps the flow, and the driver reads it back.

use std::time::Duration;

use super::FlowState;
use super::runner_import::to_wit;
use crate::bindings::attempt::{self, AttemptInfo};
use crate::bindings::timers;
use crate::bindings::types::CallError;

impl timers::Host for FlowState {
    async fn sleep(&mut self, duration_ms: u64) -> wasmtime::Result<Result<(), CallError>> {
        let _request = self.activity.request();
        // Sleeping is an `Err` when it parks: it stops the flow, and the
        // runner records the execution as waiting until the time.
        let slept = self
            .execution
            .sleep(Duration::from_millis(duration_ms))
            .await
            .map_err(wasmtime::Error::new)?;
        Ok(slept.map_err(to_wit))
    }

    async fn wait_timeout(
        &mut self,
        name: String,
        question: String,
        schema_json: String,
        timeout_ms: u64,
    ) -> wasmtime::Result<Result<Option<String>, CallError>> {
        let _request = self.activity.request();
        let waited = self
            .execution
            .wait_timeout(
                &name,
                &question,
                &schema_json,
                Duration::from_millis(timeout_ms),
            )
            .await
            .map_err(wasmtime::Error::new)?;
        Ok(waited.map_err(to_wit))
    }
}

impl attempt::Host for FlowState {
    async fn current(&mut self) -> wasmtime::Result<Option<AttemptInfo>> {
        Ok(None)
    }
}
