//! Why a flow is stopped from inside a call: whatever its own code would do
//! next, the execution waits or ends the way the reason says.

use crate::error::JournalError;

/// Why a flow is stopped from inside a call.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum Stop {
    /// The journal failed.
    #[error("journal failure during execution: {0}")]
    Journal(#[from] JournalError),
    /// On resume, the flow made a call that does not match the journal.
    #[error("non-determinism at seq {seq}: the journal has {expected}, the flow now calls {found}")]
    NonDeterminism {
        /// The seq of the call that differs.
        seq: u32,
        /// The call the journal has at that seq.
        expected: String,
        /// The call the flow made instead.
        found: String,
    },
    /// The host failed otherwise.
    #[error("host failure during execution: {0}")]
    Host(String),
    /// The flow waits for a value that is not there yet (the wait's name):
    /// it is unloaded and the execution becomes `waiting`.
    #[error("waiting for `{0}`")]
    Waiting(String),
    /// A call's retry is due later (µs since the Unix epoch) and its timer
    /// is journaled: the flow is unloaded and the execution parks as
    /// `waiting` until a resume at the due time.
    #[error("a retry is due at {0} µs")]
    Parked(u64),
    /// The execution was cancelled.
    #[error("the execution was cancelled")]
    Cancelled,
    /// The flow went past a limit of the policy (calls, map items, pending
    /// calls, waits, bytes held): the execution fails, since going on would
    /// let a guest grow the host without bound.
    #[error("{0}")]
    Limit(String),
}
