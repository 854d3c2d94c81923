//! `cache` takes `true` or `false`, not a string.
use cairn_guest::checkpoint;

#[checkpoint(cache = "yes")]
fn add_one(x: i64) -> i64 {
    x + 1
}

fn main() {}
