//! Driving a guest flow: the component's `run-flow` export in a flow store,
//! whose `runner` import makes the execution's calls (see
//! [`crate::runtime::flow`]). A trap of the flow's own code fails the
//! execution; an abort raised under it (cancel, wait, non-determinism, a
//! journal failure) ends it the way the abort says.

use std::sync::Arc;

use super::execution::{Abort, Execution};
use super::{Claim, Ending, Outcome, Runner};
use crate::bindings::types::GuestError;
use crate::component::Component;
use crate::error::RunError;
use crate::journal::record::ExecutionRecord;
use crate::model::{ExecutionId, Failure, FailureKind};
use crate::runtime::{flow, outcome};

impl Runner {
    /// Runs a guest flow in a flow store.
    pub(super) async fn drive_guest(
        self: &Arc<Self>,
        id: ExecutionId,
        mut record: ExecutionRecord,
        component: &Component,
        execution: Execution,
        claim: &Claim<'_>,
    ) -> Result<Outcome, RunError> {
        let mut store = flow::new_store(&self.engine, component.clone(), execution);
        let call = match component.flow_pre().instantiate_async(&mut store).await {
            Ok(guest) => {
                guest
                    .cairn_checkpoint_guest()
                    .call_run_flow(&mut store, &record.flow, &record.input)
                    .await
            }
            Err(e) => Err(e),
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
        let call = match (call, settled.aborted.take()) {
            (_, Some(abort)) => Err(wasmtime::Error::new(abort)),
            (Ok(Ok(output)), None) => match settled.unawaited_failure() {
                Some(message) => Ok(Err(GuestError::Failed(message))),
                None => Ok(Ok(output)),
            },
            (call, None) => call,
        };
        let failed = |kind: FailureKind, message: String| Ending::Failed(Failure { kind, message });
        let ending = match call {
            Ok(Ok(output)) => Ending::Completed(output),
            Ok(Err(GuestError::Failed(message))) => failed(FailureKind::FlowError, message),
            Ok(Err(GuestError::BadInput(message))) => failed(FailureKind::BadInput, message),
            Ok(Err(GuestError::Unknown(message))) => failed(FailureKind::FlowError, message),
            Err(error) => match error.downcast_ref::<Abort>() {
                Some(abort) => self.abort_ending(id, &mut record, abort).await?,
                None if claim.cancel.is_cancelled() => Ending::Cancelled,
                None => {
                    let (kind, message) = outcome::trap(&error, false, 0, &stderr);
                    failed(
                        FailureKind::FlowTrapped,
                        format!("the flow trapped ({kind}): {message}"),
                    )
                }
            },
        };
        self.finish(id, &mut record, ending).await
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
