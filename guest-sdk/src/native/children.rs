//! The WIT `children` interface, natively (see [`super`]): a test run has
//! no executions to start, so a child flow of this binary runs in place,
//! at once, and its calls are recorded with the flow's. A host-side flow
//! is not there to run: starting one is an error.

use super::context;
use super::runner::Pending;
use crate::bindings::cairn::checkpoint::types::{CallError, GuestError};
use crate::registry;

/// Runs child flow `name` and returns its handle.
pub(crate) fn start(name: &str, input_json: &str) -> Result<Pending, CallError> {
    let result = run(name, input_json);
    // A child that could not start is refused at the start, as the host
    // does; one that failed fails at `result`.
    if let Err(CallError::Context(message)) = result {
        return Err(CallError::Context(message));
    }
    Ok(Pending::ready(result))
}

/// Runs child flow `name` and returns its output.
pub(crate) fn run(name: &str, input_json: &str) -> Result<String, CallError> {
    context::with(|c| {
        c.refuse_nested(|| {
            format!(
                "child flow `{name}` was started from inside a checkpoint; only flows start child flows"
            )
        })
    })?;
    let Some(flow) = registry::flows().find(|f| f.name == name) else {
        return Err(CallError::Context(format!(
            "no flow `{name}` in this binary (a host-side flow cannot run in a native test)"
        )));
    };
    let _seq = context::with(context::Context::take_seq);
    match (flow.invoke)(input_json) {
        Ok(output) => Ok(output),
        Err(GuestError::Failed(message) | GuestError::BadInput(message)) => Err(CallError::Failed(
            format!("child flow `{name}` failed: {message}"),
        )),
        Err(GuestError::Unknown(message)) => Err(CallError::Context(message)),
    }
}
