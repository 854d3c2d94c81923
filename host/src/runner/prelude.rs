//! What a run of an execution's flow starts from: everything its earlier
//! runs journaled, read before the flow is loaded (see
//! [`Prelude`](super::execution::Prelude)). A resume and a dry run (see
//! [`super::dry`]) read it the same way.

use super::execution::Prelude;
use super::recorded::{ClosedAttempt, Recorded};
use super::replay::{ReplaySource, Source};
use super::{Runner, vanished};
use crate::error::Halt;
use crate::journal::record::ExecutionRecord;
use crate::model::ExecutionId;

impl Runner {
    /// The prelude of execution `id` (whose record is `record`), and the
    /// attempts a dead process left open, closed as interrupted for the
    /// caller to write (a dry run writes nothing and ignores them).
    pub(super) async fn prelude(
        &self,
        id: ExecutionId,
        record: &ExecutionRecord,
    ) -> Result<(Prelude, Vec<ClosedAttempt>), Halt> {
        let (recorded, closing) = Recorded::load(&*self.journal, id).await?;
        let replay = match (&record.replay, record.original_exec_id) {
            (Some(plan), Some(source)) => {
                let source = ExecutionId(source);
                let (_, source) = Source::read(&*self.journal, source)
                    .await?
                    .ok_or_else(|| vanished(id, source))?;
                Some(ReplaySource::new(source, plan.clone(), &record.input))
            }
            _ => None,
        };
        let prelude = Prelude {
            recorded,
            times: self.journal.times(id).await?,
            waits: self.journal.waits(id).await?,
            replay,
            timers: (self.journal.timers(Some(id)).await?)
                .into_iter()
                .map(|(_, seq, timer)| (seq, timer))
                .collect(),
            earlier_builds: (self.journal.upgrades(id).await?)
                .into_iter()
                .map(|upgrade| upgrade.from)
                .collect(),
            budget: None,
        };
        Ok((prelude, closing))
    }
}
