//! Checkpoint calls from a flow: `submit` hands the call to the host's runner
//! and returns a [`Pending`] handle; calling a checkpoint directly is
//! `submit(..).result()`.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::cairn::checkpoint::types::{CallError, TrapKind as WitTrapKind};
use crate::error::{Error, TrapKind};
use crate::runner;

/// A submitted checkpoint call. Its sequence number in the journal was fixed
/// when it was submitted; [`Pending::result`] waits for its output. The call
/// runs whether or not its result is awaited, but a failure that is never
/// awaited fails the execution when the flow ends.
#[must_use = "a pending call's failure is only seen through `result()`"]
pub struct Pending<T> {
    checkpoint: &'static str,
    state: Result<runner::Pending, Error>,
    output: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Pending<T> {
    /// Waits for the call and returns its output, or why it failed after all
    /// its attempts.
    pub fn result(self) -> Result<T, Error> {
        let pending = self.state?;
        decode(self.checkpoint, pending.result())
    }
}

/// A call's result as the flow sees it: the output decoded as `T`, or why
/// the call failed.
pub(crate) fn decode<T: DeserializeOwned>(
    checkpoint: &str,
    result: Result<String, CallError>,
) -> Result<T, Error> {
    let json = result.map_err(|e| from_call_error(checkpoint, e))?;
    serde_json::from_str(&json).map_err(|e| Error::Context {
        message: format!(
            "the output of checkpoint `{checkpoint}` does not match its return type: {e}"
        ),
    })
}

/// Submits a call of `checkpoint` with `args`, a struct of its named
/// parameters. Used by the code `#[checkpoint]` generates.
pub fn submit<A: Serialize, T>(checkpoint: &'static str, args: &A) -> Pending<T> {
    let state = serde_json::to_string(args)
        .map_err(|e| Error::Context {
            message: format!("the input of checkpoint `{checkpoint}` does not serialize: {e}"),
        })
        .and_then(|input| {
            runner::submit(checkpoint, &input).map_err(|e| from_call_error(checkpoint, e))
        });
    Pending {
        checkpoint,
        state,
        output: PhantomData,
    }
}

/// Calls `checkpoint` with `args` and waits for its output, in one host
/// call. Used by the function `#[checkpoint]` generates.
pub fn call<A: Serialize, T: DeserializeOwned>(
    checkpoint: &'static str,
    args: &A,
) -> Result<T, Error> {
    let input = serde_json::to_string(args).map_err(|e| Error::Context {
        message: format!("the input of checkpoint `{checkpoint}` does not serialize: {e}"),
    })?;
    decode(checkpoint, runner::call(checkpoint, &input))
}

pub(crate) fn from_call_error(checkpoint: &str, error: CallError) -> Error {
    match error {
        CallError::Failed(message) => Error::Failed {
            checkpoint: checkpoint.to_owned(),
            message,
        },
        CallError::Trapped(t) => Error::Trapped {
            checkpoint: checkpoint.to_owned(),
            kind: match t.kind {
                WitTrapKind::OutOfFuel => TrapKind::OutOfFuel,
                WitTrapKind::Memory => TrapKind::Memory,
                WitTrapKind::Timeout => TrapKind::Timeout,
                WitTrapKind::Trap => TrapKind::Trap,
            },
            message: t.message,
        },
        CallError::Context(message) => Error::Context { message },
    }
}
