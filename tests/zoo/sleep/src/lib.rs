//! Hostile test guest: a blocking sleep inside a host call.

use cairn_guest::{Error, checkpoint, flow};

/// Sleeps for 30 seconds in one host call.
#[checkpoint(runtime = "isolated")]
fn hostile() -> u64 {
    std::thread::sleep(std::time::Duration::from_secs(30));
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
