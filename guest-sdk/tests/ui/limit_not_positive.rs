use cairn_guest::checkpoint;

#[checkpoint(fuel = 0)]
fn add_one(x: i64) -> i64 {
    x + 1
}

fn main() {}
