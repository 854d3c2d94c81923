//! Hostile test guest: an endless loop of bulk memory fills, cheap in fuel and long in time.

use cairn_guest::{Error, checkpoint, flow};

/// Fills 32 MiB over and over.
#[checkpoint(runtime = "isolated")]
fn hostile() -> u64 {
    let mut block = vec![0u8; 32 << 20];
    let mut round: u8 = 0;
    loop {
        round = round.wrapping_add(1);
        block.fill(std::hint::black_box(round));
        std::hint::black_box(&block);
    }
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
