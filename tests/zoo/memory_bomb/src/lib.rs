//! Hostile test guest: memory.grow until refused.

use cairn_guest::{Error, checkpoint, flow};

/// Allocates 16 MiB at a time, forever.
#[checkpoint(runtime = "isolated")]
fn hostile() -> u64 {
    let mut hoard = Vec::new();
    loop {
        hoard.push(vec![1u8; 16 << 20]);
        std::hint::black_box(&hoard);
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
