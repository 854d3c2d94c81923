//! Hostile test guest: escaping the granted folder with ...

use cairn_guest::{Error, checkpoint, flow};

/// Reads /data/../../../../etc/passwd.
#[checkpoint(runtime = "isolated")]
fn hostile() -> Result<String, String> {
    std::fs::read_to_string("/data/../../../../etc/passwd").map_err(|e| e.to_string())
}

/// A harmless call that must not run after an unhandled failure.
#[checkpoint]
fn after() -> u32 {
    1
}

/// Runs the hostile checkpoint, then `after`.
#[flow]
fn run() -> Result<String, Error> {
    let out = hostile()?;
    after()?;
    Ok(out)
}
