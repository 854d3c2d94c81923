//! The three store kinds and their WASI.
//!
//! - [`flow`]: deterministic WASI (no files, network or env; fixed clock;
//!   seeded random), and the `runner` import that journals checkpoint calls.
//! - [`inline`]: one store per execution, shared by its inline calls, rebuilt
//!   after any trap (a trap poisons a whole store).
//! - [`isolated`]: a fresh store per attempt.
//!
//! Both checkpoint kinds use [`checkpoint::CheckpointState`], whose `runner`
//! import refuses checkpoint calls (no nesting).

pub(crate) mod capture;
pub(crate) mod checkpoint;
pub(crate) mod deterministic;
pub(crate) mod flow;
pub(crate) mod flow_activity;
pub(crate) mod http;
pub(crate) mod inline;
pub(crate) mod isolated;
pub(crate) mod limiter;
pub(crate) mod map_imports;
pub(crate) mod outcome;
pub(crate) mod pending;
