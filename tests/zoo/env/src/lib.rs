//! Hostile test guest: reading the host's environment.

use cairn_guest::{Error, checkpoint, flow};

/// Reads PATH and CARGO_PKG_NAME.
#[checkpoint(runtime = "isolated")]
fn hostile() -> (Option<String>, Option<String>) {
    (
        std::env::var("PATH").ok(),
        std::env::var("CARGO_PKG_NAME").ok(),
    )
}

/// A harmless call that must not run after an unhandled failure.
#[checkpoint]
fn after() -> u32 {
    1
}

/// Runs the hostile checkpoint, then `after`.
#[flow]
fn run() -> Result<(Option<String>, Option<String>), Error> {
    let out = hostile()?;
    after()?;
    Ok(out)
}
