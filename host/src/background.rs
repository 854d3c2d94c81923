//! Starting work that goes on in the background: [`Host::start`],
//! [`Host::start_resume`] and [`Host::start_replay`] return as soon as the
//! execution exists (or is claimed), with a [`Started`] handle to await its
//! outcome — what a service needs to answer "accepted, execution 42" while
//! the flow runs.

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::component::Component;
use crate::error::{ReplayError, ResumeError, RunError};
use crate::host::Host;
use crate::model::ExecutionId;
use crate::runner::Outcome;
use crate::runner::replay::ReplayRequest;

/// An execution running in the background, on a task of its own. Dropping
/// the handle does not stop it; [`Host::cancel`] does.
#[derive(Debug)]
#[must_use = "the outcome (or the error that stopped the execution) is only seen through `outcome()`"]
pub struct Started<E> {
    id: ExecutionId,
    task: JoinHandle<Result<Outcome, E>>,
    panicked: fn(ExecutionId, String) -> E,
}

impl<E> Started<E> {
    /// The execution.
    pub fn id(&self) -> ExecutionId {
        self.id
    }

    /// Waits for the execution to end (or to stop: waiting for input,
    /// cancelled), as the foreground call would have returned it.
    pub async fn outcome(self) -> Result<Outcome, E> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err((self.panicked)(self.id, format!("its task ended: {e}"))),
        }
    }
}

impl Host {
    /// Starts `flow` of `component` with `input` as a new execution and
    /// returns once it is journaled, with its id; the flow runs on a task of
    /// its own. The errors that [`Host::run`] returns before anything runs
    /// (unknown flow, bad input, journal) are returned here.
    pub async fn start(
        &self,
        component: &Component,
        flow: &str,
        input: &str,
    ) -> Result<Started<RunError>, RunError> {
        let runner = self.runner().clone();
        let (component, flow, input) = (component.clone(), flow.to_owned(), input.to_owned());
        let (announce, announced) = oneshot::channel();
        let task = tokio::spawn(async move {
            runner
                .start_announced(&component, &flow, &input, Some(announce))
                .await
        });
        started(announced, task, |exec, reason| RunError::Host {
            exec,
            reason,
        })
        .await
    }

    /// Resumes execution `id` on a task of its own and returns once it is
    /// claimed. The errors that [`Host::resume`] returns before anything
    /// runs (unknown, cancelled, already running) are returned here.
    pub async fn start_resume(&self, id: ExecutionId) -> Result<Started<ResumeError>, ResumeError> {
        let runner = self.runner().clone();
        let (announce, announced) = oneshot::channel();
        let task = tokio::spawn(async move { runner.resume_announced(id, Some(announce)).await });
        started(announced, task, |exec, reason| ResumeError::Host {
            exec,
            reason,
        })
        .await
    }

    /// Replays `source` as a new execution on a task of its own and returns
    /// once the new execution is journaled, with its id. The errors that
    /// [`Host::replay`] returns before anything runs are returned here.
    pub async fn start_replay(
        &self,
        source: ExecutionId,
        request: ReplayRequest,
    ) -> Result<Started<ReplayError>, ReplayError> {
        let runner = self.runner().clone();
        let (announce, announced) = oneshot::channel();
        let task = tokio::spawn(async move {
            runner
                .replay_announced(source, request, Some(announce))
                .await
        });
        started(announced, task, |exec, reason| {
            ReplayError::Run(RunError::Host { exec, reason })
        })
        .await
    }
}

/// Waits until the task announces its execution, or ends without doing so
/// (the start failed: its error is the task's result).
pub(crate) async fn started<E: Send + 'static>(
    announced: oneshot::Receiver<ExecutionId>,
    task: JoinHandle<Result<Outcome, E>>,
    panicked: fn(ExecutionId, String) -> E,
) -> Result<Started<E>, E> {
    if let Ok(id) = announced.await {
        return Ok(Started { id, task, panicked });
    }
    match task.await {
        Err(e) => Err(panicked(ExecutionId(0), format!("its task ended: {e}"))),
        Ok(Err(e)) => Err(e),
        // It ended without announcing and without an error (a completed
        // execution's resume announces too, so this is not expected):
        // hand the outcome over as a finished task.
        Ok(Ok(outcome)) => Ok(Started {
            id: outcome.id,
            task: tokio::spawn(async move { Ok(outcome) }),
            panicked,
        }),
    }
}
