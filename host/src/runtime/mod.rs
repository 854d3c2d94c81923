//! The stores checkpoints run in and the pieces every store uses.
//!
//! - [`inline`]: one store per execution, shared by its inline calls, rebuilt
//!   after any trap (a trap poisons a whole store).
//! - [`isolated`]: a fresh store per attempt.
//! - [`checkpoint`]: the state both kinds hold, whose `runner` import refuses
//!   checkpoint calls (no nesting), and how an attempt is armed and read.
//! - The pieces a flow store uses too (the runner owns that store): output
//!   [`capture`], [`deterministic`] clocks and randomness, the memory
//!   [`limiter`], the [`http`] gate and the watch on a flow's own time
//!   ([`flow_activity`]).
//!
//! Nothing here names the runner: calls are spoken of in [`crate::call`]'s
//! terms.

pub(crate) mod attempt_info;
pub(crate) mod capture;
pub(crate) mod checkpoint;
pub(crate) mod deterministic;
pub(crate) mod flow_activity;
pub(crate) mod http;
pub(crate) mod inline;
pub(crate) mod isolated;
pub(crate) mod limiter;
pub(crate) mod map_imports;
pub(crate) mod outcome;
