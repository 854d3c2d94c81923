//! The WIT `timers` and `attempt` interfaces, natively (see [`super`]): a
//! test run has no journal to sleep in, so a sleep returns at once, and a
//! wait with a deadline gets the value the test gave for it, or `None` as
//! if its time were up.

use super::context;
use crate::bindings::cairn::checkpoint::attempt::AttemptInfo;
use crate::bindings::cairn::checkpoint::types::CallError;

/// A sleep: refused in a checkpoint, as the host refuses it; else done.
pub(crate) fn sleep(_duration_ms: u64) -> Result<(), CallError> {
    context::with(|c| {
        c.refuse_nested(|| {
            "a durable sleep was asked for inside a checkpoint; only flows sleep durably (a checkpoint may block with std::thread::sleep, within its time limit)".to_owned()
        })
    })
}

/// A wait with a deadline: the test's value, or `None` when it gave none.
pub(crate) fn wait_timeout(
    name: &str,
    question: &str,
    schema_json: &str,
    _timeout_ms: u64,
) -> Result<Option<String>, CallError> {
    context::with(|c| {
        if c.has_wait_value(name) {
            c.wait(name, question, schema_json).map(Some)
        } else {
            c.refuse_nested(|| {
                format!("wait `{name}` was called from inside a checkpoint; only flows wait")
            })?;
            Ok(None)
        }
    })
}

/// A test run has no execution, so no attempt to tell of.
pub(crate) fn current() -> Option<AttemptInfo> {
    None
}
