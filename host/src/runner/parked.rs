//! Executions parked on a call's retry timer (see [`super::call`]): a
//! resume before the due time waits for it without loading the flow, and an
//! execution that ends cancelled takes its timers with it.

use std::time::Duration;

use super::execution::timed_step::TimerKind;
use super::{Claim, Runner};
use crate::error::JournalError;
use crate::journal::Entry;
use crate::model::ExecutionId;

/// How a resume's wait for a parked execution's due time ended.
pub(super) enum Due {
    /// The time has come (or there was nothing to wait for).
    Now,
    /// The execution was cancelled while it waited.
    Cancelled,
}

impl Runner {
    /// Waits until the earliest retry timer of `id` is due, holding its
    /// claim (so nothing else runs it meanwhile) but no flow instance. The
    /// due time is the journaled one; only how long is left is measured on
    /// the host's clock. Dropping the future leaves the timer in place.
    pub(super) async fn until_due(
        &self,
        id: ExecutionId,
        claim: &Claim<'_>,
    ) -> Result<Due, JournalError> {
        let timers = self.journal.timers(Some(id)).await?;
        // A wait's deadline does not hold a resume back: an answer given
        // before it is taken at once.
        let due = timers
            .iter()
            .filter(|(_, _, t)| TimerKind::of(t) != TimerKind::WaitDeadline)
            .map(|(_, _, t)| t.due_at_us)
            .min();
        let Some(due) = due else {
            return Ok(Due::Now);
        };
        let left = Duration::from_micros(due.saturating_sub(self.clock.now_us()));
        tokio::select! {
            () = tokio::time::sleep(left) => Ok(Due::Now),
            () = claim.cancel.cancelled() => Ok(Due::Cancelled),
        }
    }

    /// The entries that remove every retry timer of `id`, for the write that
    /// ends it: a timer of an execution that cannot run again would only
    /// wake a server for nothing.
    pub(super) async fn timer_removals(
        &self,
        id: ExecutionId,
    ) -> Result<Vec<Entry<'static>>, JournalError> {
        Ok(self
            .journal
            .timers(Some(id))
            .await?
            .into_iter()
            .map(|(exec, seq, _)| Entry::TimerDone { exec, seq })
            .collect())
    }
}
