//! Hostile test guest: a function table of twenty million entries (linked with a huge table base).

use cairn_guest::{Error, checkpoint, flow};

/// Never reached: the component cannot be instantiated.
#[checkpoint(runtime = "isolated")]
fn hostile() -> u64 {
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
