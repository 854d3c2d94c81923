//! Hostile test guest: process exit with a code.

use cairn_guest::{Error, checkpoint, flow};

/// Exits the "process".
#[checkpoint(runtime = "isolated")]
fn hostile() -> u64 {
    std::process::exit(std::hint::black_box(3))
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
