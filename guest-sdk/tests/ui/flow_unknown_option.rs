//! `runtime` is an option of #[checkpoint] only, not of #[flow].
use cairn_guest::flow;

#[flow(runtime = "isolated")]
fn pipeline(n: i64) -> i64 {
    n
}

fn main() {}
