//! A checkpoint cannot take `self` (the attribute runs before rustc
//! rejects `self` in a free function, so the macro reports it).
use cairn_guest::checkpoint;

#[checkpoint]
fn add_one(self, x: i64) -> i64 {
    x + 1
}

fn main() {}
