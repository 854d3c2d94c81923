//! Which code a check tries, on which executions.

use crate::component::Component;
use crate::model::ExecutionStatus;

/// The code a check runs against the journal.
#[derive(Clone)]
pub(crate) enum CheckCode {
    /// A new build of a component: its flows.
    Component(Component),
    /// The host-side flow registered under this name, as registered now.
    HostFlow(String),
}

/// What to check: a new build (or a registered host-side flow) and which
/// executions. By default every execution of each of the build's flows,
/// whatever its status but `cancelled`.
#[derive(Clone)]
#[non_exhaustive]
pub struct CheckRequest {
    pub(crate) code: CheckCode,
    pub(crate) flow: Option<String>,
    pub(crate) statuses: Vec<ExecutionStatus>,
    pub(crate) since_us: Option<u64>,
}

impl CheckRequest {
    /// Checks the flows of `component`, a new build, against the
    /// executions of flows of the same names.
    pub fn component(component: Component) -> CheckRequest {
        CheckRequest {
            code: CheckCode::Component(component),
            flow: None,
            statuses: Vec::new(),
            since_us: None,
        }
    }

    /// Checks the host-side flow registered as `name` (as registered now)
    /// against its executions.
    pub fn host_flow(name: impl Into<String>) -> CheckRequest {
        let name = name.into();
        CheckRequest {
            code: CheckCode::HostFlow(name.clone()),
            flow: Some(name),
            statuses: Vec::new(),
            since_us: None,
        }
    }

    /// Only the executions of this flow (which the build must have).
    pub fn flow(mut self, name: impl Into<String>) -> CheckRequest {
        if let CheckCode::Component(_) = self.code {
            self.flow = Some(name.into());
        }
        self
    }

    /// Only executions with this status (may be given several times).
    pub fn status(mut self, status: ExecutionStatus) -> CheckRequest {
        if !self.statuses.contains(&status) {
            self.statuses.push(status);
        }
        self
    }

    /// Only executions created at or after this time (µs since the Unix
    /// epoch).
    pub fn since_us(mut self, us: u64) -> CheckRequest {
        self.since_us = Some(us);
        self
    }

    /// Whether an execution with `status` is among those to check.
    pub(crate) fn takes(&self, status: ExecutionStatus) -> bool {
        if self.statuses.is_empty() {
            status != ExecutionStatus::Cancelled
        } else {
            self.statuses.contains(&status)
        }
    }
}
