//! Hostile test guest: ten megabytes of stdout and stderr.

use cairn_guest::{Error, checkpoint, flow};

/// Prints 10 MB to each stream, then succeeds.
#[checkpoint(runtime = "isolated")]
fn hostile() -> u64 {
    let line = "flood ".repeat(100);
    for _ in 0..17_000 {
        println!("{line}");
        eprintln!("{line}");
    }
    7
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
