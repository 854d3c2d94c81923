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
use super::call::{CallContext, Job};
use super::call_id::CallIds;
use super::cancel::CancelToken;
use super::input::canonical_object;
use super::lanes::{self, InlineLane};
use super::recorded::Recorded;
use super::replay::{Decision, ReplaySource};
use super::slot::{CallOutcome, CallSlot};
use crate::bindings::types::CallError;
use crate::component::Component;
use crate::error::JournalError;
use crate::events::Event;
use crate::journal::record::{CallRecord, ExecutionRecord, WaitRecord};
use crate::journal::writer::{Put, Sync};
use crate::manifest::CheckpointInfo;
use crate::model::{CallSource, CallStatus, ExecutionId, Runtime};
use crate::policy::Policy;
use crate::runtime::deterministic::SeededRandom;

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
    /// The flow waits for a value that is not there yet: it is unloaded and
    /// the execution becomes `waiting`.
    #[error("waiting for `{0}`")]
    Suspended(String),
    /// The execution was cancelled.
    #[error("the execution was cancelled")]
    Cancelled,
}

/// What earlier runs (and, for a replay, the source execution) left for
/// this run of the flow.
#[derive(Default)]
pub(crate) struct Prelude {
    /// This execution's journaled calls.
    pub(crate) recorded: Recorded,
    /// The values its `now()` returned.
    pub(crate) times: Vec<u64>,
    /// The source of a replay.
    pub(crate) replay: Option<ReplaySource>,
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
    replay: Option<ReplaySource>,
    times: Vec<u64>,
    next_time: usize,
    random: SeededRandom,
    cancel: Arc<CancelToken>,
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
        prelude: Prelude,
        cancel: Arc<CancelToken>,
    ) -> Execution {
        let flow_cache = component
            .manifest()
            .flow(&record.flow)
            .is_none_or(|f| f.cache);
        let random = SeededRandom::new(record.seed, "runner");
        Execution {
            ctx: Arc::new(CallContext {
                exec: id,
                runner,
                component,
            }),
            record,
            flow_cache,
            recorded_len: prelude.recorded.len(),
            recorded: prelude.recorded,
            replay: prelude.replay,
            times: prelude.times,
            next_time: 0,
            random,
            cancel,
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
        self.check_cancelled()?;
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
        self.check_cancelled()?;
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

    /// The cancel token of this execution.
    pub(crate) fn cancel_token(&self) -> Arc<CancelToken> {
        self.cancel.clone()
    }

    fn check_cancelled(&self) -> Result<(), Abort> {
        if self.cancel.is_cancelled() {
            Err(Abort::Cancelled)
        } else {
            Ok(())
        }
    }

    /// A durable wait: the supplied value, or the execution suspends (after
    /// recording the wait, the first time).
    pub(crate) async fn wait(
        &mut self,
        name: &str,
        question: &str,
        schema: &str,
    ) -> Result<Result<String, CallError>, Abort> {
        self.check_cancelled()?;
        if let Err(e) = serde_json::from_str::<serde_json::Value>(schema) {
            return Ok(Err(CallError::Context(format!(
                "the schema of wait `{name}` is not valid JSON: {e}"
            ))));
        }
        let runner = self.ctx.runner.clone();
        let exec = self.ctx.exec;
        let waits = runner.journal.waits(exec)?;
        match waits.into_iter().find(|(n, _)| n == name) {
            Some((
                _,
                WaitRecord {
                    value: Some(value), ..
                },
            )) => Ok(Ok(value)),
            Some(_) => Err(Abort::Suspended(name.to_owned())),
            None => {
                let record = WaitRecord {
                    question: question.to_owned(),
                    schema: schema.to_owned(),
                    value: None,
                    asked_at_us: runner.clock.now_us(),
                    answered_at_us: None,
                };
                runner
                    .journal
                    .write(vec![Put::wait(exec.0, name, &record)], runner.ack_sync())
                    .await?;
                Err(Abort::Suspended(name.to_owned()))
            }
        }
    }

    /// The flow's clock: the journaled value on a resume, else the host's
    /// clock, journaled before the flow can act on it.
    pub(crate) async fn now_us(&mut self) -> Result<u64, Abort> {
        let n = self.next_time;
        self.next_time += 1;
        if let Some(us) = self.times.get(n) {
            return Ok(*us);
        }
        let runner = self.ctx.runner.clone();
        let us = runner.clock.now_us();
        let put = Put::Time {
            exec: self.ctx.exec.0,
            n: u32::try_from(n).unwrap_or(u32::MAX),
            us,
        };
        // Lazy is enough: the single writer commits in order, so any call
        // that depends on this value is durable only after it is.
        runner.journal.write(vec![put], Sync::Lazy).await?;
        self.times.push(us);
        Ok(us)
    }

    /// The flow's random numbers, from the execution's journaled seed.
    pub(crate) fn random(&mut self) -> u64 {
        use rand_core::Rng;
        self.random.next_u64()
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
                    runner.emit(Event::CallReplayed {
                        exec: self.ctx.exec,
                        seq,
                        call_id: recorded.call.call_id.clone(),
                    });
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
        let (preset, root) = match self.replay.as_mut() {
            None => (None, false),
            Some(replay) => {
                let (decision, divergence) =
                    replay.decide(seq, &info.name, &call.call_id, &call.input);
                if let Some(d) = divergence {
                    runner.emit(Event::ReplayDiverged {
                        exec: self.ctx.exec,
                        seq: d.seq,
                        source: d.expected,
                        now: d.found,
                    });
                }
                match decision {
                    Decision::Override(output) => (Some((CallSource::Overridden, output)), false),
                    Decision::Reuse(output) => (Some((CallSource::Replayed, output)), false),
                    Decision::Live { root } => (None, root),
                }
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
            cached: !root && info.cache.unwrap_or(self.flow_cache),
            info,
            first_attempt,
            preset: preset.clone(),
        };
        match runtime {
            // A preset output needs no store: it only has to be journaled.
            _ if preset.is_some() => lanes::isolated(self.ctx.clone(), job, filler),
            Runtime::Isolated => lanes::isolated(self.ctx.clone(), job, filler),
            Runtime::Inline => self
                .inline
                .get_or_insert_with(|| InlineLane::start(self.ctx.clone()))
                .push(job, filler),
        }
        Ok(slot)
    }
}
