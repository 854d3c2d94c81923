//! The WIT `runner` interface, natively: the same functions and types as
//! the imports wit-bindgen generates, so the SDK's code above it is the
//! same on both targets. Calls run at once, on this thread, in program
//! order; `submit` runs its call before it returns the handle.

use serde_json::Value;

use super::{attempt, context};
use crate::bindings::cairn::checkpoint::types::{CallError, LogLevel};
use crate::call::from_call_error;
use crate::registry::{self, CheckpointEntry};
use crate::testing::{CallRecord, Level};

/// A call that already ran: its result, handed over by `result`.
pub(crate) struct Pending {
    seq: u32,
    result: Result<String, CallError>,
}

impl Pending {
    /// The handle of something that ran at once and left no call record
    /// (a child flow).
    pub(crate) fn ready(result: Result<String, CallError>) -> Pending {
        Pending {
            seq: u32::MAX,
            result,
        }
    }

    /// The call's output JSON or why it failed (the flow now counts as
    /// having read it).
    pub(crate) fn result(&self) -> Result<String, CallError> {
        context::with(|c| c.mark_awaited(self.seq));
        self.result.clone()
    }
}

/// Runs a call of checkpoint `name` and returns its handle.
pub(crate) fn submit(name: &str, input_json: &str) -> Result<Pending, CallError> {
    let entry = callable(name, || {
        format!(
            "checkpoint `{name}` was called from inside a checkpoint; only flows call checkpoints"
        )
    })?;
    let (seq, call_id) = context::with(|c| c.next_call(name));
    let result = run(entry, seq, call_id, input_json, false);
    Ok(Pending { seq, result })
}

/// Runs a call of checkpoint `name` and returns its output.
pub(crate) fn call(name: &str, input_json: &str) -> Result<String, CallError> {
    let entry = callable(name, || {
        format!(
            "checkpoint `{name}` was called from inside a checkpoint; only flows call checkpoints"
        )
    })?;
    let (seq, call_id) = context::with(|c| c.next_call(name));
    run(entry, seq, call_id, input_json, true)
}

/// Runs one call of checkpoint `name` per input, in input order, with the
/// call ids `name[i]` (`name_2[i]` for its second map...).
pub(crate) fn call_map(
    name: &str,
    inputs: &[String],
) -> Result<Vec<Result<String, CallError>>, CallError> {
    let entry = callable(name, || {
        format!(
            "a map of checkpoint `{name}` was called from inside a checkpoint; only flows call checkpoints"
        )
    })?;
    // An empty map makes no call and takes no call id, as in the host.
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    let base = context::with(|c| c.next_map_id(name));
    let seqs: Vec<u32> = inputs
        .iter()
        .map(|_| context::with(context::Context::take_seq))
        .collect();
    Ok(inputs
        .iter()
        .zip(seqs)
        .enumerate()
        .map(|(i, (input, seq))| run(entry, seq, format!("{base}[{i}]"), input, true))
        .collect())
}

/// The value the test gave for wait `name`.
pub(crate) fn wait(name: &str, question: &str, schema_json: &str) -> Result<String, CallError> {
    context::with(|c| c.wait(name, question, schema_json))
}

/// Keeps a log line with the run, and prints it (to the test's captured
/// output: `cargo test` shows it when the test fails).
pub(crate) fn log(level: LogLevel, message: &str) {
    let level = match level {
        LogLevel::Debug => Level::Debug,
        LogLevel::Info => Level::Info,
        LogLevel::Warn => Level::Warn,
        LogLevel::Error => Level::Error,
    };
    let call_id = context::with(|c| c.log(level, message));
    match call_id {
        Some(call_id) => eprintln!("cairn {level} [{call_id}]: {message}"),
        None => eprintln!("cairn {level} [flow]: {message}"),
    }
}

/// The test's clock, in milliseconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    context::with(context::Context::now_ms)
}

/// The test's next random number.
pub(crate) fn random() -> u64 {
    context::with(context::Context::random)
}

/// The checkpoint a call may be made to: not from inside a checkpoint,
/// and one `#[checkpoint]` of that name linked into this binary.
fn callable(
    name: &str,
    nested: impl FnOnce() -> String,
) -> Result<&'static CheckpointEntry, CallError> {
    context::with(|c| c.refuse_nested(nested))?;
    let mut found = registry::checkpoints().filter(|c| c.name == name);
    match (found.next(), found.next()) {
        (Some(entry), None) => Ok(entry),
        (Some(_), Some(_)) => Err(CallError::Context(format!(
            "two checkpoints are named `{name}` in this binary; names are global to a binary, as to a component (merged doctests share one: rename one, or mark its doctest `standalone_crate`)"
        ))),
        (None, _) => {
            let mut names: Vec<&str> = registry::checkpoints().map(|c| c.name).collect();
            names.sort_unstable();
            let listed = if names.is_empty() {
                "(none)".to_owned()
            } else {
                names.join(", ")
            };
            Err(CallError::Context(format!(
                "unknown checkpoint `{name}`; this binary has: {listed}"
            )))
        }
    }
}

/// Runs the call and records it.
fn run(
    entry: &'static CheckpointEntry,
    seq: u32,
    call_id: String,
    input: &str,
    awaited: bool,
) -> Result<String, CallError> {
    let ran = attempt::run(entry, &call_id, input);
    context::with(|c| {
        if c.recording() {
            c.record_call(CallRecord {
                seq,
                call_id,
                checkpoint: entry.name.to_owned(),
                input: serde_json::from_str(input)
                    .unwrap_or_else(|_| Value::String(input.to_owned())),
                attempts: ran.attempts,
                output: match &ran.result {
                    Ok((_, json)) => Ok(json.clone()),
                    Err(e) => Err(from_call_error(entry.name, e.clone())),
                },
                awaited,
            });
        }
    });
    ran.result.map(|(text, _)| text)
}
