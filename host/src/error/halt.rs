//! Why the runner could not carry an execution on, whatever the operation
//! that started it: each operation's error is made from it.

use crate::error::{JournalError, ResumeError, RunError};
use crate::model::ExecutionId;

/// The journal or the host failed while an execution ran.
#[derive(Debug)]
pub(crate) enum Halt {
    /// The journal failed.
    Journal(JournalError),
    /// The host failed otherwise.
    Host {
        /// The execution.
        exec: ExecutionId,
        /// What failed.
        reason: String,
    },
}

impl From<JournalError> for Halt {
    fn from(error: JournalError) -> Halt {
        Halt::Journal(error)
    }
}

impl From<Halt> for RunError {
    fn from(halt: Halt) -> RunError {
        match halt {
            Halt::Journal(error) => RunError::Journal(error),
            Halt::Host { exec, reason } => RunError::Host { exec, reason },
        }
    }
}

impl From<Halt> for ResumeError {
    fn from(halt: Halt) -> ResumeError {
        match halt {
            Halt::Journal(error) => ResumeError::Journal(error),
            Halt::Host { exec, reason } => ResumeError::Host { exec, reason },
        }
    }
}
