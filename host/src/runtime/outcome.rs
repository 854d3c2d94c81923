//! How an attempt ended, classified: the checkpoint's own error, a trap of a
//! known kind, or an output.

use wasmtime::Trap;

use crate::bindings::types::GuestError;
use crate::model::TrapKind;

/// What the panic hook of the guest SDK prefixes its one line with.
const PANIC_PREFIX: &str = "cairn-panic: ";

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttemptResult {
    /// The output JSON.
    Output(String),
    /// The checkpoint's own error.
    Failed(String),
    /// The sandbox stopped it.
    Trapped(TrapKind, String),
}

/// One attempt's result and what it left behind.
#[derive(Debug)]
pub(crate) struct AttemptReport {
    pub(crate) result: AttemptResult,
    pub(crate) fuel_used: u64,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

/// Classifies a finished call of `run-checkpoint`.
pub(crate) fn classify(
    call: wasmtime::Result<Result<String, GuestError>>,
    memory_hit: bool,
    memory_limit: usize,
    stderr: &[u8],
) -> AttemptResult {
    match call {
        Ok(Ok(output)) => AttemptResult::Output(output),
        Ok(Err(GuestError::Failed(message))) => AttemptResult::Failed(message),
        Ok(Err(GuestError::BadInput(message))) => {
            AttemptResult::Failed(format!("bad input: {message}"))
        }
        Ok(Err(GuestError::Unknown(message))) => AttemptResult::Failed(message),
        Err(error) => {
            let (kind, message) = trap(&error, memory_hit, memory_limit, stderr);
            AttemptResult::Trapped(kind, message)
        }
    }
}

/// Classifies a trap (of a checkpoint or of a flow).
pub(crate) fn trap(
    error: &wasmtime::Error,
    memory_hit: bool,
    memory_limit: usize,
    stderr: &[u8],
) -> (TrapKind, String) {
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return (TrapKind::Trap, format!("exited with code {}", exit.0));
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => (TrapKind::OutOfFuel, "ran out of fuel".to_owned()),
        Some(Trap::Interrupt) => (TrapKind::Timeout, "ran past its time limit".to_owned()),
        _ if memory_hit => (
            TrapKind::Memory,
            format!("tried to grow its memory past the limit of {memory_limit} bytes"),
        ),
        Some(trap) => (
            TrapKind::Trap,
            panic_message(stderr).unwrap_or_else(|| trap.to_string()),
        ),
        // Not a trap of the guest's own: say what failed, without the wasm
        // backtrace wasmtime wraps around it.
        None => (TrapKind::Trap, error.root_cause().to_string()),
    }
}

/// The guest's panic message, if its panic hook printed one.
fn panic_message(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .rev()
        .find_map(|line| line.strip_prefix(PANIC_PREFIX))
        .map(|m| format!("panicked: {m}"))
}
