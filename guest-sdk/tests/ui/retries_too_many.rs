//! `retries` is capped at 100.
use cairn_guest::checkpoint;

#[checkpoint(retries = 101)]
fn add_one(x: i64) -> i64 {
    x + 1
}

fn main() {}
