//! Hostile test guest: unbounded recursion.

use cairn_guest::{Error, checkpoint, flow};

#[expect(unconditional_recursion, reason = "running out of stack is the point")]
fn down(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 16]);
    down(depth + 1) + frame[3]
}

/// Recurses until the stack runs out.
#[checkpoint(runtime = "isolated")]
fn hostile() -> u64 {
    down(0)
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
