//! A misspelt option of #[checkpoint] is named in the error.
use cairn_guest::checkpoint;

#[checkpoint(retry = 3)]
fn add_one(x: i64) -> i64 {
    x + 1
}

fn main() {}
