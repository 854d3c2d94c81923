//! Child flows: a flow starts another flow, of its own component or a
//! host-side flow, as an execution of its own and gets its output as it gets
//! a checkpoint's. The host journals the start with the child's id: a
//! resumed flow finds the child it started (and its output, once it
//! completed) and never starts it twice; a cancel of the parent cancels its
//! children; `cairn executions show` links parent and child both ways.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::cairn::checkpoint::types::CallError;
use crate::children;
use crate::error::Error;

/// A started child flow. [`ChildFlow::result`] waits for its output.
///
/// The child runs whether or not its result is awaited, but a failure that
/// is never awaited fails the flow's execution when the flow ends, as an
/// unawaited call's does.
#[must_use = "a child flow's failure is only seen through `result()`"]
pub struct ChildFlow<O> {
    flow: String,
    state: Result<crate::runner::Pending, Error>,
    output: PhantomData<fn() -> O>,
}

impl<O: DeserializeOwned> ChildFlow<O> {
    /// Waits for the child and returns its output, or why it did not
    /// complete (it failed, or was cancelled). While the child waits (for a
    /// value, a sleep), so does this flow: its execution is `waiting` too,
    /// and resuming it resumes the child.
    pub fn result(self) -> Result<O, Error> {
        let pending = self.state?;
        decode(&self.flow, pending.result())
    }
}

/// Starts flow `flow` with `input` (any serializable value holding the
/// child's named parameters, such as a struct or a `serde_json::json!`
/// object) as a child execution, and waits for its output.
///
/// `flow` is a flow of this component, or else a host-side flow the host
/// registered under that name. The child's calls, waits and sleeps are
/// journaled under its own execution id; see [`start_child_flow`] to start
/// one without waiting.
pub fn child_flow<O: DeserializeOwned>(flow: &str, input: &impl Serialize) -> Result<O, Error> {
    let input = encode(flow, input)?;
    decode(flow, children::run(flow, &input))
}

/// Starts a child flow as [`child_flow`] does, without waiting: several
/// children run at once, and [`ChildFlow::result`] waits for each.
pub fn start_child_flow<O: DeserializeOwned>(flow: &str, input: &impl Serialize) -> ChildFlow<O> {
    let state = encode(flow, input)
        .and_then(|input| children::start(flow, &input).map_err(from_child_error));
    ChildFlow {
        flow: flow.to_owned(),
        state,
        output: PhantomData,
    }
}

fn encode(flow: &str, input: &impl Serialize) -> Result<String, Error> {
    serde_json::to_string(input).map_err(|e| Error::Context {
        message: format!("the input of child flow `{flow}` does not serialize: {e}"),
    })
}

fn decode<O: DeserializeOwned>(flow: &str, result: Result<String, CallError>) -> Result<O, Error> {
    let json = result.map_err(from_child_error)?;
    serde_json::from_str(&json).map_err(|e| Error::Context {
        message: format!("the output of child flow `{flow}` does not match its type: {e}"),
    })
}

/// A child's failure as the flow sees it: the host's message names the
/// child execution and why it did not complete.
fn from_child_error(error: CallError) -> Error {
    let message = match error {
        CallError::Failed(message) | CallError::Context(message) => message,
        CallError::Trapped(t) => t.message,
    };
    Error::Context { message }
}
