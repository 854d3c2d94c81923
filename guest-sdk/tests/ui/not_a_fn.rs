//! The attributes apply to functions only.
use cairn_guest::checkpoint;

#[checkpoint]
struct AddOne;

fn main() {}
