//! An execution claimed to run in this process: its journal lease and its
//! cancel token in the runner's `active` list, both let go of when the run
//! ends (or its future is dropped); and each run of its flow under the
//! claim, which a switch of builds (see [`super::switch`]) may pause
//! without cancelling the execution.

use std::sync::PoisonError;

use tokio_util::sync::CancellationToken;

use super::Runner;
use crate::error::{JournalError, ResumeError};
use crate::journal::ExecutionLease;
use crate::model::ExecutionId;

/// Marks an execution as running in this process until dropped.
pub(super) struct Claim<'a> {
    pub(super) runner: &'a Runner,
    pub(super) id: ExecutionId,
    pub(super) cancel: CancellationToken,
    /// The journal's claim, released after the cancel token is gone.
    pub(super) _lease: ExecutionLease,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        // A run whose future was dropped (an embedder gave up on it) leaves
        // its calls' tasks behind: cancelled, they start no further attempt,
        // so they cannot race a later resume of the same execution for long.
        // After a normal end nothing watches the token any more.
        self.cancel.cancel();
        // A switch asked of a run that ended without pausing is answered
        // by its dropped reply: the asker tries again with the claim free.
        self.runner.switches.forget(self.id);
        self.runner
            .active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// One run of a claimed execution's flow. Its token is a child of the
/// claim's cancel token: cancelling the execution stops the run, and a
/// switch of builds stops only the run, which then goes on under the same
/// claim (see [`super::switch`]).
pub(super) struct Run<'a> {
    runner: &'a Runner,
    id: ExecutionId,
    execution: CancellationToken,
    token: CancellationToken,
    number: u64,
}

impl Run<'_> {
    /// The token the run's flow and calls watch.
    pub(super) fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Whether the run was stopped for a switch of builds, not because the
    /// execution was cancelled.
    pub(super) fn paused(&self) -> bool {
        self.token.is_cancelled() && !self.execution.is_cancelled()
    }
}

impl Drop for Run<'_> {
    fn drop(&mut self) {
        self.runner.switches.run_ended(self.id, self.number);
    }
}

impl Claim<'_> {
    /// Starts a run of the flow under this claim.
    pub(super) fn run(&self) -> Run<'_> {
        let token = self.cancel.child_token();
        let number = self.runner.switches.run_started(self.id, &token);
        Run {
            runner: self.runner,
            id: self.id,
            execution: self.cancel.clone(),
            token,
            number,
        }
    }
}

/// A new execution's cancel token in `active`, taken out again unless the
/// execution gets as far as its [`Claim`] (which then owns the entry).
pub(super) struct Registration<'a> {
    pub(super) runner: &'a Runner,
    /// Set when the journal gives the execution its id.
    pub(super) id: std::sync::OnceLock<ExecutionId>,
    pub(super) done: bool,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if let (false, Some(id)) = (self.done, self.id.get()) {
            self.runner
                .active
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(id);
        }
    }
}

impl Runner {
    /// Claims an execution in the journal to run it here.
    pub(super) async fn claim(&self, id: ExecutionId) -> Result<Claim<'_>, ResumeError> {
        let lease = self.journal.claim(id).await.map_err(|e| match e {
            JournalError::Claimed { exec } => ResumeError::AlreadyRunning(exec),
            other => ResumeError::Journal(other),
        })?;
        Ok(self.hold(lease))
    }

    /// Gives the execution `lease` claims a cancel token, while it runs.
    pub(super) fn hold(&self, lease: ExecutionLease) -> Claim<'_> {
        let id = lease.exec();
        let cancel = CancellationToken::new();
        self.active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, cancel.clone());
        Claim {
            runner: self,
            id,
            cancel,
            _lease: lease,
        }
    }
}
