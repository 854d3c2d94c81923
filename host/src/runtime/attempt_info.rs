//! Which attempt of which call a checkpoint store runs: what the `attempt`
//! import tells the checkpoint, so that it can build an idempotency key.
//! Plain data handed down by the runner; nothing here knows the runner.
//!
//! The `timers` and `children` imports of a checkpoint store live here
//! too: a checkpoint neither sleeps durably, nor waits, nor starts child
//! flows, so all are refused.

use super::checkpoint::CheckpointState;
use crate::bindings::attempt::{self, AttemptInfo};
use crate::bindings::children;
use crate::bindings::timers;
use crate::bindings::types::CallError;
use crate::call::PendingCall;
use wasmtime::component::Resource;

/// One attempt of one call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct AttemptId {
    /// The execution.
    pub(crate) exec: u64,
    /// The call's seq.
    pub(crate) seq: u32,
    /// The call's id.
    pub(crate) call_id: String,
    /// The attempt's number, from 1.
    pub(crate) number: u32,
}

impl attempt::Host for CheckpointState {
    async fn current(&mut self) -> wasmtime::Result<Option<AttemptInfo>> {
        Ok(self.attempt().map(|a| AttemptInfo {
            execution_id: a.exec,
            seq: a.seq,
            call_id: a.call_id.clone(),
            number: a.number,
        }))
    }
}

impl timers::Host for CheckpointState {
    async fn sleep(&mut self, _duration_ms: u64) -> wasmtime::Result<Result<(), CallError>> {
        Ok(Err(CallError::Context(
            "a durable sleep was asked for inside a checkpoint; only flows sleep durably (a checkpoint may block with std::thread::sleep, within its time limit)".to_owned(),
        )))
    }

    async fn wait_timeout(
        &mut self,
        name: String,
        _question: String,
        _schema_json: String,
        _timeout_ms: u64,
    ) -> wasmtime::Result<Result<Option<String>, CallError>> {
        Ok(Err(CallError::Context(format!(
            "wait {} was called from inside a checkpoint; only flows wait",
            crate::names::shown(&name)
        ))))
    }
}

impl children::Host for CheckpointState {
    async fn start(
        &mut self,
        name: String,
        _input_json: String,
    ) -> wasmtime::Result<Result<Resource<PendingCall>, CallError>> {
        Ok(Err(child_refused(&name)))
    }

    async fn run(
        &mut self,
        name: String,
        _input_json: String,
    ) -> wasmtime::Result<Result<String, CallError>> {
        Ok(Err(child_refused(&name)))
    }
}

fn child_refused(name: &str) -> CallError {
    CallError::Context(format!(
        "child flow {} was started from inside a checkpoint; only flows start child flows",
        crate::names::shown(name)
    ))
}
