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
    native_stack: Option<usize>,
) -> AttemptResult {
    match call {
        Ok(Ok(output)) => AttemptResult::Output(output),
        Ok(Err(GuestError::Failed(message))) => AttemptResult::Failed(message),
        Ok(Err(GuestError::BadInput(message))) => {
            AttemptResult::Failed(format!("bad input: {message}"))
        }
        Ok(Err(GuestError::Unknown(message))) => AttemptResult::Failed(message),
        Err(error) => {
            let (kind, message) =
                trap_with_stack(&error, memory_hit, memory_limit, stderr, native_stack);
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
    trap_with_stack(error, memory_hit, memory_limit, stderr, None)
}

/// Classifies a trap, naming the native stack limit (`native_stack`, when
/// the caller knows the engine's) if that is what ran out.
pub(crate) fn trap_with_stack(
    error: &wasmtime::Error,
    memory_hit: bool,
    memory_limit: usize,
    stderr: &[u8],
    native_stack: Option<usize>,
) -> (TrapKind, String) {
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return (TrapKind::Trap, format!("exited with code {}", exit.0));
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => (TrapKind::OutOfFuel, "ran out of fuel".to_owned()),
        Some(Trap::Interrupt) => (TrapKind::Timeout, "ran past its time limit".to_owned()),
        Some(Trap::StackOverflow) => (TrapKind::Trap, stack_exhausted(native_stack)),
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

/// What to tell the user when the native stack ran out: wasmtime's words,
/// the limit, and the flag that raises it. Deep recursion in compiled code
/// (CPython's C code on deeply nested data, above all) reaches this before
/// the language's own recursion limit, which watches the guest's stack in
/// linear memory, not the native one.
fn stack_exhausted(native_stack: Option<usize>) -> String {
    let limit = match native_stack {
        Some(bytes) => format!("its native stack of {}", size_name(bytes)),
        None => format!(
            "its native stack ({} unless `--stack` was given)",
            size_name(crate::engine::DEFAULT_WASM_STACK)
        ),
    };
    format!(
        "call stack exhausted: the guest recursed deeper than {limit} allows (CPython's C code does on deeply nested data, before Python's own RecursionError); run with a larger `--stack`, e.g. `--stack 2MiB` (`stack` in a policy file, `EngineBuilder::max_wasm_stack` when embedding), at most {}",
        size_name(crate::engine::MAX_WASM_STACK)
    )
}

/// `512KiB`, `2MiB`: a stack size as the `--stack` flag takes it.
fn size_name(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{}MiB", bytes >> 20)
    } else if bytes.is_multiple_of(1 << 10) {
        format!("{}KiB", bytes >> 10)
    } else {
        format!("{bytes}B")
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

#[cfg(test)]
mod tests {
    use wasmtime::{Instance, Module, Store};

    use super::*;
    use crate::engine::Engine;

    /// `(module (func (export "f") call 0))`: recursion with no end and no
    /// linear memory, so only the native stack can run out.
    const ENDLESS_RECURSION: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type 0: [] -> []
        0x03, 0x02, 0x01, 0x00, // func 0: type 0
        0x07, 0x05, 0x01, 0x01, b'f', 0x00, 0x00, // export "f" = func 0
        0x0a, 0x06, 0x01, 0x04, 0x00, 0x10, 0x00, 0x0b, // body: call 0
    ];

    #[test]
    fn a_native_stack_overflow_names_the_limit_and_the_flag() {
        let engine = Engine::builder()
            .max_wasm_stack(128 << 10)
            .build()
            .expect("engine");
        let module = Module::new(engine.wasm(), ENDLESS_RECURSION).expect("module");
        let mut store = Store::new(engine.wasm(), ());
        store.set_fuel(u64::MAX / 2).expect("fuel");
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = Instance::new(&mut store, &module, &[]).expect("instance");
        let f = instance
            .get_typed_func::<(), ()>(&mut store, "f")
            .expect("f");
        let error = f.call(&mut store, ()).expect_err("the stack runs out");
        assert_eq!(error.downcast_ref::<Trap>(), Some(&Trap::StackOverflow));

        let result = classify(Err(error), false, 0, &[], Some(engine.max_wasm_stack()));
        let AttemptResult::Trapped(TrapKind::Trap, message) = result else {
            panic!("not a trap: {result:?}");
        };
        assert!(
            message.starts_with("call stack exhausted: ")
                && message.contains("deeper than its native stack of 128KiB allows")
                && message.contains("`--stack 2MiB`")
                && message.contains("at most 64MiB"),
            "{message}"
        );
        // A flow's trap is classified without the engine at hand: the
        // message still names the flag and the default.
        let (kind, message) = trap(&wasmtime::Error::new(Trap::StackOverflow), false, 0, &[]);
        assert_eq!(kind, TrapKind::Trap);
        assert!(
            message.contains("its native stack (512KiB unless `--stack` was given)"),
            "{message}"
        );
    }
}
