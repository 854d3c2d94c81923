//! `cargo xtask demo` runs this flow:
//!
//! ```text
//! cairn run target/wasm32-wasip2/guest/hello.wasm --input '{"name": "world"}'
//! ```
//!
//! Three checkpoints: two inline (they share the execution's store) and one
//! isolated (a fresh sandbox for its attempt).

use cairn_guest::{Error, checkpoint, flow};
use serde::{Deserialize, Serialize};

/// The flow's output.
#[derive(Serialize, Deserialize)]
pub struct Greeting {
    /// The greeting, shouted.
    pub text: String,
    /// How many words it has.
    pub words: u32,
}

/// Builds the greeting.
#[checkpoint]
fn greet(name: String) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("a greeting needs a name".to_owned());
    }
    Ok(format!("Hello, {name}, from a durable flow!"))
}

/// Shouts it, in a sandbox of its own.
#[checkpoint(runtime = "isolated")]
fn shout(text: String) -> String {
    text.to_uppercase()
}

/// Counts its words.
#[checkpoint(kind = "metric")]
fn count_words(text: String) -> u32 {
    u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX)
}

/// Greets `name`, loudly, and counts the words.
#[flow]
fn hello(name: String) -> Result<Greeting, Error> {
    let greeting = greet(name)?;
    let text = shout(greeting)?;
    let words = count_words(text.clone())?;
    Ok(Greeting { text, words })
}
