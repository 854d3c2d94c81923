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

use std::collections::{BTreeMap, BTreeSet};
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
use crate::journal::writer::Put;
use crate::manifest::CheckpointInfo;
use crate::model::{CallSource, CallStatus, ComponentHash, ExecutionId, Runtime};
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

/// What a wait does, decided before anything is written.
enum WaitStep {
    /// The value is there (or the wait itself is refused).
    Answered(Result<String, CallError>),
    /// The wait is recorded and still unanswered.
    Pending,
    /// The wait is new: record it, then suspend.
    Ask(Put),
}

/// What the flow's calls came to once it ended.
pub(crate) struct Settled {
    /// Calls that failed and whose result the flow never asked for.
    pub(crate) unawaited_failures: Vec<(String, CallError)>,
    /// A host failure while running a call, if any.
    pub(crate) aborted: Option<Abort>,
}

impl Settled {
    /// The failure of a flow that ended well but left a failed call's
    /// result unread: the first such call, by seq.
    pub(crate) fn unawaited_failure(&self) -> Option<String> {
        let (call_id, error) = self.unawaited_failures.first()?;
        Some(format!(
            "call `{call_id}` failed and its result was never awaited: {}",
            describe(error)
        ))
    }
}

/// A call error as the flow's failure message shows it.
fn describe(error: &CallError) -> String {
    match error {
        CallError::Failed(message) | CallError::Context(message) => message.clone(),
        CallError::Trapped(trapped) => format!("trapped: {}", trapped.message),
    }
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
    /// One inline lane per component the flow calls inline.
    inline: BTreeMap<ComponentHash, InlineLane>,
    /// Components known to be in the journal.
    stored: BTreeSet<ComponentHash>,
    slots: Vec<Arc<CallSlot>>,
}

impl Execution {
    /// `flow_cache` is the flow's default for calls whose checkpoint does
    /// not say whether it is cached.
    pub(crate) fn new(
        id: ExecutionId,
        record: ExecutionRecord,
        runner: Arc<Runner>,
        flow_cache: bool,
        prelude: Prelude,
        cancel: Arc<CancelToken>,
    ) -> Execution {
        let random = SeededRandom::new(record.seed, "runner");
        Execution {
            ctx: Arc::new(CallContext { exec: id, runner }),
            stored: record.component.into_iter().collect(),
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
            inline: BTreeMap::new(),
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
        component: &Component,
        name: &str,
        input: &str,
    ) -> Result<Result<Arc<CallSlot>, CallError>, Abort> {
        self.check_cancelled()?;
        let recorded = self.recorded.input_at(self.next_seq);
        let (info, input) = match check(component, name, input, recorded) {
            Ok(checked) => checked,
            Err(refused) => return Ok(Err(refused)),
        };
        let call_id = self.call_ids.next(name);
        self.enqueue(component, info, input, call_id).map(Ok)
    }

    /// Submits one call per input, all or none: call ids `name[i]` (or
    /// `name_2[i]` for the checkpoint's second map), consecutive seqs.
    pub(crate) fn submit_map(
        &mut self,
        component: &Component,
        name: &str,
        inputs: &[String],
    ) -> Result<Result<Vec<Arc<CallSlot>>, CallError>, Abort> {
        self.check_cancelled()?;
        let mut checked = Vec::with_capacity(inputs.len());
        for (seq, input) in (self.next_seq..).zip(inputs) {
            let recorded = self.recorded.input_at(seq);
            match check(component, name, input, recorded) {
                Ok(ok) => checked.push(ok),
                Err(refused) => return Ok(Err(refused)),
            }
        }
        let base = self.call_ids.next(name);
        let mut slots = Vec::with_capacity(checked.len());
        for (i, (info, input)) in checked.into_iter().enumerate() {
            slots.push(self.enqueue(component, info, input, format!("{base}[{i}]"))?);
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
    /// recording the wait, the first time). What to do is decided at once;
    /// the future only writes the wait, so it does not hold the execution.
    pub(crate) fn wait(
        &mut self,
        name: &str,
        question: &str,
        schema: &str,
    ) -> impl Future<Output = Result<Result<String, CallError>, Abort>> + Send + 'static {
        let decided = self.decide_wait(name, question, schema);
        let runner = self.ctx.runner.clone();
        let name = name.to_owned();
        async move {
            match decided? {
                WaitStep::Answered(answer) => Ok(answer),
                WaitStep::Pending => Err(Abort::Suspended(name)),
                WaitStep::Ask(put) => {
                    runner.journal.write(vec![put], runner.ack_sync()).await?;
                    Err(Abort::Suspended(name))
                }
            }
        }
    }

    fn decide_wait(&self, name: &str, question: &str, schema: &str) -> Result<WaitStep, Abort> {
        self.check_cancelled()?;
        if let Err(e) = serde_json::from_str::<serde_json::Value>(schema) {
            return Ok(WaitStep::Answered(Err(CallError::Context(format!(
                "the schema of wait `{name}` is not valid JSON: {e}"
            )))));
        }
        let runner = &self.ctx.runner;
        let exec = self.ctx.exec;
        let waits = runner.journal.waits(exec)?;
        Ok(match waits.into_iter().find(|(n, _)| n == name) {
            Some((
                _,
                WaitRecord {
                    value: Some(value), ..
                },
            )) => WaitStep::Answered(Ok(value)),
            Some(_) => WaitStep::Pending,
            None => {
                let record = WaitRecord {
                    question: question.to_owned(),
                    schema: schema.to_owned(),
                    value: None,
                    asked_at_us: runner.clock.now_us(),
                    answered_at_us: None,
                };
                WaitStep::Ask(Put::wait(exec.0, name, &record))
            }
        })
    }

    /// The flow's clock: the journaled value on a resume, else the host's
    /// clock, journaled before the flow can act on it.
    pub(crate) fn now_us(&mut self) -> Result<u64, Abort> {
        let n = self.next_time;
        self.next_time += 1;
        if let Some(us) = self.times.get(n) {
            return Ok(*us);
        }
        let runner = &self.ctx.runner;
        let us = runner.clock.now_us();
        let put = Put::Time {
            exec: self.ctx.exec.0,
            n: u32::try_from(n).unwrap_or(u32::MAX),
            us,
        };
        // Queued, not awaited: the single writer commits in order, so any
        // call that depends on this value is durable only after it is.
        runner.journal.queue(vec![put])?;
        self.times.push(us);
        Ok(us)
    }

    /// The flow's random numbers, from the execution's journaled seed.
    pub(crate) fn random(&mut self) -> u64 {
        use rand_core::Rng;
        self.random.next_u64()
    }

    /// Waits for every call still running and reports what the flow missed.
    /// The future does not hold the execution.
    pub(crate) fn settle(&mut self) -> impl Future<Output = Settled> + Send + 'static {
        // Dropping the inline lanes lets their workers finish their queues
        // and stop.
        self.inline.clear();
        let slots = std::mem::take(&mut self.slots);
        async move {
            let mut settled = Settled {
                unawaited_failures: Vec::new(),
                aborted: None,
            };
            for slot in &slots {
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
    }

    /// Gives a checked call its seq and starts it (or answers it from the
    /// journal).
    fn enqueue(
        &mut self,
        component: &Component,
        info: CheckpointInfo,
        input: String,
        call_id: String,
    ) -> Result<Arc<CallSlot>, Abort> {
        let seq = self.next_seq;
        let hash = component.hash();
        let (call, first_attempt) = match self.recorded.take(seq) {
            Some(recorded) => {
                let was = &recorded.call;
                if was.name != info.name
                    || was.input != input
                    || was.call_id != call_id
                    || was.component != hash
                {
                    // The component is named only when it is what changed
                    // (a host-side flow may call several).
                    let (was_in, now_in) = if was.component == hash {
                        (None, None)
                    } else {
                        (Some(was.component), Some(hash))
                    };
                    return Err(Abort::NonDeterminism {
                        seq,
                        expected: describe_call(&was.name, &was.call_id, &was.input, was_in),
                        found: describe_call(&info.name, &call_id, &input, now_in),
                    });
                }
                self.next_seq += 1;
                if recorded.call.status == CallStatus::Completed {
                    self.ctx.runner.emit(Event::CallReplayed {
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
                    component: hash,
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
        self.store_component(component)?;
        let runner = &self.ctx.runner;
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
            component: component.clone(),
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
                .entry(hash)
                .or_insert_with(|| InlineLane::start(self.ctx.clone()))
                .push(job, filler),
        }
        Ok(slot)
    }

    /// Puts a component the flow calls into the journal the first time, so
    /// the journal keeps the exact code of every call. A guest flow's own
    /// component is stored with the execution; a host-side flow's are
    /// stored here. The write is queued ahead of the call's records, so it
    /// is durable before they are.
    fn store_component(&mut self, component: &Component) -> Result<(), Abort> {
        let hash = component.hash();
        if self.stored.contains(&hash) {
            return Ok(());
        }
        let journal = &self.ctx.runner.journal;
        if !journal.has_component(hash)? {
            journal.queue(vec![Put::Component {
                hash: hash.0,
                bytes: component.bytes(),
            }])?;
        }
        self.stored.insert(hash);
        Ok(())
    }
}

/// Checks a call before anything is journaled: a known checkpoint and an
/// input that is a JSON object, in canonical form. On a resume the input is
/// usually the journaled one byte for byte (`recorded`), which is canonical
/// already, so it is not parsed again.
fn check(
    component: &Component,
    name: &str,
    input: &str,
    recorded: Option<&str>,
) -> Result<(CheckpointInfo, String), CallError> {
    let manifest = component.manifest();
    let Some(info) = manifest.checkpoint(name) else {
        return Err(CallError::Context(format!(
            "unknown checkpoint `{name}`; the component has: {}",
            manifest.checkpoint_names()
        )));
    };
    if recorded == Some(input) {
        return Ok((info.clone(), input.to_owned()));
    }
    let input = canonical_object(input).map_err(|reason| {
        CallError::Context(format!("the input of checkpoint `{name}` is {reason}"))
    })?;
    Ok((info.clone(), input))
}

/// A call as a non-determinism error shows it.
fn describe_call(
    name: &str,
    call_id: &str,
    input: &str,
    component: Option<ComponentHash>,
) -> String {
    match component {
        Some(component) => {
            let hex = component.to_hex();
            format!(
                "`{name}` ({call_id}) of component {} with {input}",
                &hex[..12]
            )
        }
        None => format!("`{name}` ({call_id}) with {input}"),
    }
}
