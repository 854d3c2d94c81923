//! `kind` is a label: an empty (or blank) string is rejected.
use cairn_guest::checkpoint;

#[checkpoint(kind = "")]
fn add_one(x: i64) -> i64 {
    x + 1
}

fn main() {}
