//! A checkpoint cannot be variadic.
use cairn_guest::checkpoint;

#[checkpoint]
fn add_one(x: i64, _: ...) -> i64 {
    x + 1
}

fn main() {}
