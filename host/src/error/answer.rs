//! Answering a wait failed.

use crate::error::JournalError;
use crate::model::ExecutionId;
use crate::names::listed;

/// Supplying a wait's value ([`crate::Host::answer`]) failed; nothing was
/// stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// No execution with this id exists.
    #[error("no execution {0}")]
    UnknownExecution(ExecutionId),
    /// The execution was cancelled: nothing will read the value.
    #[error("execution {0} was cancelled and cannot be answered")]
    Cancelled(ExecutionId),
    /// The execution has no wait of this name.
    #[error("execution {exec} has no wait `{name}`; its waits: {}", listed(waits))]
    UnknownWait {
        /// The execution.
        exec: ExecutionId,
        /// The requested wait.
        name: String,
        /// Its waits.
        waits: Vec<String>,
    },
    /// The value is not JSON.
    #[error("the value for wait `{name}` is not valid JSON")]
    NotJson {
        /// The wait.
        name: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The value does not match the wait's schema (or the recorded schema
    /// itself is refused).
    #[error("the value for wait `{name}` is invalid: {reason}")]
    InvalidValue {
        /// The wait.
        name: String,
        /// Where and how it differs from the schema.
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
    /// The wait had a deadline (`wait_timeout`) and it has passed: the
    /// flow goes on (or went on) without a value.
    #[error(
        "wait `{name}` of execution {exec} timed out at {}; the flow goes on without a value, and a value supplied now is refused",
        crate::timefmt::rfc3339(*deadline_us)
    )]
    TimedOut {
        /// The execution.
        exec: ExecutionId,
        /// The wait.
        name: String,
        /// When its time was up (µs since the Unix epoch).
        deadline_us: u64,
    },
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
}
