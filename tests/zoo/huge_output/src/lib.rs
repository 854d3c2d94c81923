//! Hostile test guest: an output of 32 MiB.

use cairn_guest::{Error, checkpoint, flow};

/// Returns 32 MiB of text.
#[checkpoint(runtime = "isolated")]
fn hostile() -> String {
    "x".repeat(32 << 20)
}

/// A harmless call that must not run after an unhandled failure.
#[checkpoint]
fn after() -> u32 {
    1
}

/// Runs the hostile checkpoint, then `after`.
#[flow]
fn run() -> Result<String, Error> {
    let out = hostile()?;
    after()?;
    Ok(out)
}
