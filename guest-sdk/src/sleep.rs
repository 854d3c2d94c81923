//! Durable timers of a flow: a sleep, and a wait with a deadline. Both are
//! journaled by the host as steps of the flow, like calls: the execution
//! holds nothing while it sleeps or waits, a restart does not lose the
//! time, and a resumed flow does not sleep again for a sleep that ended.

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::call::from_call_error;
use crate::error::Error;
use crate::timers;

/// Sleeps for `duration`, durably.
///
/// The end of the sleep is journaled the first time the flow reaches it. A
/// sleep of a second or more unloads the flow: the execution is `waiting`
/// (`cairn executions show` says until when) and holds no instance;
/// `cairn serve` resumes it when the time comes, `cairn run` waits for it,
/// and `cairn executions resume` waits until then. The flow then runs again
/// from the start, and this returns. A shorter sleep is waited out in
/// place. Only flows sleep; in a checkpoint this is an error (a checkpoint
/// may block with `std::thread::sleep`, within its time limit).
///
/// Milliseconds are the unit: a sleep is rounded up to a whole one.
pub fn sleep(duration: Duration) -> Result<(), Error> {
    timers::sleep(millis(duration)).map_err(|e| from_call_error("sleep", e))
}

/// Waits for a value named `name`, as [`wait`](crate::wait) does, for at
/// most `timeout` from when the flow first asked: `Some(value)`, or `None`
/// once the time is up.
///
/// The timeout is journaled: every later run of the flow gets `None` here
/// too, and a value supplied after the time is refused
/// (`cairn executions input` says the wait timed out). With `cairn serve`
/// the execution is resumed at the deadline by itself; from the command
/// line, `cairn executions resume` after it makes the flow go on.
pub fn wait_timeout<T: DeserializeOwned + schemars::JsonSchema>(
    name: &str,
    question: &str,
    timeout: Duration,
) -> Result<Option<T>, Error> {
    let schema = schemars::schema_for!(T);
    let schema = serde_json::to_value(&schema)
        .map_err(|e| Error::msg(format!("the schema of wait `{name}`: {e}")))?;
    wait_timeout_with_schema(name, question, &schema, timeout)
}

/// Like [`wait_timeout`], with an explicit JSON schema.
pub fn wait_timeout_with_schema<T: DeserializeOwned>(
    name: &str,
    question: &str,
    schema: &serde_json::Value,
    timeout: Duration,
) -> Result<Option<T>, Error> {
    let Some(json) = timers::wait_timeout(name, question, &schema.to_string(), millis(timeout))
        .map_err(|e| from_call_error(name, e))?
    else {
        return Ok(None);
    };
    serde_json::from_str(&json)
        .map(Some)
        .map_err(|e| Error::Context {
            message: format!("the value of wait `{name}` does not match its type: {e}"),
        })
}

/// Whole milliseconds, rounded up (and at most `u64::MAX`).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros().div_ceil(1000)).unwrap_or(u64::MAX)
}
