//! Hostile test guest: an infinite loop in the checkpoint.

use cairn_guest::{Error, checkpoint, flow};

/// Never returns.
#[checkpoint(runtime = "isolated")]
fn hostile() -> u64 {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
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
