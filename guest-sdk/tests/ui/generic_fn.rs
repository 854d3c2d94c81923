//! A flow cannot be generic: its input and output are concrete JSON types.
use cairn_guest::flow;

#[flow]
fn pipeline<T: Default>(n: i64) -> i64 {
    n
}

fn main() {}
