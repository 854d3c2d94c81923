//! Driving a guest flow: the component's `run-flow` export in a flow store,
//! whose `runner` import makes the execution's calls (see
//! [`super::flow_store`]). A trap of the flow's own code fails the
//! execution; a [`Stop`] raised under it (cancel, wait, non-determinism, a
//! journal failure) ends it the way the stop says.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::claim::Run;
use super::execution::Execution;
use super::flow_store;
use super::{Ending, Outcome, Runner};
use crate::bindings::types::GuestError;
use crate::call::Stop;
use crate::component::Component;
use crate::error::Halt;
use crate::guest_text;
use crate::journal::record::ExecutionRecord;
use crate::model::{ExecutionId, Failure, FailureKind};
use crate::runtime::outcome;

/// How a run of a flow came to its end, before anything is recorded of it.
pub(super) enum FlowEnd {
    /// It ended (or the runner ended it) the way the ending says.
    Ended(Ending),
    /// Something stopped it from inside a call (see [`Stop`]).
    Stopped(Stop),
}

impl Runner {
    /// Runs a guest flow in a flow store, and records how it ended.
    pub(super) async fn drive_guest(
        self: &Arc<Self>,
        id: ExecutionId,
        mut record: ExecutionRecord,
        component: &Component,
        execution: Execution,
        run: &Run<'_>,
    ) -> Result<Outcome, Halt> {
        let (end, _) = self
            .run_guest(&mut record, component, execution, run.token())
            .await;
        let ending = match end {
            FlowEnd::Ended(ending) => ending,
            FlowEnd::Stopped(stop) => self.stop_ending(id, &mut record, &stop).await?,
        };
        // Stopped for a switch of builds, not cancelled: the execution
        // goes on (see `super::switch`).
        if matches!(ending, Ending::Cancelled) && run.paused() {
            return self.pause(id, &mut record).await;
        }
        self.finish(id, &mut record, ending).await
    }

    /// Runs a guest flow in a flow store until it ends, and hands the
    /// execution back: what the flow logged and how many calls it made
    /// are in `record`; nothing is written here (a dry run's execution
    /// writes nothing either).
    pub(super) async fn run_guest(
        &self,
        record: &mut ExecutionRecord,
        component: &Component,
        execution: Execution,
        cancel: &CancellationToken,
    ) -> (FlowEnd, Execution) {
        let pre = match self.components.flow_pre(&self.engine, component) {
            Ok(pre) => pre,
            // The component loaded, so its imports were checked then: this
            // is the host's failure, recorded as such.
            Err(e) => {
                let stop = Stop::Host(format!("cannot prepare the flow's store: {e}"));
                return (FlowEnd::Stopped(stop), execution);
            }
        };
        let mut store = flow_store::new_store(&self.engine, component.clone(), execution);
        let activity = store.data().activity();
        let run = async {
            let guest = pre.instantiate_async(&mut store).await?;
            guest
                .cairn_checkpoint_guest()
                .call_run_flow(&mut store, &record.flow, &record.input)
                .await
        };
        // Dropping the flow's call stops it wherever it is (its store is
        // thrown away after): when it is cancelled, or when its own code has
        // gone on past the attempt time limit since its last runner request
        // (blocked in a WASI sleep or poll, which fuel and epochs do not
        // reach).
        let call = tokio::select! {
            call = run => call,
            () = activity.overrun(self.policy.timeout) => {
                Err(wasmtime::Error::new(wasmtime::Trap::Interrupt))
            }
            () = cancel.cancelled() => Err(wasmtime::Error::new(Stop::Cancelled)),
        };
        // Everything the flow submitted runs to its end and is journaled,
        // awaited or not.
        let mut settled = store.data_mut().execution.settle().await;
        let (stdout, stderr) = store.data().take_output();
        record.calls = store.data().execution.calls_journaled();
        append_log(
            &mut record.flow_log,
            &stdout,
            &stderr,
            self.policy.log_bytes.saturating_mul(4),
        );
        let call = match (call, settled.stopped.take()) {
            (_, Some(stop)) => Err(wasmtime::Error::new(stop)),
            (Ok(Ok(output)), None) => match settled.unawaited_failure() {
                Some(message) => Ok(Err(GuestError::Failed(message))),
                None => Ok(Ok(output)),
            },
            (call, None) => call,
        };
        let max_message = self.policy.max_message_bytes;
        let failed = |kind: FailureKind, message: String| {
            Ending::Failed(Failure::new(
                kind,
                guest_text::bounded(message, max_message),
            ))
        };
        let (memory_hit, memory_limit) = store.data().memory_hit();
        let ending = match call {
            Ok(Ok(output)) => match guest_text::check_output(&output, self.policy.max_output_bytes)
            {
                Ok(()) => Ending::Completed(output),
                Err(reason) => failed(
                    FailureKind::FlowError,
                    format!("the flow's output {reason}"),
                ),
            },
            Ok(Err(GuestError::Failed(message))) => failed(FailureKind::FlowError, message),
            Ok(Err(GuestError::BadInput(message))) => failed(FailureKind::BadInput, message),
            Ok(Err(GuestError::Unknown(message))) => failed(FailureKind::FlowError, message),
            Err(error) => match error.downcast_ref::<Stop>() {
                Some(stop) => {
                    let stop = stop.clone();
                    return (FlowEnd::Stopped(stop), store.into_data().execution);
                }
                None if cancel.is_cancelled() => Ending::Cancelled,
                None => {
                    let (kind, message) = outcome::trap(&error, memory_hit, memory_limit, &stderr);
                    failed(
                        FailureKind::FlowTrapped,
                        format!("the flow trapped ({kind}): {message}"),
                    )
                }
            },
        };
        (FlowEnd::Ended(ending), store.into_data().execution)
    }
}

/// Appends a run's flow output to the execution's log, keeping at most
/// `cap` bytes (the oldest go first).
fn append_log(log: &mut Vec<u8>, stdout: &[u8], stderr: &[u8], cap: usize) {
    log.extend_from_slice(stdout);
    log.extend_from_slice(stderr);
    if log.len() > cap {
        let cut = log.len() - cap;
        log.drain(..cut);
    }
}
