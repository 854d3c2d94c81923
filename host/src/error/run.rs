//! Starting an execution failed, or the host failed while it ran.

use crate::error::JournalError;
use crate::model::{ComponentHash, ExecutionId};
use crate::names::listed;

/// Starting or running a new execution ([`crate::Host::run`],
/// [`crate::Host::run_flow`]) failed before the flow could finish.
///
/// A flow that fails on its own terms is not an error here: it is an
/// [`crate::Outcome`] with status `failed`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The component has no flow of this name.
    #[error("unknown flow `{name}`; the component has: {}", listed(available))]
    UnknownFlow {
        /// The requested name.
        name: String,
        /// The flows it has.
        available: Vec<String>,
    },
    /// No host-side flow of this name is registered with the host.
    #[error(
        "no host-side flow `{name}` is registered; registered: {}",
        listed(registered)
    )]
    UnregisteredFlow {
        /// The requested name.
        name: String,
        /// The registered flows.
        registered: Vec<String>,
    },
    /// The policy's memory limit is below what the component needs to
    /// start at all: every attempt would fail.
    #[error(
        "the memory limit of {limit} bytes is below the {needed} bytes component {component} needs to start; raise it to at least {needed}"
    )]
    MemoryTooSmall {
        /// The component.
        component: ComponentHash,
        /// What it needs to instantiate.
        needed: u64,
        /// The policy's limit (after the engine's maximum).
        limit: u64,
    },
    /// The input is not a JSON object of the flow's parameters.
    #[error("bad input for flow `{flow}`: {reason}")]
    BadInput {
        /// The flow.
        flow: String,
        /// What was wrong.
        reason: String,
    },
    /// A parameter's value does not have its type: the flow's guest
    /// would refuse it, so no execution is made of it.
    #[error("bad input for flow `{flow}`: parameter `{param}` at {pointer}: {reason}")]
    InputType {
        /// The flow.
        flow: String,
        /// The parameter.
        param: String,
        /// JSON pointer into the input object to the offending value
        /// (`/count`, `/tags/1`).
        pointer: String,
        /// What was expected and what was found.
        reason: String,
    },
    /// A schedule's run was not started: it is not due any more (the
    /// schedule was paused, changed or deleted, or another worker started
    /// the run).
    #[error("the run of schedule {schedule} is not due any more")]
    NotDue {
        /// The schedule (quoted, escaped).
        schedule: String,
    },
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
