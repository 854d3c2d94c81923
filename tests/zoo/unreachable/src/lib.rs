//! Hostile test guest: the wasm unreachable instruction.

use cairn_guest::{Error, checkpoint, flow};

/// Executes `unreachable`.
#[checkpoint(runtime = "isolated")]
fn hostile() -> u64 {
    if std::hint::black_box(true) {
        #[cfg(target_arch = "wasm32")]
        core::arch::wasm32::unreachable();
    }
    1
}

/// A harmless call that must not run after an unhandled failure.
#[checkpoint]
fn after() -> u32 {
    1
}

/// Runs the hostile checkpoint, then `after`.
#[flow]
fn run() -> Result<u64, Error> {
    let out = hostile()?;
    after()?;
    Ok(out)
}
