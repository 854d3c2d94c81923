//! Resuming an execution failed.

use crate::error::{JournalError, LoadError};
use crate::model::ExecutionId;
use crate::names::listed;

/// Resuming an execution ([`crate::Host::resume`]) failed before its flow
/// could finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// No execution with this id exists.
    #[error("no execution {0}")]
    UnknownExecution(ExecutionId),
    /// The execution is already running in this host.
    #[error("execution {0} is already running")]
    AlreadyRunning(ExecutionId),
    /// The execution was cancelled and cannot be resumed.
    #[error("execution {0} was cancelled and cannot be resumed")]
    Cancelled(ExecutionId),
    /// The execution ran a host-side flow that is not registered with this
    /// host (register it again after a restart, then resume).
    #[error(
        "no host-side flow `{name}` is registered; registered: {}",
        listed(registered)
    )]
    UnregisteredFlow {
        /// The flow's name.
        name: String,
        /// The registered flows.
        registered: Vec<String>,
    },
    /// The execution's component could not be loaded from the journal.
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
