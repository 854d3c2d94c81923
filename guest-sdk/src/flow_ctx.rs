//! What a flow may ask of the runner besides checkpoint calls: durable
//! waits, and time and randomness that a resumed flow sees again.

use serde::de::DeserializeOwned;

use crate::call::from_call_error;
use crate::error::Error;
use crate::runner;

/// Waits for a value named `name`, supplied from outside the execution
/// (`cairn executions input ID --wait NAME --value JSON`) and checked against
/// the JSON schema of `T`. Until it is there the execution is `waiting` and
/// the flow is unloaded; after `cairn executions resume`, this returns it.
///
/// `T` derives `schemars::JsonSchema` (add `schemars` to your dependencies).
/// Only flows wait; in a checkpoint this is an error.
pub fn wait<T: DeserializeOwned + schemars::JsonSchema>(
    name: &str,
    question: &str,
) -> Result<T, Error> {
    let schema = schemars::schema_for!(T);
    let schema = serde_json::to_value(&schema)
        .map_err(|e| Error::msg(format!("the schema of wait `{name}`: {e}")))?;
    wait_with_schema(name, question, &schema)
}

/// Like [`wait`], with an explicit JSON schema.
pub fn wait_with_schema<T: DeserializeOwned>(
    name: &str,
    question: &str,
    schema: &serde_json::Value,
) -> Result<T, Error> {
    let json =
        runner::wait(name, question, &schema.to_string()).map_err(|e| from_call_error(name, e))?;
    serde_json::from_str(&json).map_err(|e| Error::Context {
        message: format!("the value of wait `{name}` does not match its type: {e}"),
    })
}

/// The current time. In a flow it is journaled: a resumed flow gets the same
/// values in the same order, so it can safely decide on them.
pub fn now() -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(runner::now())
}

/// A random number. In a flow it comes from the execution's journaled seed:
/// a resumed flow draws the same numbers in the same order.
pub fn random_u64() -> u64 {
    runner::random()
}
