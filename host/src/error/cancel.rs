//! Cancelling an execution failed.

use crate::error::JournalError;
use crate::model::{ExecutionId, ExecutionStatus};

/// Cancelling an execution ([`crate::Host::cancel`]) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CancelError {
    /// No execution with this id exists.
    #[error("no execution {0}")]
    UnknownExecution(ExecutionId),
    /// The execution cannot be cancelled in its state.
    #[error("execution {exec} is {status} and cannot be cancelled")]
    NotCancellable {
        /// The execution.
        exec: ExecutionId,
        /// Its status.
        status: ExecutionStatus,
    },
    /// The execution is claimed by a run that did not take a cancel in
    /// time (it is being started or resumed); try again.
    #[error("execution {0} is being started or resumed; try again")]
    Busy(ExecutionId),
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
}
