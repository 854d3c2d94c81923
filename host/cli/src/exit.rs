//! Errors with their exit code.

use std::process::ExitCode;

use cairn_host::{JournalError, LoadError, OpenError, RunError};

/// The exit codes of DESIGN §3.4.
pub mod code {
    /// The flow completed.
    pub const COMPLETED: u8 = 0;
    /// The flow failed.
    pub const FAILED: u8 = 1;
    /// Usage or bad input (including a bad component).
    pub const BAD_INPUT: u8 = 2;
    /// The execution is waiting for input.
    pub const WAITING: u8 = 3;
    /// The journal or the host failed.
    pub const HOST: u8 = 4;
}

/// An error and the exit code it ends the process with.
pub struct Exit {
    pub code: ExitCode,
    pub error: anyhow::Error,
}

impl Exit {
    pub fn bad_input(error: impl Into<anyhow::Error>) -> Exit {
        Exit {
            code: ExitCode::from(code::BAD_INPUT),
            error: error.into(),
        }
    }

    pub fn host(error: impl Into<anyhow::Error>) -> Exit {
        Exit {
            code: ExitCode::from(code::HOST),
            error: error.into(),
        }
    }
}

impl From<JournalError> for Exit {
    fn from(e: JournalError) -> Exit {
        match e {
            // A path the user gave that holds no journal.
            JournalError::Missing { .. } => Exit::bad_input(e),
            other => Exit::host(other),
        }
    }
}

impl From<OpenError> for Exit {
    fn from(e: OpenError) -> Exit {
        match e {
            OpenError::Policy(_) => Exit::bad_input(e),
            OpenError::Journal(journal) => Exit::from(journal),
            other => Exit::host(other),
        }
    }
}

impl From<LoadError> for Exit {
    fn from(e: LoadError) -> Exit {
        match e {
            LoadError::Journal(j) => Exit::host(j),
            LoadError::Compile(_) => Exit::host(e),
            other => Exit::bad_input(other),
        }
    }
}

impl From<RunError> for Exit {
    fn from(e: RunError) -> Exit {
        match e {
            RunError::UnknownFlow { .. }
            | RunError::BadInput { .. }
            | RunError::UnknownExecution(_)
            | RunError::Cancelled(_)
            | RunError::Selector(_)
            | RunError::BadOverride { .. }
            | RunError::UnknownWait { .. }
            | RunError::InvalidWaitValue { .. }
            | RunError::AlreadyAnswered { .. }
            | RunError::NotCancellable { .. }
            // A host-side flow runs only in the program that registers it.
            | RunError::UnregisteredFlow { .. }
            | RunError::FlowAlreadyRegistered(_)
            | RunError::ComponentForHostFlow(_)
            // The policy cannot run the component at all: raise the limit.
            | RunError::MemoryTooSmall { .. }
            | RunError::BadFlowName(_) => Exit::bad_input(e),
            RunError::Load(load) => Exit::from(load),
            other => Exit::host(other),
        }
    }
}
