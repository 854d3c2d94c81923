//! Hostile test guest: a read far outside linear memory.

#![expect(unsafe_code, reason = "the point is an out-of-bounds read")]

use cairn_guest::{Error, checkpoint, flow};

/// Reads from an address past the end of memory.
#[checkpoint(runtime = "isolated")]
fn hostile() -> u64 {
    let address = std::hint::black_box(0xFFFF_FFF0usize);
    // SAFETY: none; the sandbox must catch it.
    unsafe { core::ptr::read_volatile(address as *const u64) }
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
