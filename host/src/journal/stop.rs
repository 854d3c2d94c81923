//! Asking the process that runs an execution to stop its run, through a
//! journal several processes share: a cancel, or a pause to move the
//! execution to another build.
//!
//! In one process, a cancel fires the run's token and a switch of builds
//! is left in the runner's table (`runner::switch`). A run in another
//! process is out of reach of both, so the asker leaves a request in the
//! journal; the process that holds the execution's claim looks for
//! requests for what it holds (beside its lease heartbeat), does there
//! exactly what a local cancel or switch does, and writes its reply in the
//! request, which the asker reads and then withdraws. A request stands for
//! a bounded time only: one whose asker went away is ignored after that.

use std::fmt;
use std::sync::Arc;

use crate::model::{ComponentHash, ExecutionId};

/// What an asker wants of another process's run of an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StopAsk {
    /// Cancel the execution: its run stops at the flow's next request to
    /// the runner, as a cancel in that process stops it.
    Cancel,
    /// Pause the run and move the execution to build `to` (which the
    /// journal holds), journaling `by` as who asked.
    Switch {
        /// The build to move to.
        to: ComponentHash,
        /// Who asked (the command, or the embedder's note).
        by: String,
    },
}

/// What the process that holds the execution answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StopReply {
    /// Its run was told to stop (its cancel token fired): the execution
    /// ends `cancelled` at the flow's next request.
    Cancelling,
    /// No run of it goes on there any more (it ended, waits, or changes
    /// hands): the asker goes on as for an execution nobody runs.
    NotRunning,
    /// The answer to a switch of builds, as the runner encodes it.
    Switched(String),
}

/// Sends a reply (`None`: not answered now; the request is handed over
/// again at the next look).
type Replier = Box<dyn FnOnce(Option<StopReply>) + Send>;

/// A request found for an execution this process holds, handed to the
/// [`StopHandler`]. Answer it with [`StopAsked::reply`]; one dropped
/// unanswered is handed over again at the next look, while it stands.
pub(crate) struct StopAsked {
    /// Which request this is.
    pub ticket: u64,
    /// The execution it is about.
    pub exec: ExecutionId,
    /// What it asks.
    pub ask: StopAsk,
    replier: Option<Replier>,
}

impl StopAsked {
    /// A request; `replier` writes the reply to it (or lets it be handed
    /// over again, given `None`).
    pub(crate) fn new(
        ticket: u64,
        exec: ExecutionId,
        ask: StopAsk,
        replier: impl FnOnce(Option<StopReply>) + Send + 'static,
    ) -> StopAsked {
        StopAsked {
            ticket,
            exec,
            ask,
            replier: Some(Box::new(replier)),
        }
    }

    /// Answers the request.
    pub(crate) fn reply(mut self, reply: StopReply) {
        if let Some(replier) = self.replier.take() {
            replier(Some(reply));
        }
    }
}

impl Drop for StopAsked {
    fn drop(&mut self) {
        if let Some(replier) = self.replier.take() {
            replier(None);
        }
    }
}

impl fmt::Debug for StopAsked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopAsked")
            .field("ticket", &self.ticket)
            .field("exec", &self.exec)
            .field("ask", &self.ask)
            .finish_non_exhaustive()
    }
}

/// What a process does with the requests for the executions it holds
/// (the runner's: see `runner::asked`). Called from the journal's own
/// tasks: it must not block.
pub(crate) type StopHandler = Arc<dyn Fn(StopAsked) + Send + Sync>;
