//! Errors with their exit code.

use std::process::ExitCode;

use cairn_host::{
    AnswerError, CancelError, JournalError, LoadError, OpenError, ReplayError, ResumeError,
    RunError,
};

use crate::terminal;

/// The exit codes of DESIGN §3.4.
pub(crate) mod code {
    /// The flow completed.
    pub(crate) const COMPLETED: u8 = 0;
    /// The flow failed.
    pub(crate) const FAILED: u8 = 1;
    /// Usage or bad input (including a bad component).
    pub(crate) const BAD_INPUT: u8 = 2;
    /// The execution is waiting for input.
    pub(crate) const WAITING: u8 = 3;
    /// The journal or the host failed.
    pub(crate) const HOST: u8 = 4;
    /// Stdout was closed by its reader (`cairn … | head`): 128 + SIGPIPE,
    /// what a shell reports for a tool a closed pipe stopped.
    pub(crate) const CLOSED_STDOUT: u8 = 141;
    /// A command running code was stopped by SIGINT (Ctrl-C): 128 + 2. The
    /// execution stays `running`, resumable.
    pub(crate) const INTERRUPTED: u8 = 130;
    /// A command running code was stopped by SIGTERM: 128 + 15. The
    /// execution stays `running`, resumable.
    pub(crate) const TERMINATED: u8 = 143;
}

/// An error and the exit code it ends the process with.
pub(crate) struct Exit {
    pub code: ExitCode,
    pub error: anyhow::Error,
}

impl Exit {
    pub(crate) fn bad_input(error: impl Into<anyhow::Error>) -> Exit {
        Exit {
            code: ExitCode::from(code::BAD_INPUT),
            error: error.into(),
        }
    }

    pub(crate) fn host(error: impl Into<anyhow::Error>) -> Exit {
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
            JournalError::InUse { ref path } => match held_by_server(path) {
                Some(message) => Exit::host(anyhow::anyhow!(message)),
                None => Exit::host(e),
            },
            other => Exit::host(other),
        }
    }
}

/// When a running `cairn serve` holds the journal: which one and how to go
/// through it instead. Its address file names it; the file is only
/// believed when the process it names is alive (a killed server leaves a
/// stale one), and what it says is shown escaped, since anyone who can
/// write beside the journal can write it.
fn held_by_server(journal: &std::path::Path) -> Option<String> {
    let address = cairn_serve::ServerAddress::read(journal)?;
    #[cfg(target_os = "linux")]
    if std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{}", address.pid)).exists()
    {
        return None;
    }
    let url = terminal::line(&address.url);
    let pass = terminal::quote(&url);
    Some(format!(
        "journal {} is in use by `cairn serve` at {url} (pid {}); go through it with --server {pass} (or CAIRN_SERVER={pass})",
        terminal::line(&journal.to_string_lossy()),
        address.pid
    ))
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
            | RunError::InputType { .. }
            // A host-side flow runs only in the program that registers it.
            | RunError::UnregisteredFlow { .. }
            // The policy cannot run the component at all: raise the limit.
            | RunError::MemoryTooSmall { .. } => Exit::bad_input(e),
            RunError::Journal(journal) => Exit::from(journal),
            other => Exit::host(other),
        }
    }
}

impl From<ResumeError> for Exit {
    fn from(e: ResumeError) -> Exit {
        match e {
            ResumeError::UnknownExecution(_)
            | ResumeError::Cancelled(_)
            | ResumeError::UnregisteredFlow { .. } => Exit::bad_input(e),
            ResumeError::Load(load) => Exit::from(load),
            ResumeError::Journal(journal) => Exit::from(journal),
            other => Exit::host(other),
        }
    }
}

impl From<ReplayError> for Exit {
    fn from(e: ReplayError) -> Exit {
        match e {
            ReplayError::Run(run) => Exit::from(run),
            ReplayError::Load(load) => Exit::from(load),
            ReplayError::Journal(journal) => Exit::from(journal),
            other => Exit::bad_input(other),
        }
    }
}

impl From<AnswerError> for Exit {
    fn from(e: AnswerError) -> Exit {
        match e {
            AnswerError::Journal(journal) => Exit::from(journal),
            other => Exit::bad_input(other),
        }
    }
}

impl From<CancelError> for Exit {
    fn from(e: CancelError) -> Exit {
        match e {
            CancelError::UnknownExecution(_) | CancelError::NotCancellable { .. } => {
                Exit::bad_input(e)
            }
            CancelError::Journal(journal) => Exit::from(journal),
            other => Exit::host(other),
        }
    }
}
