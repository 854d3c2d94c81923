//! The vocabulary shared by the journal and the public API: ids, statuses
//! and outcomes.
//!
//! These enums are persisted (postcard encodes a variant by its index), so
//! they only ever gain variants at the end.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An execution's id: a number the journal hands out in order, short enough
/// to type (`cairn executions show 7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExecutionId(pub u64);

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for ExecutionId {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse().map(ExecutionId)
    }
}

/// The blake3 hash of a component's bytes: its identity everywhere (journal,
/// cache, artifact cache).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ComponentHash(pub [u8; 32]);

impl ComponentHash {
    /// Hashes component bytes.
    pub fn of(bytes: &[u8]) -> Self {
        ComponentHash(*blake3::hash(bytes).as_bytes())
    }

    /// The hash as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }
}

/// A string that is not a component hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a component hash (64 hex digits)")]
pub struct ParseHashError(String);

impl FromStr for ComponentHash {
    type Err = ParseHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        blake3::Hash::from_hex(s.trim())
            .map(|hash| ComponentHash(*hash.as_bytes()))
            .map_err(|_| ParseHashError(s.to_owned()))
    }
}

impl fmt::Display for ComponentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ComponentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ComponentHash({})", self.to_hex())
    }
}

/// Where an execution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExecutionStatus {
    /// Running now, or left running by a process that died.
    Running,
    /// Waiting for a value from outside, or parked until a checkpoint's
    /// retry is due (see `ExecutionDetail::retries`).
    Waiting,
    /// Finished with an output.
    Completed,
    /// Finished with a failure.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl ExecutionStatus {
    /// Its name as the CLI and JSON show it.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "running",
            ExecutionStatus::Waiting => "waiting",
            ExecutionStatus::Completed => "completed",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::Cancelled => "cancelled",
        }
    }

    /// Whether it has ended: completed, failed or cancelled.
    pub fn has_ended(self) -> bool {
        matches!(
            self,
            ExecutionStatus::Completed | ExecutionStatus::Failed | ExecutionStatus::Cancelled
        )
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExecutionStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ExecutionStatus::Running,
            ExecutionStatus::Waiting,
            ExecutionStatus::Completed,
            ExecutionStatus::Failed,
            ExecutionStatus::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
        .ok_or_else(|| {
            format!(
                "unknown status `{s}`; expected running, waiting, completed, failed or cancelled"
            )
        })
    }
}

/// Why an execution failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// What happened, for a person.
    pub message: String,
    /// For a [`FailureKind::NonDeterminism`] failure, where the flow left
    /// its journal, as data; `None` for every other kind.
    pub divergence: Option<Divergence>,
}

impl Failure {
    /// A failure of `kind` with no further data.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            divergence: None,
        }
    }
}

/// The first call at which a resumed (or retried) flow made another call
/// than its journal records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    /// The call's seq.
    pub seq: u32,
    /// The call the journal has at that seq, as a person reads it (its
    /// checkpoint, call id and input, cut short).
    pub expected: String,
    /// The call the flow made instead, likewise.
    pub found: String,
}

/// The kinds of execution failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The flow returned an error (often a checkpoint failure it did not
    /// handle).
    FlowError,
    /// The flow's own code trapped (panic, out of fuel, ...).
    FlowTrapped,
    /// The input did not match the flow's parameters.
    BadInput,
    /// On resume the flow made a call that does not match the journal.
    NonDeterminism,
    /// The host failed (journal I/O, for instance).
    Host,
    /// The flow went past a limit of the policy (calls per execution, map
    /// items, calls in flight, waits) or handed over an output too large.
    Limit,
}

/// Where a checkpoint runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Runtime {
    /// In the execution's shared store.
    Inline,
    /// In a fresh store per attempt.
    Isolated,
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Runtime::Inline => "inline",
            Runtime::Isolated => "isolated",
        })
    }
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallStatus {
    /// An attempt is running (or was, when its process died).
    Running,
    /// It has an output.
    Completed,
    /// Its last attempt failed and no retries are left.
    Failed,
}

/// Where a completed call's output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallSource {
    /// Its checkpoint ran in this execution.
    Executed,
    /// Reused from another execution's identical call.
    Cached,
    /// Reused from the source execution of a replay.
    Replayed,
    /// Supplied by a replay's override.
    Overridden,
}

/// Where a durable wait's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AnswerSource {
    /// Supplied to this execution ([`crate::Host::answer`],
    /// `cairn executions input`).
    Answered,
    /// Carried over from the source of a replay, which had this value for
    /// the same wait (same name, question and schema) before the replay's
    /// root.
    Replayed,
    /// Given with the replay request ([`crate::ReplayRequest::answer`],
    /// `--answer`).
    Overridden,
    /// None: the wait had a deadline (`wait_timeout`) and its time was up
    /// first. The wait has no value, and a value supplied later is refused.
    TimedOut,
}

/// What stopped a trapped attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TrapKind {
    /// It used up its fuel.
    OutOfFuel,
    /// It tried to grow memory past its limit.
    Memory,
    /// It ran past its wall-clock limit.
    Timeout,
    /// Any other trap: a panic, `unreachable`, an out-of-bounds access.
    Trap,
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrapKind::OutOfFuel => "out_of_fuel",
            TrapKind::Memory => "memory",
            TrapKind::Timeout => "timeout",
            TrapKind::Trap => "trap",
        })
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// It produced an output.
    Ok,
    /// The checkpoint returned its own error.
    Failed {
        /// The checkpoint's error message.
        message: String,
    },
    /// The sandbox stopped it.
    Trapped {
        /// What stopped it.
        kind: TrapKind,
        /// The trap or panic message.
        message: String,
    },
}
