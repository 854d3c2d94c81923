//! Moving an execution to another build of its component: only when a dry
//! run of the new build against its journal is compatible, under the
//! execution's claim (so nothing runs it meanwhile), and journaled in one
//! durable write with the new build's bytes and the execution's record
//! naming it. An execution this process is running is moved by its own run,
//! paused for it (see [`super::switch`]).

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use super::Runner;
use super::code::FlowCode;
use crate::check::{UpgradeError, Upgraded};
use crate::component::Component;
use crate::error::ResumeError;
use crate::journal::record::{ExecutionRecord, UpgradeRecord};
use crate::journal::{Entry, Sync};
use crate::model::{ExecutionId, ExecutionStatus};

/// How long an upgrade keeps trying while the execution changes hands in
/// this process (a run letting go of it, a resume taking it up).
const HANDOVER: Duration = Duration::from_secs(5);

impl Runner {
    /// Moves execution `id` to `component`, noting `by` as who asked. One
    /// that runs in this process is moved by its run, paused for it, and
    /// goes on with the build the answer names; one that runs in another
    /// process sharing the journal is moved there the same way (see
    /// `elsewhere`).
    pub(crate) async fn upgrade(
        self: &Arc<Self>,
        id: ExecutionId,
        component: &Component,
        by: &str,
    ) -> Result<Upgraded, UpgradeError> {
        let until = tokio::time::Instant::now() + HANDOVER;
        loop {
            match self.claim(id).await {
                Ok(_claim) => return self.move_claimed(id, component, by).await,
                Err(ResumeError::AlreadyRunning(_)) if self.runs_here(id) => {
                    // Refused at once what the run would refuse after a pause.
                    self.movable(id, component).await?;
                    if let Some(answer) = self.switch_running(id, component, by).await {
                        return answer;
                    }
                }
                Err(ResumeError::Journal(e)) => return Err(UpgradeError::Journal(e)),
                // Held by another process sharing the journal: asked there
                // (see `elsewhere`); none on a journal of one process.
                Err(ResumeError::AlreadyRunning(_)) => {
                    if let Some(answer) = self.switch_elsewhere(id, component, by).await {
                        return answer;
                    }
                }
                Err(_) => return Err(UpgradeError::Running(id)),
            }
            // Between two runs, or let go of and not claimed again yet.
            if tokio::time::Instant::now() >= until {
                return Err(UpgradeError::Running(id));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Whether this process holds execution `id`'s claim.
    pub(super) fn runs_here(&self, id: ExecutionId) -> bool {
        self.active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&id)
    }

    /// The record of execution `id`, if `component` may take it over as
    /// far as its record says (the check aside).
    pub(super) async fn movable(
        &self,
        id: ExecutionId,
        component: &Component,
    ) -> Result<ExecutionRecord, UpgradeError> {
        let record = self
            .journal
            .execution(id)
            .await?
            .ok_or(UpgradeError::UnknownExecution(id))?;
        if matches!(
            record.status,
            ExecutionStatus::Completed | ExecutionStatus::Cancelled
        ) {
            return Err(UpgradeError::Ended {
                exec: id,
                status: record.status,
            });
        }
        let Some(from) = record.component else {
            return Err(UpgradeError::HostFlow(id));
        };
        let to = component.hash();
        if from == to {
            return Err(UpgradeError::SameBuild(id));
        }
        if component.manifest().flow(&record.flow).is_none() {
            return Err(UpgradeError::UnknownFlow {
                exec: id,
                flow: record.flow,
            });
        }
        Ok(record)
    }

    /// Moves execution `id`, whose claim the caller holds, to `component`.
    pub(super) async fn move_claimed(
        self: &Arc<Self>,
        id: ExecutionId,
        component: &Component,
        by: &str,
    ) -> Result<Upgraded, UpgradeError> {
        let mut record = self.movable(id, component).await?;
        let Some(from) = record.component else {
            return Err(UpgradeError::HostFlow(id));
        };
        let to = component.hash();
        self.remember(component);
        let code = FlowCode::Guest(component.clone());
        let check = self.check_one(id, record.clone(), &code).await?;
        if !check.verdict.is_compatible() {
            return Err(UpgradeError::Incompatible {
                exec: id,
                verdict: check.verdict,
            });
        }
        let moves = self.journal.upgrades(id).await?.len();
        let at_us = self.clock.now_us();
        let upgrade = UpgradeRecord {
            from,
            to,
            at_us,
            by: by.to_owned(),
        };
        record.component = Some(to);
        record.updated_at_us = at_us;
        let entries = [
            Entry::Component {
                hash: to,
                bytes: component.bytes(),
            },
            Entry::Upgrade {
                exec: id,
                n: u32::try_from(moves).unwrap_or(u32::MAX),
                record: &upgrade,
            },
            Entry::Execution {
                id,
                record: &record,
            },
        ];
        self.journal.write(&entries, Sync::Durable).await?;
        Ok(Upgraded {
            id,
            from: from.to_hex(),
            to: to.to_hex(),
            at_us,
            check,
            running: false,
        })
    }
}
