//! `retries` takes a whole number, not a string.
use cairn_guest::flow;

#[flow(retries = "3")]
fn pipeline(n: i64) -> i64 {
    n
}

fn main() {}
