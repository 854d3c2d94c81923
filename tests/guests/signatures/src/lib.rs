//! Test guest: flows and checkpoints whose parameter types and doc comments
//! the manifest carries, and whose parameters a run's input is checked
//! against before an execution is made: `name` must be there, `times` and
//! `suffix` may be left out (an `Option`, and an alias of one, which only
//! serde can see through).

use std::collections::BTreeMap;

use cairn_guest::{Error, checkpoint, flow};

/// An alias the macros cannot see through.
type Maybe<T> = Option<T>;

/// Greets `name`, `times` times.
///
/// This second paragraph is only in `cairn inspect --json`.
#[checkpoint]
fn greet(name: String, times: u32) -> String {
    vec![format!("hello {name}"); times as usize].join(", ")
}

/// Adds up the counts of each key.
#[checkpoint(runtime = "isolated")]
fn tally(counts: BTreeMap<String, Vec<u32>>) -> u32 {
    counts.values().flatten().sum()
}

/// Greets someone, once unless told otherwise.
#[flow]
fn welcome(name: String, times: Option<u32>, suffix: Maybe<String>) -> Result<String, Error> {
    let greeting = greet(name, times.unwrap_or(1))?;
    Ok(format!("{greeting}{}", suffix.unwrap_or_default()))
}

#[flow]
fn undocumented(counts: BTreeMap<String, Vec<u32>>) -> Result<u32, Error> {
    tally(counts)
}
