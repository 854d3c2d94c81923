//! Write Cairn flows and checkpoints in Rust.
//!
//! A **checkpoint** is a function whose output Cairn journals: it runs in a
//! WebAssembly sandbox, its input and output are JSON, and a resumed or
//! replayed flow reuses its recorded output instead of running it again. A
//! **flow** is deterministic code that calls checkpoints; only what it asks of
//! the runner is journaled. Build the crate as a `cdylib` for
//! `wasm32-wasip2` and run the component with `cairn run`.
//!
//! ```no_run
//! use cairn_guest::{checkpoint, flow, Error};
//!
//! #[checkpoint]
//! fn add_one(x: i64) -> i64 {
//!     x + 1
//! }
//!
//! #[checkpoint(retries = 2, runtime = "isolated")]
//! fn halve(x: i64) -> Result<i64, String> {
//!     if x % 2 == 0 { Ok(x / 2) } else { Err(format!("{x} is odd")) }
//! }
//!
//! #[flow]
//! fn pipeline(n: i64) -> Result<i64, Error> {
//!     let a = add_one(n)?;                  // journaled call
//!     let b = halve::submit(a);             // a handle: its seq is fixed now
//!     let all = add_one::map(vec![1, 2, 3])?; // [2, 3, 4], in input order
//!     Ok(b.result()? + all.iter().sum::<i64>())
//! }
//! # fn main() {}
//! ```
//!
//! Besides the direct call, every checkpoint `name` has `name::submit(..)`
//! (a [`Pending`] handle; isolated calls run in parallel), `name::map(..)`
//! (one call per item, parameters zipped, equal lengths required; call ids
//! `name[i]`) and, with two or more parameters, `name::product(..)` (the
//! cartesian product, first parameter outermost).
//!
//! Calling a checkpoint from a flow returns `Result<T, cairn_guest::Error>`:
//! the checkpoint failed, trapped (fuel, memory, time, panic) or could not be
//! called. Every `#[checkpoint]` and `#[flow]` registers itself; there is no
//! list to keep in sync.
//!
//! A flow can also wait durably for a value from outside ([`wait`], or
//! [`wait_timeout`] with a deadline), sleep durably ([`sleep`]: the
//! execution holds nothing until the time, and survives restarts), and get
//! time ([`now`]) and randomness ([`random_u64`]) that a resumed flow sees
//! again; checkpoints log with [`log`], and read their [`attempt`] (to build
//! an idempotency key).
//!
//! Options of `#[checkpoint(...)]`: `retries = N` (extra attempts),
//! `cache = bool`, `kind = "label"`, `runtime = "inline" | "isolated"`, and
//! limits that can only tighten the host's policy: `fuel = N`,
//! `memory = BYTES`, `timeout_ms = MS`.
//! Options of `#[flow(...)]`: `retries = N`, `cache = bool`.
//!
//! # Testing
//!
//! Flows and checkpoints are unit-tested with plain `cargo test`, no
//! component needed: built for anything but `wasm32`, a checkpoint call runs
//! the checkpoint's function in the test's process, through JSON both ways,
//! with its retries, and a panic as a trapped attempt, so a flow sees the
//! same `Result<T, Error>` as in the host. [`testing::FlowTest`] gives a run
//! its wait values, clock and random seed and returns the flow's output with
//! the calls, waits and log lines it made:
//!
//! ```
//! # use cairn_guest::{Error, checkpoint, flow, wait};
//! use cairn_guest::testing::{FlowTest, json};
//! # #[checkpoint]
//! # fn draft_post(topic: String) -> String { format!("On {topic}.") }
//! # #[checkpoint]
//! # fn publish(post: String) -> usize { post.len() }
//! # #[derive(serde::Deserialize, schemars::JsonSchema)]
//! # struct Decision { approved: bool }
//! # #[flow]
//! # fn publish_post(topic: String) -> Result<usize, Error> {
//! #     let post = draft_post(topic)?;
//! #     let d: Decision = wait("approve", "Publish?")?;
//! #     if d.approved { publish(post) } else { Ok(0) }
//! # }
//! # fn main() {
//! let run = FlowTest::new()
//!     .wait_value("approve", json!({"approved": true}))
//!     .run(|| publish_post("durable flows".to_owned()));
//! assert_eq!(run.output, Ok(17)); // "On durable flows." published
//! assert_eq!(run.call_ids(), ["draft_post", "publish"]);
//! # }
//! ```
//!
//! Nothing is journaled or sandboxed there, and `submit`, `map` and
//! `product` run one call after the other. None of it is compiled into a
//! component: its behaviour in wasm is unchanged.

mod attempt;
mod bindings;
mod call;
mod child;
mod entry;
mod error;
#[expect(
    unsafe_code,
    reason = "the `export!` of wit-bindgen emits unsafe exported functions"
)]
mod exports;
mod fanout;
mod flow_ctx;
pub mod log;
#[cfg(not(target_arch = "wasm32"))]
mod native;
mod registry;
mod sleep;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

// The one seam between the two targets: in wasm the runner is the host,
// reached through the WIT imports; anywhere else (where wit-bindgen's import
// stubs are `unreachable!()`), a runner in this process that runs
// checkpoints as plain functions, for `cargo test`.
#[cfg(target_arch = "wasm32")]
use bindings::cairn::checkpoint::runner;
#[cfg(target_arch = "wasm32")]
use bindings::cairn::checkpoint::{attempt as attempt_import, children, timers};
#[cfg(not(target_arch = "wasm32"))]
use native::runner;
#[cfg(not(target_arch = "wasm32"))]
use native::{children, timers, timers as attempt_import};

pub use attempt::{Attempt, attempt};
pub use cairn_guest_macros::{checkpoint, flow};
pub use call::Pending;
pub use child::{ChildFlow, child_flow, start_child_flow};
pub use error::{Error, TrapKind};
pub use flow_ctx::{now, random_u64, wait, wait_with_schema};
pub use schemars;
pub use sleep::{sleep, wait_timeout, wait_timeout_with_schema};

/// What the attributes' generated code uses. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::call::{call, submit};
    pub use crate::entry::{fallible_output, output, parse_input};
    pub use crate::fanout::{column, map, product};
    pub use crate::registry::{CheckpointEntry, FlowEntry, Output, Runtime};
    pub use inventory;
    pub use serde;
}
