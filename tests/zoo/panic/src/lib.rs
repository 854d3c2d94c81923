//! Hostile test guest: a panic.

use cairn_guest::{Error, checkpoint, flow};

/// Panics.
#[checkpoint(runtime = "isolated")]
fn hostile() -> u64 {
    let reason = std::hint::black_box("the guest gave up");
    panic!("{reason}")
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
