//! Cancelling an execution: one running in this host is told through its
//! cancel token; any other is marked cancelled under its claim, so that no
//! resume can start it meanwhile.

use std::sync::PoisonError;

use super::Runner;
use crate::error::{CancelError, JournalError};
use crate::events::Event;
use crate::journal::record::ExecutionRecord;
use crate::journal::{Entry, Sync};
use crate::model::{ExecutionId, ExecutionStatus};

/// How often a cancel looks for the token of an execution whose claim is
/// held (1 ms apart) before it gives up.
const CLAIM_TO_TOKEN_TRIES: u32 = 1000;

impl Runner {
    /// Cancels an execution. One running in this host stops at the flow's
    /// next request to the runner (calls already running finish and are
    /// journaled); any other is marked cancelled at once. Either way it can
    /// no longer be resumed.
    pub(crate) async fn cancel(&self, id: ExecutionId) -> Result<(), CancelError> {
        self.cancellable(id).await?;
        // A resume claims the execution, then gives it its cancel token at
        // once: a claim held without a token here is that moment, so look
        // again shortly.
        for _ in 0..CLAIM_TO_TOKEN_TRIES {
            let running_here = self
                .active
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&id)
                .cloned();
            if let Some(token) = running_here {
                token.cancel();
                return Ok(());
            }
            match self.journal.claim(id).await {
                // Not running: marked cancelled under its claim, so no
                // resume can start it meanwhile.
                Ok(_lease) => return self.mark_cancelled(id).await,
                Err(JournalError::Claimed { .. }) => {
                    // Held by another process sharing the journal: asked
                    // to stop there (see `elsewhere`).
                    if let Some(cancelled) = self.cancel_elsewhere(id).await {
                        return cancelled;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(CancelError::Busy(id))
    }

    /// The record of an execution that may be cancelled.
    async fn cancellable(&self, id: ExecutionId) -> Result<ExecutionRecord, CancelError> {
        let record = self
            .journal
            .execution(id)
            .await?
            .ok_or(CancelError::UnknownExecution(id))?;
        if matches!(
            record.status,
            ExecutionStatus::Completed | ExecutionStatus::Cancelled
        ) {
            return Err(CancelError::NotCancellable {
                exec: id,
                status: record.status,
            });
        }
        Ok(record)
    }

    /// Marks an execution that runs nowhere cancelled; the caller holds
    /// its claim.
    pub(super) async fn mark_cancelled(&self, id: ExecutionId) -> Result<(), CancelError> {
        // Read again under the claim: a run may have ended it meanwhile.
        let mut record = self.cancellable(id).await?;
        record.status = ExecutionStatus::Cancelled;
        record.updated_at_us = self.clock.now_us();
        let mut entries = self.timer_removals(id).await?;
        entries.push(Entry::Execution {
            id,
            record: &record,
        });
        self.journal.write(&entries, Sync::Durable).await?;
        self.emit(Event::ExecutionFinished {
            exec: id,
            status: ExecutionStatus::Cancelled,
        });
        self.cancel_children(id).await;
        Ok(())
    }
}
