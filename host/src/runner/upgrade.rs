//! Moving an execution to another build of its component: only when a dry
//! run of the new build against its journal is compatible, under the
//! execution's claim (so nothing runs it meanwhile), and journaled in one
//! durable write with the new build's bytes and the execution's record
//! naming it.

use std::sync::Arc;

use super::Runner;
use super::code::FlowCode;
use crate::check::{UpgradeError, Upgraded};
use crate::component::Component;
use crate::error::ResumeError;
use crate::journal::record::UpgradeRecord;
use crate::journal::{Entry, Sync};
use crate::model::{ExecutionId, ExecutionStatus};

impl Runner {
    /// Moves execution `id` to `component`, noting `by` as who asked.
    pub(crate) async fn upgrade(
        self: &Arc<Self>,
        id: ExecutionId,
        component: &Component,
        by: &str,
    ) -> Result<Upgraded, UpgradeError> {
        let _claim = self.claim(id).await.map_err(|e| match e {
            ResumeError::AlreadyRunning(exec) => UpgradeError::Running(exec),
            ResumeError::Journal(e) => UpgradeError::Journal(e),
            _ => UpgradeError::Running(id),
        })?;
        let mut record = self
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
        })
    }
}
