//! Replaying an execution failed.

use crate::error::{JournalError, LoadError, RunError, SelectorError};
use crate::model::ExecutionId;
use crate::names::listed;

/// Replaying an execution ([`crate::Host::replay`]) failed: the request
/// does not fit the source execution, or the new execution failed to start
/// or run ([`ReplayError::Run`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// No execution with this id exists.
    #[error("no execution {0}")]
    UnknownExecution(ExecutionId),
    /// A `from` or `override` selector names no call, or several.
    #[error(transparent)]
    Selector(#[from] SelectorError),
    /// An override is not valid JSON.
    #[error("the override of `{selector}` is not valid JSON")]
    OverrideNotJson {
        /// The selector.
        selector: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// An override is not an output the policy allows.
    #[error("the override of `{selector}` is refused: {reason}")]
    BadOverride {
        /// The selector.
        selector: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value given for a wait ([`crate::ReplayRequest::answer`]) is not
    /// valid JSON.
    #[error("the value given for wait `{name}` is not valid JSON")]
    AnswerNotJson {
        /// The wait's name.
        name: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A value given for a wait is refused: the name is not a wait name,
    /// the value does not match the schema the source asked that wait
    /// with, or it is larger than the policy lets an output be.
    #[error("the value given for wait `{name}` is refused: {reason}")]
    BadAnswer {
        /// The wait's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A replay of a host-side flow was given a component: such a flow
    /// chooses its components in its own code.
    #[error(
        "execution {0} ran a host-side flow, which chooses its components in its own code; \
         a replay cannot swap them"
    )]
    ComponentForHostFlow(ExecutionId),
    /// The source ran a host-side flow that is not registered with this
    /// host.
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
    /// The source's component could not be loaded from the journal.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The new execution failed to start, or the host failed while it ran.
    #[error(transparent)]
    Run(#[from] RunError),
}
