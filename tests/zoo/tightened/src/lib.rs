//! Hostile test guest: a checkpoint that tightens its own fuel below the policy.

use cairn_guest::{Error, checkpoint, flow};

/// Loops, with a fuel budget of its own.
#[checkpoint(runtime = "isolated", fuel = 1_000_000)]
fn hostile(n: u64) -> u64 {
    let mut total: u64 = 0;
    for i in 0..n {
        total = std::hint::black_box(total.wrapping_add(i));
    }
    total
}

/// A harmless call that must not run after an unhandled failure.
#[checkpoint]
fn after() -> u32 {
    1
}

/// Runs the hostile checkpoint, then `after`.
#[flow]
fn run(n: u64) -> Result<u64, Error> {
    let out = hostile(n)?;
    after()?;
    Ok(out)
}
