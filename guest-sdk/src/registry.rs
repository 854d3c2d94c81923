//! The link-time lists of a component's flows and checkpoints, filled by the
//! `#[flow]` and `#[checkpoint]` attributes through `inventory`.

use crate::bindings::cairn::checkpoint::types::GuestError;

/// What an entry point returns: its output JSON or why there is none.
pub type Output = Result<String, GuestError>;

/// Runs one entry point: JSON input object in, JSON output out.
pub(crate) type Invoke = fn(&str) -> Output;

/// Whether a parameter's type accepts being left out of the input object
/// (`Option<T>` does: it is then `None`). The generated code answers it
/// with serde itself, deserializing the type as a missing field, so a type
/// alias or a wrapper gets the answer serde would give; the host uses it to
/// refuse an input that lacks a required key before it creates an
/// execution.
pub(crate) type AcceptsMissing = fn() -> bool;

/// Where a checkpoint runs (mirrors the WIT `runtime`).
#[derive(Debug, Clone, Copy)]
pub enum Runtime {
    /// The execution's shared store.
    Inline,
    /// A fresh store per attempt.
    Isolated,
}

/// One `#[checkpoint]`.
pub struct CheckpointEntry {
    /// Its name.
    pub name: &'static str,
    /// Its parameter names.
    pub params: &'static [&'static str],
    /// Its parameter types as written, one per name.
    pub param_types: &'static [&'static str],
    /// Whether each parameter may be left out of the input, one per name.
    pub param_optional: &'static [AcceptsMissing],
    /// Its doc comment, if it has one.
    pub doc: Option<&'static str>,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// Its cache option, if set.
    pub cache: Option<bool>,
    /// Its kind label, if set.
    pub kind: Option<&'static str>,
    /// Where it runs.
    pub runtime: Runtime,
    /// Its own fuel limit per attempt.
    pub fuel: Option<u64>,
    /// Its own memory limit in bytes.
    pub memory_bytes: Option<u64>,
    /// Its own time limit per attempt in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Its entry point.
    pub invoke: Invoke,
}

/// One `#[flow]`.
pub struct FlowEntry {
    /// Its name.
    pub name: &'static str,
    /// Its parameter names.
    pub params: &'static [&'static str],
    /// Its parameter types as written, one per name.
    pub param_types: &'static [&'static str],
    /// Whether each parameter may be left out of the input, one per name.
    pub param_optional: &'static [AcceptsMissing],
    /// Its doc comment, if it has one.
    pub doc: Option<&'static str>,
    /// Whole-flow retries after a failure.
    pub retries: u32,
    /// Its default cache option for checkpoint calls.
    pub cache: bool,
    /// Its entry point.
    pub invoke: Invoke,
}

inventory::collect!(CheckpointEntry);
inventory::collect!(FlowEntry);

pub(crate) fn checkpoints() -> impl Iterator<Item = &'static CheckpointEntry> {
    inventory::iter::<CheckpointEntry>.into_iter()
}

pub(crate) fn flows() -> impl Iterator<Item = &'static FlowEntry> {
    inventory::iter::<FlowEntry>.into_iter()
}
