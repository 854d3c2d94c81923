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

#[cfg(test)]
mod tests {
    //! Native tests: `cargo test -p hello` runs the flow and its
    //! checkpoints as plain functions (see `cairn_guest::testing`).

    use cairn_guest::testing::{FlowTest, json};

    use super::*;

    #[test]
    fn the_flow_greets_loudly_in_three_calls() {
        let run = FlowTest::new().run(|| hello("world".to_owned()));
        let greeting = run.output.as_ref().expect("the flow completes");
        assert_eq!(greeting.text, "HELLO, WORLD, FROM A DURABLE FLOW!");
        assert_eq!(greeting.words, 6);
        assert_eq!(run.call_ids(), ["greet", "shout", "count_words"]);
        assert_eq!(run.calls[0].input, json!({"name": "world"}));
        assert_eq!(
            run.call("shout").map(|c| &c.output),
            Some(&Ok(json!("HELLO, WORLD, FROM A DURABLE FLOW!")))
        );
    }

    #[test]
    fn the_flow_stops_at_a_failed_greeting() {
        let run = FlowTest::new().run(|| hello("  ".to_owned()));
        assert!(matches!(run.output, Err(Error::Failed { .. })));
        assert_eq!(run.call_ids(), ["greet"], "no later checkpoint runs");
    }

    #[test]
    fn greet_trims_and_refuses_an_empty_name() {
        assert_eq!(
            greet(" ada ".to_owned()),
            Ok("Hello, ada, from a durable flow!".to_owned())
        );
        assert_eq!(
            greet("   ".to_owned()),
            Err(Error::Failed {
                checkpoint: "greet".to_owned(),
                message: "a greeting needs a name".to_owned(),
            })
        );
    }

    #[test]
    fn count_words_counts_whitespace_separated_words() {
        assert_eq!(count_words("one two  three".to_owned()), Ok(3));
        assert_eq!(count_words(String::new()), Ok(0));
    }
}
