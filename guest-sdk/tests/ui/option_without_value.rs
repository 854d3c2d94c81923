//! Every option is `key = value`; a bare key is rejected by the parser.
use cairn_guest::checkpoint;

#[checkpoint(cache)]
fn add_one(x: i64) -> i64 {
    x + 1
}

fn main() {}
