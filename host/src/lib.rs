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
//! - The **journal** holds all of the above: a redb file (or memory)
//!   today, behind a trait so that other stores can follow.
//! - A **host-side flow** ([`HostFlow`]) is a flow written as a Rust async
//!   closure in the embedding program. It calls checkpoints of loaded
//!   components through its [`FlowCtx`] and is journaled like a guest flow.
//!
//! A [`Host`] owns the engine, the journal and the [`Policy`]; it runs,
//! resumes, replays and cancels executions, answers waits, and reports
//! progress as [`Event`]s ([`Host::subscribe`]). Its [`Client`] reads
//! executions, calls and attempts back (asynchronously, like every journal
//! read). Everything is async on tokio (on a
//! runtime with timers: guest time is bounded with them), every future is
//! `Send`, and errors are typed, one enum per operation: [`OpenError`],
//! [`LoadError`], [`RunError`], [`ResumeError`], [`ReplayError`],
//! [`AnswerError`], [`CancelError`], [`RegisterError`], [`JournalError`],
//! [`CheckpointError`].
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
//! let detail = host.client().execution(outcome.id).await?.expect("journaled");
//! for call in &detail.calls {
//!     println!("{} {:?} after {} attempt(s)", call.call_id, call.status, call.attempts.len());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! A host-side flow calling the same component's `greet` checkpoint:
//!
//! ```no_run
//! # async fn example(host: cairn_host::Host, component: cairn_host::Component)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use cairn_host::{FlowCtx, FlowError, HostFlow};
//! use serde_json::{Value, json};
//!
//! let greet = component.checkpoint::<Value, String>("greet")?;
//! host.register(HostFlow::new("greet_all", move |ctx: FlowCtx, names: Vec<String>| {
//!     let greet = greet.clone();
//!     async move {
//!         let inputs = names.iter().map(|name| json!({ "name": name }));
//!         Ok::<_, FlowError>(ctx.map(&greet, inputs).await?)
//!     }
//! }))?;
//! let outcome = host.run_flow("greet_all", &["Ada", "Grace"]).await?;
//! # Ok(())
//! # }
//! ```
//!
//! A checkpoint handle cannot run by itself, and only the runner makes a
//! [`FlowCtx`], so calling a checkpoint outside a flow does not compile:
//!
//! ```compile_fail,E0451
//! // The fields exist but are private: only the runner makes a `FlowCtx`.
//! let ctx = cairn_host::FlowCtx { shared: todo!(), exec: todo!() };
//! ```
//!
//! # Compiled components, and debug builds
//!
//! Loading a component compiles it to native code with wasmtime's
//! Cranelift. A host on a journal file keeps what it compiled in
//! `artifacts/` beside the journal ([`HostBuilder::artifact_cache`] moves
//! or turns it off; an [`Engine`] you give it keeps its own cache, if
//! any), so a component is compiled once, not on every start of the
//! program.
//!
//! That first compile is slow in a debug build of an embedding program,
//! because Cranelift is then compiled without optimisations too: the
//! 170 KB `hello` example takes about 8 s to compile in a default `dev`
//! profile, 1.9 s with only `cranelift-codegen`, `regalloc2` and
//! `wasmtime-cranelift` optimised, and 0.65 s with every dependency
//! optimised (wasmtime 48 on a 2-core machine). So optimise the
//! dependencies in the `Cargo.toml` of the workspace root (profiles
//! elsewhere are ignored); your own crates stay quick to rebuild, and the
//! dependencies are built once:
//!
//! ```toml
//! [profile.dev.package."*"]
//! opt-level = 2
//! ```
//!
//! The same goes for a guest crate's integration tests, which load the
//! component in a real host ([`testing`]).

// Baselines for `cargo xtask bench`, outside the public API: only the
// benchmark crate turns the feature on.
mod background;
#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench;
mod bindings;
mod call;
mod check;
mod client;
mod clock;
mod component;
mod engine;
mod error;
mod events;
mod files;
mod guest_text;
mod host;
mod host_flow;
mod journal;
pub mod json_out;
mod manifest;
mod model;
mod names;
mod policy;
mod prune;
mod runner;
mod runtime;
mod schedule;
mod schema;
mod selector;
pub mod testing;
mod timefmt;

pub use background::Started;
pub use check::{
    CheckError, CheckReport, CheckRequest, ExecutionCheck, RecordEnd, UpgradeError, UpgradeView,
    Upgraded, Verdict,
};
pub use client::{
    AttemptView, CallView, ChildLinkView, Client, ExecutionDetail, ExecutionFilter,
    ExecutionSummary, RetryView, WaitView,
};
pub use clock::{Clock, SharedClock, SystemClock};
pub use component::{Component, MAX_COMPONENT_BYTES};
pub use engine::{Engine, EngineBuilder, MAX_WASM_STACK, MIN_WASM_STACK};
pub use error::{
    AnswerError, CallRef, CancelError, Cause, JournalError, LoadError, RegisterError, ReplayError,
    ResumeError, RunError, SelectorError,
};
pub use events::{Event, EventSink};
pub use files::{ReadFileError, read_regular_file};
pub use host::{Host, HostBuilder, OpenError, POSTGRES_SCHEMA_VERSION, migrate_journal};
pub use host_flow::{Checkpoint, CheckpointError, FlowCtx, FlowError, HostFlow, Pending};
pub use journal::Pruned;
pub use journal::PrunedComponents;
pub use manifest::{CheckpointInfo, FlowInfo, Manifest};
pub use model::{
    AnswerSource, AttemptOutcome, CallSource, CallStatus, ComponentHash, Divergence, ExecutionId,
    ExecutionStatus, Failure, FailureKind, ParseHashError, Runtime, TrapKind,
};
pub use names::MAX_NAME_LEN;
pub use policy::{
    CheckpointLimits, DirGrant, MAX_CHILD_DEPTH, MAX_LOG_BYTES, MAX_MESSAGE_BYTES,
    MAX_OUTPUT_BYTES, MAX_TIMEOUT, MIN_MEMORY_BYTES, Policy, PolicyRecord,
};
pub use prune::{PRUNE_STEP_CALLS, PRUNE_STEP_EXECUTIONS, PruneError, PruneReport, PruneRequest};
pub use runner::execution::timed_step::TimerKind;
pub use runner::replay::ReplayRequest;
pub use runner::{Durability, Outcome};
pub use schedule::{CatchUp, Due, LATE_AFTER_US, ScheduleError, ScheduleSpec, ScheduleView};
