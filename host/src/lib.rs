//! Cairn runs durable flows whose checkpoints are sandboxed WebAssembly
//! components.
//!
//! - A **component** (built with the `cairn-guest` SDK for `wasm32-wasip2`)
//!   holds flows and checkpoints. It is identified by the blake3 hash of its
//!   bytes, which the journal keeps so that the exact code can run again.
//! - A **flow** is deterministic code that calls checkpoints. It runs in a
//!   store with deterministic WASI: no files, network or env, a journaled
//!   clock and seeded randomness.
//! - A **checkpoint** is a unit of work whose JSON output is journaled. It runs
//!   **inline** (one store shared by an execution's inline calls) or
//!   **isolated** (a fresh store per attempt), under the fuel, memory and
//!   time limits of a [`Policy`].
//! - An **execution** is one run of a flow; each checkpoint call in it is a
//!   **call** with a `seq`, and each try of a call an **attempt**.
//! - The **journal** is a redb file holding all of the above.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use cairn_host::{ExecutionStatus, Host};
//!
//! let host = Host::builder().journal(".cairn/journal.redb").open()?;
//! let component = host.load_file("hello.wasm").await?;
//! let outcome = host.run(&component, "hello", r#"{"name": "world"}"#).await?;
//! assert_eq!(outcome.status, ExecutionStatus::Completed);
//! println!("{}", outcome.output.unwrap_or_default());
//!
//! let detail = host.client().execution(outcome.id)?.expect("journaled");
//! for call in &detail.calls {
//!     println!("{} {:?} after {} attempt(s)", call.call_id, call.status, call.attempts.len());
//! }
//! # Ok(())
//! # }
//! ```

#[doc(hidden)]
pub mod bench;
mod bindings;
mod client;
mod clock;
mod component;
mod engine;
mod error;
mod events;
mod host;
mod journal;
mod manifest;
mod model;
mod policy;
mod runner;
mod runtime;
mod schema;
mod selector;
mod timefmt;

pub use client::{
    AttemptView, CallView, Client, ExecutionDetail, ExecutionFilter, ExecutionSummary, WaitView,
};
pub use clock::{Clock, SharedClock, SystemClock};
pub use component::Component;
pub use engine::{Engine, EngineBuilder};
pub use error::{JournalError, LoadError, RunError, SelectorError};
pub use events::{Event, EventSink};
pub use host::{Host, HostBuilder, OpenError};
pub use manifest::{CheckpointInfo, FlowInfo, Manifest};
pub use model::{
    AttemptOutcome, CallSource, CallStatus, ComponentHash, ExecutionId, ExecutionStatus, Failure,
    FailureKind, Runtime, TrapKind,
};
pub use policy::{CheckpointLimits, DirGrant, Policy, PolicyRecord};
pub use runner::replay::ReplayRequest;
pub use runner::{Durability, Outcome};
pub use timefmt::rfc3339;
