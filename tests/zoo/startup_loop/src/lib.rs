//! Hostile test guest: an infinite loop in a static constructor, run before any export.

#![expect(
    unsafe_code,
    reason = "a static constructor is how a guest runs code at start-up"
)]

use cairn_guest::{Error, checkpoint, flow};

extern "C" fn forever() {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

#[unsafe(link_section = ".init_array")]
#[used]
static START: extern "C" fn() = forever;

/// Never reached.
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
