//! Integration tests of a guest crate in the real host, from `cargo test`.
//!
//! A guest author's `tests/it.rs` builds the crate into a component with
//! [`build_component`] (cargo, for `wasm32-wasip2`, once per test binary),
//! opens a [`TestHost`] (a real [`Host`](crate::Host) on a journal in a
//! fresh temporary folder, with a fixed clock), runs flows with serde
//! inputs and typed outputs, answers waits, resumes, and reads the journal
//! back through the [`Client`](crate::Client): calls, attempts, waits.
//!
//! ```no_run
//! use cairn_host::testing::{TestHost, build_component};
//! use serde_json::{Value, json};
//!
//! #[tokio::test]
//! async fn hello_greets_in_three_calls() -> Result<(), Box<dyn std::error::Error>> {
//!     let wasm = build_component(env!("CARGO_MANIFEST_DIR"))?; // built once per binary
//!     let t = TestHost::new()?;
//!     let hello = t.host().load_file(&wasm).await?;
//!
//!     let done = t.run_completed::<Value>(&hello, "hello", &json!({ "name": "Ada" })).await?;
//!     assert_eq!(done.output["words"], 5);
//!
//!     let execution = t.execution(done.id).await?;
//!     let calls: Vec<_> = execution.calls.iter().map(|c| c.call_id.as_str()).collect();
//!     assert_eq!(calls, ["greet", "shout", "count_words"]);
//!     assert!(execution.calls.iter().all(|c| c.attempts.len() == 1));
//!     Ok(())
//! }
//! # fn main() {}
//! ```
//!
//! This module is the real host's side; for unit tests of a guest's Rust
//! code, natively and without a host, see the guest SDK's
//! `cairn_guest::testing`.

mod build;
mod clock;
mod test_host;

pub use build::{BuildError, ComponentBuild, TARGET, build_component};
pub use clock::{FixedClock, TEST_EPOCH_US};
pub use test_host::{
    Completed, KEEP_ENV, TestError, TestHost, TestHostBuilder, TestHostError, completed,
};
