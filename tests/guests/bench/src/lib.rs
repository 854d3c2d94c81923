//! Trivial checkpoints and the flows `cargo xtask bench` times. Nothing is
//! cached: every call must really run.

use cairn_guest::{Error, checkpoint, flow};

/// Returns its input, in a fresh store.
#[checkpoint(runtime = "isolated", cache = false)]
fn tick(i: u64) -> u64 {
    i
}

/// Returns its input, in the execution's shared store.
#[checkpoint(cache = false)]
fn tick_inline(i: u64) -> u64 {
    i
}

/// `n` isolated calls, one after another.
#[flow]
fn sequential_isolated(n: u64) -> Result<u64, Error> {
    let mut sum = 0;
    for i in 0..n {
        sum += tick(i)?;
    }
    Ok(sum)
}

/// `n` inline calls, one after another.
#[flow]
fn sequential_inline(n: u64) -> Result<u64, Error> {
    let mut sum = 0;
    for i in 0..n {
        sum += tick_inline(i)?;
    }
    Ok(sum)
}

/// One map of `n` isolated calls.
#[flow]
fn fan_out(n: u64) -> Result<u64, Error> {
    Ok(tick::map(0..n)?.iter().sum())
}

/// One call.
#[flow]
fn single() -> Result<u64, Error> {
    tick(1)
}

/// `n` isolated calls, then a wait: resuming after the answer replays all
/// `n` calls from the journal.
#[flow]
fn replayable(n: u64) -> Result<u64, Error> {
    let sum: u64 = tick::map(0..n)?.iter().sum();
    let go: bool = cairn_guest::wait("go", "finish?")?;
    Ok(if go { sum } else { 0 })
}
