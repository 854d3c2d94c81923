//! Hostile test guest: a flow (not a checkpoint) reading a granted folder.
//! Flows get no files whatever the policy grants checkpoints.

use cairn_guest::{Error, checkpoint, flow};

/// A harmless call after the attempt.
#[checkpoint]
fn after() -> u32 {
    1
}

/// Tries to read /data from the flow itself.
#[flow]
fn run() -> Result<String, Error> {
    let seen = match std::fs::read_dir("/data") {
        Ok(_) => "the flow read /data".to_owned(),
        Err(e) => format!("denied: {e}"),
    };
    after()?;
    Ok(seen)
}
