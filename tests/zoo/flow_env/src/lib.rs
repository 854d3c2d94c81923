//! Hostile test guest: a flow (not a checkpoint) reading an environment
//! variable that the policy passes through to checkpoints only.

use cairn_guest::{Error, checkpoint, flow};

/// Reads CARGO_PKG_NAME, as a checkpoint.
#[checkpoint(runtime = "isolated")]
fn in_checkpoint() -> Option<String> {
    std::env::var("CARGO_PKG_NAME").ok()
}

/// Reads it from the flow, and from a checkpoint.
#[flow]
fn run() -> Result<(Option<String>, Option<String>), Error> {
    Ok((std::env::var("CARGO_PKG_NAME").ok(), in_checkpoint()?))
}
