//! The host's doors to checks and upgrades (the machinery is the runner's:
//! see `runner::dry` and `runner::upgrade`).

#[cfg(doc)]
use super::Verdict;
use super::{CheckError, CheckReport, CheckRequest, UpgradeError, Upgraded};
use crate::component::Component;
use crate::host::Host;
use crate::model::ExecutionId;

impl Host {
    /// Checks a new build of a flow (or a host-side flow as registered
    /// now) against the journal of every execution `request` selects, in a
    /// dry run: every call is answered from the journal, no checkpoint
    /// runs, no wait blocks and nothing is written (see [`Verdict`] for what
    /// each execution's check finds). A verdict that is not compatible is
    /// in the report, not an error.
    pub async fn check(&self, request: &CheckRequest) -> Result<CheckReport, CheckError> {
        self.runner().check(request).await
    }

    /// Moves execution `id` (waiting, failed, or `running` in no process)
    /// to `component`, a new build of its flow's component, if a check of
    /// it against the execution's journal is compatible; `by` is journaled
    /// as who asked (e.g. the command). A resume then runs the new build.
    pub async fn upgrade(
        &self,
        id: ExecutionId,
        component: &Component,
        by: &str,
    ) -> Result<Upgraded, UpgradeError> {
        self.runner().upgrade(id, component, by).await
    }
}
