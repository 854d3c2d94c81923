//! What a running host-side flow holds: its [`FlowCtx`], the only way to
//! call a checkpoint, and the [`Pending`] results of its calls.
//!
//! Every request goes to the same execution logic a guest flow's `runner`
//! import uses, so seqs, call ids, the journal, resume, cache, retries and
//! replay mean the same. A call is submitted when `call`, `submit` or `map`
//! is called, not when its future is first polled, so its seq follows
//! program order however the results are awaited.

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::checkpoint::Checkpoint;
use crate::call::{CallFailure, CallOutcome, CallSlot, Stop};
use crate::model::{ExecutionId, TrapKind};
use crate::runner::execution::Execution;

// A child of this module: it reaches the context's execution as the
// methods here do.
#[path = "children.rs"]
mod children;
#[path = "timers.rs"]
mod timers;

/// Why a checkpoint call (or a wait) of a host-side flow gave no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The checkpoint returned an error on its last attempt.
    #[error("call `{call_id}` failed: {message}")]
    Failed {
        /// The call's id.
        call_id: String,
        /// The checkpoint's error message.
        message: String,
    },
    /// The checkpoint trapped on its last attempt (a panic, or a limit of
    /// the policy).
    #[error("call `{call_id}` trapped ({kind}): {message}")]
    Trapped {
        /// The call's id.
        call_id: String,
        /// Which limit or fault.
        kind: TrapKind,
        /// What happened.
        message: String,
    },
    /// The call was refused before anything was journaled: its input does
    /// not serialize to a JSON object, or the checkpoint is unknown.
    #[error("call refused: {0}")]
    Refused(String),
    /// An output (or a wait's value) does not decode as the type the flow
    /// expects. It is journaled all the same.
    #[error("`{what}` does not decode as the expected type: {reason}")]
    Decode {
        /// The call id, or the wait's name.
        what: String,
        /// The decode error.
        reason: String,
    },
    /// The execution is stopping (cancelled, waiting for a value,
    /// non-deterministic or failing to journal). The flow's code is dropped
    /// at its next await, so it need not handle this.
    #[error("the execution is stopping: {0}")]
    Stopped(String),
}

/// The execution a host-side flow drives, shared by its context and the
/// runner.
pub(crate) struct Shared {
    execution: Mutex<Execution>,
    /// Why the execution must stop, once something says so; the runner
    /// watches it and drops the flow's code.
    stop: watch::Sender<Option<Stop>>,
    /// Set when the flow's run is over: a context the flow's code leaked
    /// (into a task of its own, say) can no longer add calls to it.
    closed: AtomicBool,
}

impl Shared {
    pub(crate) fn new(execution: Execution) -> Arc<Shared> {
        Arc::new(Shared {
            execution: Mutex::new(execution),
            stop: watch::Sender::new(None),
            closed: AtomicBool::new(false),
        })
    }

    /// Ends the flow's run: later requests through its context are refused.
    /// The runner calls it holding the execution's lock, so no request is
    /// half way through when it does.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// The execution, unless the flow's run is over or stopping. The flag
    /// is read under the lock (see `close`).
    fn open(&self) -> Result<MutexGuard<'_, Execution>, CheckpointError> {
        let execution = self.execution();
        if self.closed.load(Ordering::SeqCst) {
            return Err(CheckpointError::Stopped(
                "the flow's run is over; its context can no longer be used".to_owned(),
            ));
        }
        if let Some(reason) = self.stopped() {
            return Err(CheckpointError::Stopped(reason.to_string()));
        }
        Ok(execution)
    }

    pub(crate) fn execution(&self) -> MutexGuard<'_, Execution> {
        // A panic while the lock was held cannot leave the execution half
        // changed in a way the journal has not seen: its writes are queued
        // in order, and the runner ends the execution after a panic.
        self.execution
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records why the execution stops (the first reason wins).
    fn stop(&self, reason: Stop) -> CheckpointError {
        let message = reason.to_string();
        self.stop.send_if_modified(|stop| {
            let first = stop.is_none();
            if first {
                *stop = Some(reason);
            }
            first
        });
        CheckpointError::Stopped(message)
    }

    /// Why the execution stopped, if it did.
    pub(crate) fn stopped(&self) -> Option<Stop> {
        self.stop.borrow().clone()
    }

    /// Waits until something stops the execution.
    pub(crate) async fn until_stopped(&self) -> Stop {
        let mut stop = self.stop.subscribe();
        match stop.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or(Stop::Cancelled),
            // The sender lives in `self`, so it cannot be gone.
            Err(_) => Stop::Cancelled,
        }
    }
}

/// What a host-side flow uses to call checkpoints, wait for values and read
/// its deterministic clock and randomness. The runner hands one to each run
/// of the flow; there is no other way to make one, so a checkpoint cannot
/// be called outside a flow.
pub struct FlowCtx {
    shared: Arc<Shared>,
    exec: ExecutionId,
}

impl FlowCtx {
    pub(crate) fn new(shared: Arc<Shared>, exec: ExecutionId) -> FlowCtx {
        FlowCtx { shared, exec }
    }

    /// The execution this flow runs as.
    pub fn execution_id(&self) -> ExecutionId {
        self.exec
    }

    /// Calls a checkpoint and waits for its output. The call is submitted
    /// (and gets its seq) now; `.await` the returned future for its output.
    pub fn call<I: Serialize, O: DeserializeOwned + Send + 'static>(
        &self,
        checkpoint: &Checkpoint<I, O>,
        input: &I,
    ) -> impl Future<Output = Result<O, CheckpointError>> + Send + 'static {
        self.submit(checkpoint, input).into_future()
    }

    /// Submits a call that runs while the flow goes on; its [`Pending`]
    /// gives the output. A call never awaited still runs and is journaled;
    /// if it fails, the execution fails when the flow ends.
    pub fn submit<I: Serialize, O: DeserializeOwned>(
        &self,
        checkpoint: &Checkpoint<I, O>,
        input: &I,
    ) -> Pending<O> {
        let name = checkpoint.name();
        let submitted = input_json(name, input).and_then(|input| {
            let submitted = self
                .shared
                .open()?
                .submit(checkpoint.component(), name, &input);
            match submitted {
                Ok(Ok(slot)) => Ok(slot),
                Ok(Err(refused)) => Err(refused_error(refused)),
                Err(reason) => Err(self.shared.stop(reason)),
            }
        });
        Pending::new(self.shared.clone(), submitted)
    }

    /// Calls a checkpoint once per input, all submitted now with call ids
    /// `name[i]` and consecutive seqs, and waits for every one of them. The
    /// outputs come in input order; if any call failed, the first failure
    /// by input order is returned instead.
    pub fn map<I: Serialize, O: DeserializeOwned + Send + 'static>(
        &self,
        checkpoint: &Checkpoint<I, O>,
        inputs: impl IntoIterator<Item = I>,
    ) -> impl Future<Output = Result<Vec<O>, CheckpointError>> + Send + 'static {
        let name = checkpoint.name();
        let submitted = inputs
            .into_iter()
            .map(|input| input_json(name, &input))
            .collect::<Result<Vec<String>, CheckpointError>>()
            .and_then(|inputs| {
                let submitted =
                    self.shared
                        .open()?
                        .submit_map(checkpoint.component(), name, &inputs);
                match submitted {
                    Ok(Ok(slots)) => Ok(slots),
                    Ok(Err(refused)) => Err(refused_error(refused)),
                    Err(reason) => Err(self.shared.stop(reason)),
                }
            });
        let shared = self.shared.clone();
        async move {
            let mut outputs = Vec::new();
            let mut first_failure = None;
            for slot in submitted? {
                match Pending::<O>::new(shared.clone(), Ok(slot)).result().await {
                    Ok(output) => outputs.push(output),
                    Err(failure) => {
                        first_failure.get_or_insert(failure);
                    }
                }
            }
            match first_failure {
                Some(failure) => Err(failure),
                None => Ok(outputs),
            }
        }
    }

    /// A durable wait: the value supplied for `name` (with
    /// [`Host::answer`](crate::Host::answer)), checked against `schema`
    /// (a JSON schema). The first time, the execution is recorded as
    /// waiting with `question` and the flow stops; resuming it after an
    /// answer runs the flow again and this returns the value.
    pub async fn wait<T: DeserializeOwned>(
        &self,
        name: &str,
        question: &str,
        schema: &serde_json::Value,
    ) -> Result<T, CheckpointError> {
        let waiting = self
            .shared
            .open()?
            .wait(name, question, &schema.to_string());
        match waiting.await {
            Ok(Ok(value)) => serde_json::from_str(&value).map_err(|e| CheckpointError::Decode {
                what: name.to_owned(),
                reason: e.to_string(),
            }),
            Ok(Err(refused)) => Err(refused_error(refused)),
            Err(reason) => Err(self.shared.stop(reason)),
        }
    }

    /// The flow's clock: journaled the first time, so a resumed or retried
    /// flow sees the same times in the same order.
    pub fn now(&self) -> Result<SystemTime, CheckpointError> {
        let now = self.shared.open()?.now_us();
        match now {
            Ok(us) => Ok(SystemTime::UNIX_EPOCH + Duration::from_micros(us)),
            Err(reason) => Err(self.shared.stop(reason)),
        }
    }

    /// A random number from the execution's journaled seed: the same
    /// sequence on every run of the flow.
    pub fn random_u64(&self) -> u64 {
        self.shared.execution().random()
    }
}

/// The output of a submitted call, once it finishes. `.await` it (or call
/// [`Pending::result`]).
#[must_use = "the call runs anyway; await it for its output"]
pub struct Pending<O> {
    shared: Arc<Shared>,
    submitted: Result<Arc<CallSlot>, CheckpointError>,
    output: PhantomData<fn() -> O>,
}

impl<O: DeserializeOwned> Pending<O> {
    fn new(shared: Arc<Shared>, submitted: Result<Arc<CallSlot>, CheckpointError>) -> Self {
        Pending {
            shared,
            submitted,
            output: PhantomData,
        }
    }

    /// The call's id (`name`, `name_2`, `name[i]`), if it was submitted.
    pub fn call_id(&self) -> Option<&str> {
        self.submitted
            .as_ref()
            .ok()
            .map(|slot| slot.call_id.as_str())
    }

    /// Waits for the call's output.
    pub async fn result(self) -> Result<O, CheckpointError> {
        let slot = self.submitted?;
        let outcome = slot.result().await;
        // Decoded below into the flow's own value; the host lets go of it.
        slot.release();
        match outcome {
            CallOutcome::Finished(Ok(output)) => {
                serde_json::from_str(&output).map_err(|e| CheckpointError::Decode {
                    what: slot.call_id.clone(),
                    reason: e.to_string(),
                })
            }
            CallOutcome::Finished(Err(failure)) => Err(call_error(&slot.call_id, failure)),
            CallOutcome::Stopped(stop) => Err(self.shared.stop(stop)),
        }
    }
}

impl<O: DeserializeOwned + Send + 'static> IntoFuture for Pending<O> {
    type Output = Result<O, CheckpointError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.result())
    }
}

/// A checkpoint input as the JSON the journal stores.
fn input_json<I: Serialize>(checkpoint: &str, input: &I) -> Result<String, CheckpointError> {
    serde_json::to_string(input).map_err(|e| {
        CheckpointError::Refused(format!(
            "the input of checkpoint `{checkpoint}` does not serialize: {e}"
        ))
    })
}

/// A request refused before anything was journaled, as the flow sees it.
fn refused_error(failure: CallFailure) -> CheckpointError {
    match failure {
        CallFailure::Failed(message)
        | CallFailure::Context(message)
        | CallFailure::Trapped { message, .. } => CheckpointError::Refused(message),
    }
}

/// A call's failure as the flow sees it, with the call's id.
fn call_error(call_id: &str, failure: CallFailure) -> CheckpointError {
    let call_id = call_id.to_owned();
    match failure {
        CallFailure::Failed(message) | CallFailure::Context(message) => {
            CheckpointError::Failed { call_id, message }
        }
        CallFailure::Trapped { kind, message } => CheckpointError::Trapped {
            call_id,
            kind,
            message,
        },
    }
}
