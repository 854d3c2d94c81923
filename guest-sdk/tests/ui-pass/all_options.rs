//! Every option and every supported signature shape compiles.
use cairn_guest::{Error, checkpoint, flow};

/// Every option of #[checkpoint] at once.
#[checkpoint(retries = 100, cache = false, kind = "llm_call", runtime = "isolated")]
fn add_one(x: i64) -> i64 {
    x + 1
}

/// A fallible checkpoint with its own error type.
#[checkpoint(runtime = "inline", retries = 0, cache = true)]
fn halve(x: i64) -> Result<i64, String> {
    if x % 2 == 0 {
        Ok(x / 2)
    } else {
        Err(format!("{x} is odd"))
    }
}

/// A checkpoint with no output.
#[checkpoint(kind = "side_effect")]
fn note(message: String) {
    let _ = message;
}

/// A flow with every option, calling the checkpoints both ways.
#[flow(retries = 2, cache = false)]
fn pipeline(n: i64, label: String) -> Result<i64, Error> {
    let a = add_one(n)?;
    let b = halve::submit(a);
    note(label)?;
    let _name: &str = halve::NAME;
    b.result()
}

/// A flow with no options and no parameters.
#[flow]
fn empty() -> i64 {
    0
}

fn main() {}
