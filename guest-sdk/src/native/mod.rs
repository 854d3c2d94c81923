//! The runner outside wasm: what `cargo test` uses instead of the host.
//!
//! In a component, a checkpoint call goes through the WIT `runner` imports
//! to the host. Built for anything but `wasm32`, those imports are stubs
//! that abort, so the SDK calls this module instead: [`runner`] has the
//! same functions with the same types, and runs each call at once, in this
//! process, through the same registry and `invoke` entry points the
//! component's exports use (JSON in, JSON out, retries, a panic as a trap).
//! Time, randomness, wait values and the record of what happened live in a
//! per-thread [`context`], which [`crate::testing::FlowTest`] installs for
//! one run.
//!
//! None of this is compiled into a component.

mod attempt;
pub(crate) mod children;
pub(crate) mod context;
mod panic;
pub(crate) mod runner;
pub(crate) mod timers;
