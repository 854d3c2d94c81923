//! Hostile test guest: writing into a read-only folder.

use cairn_guest::{Error, checkpoint, flow};

/// Writes /data/planted.txt.
#[checkpoint(runtime = "isolated")]
fn hostile() -> Result<String, String> {
    std::fs::write("/data/planted.txt", b"planted").map_err(|e| e.to_string())?;
    Ok("written".to_owned())
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
