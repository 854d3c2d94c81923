//! Driving a host-side flow: its code runs as a task of its own, calling
//! the execution through its [`FlowCtx`]. When the execution must stop
//! (cancelled, waiting, non-deterministic, a journal failure), the task is
//! dropped at its next await, as a guest flow's store is; a panic in it
//! fails the execution as a trap fails a guest flow.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::execution::Execution;
use super::guest::FlowEnd;
use super::{Claim, Ending, Runner};
use crate::call::Stop;
use crate::error::Halt;
use crate::host_flow::{FlowCtx, FlowError, Registered, Shared};
use crate::journal::record::ExecutionRecord;
use crate::model::{ExecutionId, Failure, FailureKind};
use crate::runner::Outcome;

/// The flow's task while the runner drives it. If the runner's future is
/// dropped (an embedder gave up on it), the task is stopped too rather than
/// left to run detached, unclaimed, beside a later resume.
struct FlowTask {
    task: tokio::task::JoinHandle<Result<Result<String, FlowError>, String>>,
    shared: Arc<Shared>,
}

impl Drop for FlowTask {
    fn drop(&mut self) {
        self.shared.close();
        self.task.abort();
    }
}

impl Runner {
    /// Runs a host-side flow, and records how it ended.
    pub(super) async fn drive_host(
        self: &Arc<Self>,
        id: ExecutionId,
        mut record: ExecutionRecord,
        flow: &Registered,
        execution: Execution,
        claim: &Claim<'_>,
    ) -> Result<Outcome, Halt> {
        let (end, _) = self
            .run_host(id, &mut record, flow, execution, &claim.cancel)
            .await;
        let ending = match end {
            FlowEnd::Ended(ending) => ending,
            FlowEnd::Stopped(stop) => self.stop_ending(id, &mut record, &stop).await?,
        };
        self.finish(id, &mut record, ending).await
    }

    /// Runs a host-side flow until it ends; the execution's context is
    /// handed back, closed. Nothing is written here.
    pub(super) async fn run_host(
        &self,
        id: ExecutionId,
        record: &mut ExecutionRecord,
        flow: &Registered,
        execution: Execution,
        cancel: &CancellationToken,
    ) -> (FlowEnd, Arc<Shared>) {
        let max_message = self.policy.max_message_bytes;
        let failed = |kind: FailureKind, message: String| {
            Ending::Failed(Failure::new(
                kind,
                crate::guest_text::bounded(message, max_message),
            ))
        };
        let shared = Shared::new(execution);
        let ctx = FlowCtx::new(shared.clone(), id);
        // Everything of the flow's code runs in its task, the decoding of
        // its input and the synchronous start of its closure included, so
        // that a panic anywhere in it is caught the same way.
        let started = {
            let flow = flow.clone();
            let input = record.input.clone();
            tokio::spawn(async move {
                match flow.start(ctx, &input) {
                    Ok(run) => Ok(run.await),
                    Err(reason) => Err(reason),
                }
            })
        };
        let mut running = FlowTask {
            task: started,
            shared: shared.clone(),
        };
        let joined = tokio::select! {
            joined = &mut running.task => Some(joined),
            _ = shared.until_stopped() => None,
            () = cancel.cancelled() => None,
        };
        if joined.is_none() {
            running.task.abort();
            // Wait for the task to go, so that it submits nothing more.
            let _ = (&mut running.task).await;
        }
        // From here the flow's context is refused (a context its code kept
        // cannot add calls), and what it submitted is counted and waited for.
        let settling = {
            let mut execution = shared.execution();
            shared.close();
            record.calls = execution.calls_journaled();
            execution.settle()
        };
        drop(running);
        let mut settled = settling.await;
        let stopped = shared
            .stopped()
            .or(settled.stopped.take())
            .or_else(|| cancel.is_cancelled().then_some(Stop::Cancelled));
        let ending = match (stopped, joined) {
            (Some(stop), _) => return (FlowEnd::Stopped(stop), shared),
            (None, Some(Ok(Ok(Ok(output))))) => match settled.unawaited_failure() {
                Some(message) => failed(FailureKind::FlowError, message),
                None => Ending::Completed(output),
            },
            (None, Some(Ok(Ok(Err(error))))) => failed(FailureKind::FlowError, error.to_string()),
            // Checked when the execution was created: the flow's input type
            // has changed since.
            (None, Some(Ok(Err(reason)))) => failed(
                FailureKind::BadInput,
                format!("the input does not decode as the flow's input type: {reason}"),
            ),
            (None, Some(Err(join_error))) if join_error.is_panic() => failed(
                FailureKind::FlowTrapped,
                format!("the host-side flow panicked: {}", panic_message(join_error)),
            ),
            // The task was cancelled from outside (the runtime is shutting
            // down): a host failure, not the flow's, and not retried.
            (None, Some(Err(join_error))) => {
                let stop = Stop::Host(format!("the host-side flow's task stopped: {join_error}"));
                return (FlowEnd::Stopped(stop), shared);
            }
            // The task was dropped only when something stopped the execution.
            (None, None) => Ending::Cancelled,
        };
        (FlowEnd::Ended(ending), shared)
    }
}

fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned()),
        Err(error) => error.to_string(),
    }
}
