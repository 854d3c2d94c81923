//! Option values are literals, not expressions.
use cairn_guest::checkpoint;

#[checkpoint(retries = 1 + 2)]
fn add_one(x: i64) -> i64 {
    x + 1
}

fn main() {}
