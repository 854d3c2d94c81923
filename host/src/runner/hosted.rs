//! Driving a host-side flow: its code runs as a task of its own, calling
//! the execution through its [`FlowCtx`]. When the execution must stop
//! (cancelled, waiting, non-deterministic, a journal failure), the task is
//! dropped at its next await, as a guest flow's store is; a panic in it
//! fails the execution as a trap fails a guest flow.

use std::sync::Arc;

use super::execution::{Abort, Execution};
use super::{Claim, Ending, Runner};
use crate::error::RunError;
use crate::host_flow::{FlowCtx, Registered, Shared};
use crate::journal::record::ExecutionRecord;
use crate::model::{ExecutionId, Failure, FailureKind};
use crate::runner::Outcome;

impl Runner {
    pub(super) async fn drive_host(
        self: &Arc<Self>,
        id: ExecutionId,
        mut record: ExecutionRecord,
        flow: &Registered,
        execution: Execution,
        claim: &Claim<'_>,
    ) -> Result<Outcome, RunError> {
        let failed = |kind: FailureKind, message: String| Ending::Failed(Failure { kind, message });
        let shared = Shared::new(execution);
        let ctx = FlowCtx::new(shared.clone(), id);
        let run = match flow.start(ctx, &record.input) {
            Ok(run) => run,
            // Checked when the execution was created: the flow's input type
            // has changed since.
            Err(reason) => {
                let message =
                    format!("the input does not decode as the flow's input type: {reason}");
                return self
                    .finish(id, &mut record, failed(FailureKind::BadInput, message))
                    .await;
            }
        };
        let mut task = tokio::spawn(run);
        let joined = tokio::select! {
            joined = &mut task => Some(joined),
            _ = shared.until_stopped() => None,
            () = claim.cancel.cancelled() => None,
        };
        if joined.is_none() {
            task.abort();
            // Wait for the task to go, so that it submits nothing more.
            let _ = task.await;
        }
        // A context the flow's code kept beyond its run cannot add calls.
        shared.close();
        record.calls = shared.execution().calls_journaled();
        // The lock is released before waiting: `settle` returns a future
        // that does not hold the execution.
        let settling = shared.execution().settle();
        let settled = settling.await;
        let stopped = shared
            .stopped()
            .or(settled.aborted)
            .or_else(|| claim.cancel.is_cancelled().then_some(Abort::Cancelled));
        let ending = match (stopped, joined) {
            (Some(abort), _) => self.abort_ending(id, &mut record, &abort).await?,
            (None, Some(Ok(Ok(output)))) => match settled.unawaited_failures.first() {
                Some((call_id, error)) => failed(
                    FailureKind::FlowError,
                    format!(
                        "call `{call_id}` failed and its result was never awaited: {}",
                        super::describe(error)
                    ),
                ),
                None => Ending::Completed(output),
            },
            (None, Some(Ok(Err(error)))) => failed(FailureKind::FlowError, error.to_string()),
            (None, Some(Err(join_error))) => failed(
                FailureKind::FlowTrapped,
                format!("the host-side flow panicked: {}", panic_message(join_error)),
            ),
            // The task was dropped only when something stopped the execution.
            (None, None) => Ending::Cancelled,
        };
        self.finish(id, &mut record, ending).await
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
