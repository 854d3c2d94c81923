//! One execution in progress: what happens when the flow submits a call.
//!
//! Submitting is synchronous and decides everything the journal's meaning
//! depends on: the call's seq (program order) and call id. If the journal
//! already has a call at that seq (a resume), it must be the same call —
//! else the flow is stopped with a non-determinism error — and a completed
//! one is answered from the journal at once. Any other call is handed to its
//! lane (see [`super::lanes`]) and runs while the flow goes on; the flow's
//! handle waits for it. When the flow ends, every call still running is
//! waited for, so everything submitted is journaled.

use std::sync::Arc;

use super::Runner;
use super::call::{self, CallContext, Job};
use super::call_id::CallIds;
use super::input::canonical_object;
use super::lanes::{self, InlineLane};
use super::recorded::Recorded;
use super::slot::{CallOutcome, CallSlot};
use crate::bindings::types::CallError;
use crate::component::Component;
use crate::error::JournalError;
use crate::events::Event;
use crate::journal::record::{CallRecord, ExecutionRecord};
use crate::manifest::CheckpointInfo;
use crate::model::{CallSource, CallStatus, ExecutionId, Runtime};
use crate::policy::Policy;

/// Why a flow is stopped from inside a call.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum Abort {
    /// The journal failed.
    #[error("journal failure during execution: {0}")]
    Journal(#[from] JournalError),
    /// On resume, the flow made a call that does not match the journal.
    #[error("non-determinism at seq {seq}: the journal has {expected}, the flow now calls {found}")]
    NonDeterminism {
        seq: u32,
        expected: String,
        found: String,
    },
    /// The host failed otherwise.
    #[error("host failure during execution: {0}")]
    Host(String),
}

/// What the flow's calls came to once it ended.
pub(crate) struct Settled {
    /// Calls that failed and whose result the flow never asked for.
    pub(crate) unawaited_failures: Vec<(String, CallError)>,
    /// A host failure while running a call, if any.
    pub(crate) aborted: Option<Abort>,
}

pub(crate) struct Execution {
    ctx: Arc<CallContext>,
    record: ExecutionRecord,
    flow_cache: bool,
    recorded: Recorded,
    recorded_len: u32,
    next_seq: u32,
    call_ids: CallIds,
    inline: Option<InlineLane>,
    slots: Vec<Arc<CallSlot>>,
}

impl Execution {
    pub(crate) fn new(
        id: ExecutionId,
        record: ExecutionRecord,
        runner: Arc<Runner>,
        component: Component,
        recorded: Recorded,
    ) -> Execution {
        let flow_cache = component
            .manifest()
            .flow(&record.flow)
            .is_none_or(|f| f.cache);
        Execution {
            ctx: Arc::new(CallContext {
                exec: id,
                runner,
                component,
            }),
            record,
            flow_cache,
            recorded_len: recorded.len(),
            recorded,
            next_seq: 0,
            call_ids: CallIds::default(),
            inline: None,
            slots: Vec::new(),
        }
    }

    pub(crate) fn record(&self) -> &ExecutionRecord {
        &self.record
    }

    pub(crate) fn policy(&self) -> &Policy {
        &self.ctx.runner.policy
    }

    /// How many calls the journal holds for this execution: those the flow
    /// made, or more if an earlier run made more.
    pub(crate) fn calls_journaled(&self) -> u32 {
        self.next_seq.max(self.recorded_len)
    }

    /// Submits one call. `Ok(Err(..))` refuses it (nothing is journaled);
    /// `Err` stops the flow.
    pub(crate) fn submit(
        &mut self,
        name: &str,
        input: &str,
    ) -> Result<Result<Arc<CallSlot>, CallError>, Abort> {
        let (info, input) = match self.check(name, input) {
            Ok(checked) => checked,
            Err(refused) => return Ok(Err(refused)),
        };
        let call_id = self.call_ids.next(name);
        self.enqueue(info, input, call_id).map(Ok)
    }

    /// Submits one call per input, all or none: call ids `name[i]` (or
    /// `name_2[i]` for the checkpoint's second map), consecutive seqs.
    pub(crate) fn submit_map(
        &mut self,
        name: &str,
        inputs: &[String],
    ) -> Result<Result<Vec<Arc<CallSlot>>, CallError>, Abort> {
        let mut checked = Vec::with_capacity(inputs.len());
        for input in inputs {
            match self.check(name, input) {
                Ok(ok) => checked.push(ok),
                Err(refused) => return Ok(Err(refused)),
            }
        }
        let base = self.call_ids.next(name);
        let mut slots = Vec::with_capacity(checked.len());
        for (i, (info, input)) in checked.into_iter().enumerate() {
            slots.push(self.enqueue(info, input, format!("{base}[{i}]"))?);
        }
        Ok(Ok(slots))
    }

    /// Waits for every call still running and reports what the flow missed.
    pub(crate) async fn settle(&mut self) -> Settled {
        // Dropping the inline lane lets its worker finish its queue and stop.
        self.inline = None;
        let mut settled = Settled {
            unawaited_failures: Vec::new(),
            aborted: None,
        };
        for slot in &self.slots {
            match slot.wait().await {
                CallOutcome::Finished(Err(error)) if !slot.awaited() => {
                    settled
                        .unawaited_failures
                        .push((slot.call_id.clone(), error));
                }
                CallOutcome::Aborted(abort) => {
                    settled.aborted.get_or_insert(abort);
                }
                CallOutcome::Finished(_) => {}
            }
        }
        settled
    }

    /// Checks a call before anything is journaled: a known checkpoint and
    /// an input that is a JSON object.
    fn check(&self, name: &str, input: &str) -> Result<(CheckpointInfo, String), CallError> {
        let manifest = self.ctx.component.manifest();
        let Some(info) = manifest.checkpoint(name) else {
            return Err(CallError::Context(format!(
                "unknown checkpoint `{name}`; the component has: {}",
                manifest.checkpoint_names()
            )));
        };
        let input = canonical_object(input).map_err(|reason| {
            CallError::Context(format!("the input of checkpoint `{name}` is {reason}"))
        })?;
        Ok((info.clone(), input))
    }

    /// Gives a checked call its seq and starts it (or answers it from the
    /// journal).
    fn enqueue(
        &mut self,
        info: CheckpointInfo,
        input: String,
        call_id: String,
    ) -> Result<Arc<CallSlot>, Abort> {
        let seq = self.next_seq;
        let runner = &self.ctx.runner;
        let (call, first_attempt) = match self.recorded.take(seq) {
            Some(recorded) => {
                let was = &recorded.call;
                if was.name != info.name || was.input != input || was.call_id != call_id {
                    return Err(Abort::NonDeterminism {
                        seq,
                        expected: format!("`{}` ({}) with {}", was.name, was.call_id, was.input),
                        found: format!("`{}` ({call_id}) with {input}", info.name),
                    });
                }
                self.next_seq += 1;
                if recorded.call.status == CallStatus::Completed {
                    call::completed(runner, self.ctx.exec, seq, &recorded.call, 0);
                    let output = recorded.call.output.unwrap_or_else(|| "null".to_owned());
                    let slot = CallSlot::ready(call_id, CallOutcome::Finished(Ok(output)));
                    self.slots.push(slot.clone());
                    return Ok(slot);
                }
                let mut call = recorded.call;
                call.status = CallStatus::Running;
                (call, recorded.last_attempt + 1)
            }
            None => {
                self.next_seq += 1;
                let call = CallRecord {
                    call_id,
                    name: info.name.clone(),
                    kind: info.kind.clone(),
                    runtime: info.runtime,
                    input,
                    status: CallStatus::Running,
                    source: CallSource::Executed,
                    output: None,
                    attempts: 0,
                };
                (call, 1)
            }
        };
        runner.emit(Event::CallSubmitted {
            exec: self.ctx.exec,
            seq,
            call_id: call.call_id.clone(),
        });
        let (slot, filler) = CallSlot::empty(call.call_id.clone());
        self.slots.push(slot.clone());
        let runtime = call.runtime;
        let job = Job {
            seq,
            call,
            cached: info.cache.unwrap_or(self.flow_cache),
            info,
            first_attempt,
        };
        match runtime {
            Runtime::Isolated => lanes::isolated(self.ctx.clone(), job, filler),
            Runtime::Inline => self
                .inline
                .get_or_insert_with(|| InlineLane::start(self.ctx.clone()))
                .push(job, filler),
        }
        Ok(slot)
    }
}
