//! The runner: the execution state machine and the only writer of the
//! journal. It creates, resumes or replays an execution, finds its flow's
//! code (see [`code`]), runs it — a guest flow in a flow store ([`guest`]),
//! a host-side flow as a task ([`hosted`]) — journals every call the flow
//! makes (see [`execution`]), retries the whole flow when it asks for that,
//! and records how the execution ended: completed, failed, waiting (for a
//! value, or parked on a call's retry timer, see [`parked`]) or cancelled.

pub(crate) mod cache;
mod call;
mod call_check;
mod call_id;
mod cancel;
mod child_budget;
mod child_cancel;
mod claim;
mod code;
mod components;
pub(crate) mod dry;
mod elsewhere;
pub(crate) mod execution;
mod flow_store;
mod guest;
mod hosted;
mod in_place;
mod input;
mod lanes;
mod parked;
mod prelude;
mod recorded;
pub(crate) mod replay;
mod scheduled;
mod switch;
mod upgrade;
mod waits;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

#[cfg(feature = "bench")]
pub(crate) use self::cache::key as cache_key;
use self::claim::{Claim, Registration};
use self::code::FlowCode;
use self::components::Components;
use self::execution::{Execution, Prelude};
#[cfg(feature = "bench")]
pub(crate) use self::input::canonical_object as canonical_input;
use self::replay::{ReplayRequest, ReplaySource, Source};
use crate::call::Stop;
use crate::clock::SharedClock;
use crate::component::Component;
use crate::engine::Engine;
use crate::error::{Halt, ReplayError, ResumeError, RunError};
use crate::events::{Event, EventSink};
use crate::guest_text;
use crate::host_flow::Registered;
use crate::journal::record::{ExecutionRecord, ReplayPlan};
use crate::journal::{Entry, Journal, Sync};
use crate::model::{Divergence, ExecutionId, ExecutionStatus, Failure, FailureKind};
use crate::policy::Policy;

/// Tells whoever started an execution in the background which one it got,
/// once it is journaled (a new one) or claimed (a resumed one); dropped
/// without a word when the start fails.
pub(crate) type Announce = tokio::sync::oneshot::Sender<ExecutionId>;

/// How an execution ended (or where it stopped).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The execution's id.
    pub id: ExecutionId,
    /// Its status.
    pub status: ExecutionStatus,
    /// The flow's output JSON, if it completed.
    pub output: Option<String>,
    /// Why it failed, if it failed.
    pub failure: Option<Failure>,
}

/// When a record the flow depends on is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// A completed call is committed with fsync before the flow sees its
    /// output. Nothing acknowledged is lost, even on power loss.
    #[default]
    Immediate,
    /// Commits skip fsync and become durable with the next durable commit,
    /// at most 200 ms or 10,000 records later (see
    /// [`HostBuilder::eventual_window`](crate::HostBuilder::eventual_window));
    /// an execution's own record is always committed durably. A crash or
    /// power loss can lose the calls of that window, which then run again
    /// on resume.
    Eventual,
}

/// Everything executions share.
pub(crate) struct Runner {
    pub(crate) engine: Engine,
    pub(crate) journal: Arc<dyn Journal>,
    pub(crate) policy: Policy,
    pub(crate) clock: SharedClock,
    pub(crate) events: Option<EventSink>,
    pub(crate) durability: Durability,
    /// Executions running in this process, with their cancel tokens (the
    /// journal's lease on each keeps other runs out).
    pub(crate) active: Mutex<BTreeMap<ExecutionId, CancellationToken>>,
    /// Components by hash, so a resume does not load one again, and the
    /// flow pre-instances made of them.
    pub(crate) components: Components,
    /// Bounds how many isolated attempts run at once, over all executions.
    pub(crate) isolated_pool: tokio::sync::Semaphore,
    /// Host-side flows by name.
    pub(crate) host_flows: Mutex<BTreeMap<String, Registered>>,
    /// Events for subscribers (see `Host::subscribe`).
    pub(crate) subscribers: tokio::sync::broadcast::Sender<Event>,
    /// Switches of builds asked of executions running here (see [`switch`]).
    pub(crate) switches: switch::Switches,
}

/// How a run of the flow ended.
enum Ending {
    Completed(String),
    Failed(Failure),
    Waiting,
    Cancelled,
}

/// How a new execution is written (see [`Runner::create_via`]).
pub(crate) enum Via<'a> {
    /// On its own.
    Plain,
    /// As the run of the named schedule, moved on by the `Advance`.
    Schedule(String, crate::journal::Advance),
    /// As a child flow of a parent's step, counting its own children
    /// against the budget of its parent's tree.
    Child(crate::journal::ChildOf<'a>, Arc<child_budget::ChildBudget>),
}

/// Where a new execution comes from: a replay of another.
struct Origin {
    source: Source,
    plan: ReplayPlan,
}

impl Runner {
    pub(crate) fn emit(&self, event: Event) {
        if let Some(sink) = &self.events {
            sink(&event);
        }
        if self.subscribers.receiver_count() > 0 {
            // Only fails when every receiver is gone meanwhile.
            let _ = self.subscribers.send(event);
        }
    }

    /// How records the flow depends on are committed.
    pub(crate) fn ack_sync(&self) -> Sync {
        match self.durability {
            Durability::Immediate => Sync::Durable,
            Durability::Eventual => Sync::Lazy,
        }
    }

    /// Starts a new execution of `flow` and runs it to its end.
    pub(crate) async fn start(
        self: &Arc<Self>,
        component: &Component,
        flow: &str,
        input: &str,
    ) -> Result<Outcome, RunError> {
        self.start_announced(component, flow, input, None).await
    }

    /// [`Runner::start`], telling `announce` the execution's id once it
    /// is journaled.
    pub(crate) async fn start_announced(
        self: &Arc<Self>,
        component: &Component,
        flow: &str,
        input: &str,
        announce: Option<Announce>,
    ) -> Result<Outcome, RunError> {
        let limit = self.policy.memory_bytes.min(self.engine.max_memory_bytes());
        if limit < component.min_memory_bytes() {
            return Err(RunError::MemoryTooSmall {
                component: component.hash(),
                needed: component.min_memory_bytes(),
                limit,
            });
        }
        self.create(
            FlowCode::Guest(component.clone()),
            flow,
            input,
            None,
            announce,
        )
        .await
    }

    /// Starts a new execution of the host-side flow `flow`.
    pub(crate) async fn start_host(
        self: &Arc<Self>,
        flow: &str,
        input: &str,
    ) -> Result<Outcome, RunError> {
        let registered = self.host_flow(flow)?;
        self.create(FlowCode::Host(registered), flow, input, None, None)
            .await
    }

    /// Replays `source` as a new execution (see [`replay`]).
    pub(crate) async fn replay(
        self: &Arc<Self>,
        source: ExecutionId,
        request: ReplayRequest,
    ) -> Result<Outcome, ReplayError> {
        self.replay_announced(source, request, None).await
    }

    /// [`Runner::replay`], telling `announce` the new execution's id once
    /// it is journaled.
    pub(crate) async fn replay_announced(
        self: &Arc<Self>,
        source: ExecutionId,
        request: ReplayRequest,
        announce: Option<Announce>,
    ) -> Result<Outcome, ReplayError> {
        let (execution, source_run) = Source::read(&*self.journal, source)
            .await?
            .ok_or(ReplayError::UnknownExecution(source))?;
        let plan = replay::plan(&source_run, &request)?;
        // An override or an answer is journaled and handed to the flow like
        // an output: it must fit what the policy lets an output be.
        for (seq, output) in &plan.overrides {
            guest_text::check_output(output, self.policy.max_output_bytes).map_err(|reason| {
                ReplayError::BadOverride {
                    selector: format!("seq {seq}"),
                    reason: format!("it {reason}"),
                }
            })?;
        }
        for (name, value) in &plan.answers {
            guest_text::check_output(value, self.policy.max_output_bytes).map_err(|reason| {
                ReplayError::BadAnswer {
                    name: name.clone(),
                    reason: format!("it {reason}"),
                }
            })?;
        }
        let code = match (request.component, execution.component) {
            (Some(_), None) => return Err(ReplayError::ComponentForHostFlow(source)),
            (Some(component), Some(_)) => FlowCode::Guest(component),
            (None, _) => self.code_of(&execution).await?,
        };
        let input = request.input.unwrap_or_else(|| execution.input.clone());
        let origin = Origin {
            source: source_run,
            plan,
        };
        Ok(self
            .create(code, &execution.flow, &input, Some(origin), announce)
            .await?)
    }

    async fn create(
        self: &Arc<Self>,
        code: FlowCode,
        flow: &str,
        input: &str,
        origin: Option<Origin>,
        announce: Option<Announce>,
    ) -> Result<Outcome, RunError> {
        self.create_via(code, flow, input, origin, announce, Via::Plain)
            .await
    }

    /// [`Runner::create`], written the way `via` says: as the run of a
    /// schedule (see [`scheduled`]), written in the same transaction that
    /// moves the schedule on, or not at all when the run is not due any
    /// more ([`RunError::NotDue`]); or as a child flow, written in the same
    /// transaction as its parent's step (see `execution::child`).
    async fn create_via(
        self: &Arc<Self>,
        code: FlowCode,
        flow: &str,
        input: &str,
        origin: Option<Origin>,
        announce: Option<Announce>,
        via: Via<'_>,
    ) -> Result<Outcome, RunError> {
        let bad_input = |reason: String| RunError::BadInput {
            flow: flow.to_owned(),
            reason,
        };
        let input = match &code {
            FlowCode::Guest(component) => {
                let manifest = component.manifest();
                let Some(info) = manifest.flow(flow) else {
                    return Err(RunError::UnknownFlow {
                        name: flow.to_owned(),
                        available: manifest.flow_names(),
                    });
                };
                let input = input::canonical_object(input).map_err(bad_input)?;
                input::check_params(&input, info).map_err(|p| p.into_error(flow))?;
                self.remember(component);
                input
            }
            FlowCode::Host(registered) => {
                let input = input::canonical_value(input).map_err(bad_input)?;
                registered.check(&input).map_err(bad_input)?;
                input
            }
        };
        let component = match &code {
            FlowCode::Guest(component) => Some(component),
            FlowCode::Host(_) => None,
        };

        let now = self.clock.now_us();
        let hash = component.map(Component::hash);
        let original_exec_id = origin.as_ref().map(|o| o.source.id.0);
        let replay = origin.as_ref().map(|o| o.plan.clone());
        // The cancel token is in `active` before the execution is visible
        // to anyone (the journal makes the record under its id before it
        // writes it): a cancel that finds the record running finds the
        // token too, and never marks cancelled a flow that goes on.
        let cancel = CancellationToken::new();
        let registration = Registration {
            runner: self,
            id: std::sync::OnceLock::new(),
            done: false,
        };
        let new_record = |id| {
            self.active
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, cancel.clone());
            let _ = registration.id.set(id);
            ExecutionRecord {
                flow: flow.to_owned(),
                component: hash,
                input,
                status: ExecutionStatus::Running,
                output: None,
                failure: None,
                original_exec_id,
                created_at_us: now,
                updated_at_us: now,
                seed: seed_for(id, now),
                calls: 0,
                replay,
                flow_log: Vec::new(),
            }
        };
        // One budget for every run of this start, flow retries included
        // (a child's is its tree's): a retry never gets a fresh one.
        let budget = match &via {
            Via::Child(_, budget) => budget.clone(),
            _ => Arc::new(child_budget::ChildBudget::new(self.policy.max_children)),
        };
        // Written durably even with `eventual` durability: a crash may lose
        // the last calls, never the execution itself.
        let created = match via {
            Via::Plain => self
                .journal
                .create_execution(
                    component.map(|c| (c.hash(), c.bytes())),
                    Box::new(new_record),
                )
                .await
                .map_err(RunError::Journal),
            Via::Child(child_of, _) => self
                .journal
                .create_child(
                    child_of,
                    component.map(|c| (c.hash(), c.bytes())),
                    Box::new(new_record),
                )
                .await
                .map_err(RunError::Journal),
            Via::Schedule(schedule, advance) => {
                let created = self
                    .journal
                    .create_scheduled(&schedule, advance, Box::new(new_record))
                    .await?;
                created.ok_or(RunError::NotDue { schedule })
            }
        };
        // On an error (or if this future is dropped) the registration
        // takes the token out again.
        let created = created?;
        let mut registration = registration;
        registration.done = true;
        let (id, record) = (created.id, created.record);
        let claim = Claim {
            runner: self,
            id,
            cancel,
            _lease: created.lease,
        };
        self.emit(Event::ExecutionStarted {
            exec: id,
            flow: flow.to_owned(),
        });
        if let Some(announce) = announce {
            // Nobody listening any more is no reason to stop.
            let _ = announce.send(id);
        }
        let prelude = Prelude {
            replay: origin.map(|o| ReplaySource::new(o.source, o.plan, &record.input)),
            budget: Some(budget.clone()),
            ..Prelude::default()
        };
        let retries = code.retries(flow);
        let outcome = self.drive(id, record, &code, prelude, &claim).await?;
        let retried = self.retry_flow(id, outcome, &code, retries, &claim, &budget);
        Ok(retried.await?)
    }

    /// Resumes an execution: its flow runs again from the start, completed
    /// calls return their recorded outputs, and the first incomplete call
    /// gets new attempts. A completed execution returns its output and runs
    /// nothing.
    pub(crate) async fn resume(self: &Arc<Self>, id: ExecutionId) -> Result<Outcome, ResumeError> {
        self.resume_announced(id, None).await
    }

    /// [`Runner::resume`], telling `announce` once the execution is
    /// claimed (and found neither unknown nor cancelled).
    pub(crate) async fn resume_announced(
        self: &Arc<Self>,
        id: ExecutionId,
        announce: Option<Announce>,
    ) -> Result<Outcome, ResumeError> {
        self.resume_with(id, announce, None).await
    }

    /// [`Runner::resume_announced`], its first run counting its child
    /// flows against `budget` (a child resumed by its parent's run shares
    /// the parent's, see [`child_budget`]) instead of a budget of its own.
    async fn resume_with(
        self: &Arc<Self>,
        id: ExecutionId,
        announce: Option<Announce>,
        budget: Option<Arc<child_budget::ChildBudget>>,
    ) -> Result<Outcome, ResumeError> {
        let claim = self.claim(id).await?;
        let record = self
            .journal
            .execution(id)
            .await?
            .ok_or(ResumeError::UnknownExecution(id))?;
        match record.status {
            ExecutionStatus::Completed => return Ok(outcome_of(id, &record)),
            ExecutionStatus::Cancelled => return Err(ResumeError::Cancelled(id)),
            _ => {}
        }
        let code = self.code_of(&record).await?;
        if let Some(announce) = announce {
            let _ = announce.send(id);
        }
        // A parked execution's retry runs at its due time, however early
        // the resume: the flow is loaded only then.
        if let parked::Due::Cancelled = self.until_due(id, &claim).await? {
            let mut record = record;
            let outcome = self.finish(id, &mut record, Ending::Cancelled).await?;
            self.ended(&outcome);
            return Ok(outcome);
        }
        let retries = code.retries(&record.flow);
        let budget = budget
            .unwrap_or_else(|| Arc::new(child_budget::ChildBudget::new(self.policy.max_children)));
        let outcome = (self.resume_once(id, record, &code, &claim, Some(budget.clone()))).await?;
        let retried = self.retry_flow(id, outcome, &code, retries, &claim, &budget);
        Ok(retried.await?)
    }

    /// Re-runs a failed flow up to `retries` times, reusing completed calls.
    async fn retry_flow(
        self: &Arc<Self>,
        id: ExecutionId,
        mut outcome: Outcome,
        code: &FlowCode,
        retries: u32,
        claim: &Claim<'_>,
        budget: &Arc<child_budget::ChildBudget>,
    ) -> Result<Outcome, Halt> {
        for left in (0..retries).rev() {
            let retryable = outcome.failure.as_ref().is_some_and(|f| {
                matches!(f.kind, FailureKind::FlowError | FailureKind::FlowTrapped)
            });
            if outcome.status != ExecutionStatus::Failed || !retryable {
                break;
            }
            self.emit(Event::FlowRetrying {
                exec: id,
                retries_left: left,
            });
            let record = self
                .journal
                .execution(id)
                .await?
                .ok_or_else(|| vanished(id, id))?;
            // A switch of builds during the run moved it to another build.
            let code = self.code_now(id, &record, code).await?;
            let budget = Some(budget.clone());
            outcome = self.resume_once(id, record, &code, claim, budget).await?;
        }
        self.ended(&outcome);
        Ok(outcome)
    }

    /// Marks an execution running again and drives its flow once.
    async fn resume_once(
        self: &Arc<Self>,
        id: ExecutionId,
        mut record: ExecutionRecord,
        code: &FlowCode,
        claim: &Claim<'_>,
        budget: Option<Arc<child_budget::ChildBudget>>,
    ) -> Result<Outcome, Halt> {
        let (mut prelude, closing) = self.prelude(id, &record).await?;
        prelude.budget = budget;
        record.status = ExecutionStatus::Running;
        record.output = None;
        record.failure = None;
        record.updated_at_us = self.clock.now_us();
        let mut entries: Vec<Entry<'_>> = closing.iter().map(|c| c.entry(id)).collect();
        entries.push(Entry::Execution {
            id,
            record: &record,
        });
        self.journal.write(&entries, self.ack_sync()).await?;
        self.emit(Event::ExecutionResumed { exec: id });
        self.drive(id, record, code, prelude, claim).await
    }

    /// Runs the flow of an execution whose record is journaled, and records
    /// how it ended. A run paused for a switch of builds (see [`switch`])
    /// goes on in a new run, with the build the switch left it on.
    async fn drive(
        self: &Arc<Self>,
        id: ExecutionId,
        mut record: ExecutionRecord,
        code: &FlowCode,
        mut prelude: Prelude,
        claim: &Claim<'_>,
    ) -> Result<Outcome, Halt> {
        let mut code = code.clone();
        // A run after a switch of builds keeps the child budget too.
        let budget = prelude.budget.clone();
        loop {
            let run = claim.run();
            let execution = Execution::new(
                id,
                record.clone(),
                self.clone(),
                code.cache(&record.flow),
                prelude,
                run.token().clone(),
            );
            let outcome = match &code {
                FlowCode::Guest(component) => {
                    self.drive_guest(id, record, component, execution, &run)
                        .await?
                }
                FlowCode::Host(registered) => {
                    self.drive_host(id, record, registered, execution, claim)
                        .await?
                }
            };
            // Only a paused run leaves the execution running.
            if outcome.status != ExecutionStatus::Running {
                return Ok(outcome);
            }
            drop(run);
            (record, prelude, code) = self.after_pause(id, code).await?;
            prelude.budget = budget.clone();
        }
    }

    /// What a stop makes of the execution. A journal or host failure is
    /// recorded as the execution's failure if the journal still takes it,
    /// and returned as the error to report.
    async fn stop_ending(
        &self,
        id: ExecutionId,
        record: &mut ExecutionRecord,
        stop: &Stop,
    ) -> Result<Ending, Halt> {
        let (message, halt) = match stop {
            Stop::Waiting(_) | Stop::Parked(_) => return Ok(Ending::Waiting),
            Stop::Cancelled => return Ok(Ending::Cancelled),
            Stop::NonDeterminism {
                seq,
                expected,
                found,
            } => {
                let max = self.policy.max_message_bytes;
                return Ok(Ending::Failed(Failure {
                    kind: FailureKind::NonDeterminism,
                    message: guest_text::bounded(stop.to_string(), max),
                    divergence: Some(Divergence {
                        seq: *seq,
                        expected: guest_text::bounded(expected.clone(), max),
                        found: guest_text::bounded(found.clone(), max),
                    }),
                }));
            }
            Stop::Limit(message) => {
                return Ok(Ending::Failed(Failure::new(
                    FailureKind::Limit,
                    message.clone(),
                )));
            }
            // A journal error keeps its storage layer's error as its source.
            Stop::Journal(error) => (
                crate::error::with_causes(error),
                Halt::Journal(error.clone()),
            ),
            Stop::Host(reason) => (
                reason.clone(),
                Halt::Host {
                    exec: id,
                    reason: reason.clone(),
                },
            ),
        };
        let message = guest_text::bounded(message, self.policy.max_message_bytes);
        let failure = Failure::new(FailureKind::Host, message);
        if let Ok(outcome) = self.finish(id, record, Ending::Failed(failure)).await {
            self.ended(&outcome);
        }
        Err(halt)
    }

    async fn finish(
        &self,
        id: ExecutionId,
        record: &mut ExecutionRecord,
        ending: Ending,
    ) -> Result<Outcome, Halt> {
        record.status = match ending {
            Ending::Completed(output) => {
                record.output = Some(output);
                ExecutionStatus::Completed
            }
            Ending::Failed(failure) => {
                record.failure = Some(failure);
                ExecutionStatus::Failed
            }
            Ending::Waiting => ExecutionStatus::Waiting,
            Ending::Cancelled => ExecutionStatus::Cancelled,
        };
        record.updated_at_us = self.clock.now_us();
        let mut entries = match record.status {
            ExecutionStatus::Cancelled => self.timer_removals(id).await?,
            _ => Vec::new(),
        };
        entries.push(Entry::Execution { id, record });
        self.journal.write(&entries, self.ack_sync()).await?;
        if record.status == ExecutionStatus::Cancelled {
            self.cancel_children(id).await;
        }
        Ok(outcome_of(id, record))
    }

    /// Tells the listeners how a run ended. Only once per run, for its last
    /// outcome: a flow that failed and is retried (its `retries` option) has
    /// not ended, and a listener that stops at the end (a client following
    /// the execution, a request waiting for it) must not stop there.
    fn ended(&self, outcome: &Outcome) {
        self.emit(Event::ExecutionFinished {
            exec: outcome.id,
            status: outcome.status,
        });
    }
}

/// The failure of a run whose execution's record (or its replay source's)
/// is gone from the journal while it runs.
fn vanished(exec: ExecutionId, missing: ExecutionId) -> Halt {
    Halt::Host {
        exec,
        reason: format!("the record of execution {missing} vanished from the journal"),
    }
}

fn outcome_of(id: ExecutionId, record: &ExecutionRecord) -> Outcome {
    Outcome {
        id,
        status: record.status,
        output: record.output.clone(),
        failure: record.failure.clone(),
    }
}

/// The seed of an execution's flow randomness, journaled with it.
fn seed_for(id: ExecutionId, created_at_us: u64) -> u64 {
    let mut hasher = blake3::Hasher::new_derive_key("cairn execution seed v1");
    hasher.update(&id.0.to_le_bytes());
    hasher.update(&created_at_us.to_le_bytes());
    let digest = hasher.finalize();
    u64::from_le_bytes(digest.as_bytes()[..8].try_into().unwrap_or([0; 8]))
}
