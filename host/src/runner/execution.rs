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

use tokio_util::sync::CancellationToken;

use super::Runner;
use super::call::{CallContext, Job};
pub(crate) use super::call_check::check_map_items;
use super::call_check::{check, describe_call, unknown_checkpoint};
use super::call_id::CallIds;
use super::child_budget::ChildBudget;
use super::in_place::InPlace;
use super::lanes::{self, InlineLane};
use super::recorded::Recorded;
use super::replay::{Decision, ReplaySource};
use crate::call::{CallFailure, CallOutcome, CallSlot, HeldBytes, Stop, over_limit};
use crate::component::Component;
use crate::events::Event;
use crate::journal::Entry;
use crate::journal::record::{CallRecord, ExecutionRecord, TimerRecord, WaitRecord};
use crate::manifest::CheckpointInfo;
use crate::model::{CallSource, CallStatus, ComponentHash, ExecutionId, Runtime};
use crate::names;
use crate::policy::Policy;
use crate::runtime::deterministic::SeededRandom;

// Steps that take a seq as a call does, in files of their own; children of
// this module, as they take seqs and call ids as `enqueue` does.
#[path = "child.rs"]
pub(crate) mod child;
#[path = "sleep.rs"]
mod sleep;
#[path = "timed_step.rs"]
pub(crate) mod timed_step;
#[path = "wait_timeout.rs"]
mod wait_timeout;

/// What earlier runs (and, for a replay, the source execution) left for
/// this run of the flow.
#[derive(Default)]
pub(crate) struct Prelude {
    /// This execution's journaled calls.
    pub(crate) recorded: Recorded,
    /// The values its `now()` returned.
    pub(crate) times: Vec<u64>,
    /// Its waits, by name (a flow decides a wait without awaiting the
    /// journal, so they are read up front).
    pub(crate) waits: Vec<(String, WaitRecord)>,
    /// The source of a replay.
    pub(crate) replay: Option<ReplaySource>,
    /// Its calls' retry timers, by seq (from a park).
    pub(crate) timers: BTreeMap<u32, TimerRecord>,
    /// The builds of its component it ran before an upgrade: calls recorded
    /// under them count as calls of the build it runs now.
    pub(crate) earlier_builds: Vec<ComponentHash>,
    /// The child-flow budget of the tree it runs in, if its parent's run
    /// lends it one (see `runner::child_budget`); else a budget of its own.
    pub(crate) budget: Option<Arc<ChildBudget>>,
}

/// What a wait does, decided before anything is written.
enum WaitStep {
    /// The value is there (or the wait itself is refused).
    Answered(Result<String, CallFailure>),
    /// The wait is recorded and still unanswered.
    Pending,
    /// The wait is new: record it, then suspend.
    Ask(WaitRecord),
    /// The wait is new and has its value at hand (a replay's): record it
    /// and return the value.
    Supplied(WaitRecord),
}

/// What the flow's calls came to once it ended.
pub(crate) struct Settled {
    /// Calls that failed and whose result the flow never asked for.
    pub(crate) unawaited_failures: Vec<(String, CallFailure)>,
    /// Why a call stopped the flow (a host or journal failure, a limit),
    /// if one did.
    pub(crate) stopped: Option<Stop>,
}

impl Settled {
    /// The failure of a flow that ended well but left a failed call's
    /// result unread: the first such call, by seq.
    pub(crate) fn unawaited_failure(&self) -> Option<String> {
        let (call_id, failure) = self.unawaited_failures.first()?;
        Some(format!(
            "call `{call_id}` failed and its result was never awaited: {failure}"
        ))
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
    /// The waits journaled for this execution: those read when the run
    /// started and those it asked since.
    waits: Vec<(String, WaitRecord)>,
    random: SeededRandom,
    cancel: CancellationToken,
    /// Retry timers of calls that parked in an earlier run, by seq, until
    /// the call is submitted again.
    timers: BTreeMap<u32, TimerRecord>,
    next_seq: u32,
    call_ids: CallIds,
    /// One inline lane per component the flow calls inline.
    inline: BTreeMap<ComponentHash, InlineLane>,
    /// Components known to be in the journal.
    stored: BTreeSet<ComponentHash>,
    /// Calls that still matter to the flow's end: running, held by the
    /// flow, or failed unawaited. Finished calls the flow is done with are
    /// dropped from it now and then (see [`Execution::make_room`]).
    slots: Vec<Arc<CallSlot>>,
    /// The slots at their last count (see [`Execution::make_room`]).
    counted: Counted,
    /// The bytes the calls' slots hold.
    held: Arc<HeldBytes>,
    /// See [`Prelude::earlier_builds`].
    earlier_builds: Vec<ComponentHash>,
    /// A dry run (see [`super::dry`]): the calls the journal does not
    /// answer, by seq, with their call ids; `None` in a real run.
    dry: Option<BTreeMap<u32, String>>,
    /// Set while [`Execution::call`] submits: an isolated call is kept in
    /// `deferred` for the caller to run in place instead of being spawned.
    in_place: bool,
    deferred: Option<InPlace>,
    /// The child flows its tree may still start (see [`child`]).
    budget: Arc<ChildBudget>,
}

/// A call the flow waits for: its slot, and its run when the waiter runs
/// it in place.
pub(crate) type Called = (Arc<CallSlot>, Option<InPlace>);

/// The call slots of an execution when they were last counted.
#[derive(Default)]
struct Counted {
    len_then: usize,
    pending_then: usize,
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
        cancel: CancellationToken,
    ) -> Execution {
        let random = SeededRandom::new(record.seed, "runner");
        let held = HeldBytes::new(runner.policy.max_held_bytes);
        let budget = (prelude.budget)
            .unwrap_or_else(|| Arc::new(ChildBudget::new(runner.policy.max_children)));
        Execution {
            ctx: Arc::new(CallContext {
                exec: id,
                runner,
                cancel: cancel.clone(),
            }),
            stored: record.component.into_iter().collect(),
            record,
            flow_cache,
            recorded_len: prelude.recorded.len(),
            recorded: prelude.recorded,
            replay: prelude.replay,
            times: prelude.times,
            next_time: 0,
            waits: prelude.waits,
            random,
            cancel,
            timers: prelude.timers,
            next_seq: 0,
            call_ids: CallIds::default(),
            inline: BTreeMap::new(),
            slots: Vec::new(),
            counted: Counted::default(),
            held,
            earlier_builds: prelude.earlier_builds,
            dry: None,
            in_place: false,
            deferred: None,
            budget,
        }
    }

    /// This execution as a dry run: every call is answered from the
    /// journal or stops the flow (see [`super::dry`]), nothing is written,
    /// run or announced.
    pub(crate) fn into_dry(mut self) -> Execution {
        self.dry = Some(BTreeMap::new());
        self
    }

    /// What a dry run saw of the journal.
    pub(crate) fn dry_tail(&self) -> super::dry::DryTail {
        super::dry::DryTail {
            made: self.next_seq,
            unanswered: self.dry.clone().unwrap_or_default(),
            unmade: (self.recorded.first()).map(|(seq, call)| {
                (
                    seq,
                    describe_call(&call.name, &call.call_id, &call.input, None),
                )
            }),
        }
    }

    /// A dry run's call that the journal does not answer: its slot stops
    /// the flow when the flow asks for it, as a wait with no value does.
    fn unanswered(&mut self, seq: u32, call_id: String) -> Arc<CallSlot> {
        let stop = Stop::Waiting(dry_stop(seq));
        let slot = CallSlot::ready(call_id.clone(), CallOutcome::Stopped(stop), &self.held);
        if let Some(unanswered) = self.dry.as_mut() {
            unanswered.insert(seq, call_id);
        }
        self.slots.push(slot.clone());
        slot
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

    /// Submits one call the flow waits for at once: an isolated call comes
    /// back to be run in place by the waiter (see [`InPlace`]), the others
    /// run as [`Execution::submit`] runs them.
    pub(crate) fn call(
        &mut self,
        component: &Component,
        name: &str,
        input: &str,
    ) -> Result<Result<Called, CallFailure>, Stop> {
        self.in_place = true;
        let submitted = self.submit(component, name, input);
        self.in_place = false;
        let run = self.deferred.take();
        Ok(submitted?.map(|slot| (slot, run)))
    }

    /// Submits one call. `Ok(Err(..))` refuses it (nothing is journaled);
    /// `Err` stops the flow.
    pub(crate) fn submit(
        &mut self,
        component: &Component,
        name: &str,
        input: &str,
    ) -> Result<Result<Arc<CallSlot>, CallFailure>, Stop> {
        self.check_cancelled()?;
        self.make_room(1, input.len() as u64)?;
        let recorded = self.recorded.input_at(self.next_seq);
        let max_input = self.policy().max_output_bytes;
        let (info, input) = match check(component, name, input, recorded, max_input) {
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
    ) -> Result<Result<Vec<Arc<CallSlot>>, CallFailure>, Stop> {
        self.check_cancelled()?;
        // The name is checked before anything is kept of it, and an empty
        // map makes no call: it takes no call id (a loop of empty maps
        // under a huge name would otherwise grow the id table for free).
        if component.manifest().checkpoint(name).is_none() {
            return Ok(Err(unknown_checkpoint(component, name)));
        }
        if inputs.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        check_map_items(self.policy(), name, inputs.len())?;
        let bytes = inputs.iter().map(|i| i.len() as u64).sum();
        self.make_room(inputs.len(), bytes)?;
        let max_input = self.policy().max_output_bytes;
        let mut checked = Vec::with_capacity(inputs.len());
        for (seq, input) in (self.next_seq..).zip(inputs) {
            let recorded = self.recorded.input_at(seq);
            match check(component, name, input, recorded, max_input) {
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

    /// Makes sure `more` calls with inputs of `bytes` may be submitted:
    /// within the policy's calls per execution, calls in flight and bytes
    /// held. The slots are counted again only when an upper bound of the
    /// pending calls (those at the last count plus every slot added since)
    /// could pass the limit, when the bytes would, or when the list has
    /// doubled; a count drops the finished calls the flow is done with (and
    /// their bytes), so the list stays near the number of calls that matter
    /// and the check costs O(1) per call on average.
    fn make_room(&mut self, more: usize, bytes: u64) -> Result<(), Stop> {
        let policy = self.policy();
        let (max_calls, max_pending) = (policy.max_calls, policy.max_pending as usize);
        let calls = u64::from(self.next_seq) + more as u64;
        if calls > u64::from(max_calls) {
            return Err(Stop::Limit(format!(
                "the flow made more than {max_calls} checkpoint calls, the policy's limit per execution"
            )));
        }
        let added = self.slots.len().saturating_sub(self.counted.len_then);
        let bound = self.counted.pending_then + added + more;
        let fits = !self.held.would_pass(bytes);
        if fits && bound <= max_pending && self.slots.len() < self.counted.len_then.max(512) * 2 {
            return Ok(());
        }
        // Kept: calls that run or that the flow still holds, and the first
        // failure the flow never read (the one the execution's end reports).
        let mut first_unread = true;
        self.slots.retain(|slot| {
            CallSlot::pending(slot) || (slot.failed_unread() && std::mem::take(&mut first_unread))
        });
        let pending = self.slots.iter().filter(|s| CallSlot::pending(s)).count();
        self.counted = Counted {
            len_then: self.slots.len(),
            pending_then: pending,
        };
        if pending + more > max_pending {
            return Err(Stop::Limit(format!(
                "the flow has {pending} calls running or unread and submits {more} more; the policy allows at most {max_pending} at once"
            )));
        }
        if self.held.would_pass(bytes) {
            let held = self.held.now().saturating_add(bytes);
            return Err(Stop::Limit(over_limit(held, self.held.limit())));
        }
        Ok(())
    }

    /// The cancel token of this execution.
    pub(crate) fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    fn check_cancelled(&self) -> Result<(), Stop> {
        if self.cancel.is_cancelled() {
            Err(Stop::Cancelled)
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
    ) -> impl Future<Output = Result<Result<String, CallFailure>, Stop>> + Send + 'static {
        let decided = match self.timed_out_wait(name) {
            Some(refused) => Ok(WaitStep::Answered(Err(refused))),
            None => self.decide_wait(name, question, schema),
        };
        if let Ok(WaitStep::Ask(record) | WaitStep::Supplied(record)) = &decided {
            self.waits.push((name.to_owned(), record.clone()));
        }
        let runner = self.ctx.runner.clone();
        let exec = self.ctx.exec;
        let name = name.to_owned();
        let dry = self.dry.is_some();
        async move {
            match decided? {
                WaitStep::Answered(answer) => Ok(answer),
                // A dry run writes nothing and answers only from its
                // snapshot: an unanswered wait ends it.
                _ if dry => Err(Stop::Waiting(name)),
                // The run's snapshot of the waits is from its start: an
                // answer given since is in the journal, so look there once.
                WaitStep::Pending => {
                    let waits = runner.journal.waits(exec).await?;
                    match waits.into_iter().find(|(n, _)| *n == name) {
                        Some((
                            _,
                            WaitRecord {
                                value: Some(value), ..
                            },
                        )) => Ok(Ok(value)),
                        _ => Err(Stop::Waiting(name)),
                    }
                }
                WaitStep::Ask(record) => {
                    let entry = Entry::Wait {
                        exec,
                        name: &name,
                        record: &record,
                    };
                    runner.journal.write(&[entry], runner.ack_sync()).await?;
                    Err(Stop::Waiting(name))
                }
                WaitStep::Supplied(record) => {
                    let entry = Entry::Wait {
                        exec,
                        name: &name,
                        record: &record,
                    };
                    runner.journal.write(&[entry], runner.ack_sync()).await?;
                    Ok(Ok(record.value.unwrap_or_else(|| "null".to_owned())))
                }
            }
        }
    }

    fn decide_wait(&self, name: &str, question: &str, schema: &str) -> Result<WaitStep, Stop> {
        self.check_cancelled()?;
        let refuse = |reason: String| Ok(WaitStep::Answered(Err(CallFailure::Context(reason))));
        if let Err(reason) = names::check("wait", name) {
            return refuse(reason);
        }
        let max_message = self.policy().max_message_bytes;
        if question.len() > max_message {
            return refuse(format!(
                "the question of wait `{name}` is {} bytes; the policy allows {max_message}",
                question.len()
            ));
        }
        let asked = self.waits.len();
        match self.waits.iter().find(|(n, _)| n == name) {
            // A value was checked against the schema recorded with the
            // wait; a flow asking again under the same name with another
            // schema (or question) would take a value never checked
            // against what it asks now.
            Some((_, recorded)) if recorded.schema != schema || recorded.question != question => {
                return refuse(format!(
                    "wait `{name}` was asked before with another question or schema; a wait's name must be unique to what it asks"
                ));
            }
            Some((_, recorded)) => {
                return Ok(match &recorded.value {
                    Some(value) => WaitStep::Answered(Ok(value.clone())),
                    None => WaitStep::Pending,
                });
            }
            None => {}
        }
        let max_waits = self.policy().max_waits;
        if asked >= max_waits as usize {
            return Err(Stop::Limit(format!(
                "the flow asks more than {max_waits} waits, the policy's limit per execution"
            )));
        }
        // Compiled only when the wait is new: a recorded wait's schema was
        // compiled when it was recorded, and a flow asking again in a loop
        // must not make the host compile it again.
        let compiled = match crate::schema::compile(schema) {
            Ok(compiled) => compiled,
            Err(e) => return refuse(format!("the schema of wait `{name}` is refused: {e}")),
        };
        let now = self.ctx.runner.clock.now_us();
        let mut record = WaitRecord {
            question: question.to_owned(),
            schema: schema.to_owned(),
            value: None,
            asked_at_us: now,
            answered_at_us: None,
            source: None,
            carried_from: None,
        };
        let supplied = match &self.replay {
            Some(replay) => replay.answer(name, question, (schema, &compiled), self.next_seq),
            None => Ok(None),
        };
        match supplied {
            Err(reason) => refuse(reason),
            Ok(None) => Ok(WaitStep::Ask(record)),
            Ok(Some(supplied)) => {
                record.value = Some(supplied.value);
                record.answered_at_us = Some(now);
                record.source = Some(supplied.source);
                record.carried_from = supplied.carried_from;
                Ok(WaitStep::Supplied(record))
            }
        }
    }

    /// The flow's clock: the journaled value on a resume, else the host's
    /// clock, journaled before the flow can act on it.
    pub(crate) fn now_us(&mut self) -> Result<u64, Stop> {
        let n = self.next_time;
        self.next_time += 1;
        if let Some(us) = self.times.get(n) {
            return Ok(*us);
        }
        // Each new reading is journaled: a flow reading the clock in a loop
        // would grow the journal and the host without bound.
        let max = self.policy().max_calls;
        if n >= max as usize {
            return Err(Stop::Limit(format!(
                "the flow read the clock more than {max} times, the policy's limit per execution (max_calls)"
            )));
        }
        let runner = &self.ctx.runner;
        let us = runner.clock.now_us();
        if self.dry.is_some() {
            self.times.push(us);
            return Ok(us);
        }
        let entry = Entry::Time {
            exec: self.ctx.exec,
            n: u32::try_from(n).unwrap_or(u32::MAX),
            us,
        };
        // Queued, not awaited: the journal writes in order, so any call
        // that depends on this value is durable only after it is.
        runner.journal.queue(&[entry])?;
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
                stopped: None,
            };
            for slot in &slots {
                match slot.wait().await {
                    CallOutcome::Finished(Err(error)) if !slot.awaited() => {
                        settled
                            .unawaited_failures
                            .push((slot.call_id.clone(), error));
                    }
                    CallOutcome::Stopped(stop) => {
                        settled.stopped.get_or_insert(stop);
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
    ) -> Result<Arc<CallSlot>, Stop> {
        let seq = self.next_seq;
        let hash = component.hash();
        let timer = self.timers.remove(&seq);
        let (call, first_attempt) = match self.recorded.take(seq) {
            Some(recorded) => {
                let was = &recorded.call;
                let same_build =
                    was.component == hash || self.earlier_builds.contains(&was.component);
                if was.name != info.name
                    || was.input != input
                    || was.call_id != call_id
                    || !same_build
                {
                    // The component is named only when it is what changed
                    // (a host-side flow may call several).
                    let (was_in, now_in) = if same_build {
                        (None, None)
                    } else {
                        (Some(was.component), Some(hash))
                    };
                    return Err(Stop::NonDeterminism {
                        seq,
                        expected: describe_call(&was.name, &was.call_id, &was.input, was_in),
                        found: describe_call(&info.name, &call_id, &input, now_in),
                    });
                }
                self.next_seq += 1;
                if recorded.call.status == CallStatus::Completed && self.dry.is_some() {
                    let output = recorded.call.output.unwrap_or_else(|| "null".to_owned());
                    let outcome = CallOutcome::Finished(Ok(output));
                    let slot = CallSlot::ready(call_id, outcome, &self.held);
                    self.slots.push(slot.clone());
                    return Ok(slot);
                }
                if self.dry.is_some() {
                    return Ok(self.unanswered(seq, call_id));
                }
                if recorded.call.status == CallStatus::Completed {
                    // A timer left beside a completed call (none should
                    // be) would wake the execution for nothing.
                    if timer.is_some() {
                        let done = Entry::TimerDone {
                            exec: self.ctx.exec,
                            seq,
                        };
                        self.ctx.runner.journal.queue(&[done])?;
                    }
                    // Reported when the replay first ran; noted again, as
                    // it decides whether later waits keep their answers.
                    if let Some(replay) = self.replay.as_mut() {
                        let _ = replay.track(seq, &was.name, &was.call_id);
                    }
                    self.ctx.runner.emit(Event::CallReplayed {
                        exec: self.ctx.exec,
                        seq,
                        call_id: recorded.call.call_id.clone(),
                    });
                    let output = recorded.call.output.unwrap_or_else(|| "null".to_owned());
                    let outcome = CallOutcome::Finished(Ok(output));
                    let slot = CallSlot::ready(call_id, outcome, &self.held);
                    self.slots.push(slot.clone());
                    return Ok(slot);
                }
                let mut call = recorded.call;
                call.status = CallStatus::Running;
                // Recorded under an earlier build, it runs in this one now.
                call.component = hash;
                (call, recorded.last_attempt + 1)
            }
            None => {
                self.next_seq += 1;
                if self.dry.is_some() {
                    return Ok(self.unanswered(seq, call_id));
                }
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
        let (slot, filler) =
            CallSlot::empty(call.call_id.clone(), &self.held, call.input.len() as u64);
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
            timer,
        };
        match runtime {
            // A preset output needs no store: it only has to be journaled.
            Runtime::Inline if preset.is_none() => self
                .inline
                .entry(hash)
                .or_insert_with(|| InlineLane::start(&self.ctx))
                .push(job, filler),
            Runtime::Inline | Runtime::Isolated => {
                let run = lanes::isolated(self.ctx.clone(), job, filler);
                if self.in_place && self.deferred.is_none() {
                    self.deferred = Some(run);
                } else {
                    run.detach();
                }
            }
        }
        Ok(slot)
    }

    /// Puts a component the flow calls into the journal the first time, so
    /// the journal keeps the exact code of every call. A guest flow's own
    /// component is stored with the execution; a host-side flow's are
    /// stored here. The write is queued ahead of the call's records, so it
    /// is durable before they are; the journal skips a component it holds
    /// already, so nothing is read here.
    fn store_component(&mut self, component: &Component) -> Result<(), Stop> {
        let hash = component.hash();
        if self.stored.contains(&hash) {
            return Ok(());
        }
        self.ctx.runner.journal.queue(&[Entry::Component {
            hash,
            bytes: component.bytes(),
        }])?;
        self.stored.insert(hash);
        Ok(())
    }
}

/// The text of the stop of a dry run's call at `seq` that the journal does
/// not answer (a wait's stop is its name, which never starts with `#`).
pub(crate) fn dry_stop(seq: u32) -> String {
    format!("#seq {seq}")
}
