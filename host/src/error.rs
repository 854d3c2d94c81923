//! One error enum per operation. Each carries the data a caller needs (ids,
//! names, paths) and keeps apart the guest's own error, a trap and a host
//! failure.

use std::path::PathBuf;

use crate::model::{ComponentHash, ExecutionId};

/// Opening, reading or writing the journal failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// Another process (or another handle in this one) has the journal open.
    #[error("journal {path} is in use by another process")]
    InUse {
        /// The journal file.
        path: PathBuf,
    },
    /// The file exists but is not a Cairn journal (empty, foreign or damaged
    /// header); it is left untouched.
    #[error("{path} is not a Cairn journal: {reason}")]
    NotAJournal {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// The journal was written by a newer Cairn.
    #[error("journal {path} has format version {found}; this Cairn reads version {supported}")]
    TooNew {
        /// The journal file.
        path: PathBuf,
        /// Its format version.
        found: u64,
        /// The version this build reads.
        supported: u64,
    },
    /// The journal was written by an older Cairn, whose records this build
    /// does not read (there is no migration yet); it is left untouched.
    #[error(
        "journal {path} has format version {found}, from an older Cairn; this Cairn reads \
         version {supported} and does not migrate journals"
    )]
    TooOld {
        /// The journal file.
        path: PathBuf,
        /// Its format version.
        found: u64,
        /// The version this build reads.
        supported: u64,
    },
    /// A record failed its checksum or did not decode.
    #[error("journal record {what} is corrupt: {reason}")]
    Corrupt {
        /// Which record (table and key).
        what: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The storage layer failed (I/O, redb).
    #[error("journal storage error: {0}")]
    Storage(String),
    /// The journal's writer has stopped (its process is shutting down).
    #[error("the journal writer has stopped")]
    Closed,
    /// A read-only open found no journal at the path (none is created).
    #[error("no journal at {path}")]
    Missing {
        /// Where the journal was looked for.
        path: PathBuf,
    },
    /// The journal was opened read-only, and something tried to write to it.
    #[error("journal {path} is open read-only; nothing can be written to it")]
    ReadOnly {
        /// The journal file.
        path: PathBuf,
    },
    /// The file is a redb database, as Cairn journals are, but redb cannot
    /// open it: it was truncated or damaged. It is left untouched.
    #[error(
        "journal {path} is damaged (truncated or overwritten): {reason}; it was left untouched, \
         and {}",
        surviving_text(*.surviving)
    )]
    Damaged {
        /// The journal file.
        path: PathBuf,
        /// What redb reported.
        reason: String,
        /// How many executions a repair in memory (of a copy, never the
        /// file) could still read back; `None` if it could read nothing.
        surviving: Option<usize>,
    },
    /// The journal could not grow: the disk (or the quota, or the process's
    /// file size limit) is full. What was acknowledged before is intact;
    /// this write and every later one of this handle failed.
    #[error(
        "the journal {path} cannot grow: its disk is full (or a quota or file size limit was \
         reached): {reason}; free some space, then resume"
    )]
    DiskFull {
        /// The journal file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
}

fn surviving_text(surviving: Option<usize>) -> String {
    match surviving {
        Some(1) => "a repair of a copy in memory can still read 1 execution from it".to_owned(),
        Some(n) => format!("a repair of a copy in memory can still read {n} executions from it"),
        None => "nothing in it could be read back, even by a repair of a copy in memory".to_owned(),
    }
}

/// Loading a component failed. Nothing has run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The component file could not be read.
    #[error("cannot read component {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The bytes are not a valid WebAssembly component (a core module, a
    /// truncated file, something else entirely).
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    /// The component imports something Cairn does not provide.
    #[error("the component imports what Cairn does not provide: {0}")]
    UnsupportedImports(String),
    /// The component does not export Cairn's `guest` interface (another world).
    #[error("not a Cairn component (it must export cairn:checkpoint/guest): {0}")]
    NotACairnComponent(String),
    /// It cannot be instantiated within the engine's limits (a huge table or
    /// memory, say).
    #[error("the component cannot be instantiated: {0}")]
    Instantiate(String),
    /// Its `describe` trapped or returned an invalid manifest.
    #[error("the component's manifest is invalid: {0}")]
    BadManifest(String),
    /// The engine failed to compile it or to use the artifact cache.
    #[error("compiling the component failed: {0}")]
    Compile(String),
    /// The component has no checkpoint of this name.
    #[error("unknown checkpoint `{name}`; the component has: {available}")]
    UnknownCheckpoint {
        /// The requested name.
        name: String,
        /// The checkpoints it has, comma-separated.
        available: String,
    },
    /// The journal's copy of a component is missing.
    #[error("component {0} is not in the journal")]
    NotInJournal(ComponentHash),
    /// Reading the component from the journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A call selector named no call, or several.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectorError {
    /// No call matches.
    #[error("no call matches `{selector}`; the calls are: {candidates}")]
    Unknown {
        /// The selector.
        selector: String,
        /// Every call, as `call_id (seq n)`.
        candidates: String,
    },
    /// Several calls match (a checkpoint name called more than once).
    #[error("`{selector}` matches several calls: {candidates}; name one by its call id or seq")]
    Ambiguous {
        /// The selector.
        selector: String,
        /// The matching calls, as `call_id (seq n)`.
        candidates: String,
    },
}

/// Starting or running an execution failed before the flow could finish.
///
/// A flow that fails on its own terms is not an error here: it is an
/// [`crate::Outcome`] with status `failed`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The component has no flow of this name.
    #[error("unknown flow `{name}`; the component has: {available}")]
    UnknownFlow {
        /// The requested name.
        name: String,
        /// The flows it has, comma-separated.
        available: String,
    },
    /// No host-side flow of this name is registered with the host (to resume
    /// one after a restart, register it again first).
    #[error("no host-side flow `{name}` is registered; registered: {registered}")]
    UnregisteredFlow {
        /// The requested name.
        name: String,
        /// The registered flows, comma-separated.
        registered: String,
    },
    /// A host-side flow of this name is already registered.
    #[error("a host-side flow `{0}` is already registered")]
    FlowAlreadyRegistered(String),
    /// The policy's memory limit is below what the component needs to
    /// start at all: every attempt would fail.
    #[error(
        "the memory limit of {limit} bytes is below the {needed} bytes component {component} needs to start; raise it to at least {needed}"
    )]
    MemoryTooSmall {
        /// The component.
        component: ComponentHash,
        /// What it needs to instantiate.
        needed: u64,
        /// The policy's limit (after the engine's maximum).
        limit: u64,
    },
    /// A host-side flow's name is not a valid name (see
    /// [`crate::MAX_NAME_LEN`] and the character set in the README).
    #[error("invalid host-side flow name: {0}")]
    BadFlowName(String),
    /// A replay of a host-side flow was given a component: such a flow
    /// chooses its components in its own code.
    #[error(
        "execution {0} ran a host-side flow, which chooses its components in its own code; \
         a replay cannot swap them"
    )]
    ComponentForHostFlow(ExecutionId),
    /// The input is not a JSON object of the flow's parameters.
    #[error("bad input for flow `{flow}`: {reason}")]
    BadInput {
        /// The flow.
        flow: String,
        /// What was wrong.
        reason: String,
    },
    /// No execution with this id exists.
    #[error("no execution {0}")]
    UnknownExecution(ExecutionId),
    /// The execution is already running in this host.
    #[error("execution {0} is already running")]
    AlreadyRunning(ExecutionId),
    /// The execution was cancelled and cannot be resumed.
    #[error("execution {0} was cancelled and cannot be resumed")]
    Cancelled(ExecutionId),
    /// A replay's `--from` or `--override` names no call, or several.
    #[error(transparent)]
    Selector(#[from] SelectorError),
    /// A replay override is not valid JSON.
    #[error("the override of `{selector}` is not valid JSON: {reason}")]
    BadOverride {
        /// The selector.
        selector: String,
        /// The parse error.
        reason: String,
    },
    /// The execution has no wait of this name.
    #[error("execution {exec} has no wait `{name}`; its waits: {waits}")]
    UnknownWait {
        /// The execution.
        exec: ExecutionId,
        /// The requested wait.
        name: String,
        /// Its waits, comma-separated.
        waits: String,
    },
    /// The value does not match the wait's schema (or is not JSON).
    #[error("the value for wait `{name}` is invalid: {reason}")]
    InvalidWaitValue {
        /// The wait.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The wait already has a value, which the flow may have used.
    #[error("wait `{name}` of execution {exec} already has a value")]
    AlreadyAnswered {
        /// The execution.
        exec: ExecutionId,
        /// The wait.
        name: String,
    },
    /// The execution cannot be cancelled in its state.
    #[error("execution {exec} is {status} and cannot be cancelled")]
    NotCancellable {
        /// The execution.
        exec: ExecutionId,
        /// Its status.
        status: crate::model::ExecutionStatus,
    },
    /// The component could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The host failed while running the flow (a bug or resource exhaustion,
    /// never the guest's doing).
    #[error("host error in execution {exec}: {reason}")]
    Host {
        /// The execution.
        exec: ExecutionId,
        /// What failed.
        reason: String,
    },
}
