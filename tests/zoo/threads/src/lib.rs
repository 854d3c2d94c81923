//! Hostile test guest: spawning a thread.

use cairn_guest::{Error, checkpoint, flow};

/// Spawns a thread.
#[checkpoint(runtime = "isolated")]
fn hostile() -> Result<u64, String> {
    std::thread::spawn(|| 1u64)
        .join()
        .map_err(|_| "the thread panicked".to_owned())
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
