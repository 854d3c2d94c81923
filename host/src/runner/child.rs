//! Child flows: a flow starts another flow (of its own component, or a
//! host-side flow) as an execution of its own, and gets its output as it
//! gets a call's.
//!
//! The start is a step (see [`super::timed_step`]) named `@child`, whose
//! input names the flow and its input. The child's record, the parent's
//! step (`running`) and the link between them are written in one
//! transaction ([`Journal::create_child`](crate::journal::Journal)), so a
//! parent resumed after a crash finds the child it started and never starts
//! it twice: an open step resumes its child instead (which returns at once
//! for a child that completed meanwhile). The step completes with the
//! child's output, or fails when the child failed or was cancelled; a
//! failed step is tried again on the parent's next run by resuming the
//! child, as a failed call gets new attempts.
//!
//! The child runs on a task of its own. The parent's handle waits for it;
//! when the parent stops meanwhile (a cancel, a switch of builds) the child
//! goes on, and the parent's next run finds it (waiting for it if it still
//! runs in this process). A child that waits (for a value, a sleep) makes
//! its parent wait too; resuming the parent resumes the child, and
//! `cairn serve` resumes a waiting parent when its child ends. A cancel of
//! the parent cancels its children (see `runner::child_cancel`).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::Execution;
use super::timed_step::{OpenStep, Taken};
use crate::call::{CallFailure, CallOutcome, CallSlot, Filler, Stop};
use crate::component::Component;
use crate::error::{ResumeError, RunError};
use crate::events::Event;
use crate::journal::ChildOf;
use crate::journal::{Entry, Sync};
use crate::model::{CallSource, CallStatus, ExecutionId, ExecutionStatus};
use crate::runner::child_budget::ChildBudget;
use crate::runner::code::FlowCode;
use crate::runner::{Outcome, Runner, Via, input};

/// How often a parent waiting for a child that runs in this process looks
/// whether it still does.
const LOOK_AGAIN: std::time::Duration = std::time::Duration::from_millis(200);

/// The name of a child flow's step.
pub(crate) const CHILD: &str = "@child";

/// A child flow to start: its code, its flow's name and its canonical
/// input, checked as a start of it would be.
pub(crate) struct ChildStart {
    code: FlowCode,
    flow: String,
    input: String,
}

/// Who asks for a child flow: a guest may start a host-side flow only if
/// its registration opens it to guests (host code is outside the sandbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartedBy {
    /// A flow of a component, from inside the sandbox.
    Guest,
    /// A host-side flow.
    Host,
}

impl Execution {
    /// The child flow `flow` with `input`, as a flow of `component` (the
    /// calling flow's, if a guest flow calls) or else a host-side flow;
    /// `Err` refuses it (nothing is journaled).
    pub(crate) fn child_start(
        &self,
        by: StartedBy,
        component: Option<&Component>,
        flow: &str,
        input: &str,
    ) -> Result<ChildStart, CallFailure> {
        let refuse = |reason: String| Err(CallFailure::Context(reason));
        if let Err(reason) = crate::names::check("flow", flow) {
            return refuse(reason);
        }
        let max_input = self.policy().max_output_bytes;
        if input.len() > max_input {
            return refuse(format!(
                "the input of child flow `{flow}` is {} bytes; the policy allows {max_input}",
                input.len()
            ));
        }
        let guest = component.filter(|c| c.manifest().flow(flow).is_some());
        let code = match guest {
            Some(component) => FlowCode::Guest(component.clone()),
            None => match self.ctx.runner.host_flow(flow) {
                Ok(registered) if by == StartedBy::Guest && !registered.startable_by_guests => {
                    return refuse(format!(
                        "host-side flow `{flow}` is not open to guest flows (its registration does not call `startable_by_guests`)"
                    ));
                }
                Ok(registered) => FlowCode::Host(registered),
                Err(_) => {
                    let inside = match component {
                        Some(_) => "in the component, nor a host-side flow of that name",
                        None => "registered as a host-side flow",
                    };
                    return refuse(format!("no flow `{flow}` {inside}"));
                }
            },
        };
        let bad = |reason: String| format!("the input of child flow `{flow}` is refused: {reason}");
        let input = match &code {
            FlowCode::Guest(component) => {
                let canonical = input::canonical_object(input).map_err(bad);
                let canonical = match canonical {
                    Ok(c) => c,
                    Err(reason) => return refuse(reason),
                };
                let manifest = component.manifest();
                let checked = manifest
                    .flow(flow)
                    .map(|info| input::check_params(&canonical, info));
                if let Some(Err(problem)) = checked {
                    return refuse(bad(problem.into_error(flow).to_string()));
                }
                canonical
            }
            FlowCode::Host(registered) => {
                let canonical = match input::canonical_value(input) {
                    Ok(c) => c,
                    Err(reason) => return refuse(bad(reason)),
                };
                if let Err(reason) = registered.check(&canonical) {
                    return refuse(bad(reason));
                }
                canonical
            }
        };
        Ok(ChildStart {
            code,
            flow: flow.to_owned(),
            input,
        })
    }

    /// Starts a child flow (or finds the one an earlier run started): its
    /// slot gets the child's output. `Err` stops the flow.
    pub(crate) fn start_child(&mut self, start: ChildStart) -> Result<Arc<CallSlot>, Stop> {
        // A start the journal completed is replayed and runs nothing; every
        // other one runs a child (a new one, or one an earlier run left).
        let runs_a_child = !self.recorded.completed_at(self.next_seq);
        if runs_a_child && !self.budget.take() {
            let max = self.policy().max_children;
            return Err(Stop::Limit(format!(
                "the flow's execution and the child flows under it started more than {max} child flows, the policy's limit (max_children)"
            )));
        }
        // The flow's name as a JSON string, and its canonical input as is.
        let name = serde_json::Value::from(start.flow.as_str());
        let step_input = format!(r#"{{"flow":{name},"input":{}}}"#, start.input);
        let step = match self.take_step(CHILD, step_input)? {
            Taken::Done(output) => {
                let outcome = CallOutcome::Finished(Ok(output));
                let slot = CallSlot::ready(CHILD.to_owned(), outcome, &self.held);
                self.slots.push(slot.clone());
                return Ok(slot);
            }
            Taken::Open(step) => step,
        };
        let (slot, filler) = CallSlot::empty(
            step.record.call_id.clone(),
            &self.held,
            step.record.input.len() as u64,
        );
        self.slots.push(slot.clone());
        let follow = Follow {
            runner: self.ctx.runner.clone(),
            parent: self.ctx.exec,
            parent_cancel: self.cancel.clone(),
            budget: self.budget.clone(),
            step,
            start,
        };
        tokio::spawn(follow.run(filler));
        Ok(slot)
    }
}

/// The task that starts (or finds) a child and follows it to its end.
struct Follow {
    runner: Arc<Runner>,
    parent: ExecutionId,
    parent_cancel: CancellationToken,
    /// The parent's tree's budget, which the child's run shares.
    budget: Arc<ChildBudget>,
    step: OpenStep,
    start: ChildStart,
}

/// How a child came out, as its parent's step takes it.
enum Came {
    /// It ended (or is waiting): its outcome.
    Ended(Outcome),
    /// It was cancelled before this run could resume it.
    Cancelled(ExecutionId),
    /// It runs elsewhere (another process holds it): the parent waits.
    Elsewhere(ExecutionId),
}

impl Follow {
    async fn run(self, filler: Filler) {
        let outcome = self.follow().await;
        filler.fill(outcome);
    }

    async fn follow(mut self) -> CallOutcome {
        let (runner, parent) = (self.runner.clone(), self.parent);
        if let Some(preset) = self.step.preset.take() {
            let output = preset.1.clone();
            return match self.step.complete(&runner, parent, preset, &[], 0).await {
                Ok(()) => CallOutcome::Finished(Ok(output)),
                Err(stop) => CallOutcome::Stopped(stop),
            };
        }
        let started = runner.clock.now_us();
        let linked = match self.linked().await {
            Ok(linked) => linked,
            Err(stop) => return CallOutcome::Stopped(stop),
        };
        let child = match linked {
            Some(child) => {
                let (runner, budget) = (runner.clone(), self.budget.clone());
                tokio::spawn(async move { resumed(&runner, child, budget).await })
            }
            None => match self.create().await {
                Ok(task) => task,
                Err(stop) => return CallOutcome::Stopped(stop),
            },
        };
        // A parent that stops (cancelled, or paused for a switch of builds)
        // stops waiting; the child goes on, as an execution of its own.
        let came = tokio::select! {
            joined = child => match joined {
                Ok(came) => came,
                Err(_) => Err(Stop::Host("the task running a child flow panicked".to_owned())),
            },
            () = self.parent_cancel.cancelled() => Err(Stop::Cancelled),
        };
        let took = runner.clock.now_us().saturating_sub(started);
        match came {
            Ok(came) => self.settle(came, took).await,
            Err(stop) => CallOutcome::Stopped(stop),
        }
    }

    /// The child an earlier run of the parent started at this step, if one
    /// did.
    async fn linked(&self) -> Result<Option<ExecutionId>, Stop> {
        if !self.step.recorded {
            return Ok(None);
        }
        let links = self.runner.journal.links(self.parent).await?;
        Ok(links
            .children
            .iter()
            .find(|(seq, _)| *seq == self.step.seq)
            .map(|(_, child)| *child))
    }

    /// Creates the child (with the parent's step and the link) and starts
    /// its run on a task of its own; returns once it is journaled.
    async fn create(&self) -> Result<tokio::task::JoinHandle<Result<Came, Stop>>, Stop> {
        let depth = depth(&self.runner, self.parent).await?;
        let max = self.runner.policy.max_child_depth;
        if depth >= max {
            // The step has its seq: it is journaled (failed, starting
            // nothing), so the journal holds every step the flow took.
            self.journal_failed(Sync::Durable).await?;
            return Err(Stop::Limit(format!(
                "the flow is a child flow {depth} levels deep and starts another; the policy allows child flows {max} levels deep"
            )));
        }
        let (announce, announced) = tokio::sync::oneshot::channel();
        let runner = self.runner.clone();
        let (parent, seq, step) = (self.parent, self.step.seq, self.step.record.clone());
        let budget = self.budget.clone();
        let (code, flow, input) = (
            self.start.code.clone(),
            self.start.flow.clone(),
            self.start.input.clone(),
        );
        let task = tokio::spawn(async move {
            let child_of = ChildOf {
                parent,
                seq,
                step: &step,
            };
            let via = Via::Child(child_of, budget);
            let run = runner.create_via(code, &flow, &input, None, Some(announce), via);
            match run.await {
                Ok(outcome) => Ok(Came::Ended(outcome)),
                Err(RunError::Journal(e)) => Err(Stop::Journal(e)),
                Err(e) => Err(Stop::Host(format!("cannot start child flow `{flow}`: {e}"))),
            }
        });
        // Once announced, the child and the parent's step are journaled.
        if announced.await.is_err() {
            return match task.await {
                Ok(Err(stop)) => Err(stop),
                _ => Err(Stop::Host(
                    "a child flow's start ended unannounced".to_owned(),
                )),
            };
        }
        Ok(task)
    }

    /// Records what became of the child in the parent's step, and says what
    /// the parent's flow gets.
    async fn settle(self, came: Came, took: u64) -> CallOutcome {
        let (runner, parent) = (self.runner.clone(), self.parent);
        let failure = match came {
            Came::Elsewhere(child) => {
                return CallOutcome::Stopped(Stop::Waiting(format!("child {child}")));
            }
            Came::Cancelled(child) => format!("child execution {child} was cancelled"),
            Came::Ended(outcome) => match outcome.status {
                ExecutionStatus::Completed => {
                    let output = outcome.output.unwrap_or_else(|| "null".to_owned());
                    let ended = (CallSource::Executed, output.clone());
                    return match self.step.complete(&runner, parent, ended, &[], took).await {
                        Ok(()) => CallOutcome::Finished(Ok(output)),
                        Err(stop) => CallOutcome::Stopped(stop),
                    };
                }
                ExecutionStatus::Failed => {
                    let why = outcome
                        .failure
                        .map(|f| f.message)
                        .unwrap_or_else(|| "no reason recorded".to_owned());
                    format!("child execution {} failed: {why}", outcome.id)
                }
                ExecutionStatus::Cancelled => {
                    format!("child execution {} was cancelled", outcome.id)
                }
                // Waiting (or left running by a stop): the parent waits too.
                _ => {
                    let waiting = format!("child {}", outcome.id);
                    return CallOutcome::Stopped(Stop::Waiting(waiting));
                }
            },
        };
        match self.journal_failed(runner.ack_sync()).await {
            Ok(()) => CallOutcome::Finished(Err(CallFailure::Failed(failure))),
            Err(stop) => CallOutcome::Stopped(stop),
        }
    }

    /// Journals the step failed (the child failed or was cancelled, or
    /// none could start): a later run of the parent takes the step again.
    async fn journal_failed(&self, sync: Sync) -> Result<(), Stop> {
        let mut step = self.step.record.clone();
        step.status = CallStatus::Failed;
        let entry = Entry::Call {
            exec: self.parent,
            seq: self.step.seq,
            record: &step,
        };
        self.runner.journal.write(&[entry], sync).await?;
        Ok(())
    }
}

/// How deep `exec` is among child flows: 0 for an execution no flow
/// started, one more per parent up.
async fn depth(runner: &Runner, mut exec: ExecutionId) -> Result<u32, Stop> {
    let mut depth = 0;
    // Bounded by the policy (and a loop, which damage alone could make,
    // ends at the bound too).
    while depth <= runner.policy.max_child_depth {
        match runner.journal.links(exec).await?.parent {
            Some((parent, _)) => {
                depth += 1;
                exec = parent;
            }
            None => break,
        }
    }
    Ok(depth)
}

/// Resumes a child an earlier run of the parent started; waits for it
/// instead when it runs in this process (the parent was stopped while it
/// ran, and runs again).
async fn resumed(
    runner: &Arc<Runner>,
    child: ExecutionId,
    budget: Arc<ChildBudget>,
) -> Result<Came, Stop> {
    match runner.resume_with(child, None, Some(budget)).await {
        Ok(outcome) => Ok(Came::Ended(outcome)),
        Err(ResumeError::Cancelled(child)) => Ok(Came::Cancelled(child)),
        Err(ResumeError::AlreadyRunning(child)) => match runner.finished_here(child).await? {
            Some(outcome) => Ok(Came::Ended(outcome)),
            None => Ok(Came::Elsewhere(child)),
        },
        Err(ResumeError::Journal(e)) => Err(Stop::Journal(e)),
        Err(e) => Err(Stop::Host(format!(
            "cannot resume child execution {child}: {e}"
        ))),
    }
}

impl Runner {
    /// Waits for execution `exec`, if it runs in this process, to stop
    /// running, and returns how it stands then; `None` when it does not
    /// run here.
    async fn finished_here(&self, exec: ExecutionId) -> Result<Option<Outcome>, Stop> {
        let mut events = self.subscribers.subscribe();
        let here = || {
            self.active
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains_key(&exec)
        };
        // Looked at again now and then: its end may have been told before
        // the subscription, and it leaves `active` a moment after.
        while here() {
            let next = tokio::time::timeout(LOOK_AGAIN, events.recv()).await;
            match next {
                Ok(Ok(Event::ExecutionFinished { exec: ended, .. })) if ended == exec => break,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return Ok(None),
                _ => {}
            }
        }
        let Some(record) = self.journal.execution(exec).await? else {
            return Ok(None);
        };
        if record.status == ExecutionStatus::Running {
            return Ok(None);
        }
        Ok(Some(crate::runner::outcome_of(exec, &record)))
    }
}
