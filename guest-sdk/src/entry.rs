//! The glue between JSON and an author's function, used by the code the
//! attributes generate: parse the named-parameter object, run, serialize the
//! output or turn the author's error into a message.

use std::fmt::Display;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::cairn::checkpoint::types::GuestError;

/// Parses the JSON object of named parameters into the generated args struct.
pub fn parse_input<A: DeserializeOwned>(input: &str) -> Result<A, GuestError> {
    serde_json::from_str(input).map_err(|e| GuestError::BadInput(e.to_string()))
}

/// Serializes an infallible function's output.
pub fn output<T: Serialize>(value: T) -> Result<String, GuestError> {
    serde_json::to_string(&value)
        .map_err(|e| GuestError::Failed(format!("the output does not serialize: {e}")))
}

/// Serializes a fallible function's output, or carries its error's message.
pub fn fallible_output<T: Serialize, E: Display>(
    result: Result<T, E>,
) -> Result<String, GuestError> {
    output(result.map_err(|e| GuestError::Failed(e.to_string()))?)
}
