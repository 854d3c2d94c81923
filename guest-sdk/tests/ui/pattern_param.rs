//! Parameters are plain names: they become the keys of the JSON input.
use cairn_guest::checkpoint;

#[checkpoint]
fn add((a, b): (i32, i32)) -> i32 {
    a + b
}

fn main() {}
