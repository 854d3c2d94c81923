//! The second occurrence of an option is the one pointed at.
use cairn_guest::checkpoint;

#[checkpoint(retries = 1, cache = true, retries = 2)]
fn add_one(x: i64) -> i64 {
    x + 1
}

fn main() {}
