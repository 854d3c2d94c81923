//! The runner: the execution state machine and the only writer of the
//! journal. It creates, resumes or replays an execution, finds its flow's
//! code (see [`code`]), runs it — a guest flow in a flow store ([`guest`]),
//! a host-side flow as a task ([`hosted`]) — journals every call the flow
//! makes (see [`execution`]), retries the whole flow when it asks for that,
//! and records how the execution ended: completed, failed, waiting or
//! cancelled.

mod cache;
mod call;
mod call_id;
mod cancel;
mod code;
pub(crate) mod execution;
mod guest;
mod hosted;
mod input;
mod lanes;
mod recorded;
pub(crate) mod replay;
pub(crate) mod slot;
mod waits;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

pub(crate) use self::cache::key as cache_key;
use self::cancel::CancelToken;
use self::code::FlowCode;
use self::execution::{Abort, Execution, Prelude};
pub(crate) use self::input::canonical_object as canonical_input;
use self::recorded::Recorded;
use self::replay::{ReplayRequest, ReplaySource};
use crate::clock::SharedClock;
use crate::component::Component;
use crate::engine::Engine;
use crate::error::RunError;
use crate::events::{Event, EventSink};
use crate::guest_text;
use crate::host_flow::Registered;
use crate::journal::Journal;
use crate::journal::record::{ExecutionRecord, ReplayPlan};
use crate::journal::writer::{Put, Sync};
use crate::model::{ComponentHash, ExecutionId, ExecutionStatus, Failure, FailureKind};
use crate::policy::Policy;

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
    pub(crate) journal: Journal,
    pub(crate) policy: Policy,
    pub(crate) clock: SharedClock,
    pub(crate) events: Option<EventSink>,
    pub(crate) durability: Durability,
    /// Executions running in this process, with their cancel tokens (the
    /// journal's file lock keeps other processes out).
    pub(crate) active: Mutex<BTreeMap<ExecutionId, Arc<CancelToken>>>,
    /// Components by hash, so a resume does not load one again.
    pub(crate) components: Mutex<BTreeMap<ComponentHash, Component>>,
    /// Bounds how many isolated attempts run at once, over all executions.
    pub(crate) isolated_pool: tokio::sync::Semaphore,
    /// Host-side flows by name.
    pub(crate) host_flows: Mutex<BTreeMap<String, Registered>>,
    /// Events for subscribers (see `Host::subscribe`).
    pub(crate) subscribers: tokio::sync::broadcast::Sender<Event>,
}

/// Marks an execution as running in this process until dropped.
struct Claim<'a> {
    runner: &'a Runner,
    id: ExecutionId,
    cancel: Arc<CancelToken>,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        // A run whose future was dropped (an embedder gave up on it) leaves
        // its calls' tasks behind: cancelled, they start no further attempt,
        // so they cannot race a later resume of the same execution for long.
        // After a normal end nothing watches the token any more.
        self.cancel.cancel();
        self.runner
            .active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// How a run of the flow ended.
enum Ending {
    Completed(String),
    Failed(Failure),
    Waiting,
    Cancelled,
}

/// Where a new execution comes from: a replay of another.
struct Origin {
    source: ExecutionId,
    plan: ReplayPlan,
    calls: Vec<crate::journal::CallHistory>,
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

    fn claim(&self, id: ExecutionId) -> Result<Claim<'_>, RunError> {
        let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        if active.contains_key(&id) {
            return Err(RunError::AlreadyRunning(id));
        }
        let cancel = Arc::new(CancelToken::default());
        active.insert(id, cancel.clone());
        Ok(Claim {
            runner: self,
            id,
            cancel,
        })
    }

    /// Starts a new execution of `flow` and runs it to its end.
    pub(crate) async fn start(
        self: &Arc<Self>,
        component: &Component,
        flow: &str,
        input: &str,
    ) -> Result<Outcome, RunError> {
        let limit = self.policy.memory_bytes.min(self.engine.max_memory_bytes());
        if limit < component.min_memory_bytes() {
            return Err(RunError::MemoryTooSmall {
                component: component.hash(),
                needed: component.min_memory_bytes(),
                limit,
            });
        }
        self.create(FlowCode::Guest(component.clone()), flow, input, None)
            .await
    }

    /// Starts a new execution of the host-side flow `flow`.
    pub(crate) async fn start_host(
        self: &Arc<Self>,
        flow: &str,
        input: &str,
    ) -> Result<Outcome, RunError> {
        let registered = self.host_flow(flow)?;
        self.create(FlowCode::Host(registered), flow, input, None)
            .await
    }

    /// Replays `source` as a new execution (see [`replay`]).
    pub(crate) async fn replay(
        self: &Arc<Self>,
        source: ExecutionId,
        request: ReplayRequest,
    ) -> Result<Outcome, RunError> {
        let history = self
            .journal
            .history(source)?
            .ok_or(RunError::UnknownExecution(source))?;
        let plan = replay::plan(&history.calls, &request)?;
        // An override is journaled and handed to the flow like an output:
        // it must fit what the policy lets an output be.
        for (seq, output) in &plan.overrides {
            guest_text::check_output(output, self.policy.max_output_bytes).map_err(|reason| {
                RunError::BadOverride {
                    selector: format!("seq {seq}"),
                    reason: format!("the override {reason}"),
                }
            })?;
        }
        let code = match (request.component, history.execution.component) {
            (Some(_), None) => return Err(RunError::ComponentForHostFlow(source)),
            (Some(component), Some(_)) => FlowCode::Guest(component),
            (None, _) => self.code_of(&history.execution).await?,
        };
        let input = request
            .input
            .unwrap_or_else(|| history.execution.input.clone());
        let origin = Origin {
            source,
            plan,
            calls: history.calls,
        };
        self.create(code, &history.execution.flow, &input, Some(origin))
            .await
    }

    async fn create(
        self: &Arc<Self>,
        code: FlowCode,
        flow: &str,
        input: &str,
        origin: Option<Origin>,
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
                input::check_params(&input, &info.params).map_err(bad_input)?;
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

        let id = self.journal.next_execution_id();
        let claim = self.claim(id)?;
        let now = self.clock.now_us();
        let record = ExecutionRecord {
            flow: flow.to_owned(),
            component: component.map(Component::hash),
            input,
            status: ExecutionStatus::Running,
            output: None,
            failure: None,
            original_exec_id: origin.as_ref().map(|o| o.source.0),
            created_at_us: now,
            updated_at_us: now,
            seed: seed_for(id, now),
            calls: 0,
            replay: origin.as_ref().map(|o| o.plan.clone()),
            flow_log: Vec::new(),
        };
        let mut puts = Vec::new();
        if let Some(component) = component
            && !self.journal.has_component(component.hash())?
        {
            puts.push(Put::Component {
                hash: component.hash().0,
                bytes: component.bytes(),
            });
        }
        puts.push(Put::execution(id.0, &record));
        // Durable even with `eventual` durability: a crash may lose the last
        // calls, never the execution itself.
        self.journal.write(puts, Sync::Durable).await?;
        self.emit(Event::ExecutionStarted {
            exec: id,
            flow: flow.to_owned(),
        });
        let prelude = Prelude {
            replay: origin.map(|o| ReplaySource::new(o.calls, o.plan)),
            ..Prelude::default()
        };
        let retries = code.retries(flow);
        let outcome = self.drive(id, record, &code, prelude, &claim).await?;
        self.retry_flow(id, outcome, &code, retries, &claim).await
    }

    /// Resumes an execution: its flow runs again from the start, completed
    /// calls return their recorded outputs, and the first incomplete call
    /// gets new attempts. A completed execution returns its output and runs
    /// nothing.
    pub(crate) async fn resume(self: &Arc<Self>, id: ExecutionId) -> Result<Outcome, RunError> {
        let claim = self.claim(id)?;
        let record = self
            .journal
            .execution(id)?
            .ok_or(RunError::UnknownExecution(id))?;
        match record.status {
            ExecutionStatus::Completed => return Ok(outcome_of(id, &record)),
            ExecutionStatus::Cancelled => return Err(RunError::Cancelled(id)),
            _ => {}
        }
        let code = self.code_of(&record).await?;
        let retries = code.retries(&record.flow);
        let outcome = self.resume_once(id, record, &code, &claim).await?;
        self.retry_flow(id, outcome, &code, retries, &claim).await
    }

    /// Cancels an execution. One running in this host stops at the flow's
    /// next request to the runner (calls already running finish and are
    /// journaled); any other is marked cancelled at once. Either way it can
    /// no longer be resumed.
    pub(crate) async fn cancel(&self, id: ExecutionId) -> Result<(), RunError> {
        let mut record = self
            .journal
            .execution(id)?
            .ok_or(RunError::UnknownExecution(id))?;
        if matches!(
            record.status,
            ExecutionStatus::Completed | ExecutionStatus::Cancelled
        ) {
            return Err(RunError::NotCancellable {
                exec: id,
                status: record.status,
            });
        }
        let running_here = self
            .active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned();
        if let Some(token) = running_here {
            token.cancel();
            return Ok(());
        }
        record.status = ExecutionStatus::Cancelled;
        record.updated_at_us = self.clock.now_us();
        self.journal
            .write(vec![Put::execution(id.0, &record)], Sync::Durable)
            .await?;
        self.emit(Event::ExecutionFinished {
            exec: id,
            status: ExecutionStatus::Cancelled,
        });
        Ok(())
    }

    /// Re-runs a failed flow up to `retries` times, reusing completed calls.
    async fn retry_flow(
        self: &Arc<Self>,
        id: ExecutionId,
        mut outcome: Outcome,
        code: &FlowCode,
        retries: u32,
        claim: &Claim<'_>,
    ) -> Result<Outcome, RunError> {
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
                .execution(id)?
                .ok_or(RunError::UnknownExecution(id))?;
            outcome = self.resume_once(id, record, code, claim).await?;
        }
        Ok(outcome)
    }

    /// Marks an execution running again and drives its flow once.
    async fn resume_once(
        self: &Arc<Self>,
        id: ExecutionId,
        mut record: ExecutionRecord,
        code: &FlowCode,
        claim: &Claim<'_>,
    ) -> Result<Outcome, RunError> {
        let (recorded, closing) = Recorded::load(&self.journal, id)?;
        let replay = match (&record.replay, record.original_exec_id) {
            (Some(plan), Some(source)) => {
                let source = ExecutionId(source);
                let history = self
                    .journal
                    .history(source)?
                    .ok_or(RunError::UnknownExecution(source))?;
                Some(ReplaySource::new(history.calls, plan.clone()))
            }
            _ => None,
        };
        let prelude = Prelude {
            recorded,
            times: self.journal.times(id)?,
            replay,
        };
        record.status = ExecutionStatus::Running;
        record.output = None;
        record.failure = None;
        record.updated_at_us = self.clock.now_us();
        let mut puts = closing;
        puts.push(Put::execution(id.0, &record));
        self.journal.write(puts, self.ack_sync()).await?;
        self.emit(Event::ExecutionResumed { exec: id });
        self.drive(id, record, code, prelude, claim).await
    }

    /// Runs the flow of an execution whose record is journaled, and records
    /// how it ended.
    async fn drive(
        self: &Arc<Self>,
        id: ExecutionId,
        record: ExecutionRecord,
        code: &FlowCode,
        prelude: Prelude,
        claim: &Claim<'_>,
    ) -> Result<Outcome, RunError> {
        let execution = Execution::new(
            id,
            record.clone(),
            self.clone(),
            code.cache(&record.flow),
            prelude,
            claim.cancel.clone(),
        );
        match code {
            FlowCode::Guest(component) => {
                self.drive_guest(id, record, component, execution, claim)
                    .await
            }
            FlowCode::Host(registered) => {
                self.drive_host(id, record, registered, execution, claim)
                    .await
            }
        }
    }

    /// What an abort makes of the execution. A journal or host failure is
    /// recorded as the execution's failure if the journal still takes it,
    /// and returned as the error to report.
    async fn abort_ending(
        &self,
        id: ExecutionId,
        record: &mut ExecutionRecord,
        abort: &Abort,
    ) -> Result<Ending, RunError> {
        let error = match abort {
            Abort::Suspended(_) => return Ok(Ending::Waiting),
            Abort::Cancelled => return Ok(Ending::Cancelled),
            Abort::NonDeterminism { .. } => {
                return Ok(Ending::Failed(Failure {
                    kind: FailureKind::NonDeterminism,
                    message: guest_text::bounded(abort.to_string(), self.policy.max_message_bytes),
                }));
            }
            Abort::Limit(message) => {
                return Ok(Ending::Failed(Failure {
                    kind: FailureKind::Limit,
                    message: message.clone(),
                }));
            }
            Abort::Journal(journal_error) => RunError::Journal(journal_error.clone()),
            Abort::Host(reason) => RunError::Host {
                exec: id,
                reason: reason.clone(),
            },
        };
        let message = match abort {
            Abort::Host(reason) => reason.clone(),
            _ => error.to_string(),
        };
        let message = guest_text::bounded(message, self.policy.max_message_bytes);
        let failure = Failure {
            kind: FailureKind::Host,
            message,
        };
        let _ = self.finish(id, record, Ending::Failed(failure)).await;
        Err(error)
    }

    async fn finish(
        &self,
        id: ExecutionId,
        record: &mut ExecutionRecord,
        ending: Ending,
    ) -> Result<Outcome, RunError> {
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
        let put = Put::execution(id.0, record);
        self.journal.write(vec![put], self.ack_sync()).await?;
        self.emit(Event::ExecutionFinished {
            exec: id,
            status: record.status,
        });
        Ok(outcome_of(id, record))
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
