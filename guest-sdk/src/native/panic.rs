//! A panic in a native checkpoint attempt becomes a trap with the message
//! the host would show: `panicked: <message> at <file>:<line>`.
//!
//! The location is only known to a panic hook, so one is installed (once
//! per process, keeping whatever hook was there before). While an attempt
//! runs on a thread, the hook keeps the message for it and prints one line
//! the way the SDK's hook in a component does; any other panic goes to the
//! previous hook untouched, so failing tests report as usual.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::sync::Once;

thread_local! {
    /// How many attempts run on this thread (0 or 1: nested calls are
    /// refused before they run).
    static ARMED: Cell<u32> = const { Cell::new(0) };
    /// The last caught panic's message.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs one attempt, catching a panic: `Err` holds the trap message.
pub(super) fn catch<T>(attempt: impl FnOnce() -> T + std::panic::UnwindSafe) -> Result<T, String> {
    install_hook();
    ARMED.with(|armed| armed.set(armed.get() + 1));
    let caught = std::panic::catch_unwind(attempt);
    ARMED.with(|armed| armed.set(armed.get().saturating_sub(1)));
    let hooked = CAUGHT.with(|c| c.borrow_mut().take());
    caught.map_err(|payload| {
        // Without our hook (another one was set after it) there is no
        // location, only the payload.
        hooked.unwrap_or_else(|| format!("panicked: {}", payload_text(payload.as_ref())))
    })
}

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ARMED.try_with(Cell::get).unwrap_or(0) == 0 {
                previous(info);
                return;
            }
            let message = info.payload_as_str().unwrap_or("panic");
            let location = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            eprintln!("cairn-panic: {message}{location}");
            let _ = CAUGHT.try_with(|c| {
                if let Ok(mut c) = c.try_borrow_mut() {
                    *c = Some(format!("panicked: {message}{location}"));
                }
            });
        }));
    });
}

fn payload_text(payload: &(dyn Any + Send)) -> &str {
    match payload.downcast_ref::<&str>() {
        Some(s) => s,
        None => payload
            .downcast_ref::<String>()
            .map_or("panic", String::as_str),
    }
}
