//! A checkpoint cannot be async; concurrency is `submit`.
use cairn_guest::checkpoint;

#[checkpoint]
async fn add_one(x: i64) -> i64 {
    x + 1
}

fn main() {}
