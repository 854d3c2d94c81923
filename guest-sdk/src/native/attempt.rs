//! One native call: up to `retries + 1` attempts of the checkpoint's
//! `invoke` (the entry point its component export uses), each classified
//! the way the host classifies an attempt.

use serde_json::Value;

use super::{context, panic};
use crate::bindings::cairn::checkpoint::types::{
    CallError, GuestError, TrapKind as WitTrapKind, Trapped,
};
use crate::error::TrapKind;
use crate::registry::CheckpointEntry;
use crate::testing::Attempt;

/// What a call came to: every attempt, and the output (as text for the
/// flow and as JSON for the record) or the last attempt's error.
pub(super) struct Ran {
    pub(super) attempts: Vec<Attempt>,
    pub(super) result: Result<(String, Value), CallError>,
}

/// Runs the attempts of a call of `entry` with id `call_id`.
pub(super) fn run(entry: &'static CheckpointEntry, call_id: &str, input: &str) -> Ran {
    let mut attempts = Vec::new();
    let mut last = None;
    for _ in 0..=entry.retries {
        match once(entry, call_id, input) {
            Ok(output) => {
                attempts.push(Attempt::Ok);
                return Ran {
                    attempts,
                    result: Ok(output),
                };
            }
            Err(error) => {
                attempts.push(attempt_of(&error));
                last = Some(error);
            }
        }
    }
    Ran {
        attempts,
        result: Err(last.unwrap_or_else(|| {
            CallError::Context(format!("checkpoint `{}` made no attempt", entry.name))
        })),
    }
}

/// One attempt, as the host's `classify` sees it: the output, the
/// checkpoint's own error (bad input included), or a trap (a panic).
fn once(
    entry: &'static CheckpointEntry,
    call_id: &str,
    input: &str,
) -> Result<(String, Value), CallError> {
    let outer = context::with(|c| c.set_in_checkpoint(Some(call_id.to_owned())));
    let caught = panic::catch(|| (entry.invoke)(input));
    context::with(|c| c.set_in_checkpoint(outer));
    match caught {
        // The host refuses an output that is not one JSON value (or nested
        // too deep to read back); serde_json's reader says the same here.
        Ok(Ok(output)) => match serde_json::from_str::<Value>(&output) {
            Ok(json) => Ok((output, json)),
            Err(e) => Err(CallError::Failed(format!(
                "the output is not JSON the host accepts: {e}"
            ))),
        },
        Ok(Err(GuestError::Failed(message) | GuestError::Unknown(message))) => {
            Err(CallError::Failed(message))
        }
        Ok(Err(GuestError::BadInput(message))) => {
            Err(CallError::Failed(format!("bad input: {message}")))
        }
        Err(message) => Err(CallError::Trapped(Trapped {
            kind: WitTrapKind::Trap,
            message,
        })),
    }
}

fn attempt_of(error: &CallError) -> Attempt {
    match error {
        CallError::Failed(message) => Attempt::Failed {
            message: message.clone(),
        },
        CallError::Trapped(trapped) => Attempt::Trapped {
            kind: match trapped.kind {
                WitTrapKind::OutOfFuel => TrapKind::OutOfFuel,
                WitTrapKind::Memory => TrapKind::Memory,
                WitTrapKind::Timeout => TrapKind::Timeout,
                WitTrapKind::Trap => TrapKind::Trap,
            },
            message: trapped.message.clone(),
        },
        // An attempt never ends with a context error; kept total anyway.
        CallError::Context(message) => Attempt::Failed {
            message: message.clone(),
        },
    }
}
