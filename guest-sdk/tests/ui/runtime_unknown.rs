//! `runtime` is "inline" or "isolated"; there is no "remote".
use cairn_guest::checkpoint;

#[checkpoint(runtime = "remote")]
fn add_one(x: i64) -> i64 {
    x + 1
}

fn main() {}
