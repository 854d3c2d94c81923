//! Why a check or an upgrade could not be made.

use crate::error::{JournalError, LoadError};
use crate::model::{ExecutionId, ExecutionStatus};

use super::Verdict;

/// A check could not be made (a verdict that is not `compatible` is not an
/// error: it is in the report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The build has no flow of that name.
    #[error("the component has no flow `{name}`; it has: {}", available.join(", "))]
    UnknownFlow {
        /// The name asked for.
        name: String,
        /// The flows it has.
        available: Vec<String>,
    },
    /// No host-side flow of that name is registered.
    #[error("no host-side flow `{name}` is registered; registered: {}", registered.join(", "))]
    UnregisteredFlow {
        /// The name asked for.
        name: String,
        /// The names registered.
        registered: Vec<String>,
    },
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The host failed while checking `exec`.
    #[error("host failure while checking execution {exec}: {reason}")]
    Host {
        /// The execution being checked.
        exec: ExecutionId,
        /// What happened.
        reason: String,
    },
}

/// An execution could not be moved to another build.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
    /// No such execution.
    #[error("no execution {0}")]
    UnknownExecution(ExecutionId),
    /// It runs in another process (or is changing hands): upgrade it
    /// there, or once it waits, fails or stops.
    #[error(
        "execution {0} is running in another process; upgrade it through the process that runs it (its server), or once it waits, fails or stops"
    )]
    Running(ExecutionId),
    /// Another upgrade of it, running in this process, is under way.
    #[error("execution {0} is being moved to another build already; try again when that is done")]
    Switching(ExecutionId),
    /// It runs in this process and did not pause for the upgrade in time:
    /// a call it had started was still running. It goes on with its build.
    #[error(
        "execution {exec} is running and did not pause within {waited_s} s (a call it started was still running); it goes on with its build, try again"
    )]
    NotPaused {
        /// The execution.
        exec: ExecutionId,
        /// How long the upgrade waited, in seconds.
        waited_s: u64,
    },
    /// It has ended for good.
    #[error(
        "execution {exec} is {status}: only a waiting, failed or interrupted execution moves to another build"
    )]
    Ended {
        /// The execution.
        exec: ExecutionId,
        /// Its status.
        status: ExecutionStatus,
    },
    /// It runs a host-side flow, whose code is whatever the host registers.
    #[error("execution {0} runs a host-side flow: register the new code under its name instead")]
    HostFlow(ExecutionId),
    /// It runs this build already.
    #[error("execution {0} runs this build already")]
    SameBuild(ExecutionId),
    /// The build has no flow of the execution's name.
    #[error("the component has no flow `{flow}` (execution {exec}'s flow)")]
    UnknownFlow {
        /// The execution.
        exec: ExecutionId,
        /// Its flow.
        flow: String,
    },
    /// The check found the build incompatible with the execution's journal.
    #[error("execution {exec} not upgraded: the new build {}", refusal(verdict))]
    Incompatible {
        /// The execution.
        exec: ExecutionId,
        /// What the check found.
        verdict: Verdict,
    },
    /// The execution's own component could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The check failed.
    #[error(transparent)]
    Check(#[from] CheckError),
}

fn refusal(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Diverges { divergence } => format!(
            "diverges at seq {}: the journal has {}, the new flow calls {}",
            divergence.seq, divergence.expected, divergence.found
        ),
        Verdict::Fails { failure } => format!("fails on the recorded data: {}", failure.message),
        Verdict::Compatible { .. } => "is compatible".to_owned(),
    }
}
