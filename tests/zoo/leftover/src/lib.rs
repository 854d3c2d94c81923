//! Hostile test guest: reading data an earlier isolated call left in memory.

use cairn_guest::{Error, checkpoint, flow};

use std::sync::Mutex;

static SECRET: Mutex<String> = Mutex::new(String::new());

/// Leaves a secret in memory.
#[checkpoint(runtime = "isolated")]
fn plant(secret: String) -> bool {
    if let Ok(mut slot) = SECRET.lock() {
        *slot = secret;
    }
    true
}

/// Reads whatever an earlier call left.
#[checkpoint(runtime = "isolated")]
fn hostile() -> String {
    SECRET.lock().map(|s| s.clone()).unwrap_or_default()
}

/// A harmless call that must not run after an unhandled failure.
#[checkpoint]
fn after() -> u32 {
    1
}

/// Runs the hostile checkpoint, then `after`.
#[flow]
fn run() -> Result<String, Error> {
    plant("hunter2".to_owned())?;
    let out = hostile()?;
    after()?;
    Ok(out)
}
