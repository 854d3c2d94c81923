//! Switching the build of an execution this process is running: the asker
//! leaves its request here and stops the current run of the flow (its
//! [`Run`](super::claim::Run) token, not the execution's), so the flow stops
//! at its next request to the runner the way a cancel stops it, and the
//! calls it had submitted finish and are journaled. The run, still holding
//! the execution's claim, then checks the new build against the journal
//! as it stands, journals the move when the check is compatible (see
//! [`Runner::move_claimed`]) and goes on with the new build, or with the
//! old one when the check refuses; the asker gets the answer either way.
//! The execution stays `running` throughout: it is never cancelled or
//! failed, and nothing else can run it meanwhile.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::code::FlowCode;
use super::execution::Prelude;
use super::{Outcome, Runner, vanished};
use crate::check::{UpgradeError, Upgraded};
use crate::component::Component;
use crate::error::Halt;
use crate::events::Event;
use crate::journal::record::ExecutionRecord;
use crate::journal::{Entry, Sync};
use crate::model::ExecutionId;

/// The answer a paused run sends its asker.
type Reply = oneshot::Sender<Result<Upgraded, UpgradeError>>;

/// A switch of builds asked of a running execution.
pub(super) struct Asked {
    /// Tells this request from a later one of the same execution.
    ticket: u64,
    component: Component,
    by: String,
    reply: Reply,
}

/// The executions claimed in this process that have run their flow, each
/// with its current run's token and the switch asked of it, if any.
#[derive(Default)]
pub(crate) struct Switches {
    by_exec: Mutex<BTreeMap<ExecutionId, Switching>>,
    /// Numbers runs and requests, so an ended one is told from a later one.
    numbers: AtomicU64,
}

#[derive(Default)]
struct Switching {
    /// The number and token of the flow's run going on now.
    run: Option<(u64, CancellationToken)>,
    /// The switch asked, until a paused run takes it.
    asked: Option<Asked>,
}

/// Why a switch could not be asked of an execution.
pub(super) enum NotAsked {
    /// Its flow is not running here (yet, or any more).
    NotRunning,
    /// Another switch of it is under way.
    Busy,
}

impl Switches {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ExecutionId, Switching>> {
        // The table stays whole whatever a holder did: take it even if poisoned.
        self.by_exec.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A run of `id`'s flow starts with `token`; one that starts while a
    /// switch is asked stops at its first request (and takes it). Returns
    /// the run's number, which its end gives back.
    pub(super) fn run_started(&self, id: ExecutionId, token: &CancellationToken) -> u64 {
        let number = self.numbers.fetch_add(1, Ordering::Relaxed);
        let mut table = self.lock();
        let switching = table.entry(id).or_default();
        if switching.asked.is_some() {
            token.cancel();
        }
        switching.run = Some((number, token.clone()));
        number
    }

    /// The run numbered `number` has ended.
    pub(super) fn run_ended(&self, id: ExecutionId, number: u64) {
        let mut table = self.lock();
        if let Some(switching) = table.get_mut(&id)
            && switching.run.as_ref().is_some_and(|(n, _)| *n == number)
        {
            switching.run = None;
        }
    }

    /// The claim on `id` is let go of: a switch asked and not taken is
    /// dropped, which tells its asker to try again.
    pub(super) fn forget(&self, id: ExecutionId) {
        self.lock().remove(&id);
    }

    /// Leaves a switch for `id`'s run and stops the run, if one goes on.
    fn ask(
        &self,
        id: ExecutionId,
        component: &Component,
        by: &str,
    ) -> Result<(u64, oneshot::Receiver<Result<Upgraded, UpgradeError>>), NotAsked> {
        let mut table = self.lock();
        let switching = table.get_mut(&id).ok_or(NotAsked::NotRunning)?;
        if switching.asked.is_some() {
            return Err(NotAsked::Busy);
        }
        let ticket = self.numbers.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        switching.asked = Some(Asked {
            ticket,
            component: component.clone(),
            by: by.to_owned(),
            reply,
        });
        if let Some((_, run)) = &switching.run {
            run.cancel();
        }
        Ok((ticket, answer))
    }

    /// Takes back the switch with `ticket`, if no run has taken it.
    fn withdraw(&self, id: ExecutionId, ticket: u64) {
        let mut table = self.lock();
        if let Some(switching) = table.get_mut(&id)
            && switching.asked.as_ref().is_some_and(|a| a.ticket == ticket)
        {
            switching.asked = None;
        }
    }

    /// The switch asked of `id`, for its paused run to carry out.
    fn take(&self, id: ExecutionId) -> Option<Asked> {
        self.lock().get_mut(&id).and_then(|s| s.asked.take())
    }
}

/// How long an asker waits, beyond the policy's time for one attempt, for
/// the run to pause (its flow stops at once; the calls it had submitted
/// finish first).
pub(super) const PAUSE_MARGIN: Duration = Duration::from_secs(10);

/// The longest an asker waits for the run to pause: less than a client of
/// the server waits for its answer.
pub(super) const MAX_PAUSE_WAIT: Duration = Duration::from_secs(300);

impl Runner {
    /// Moves execution `id`, whose flow this process is running, to
    /// `component`: its run pauses, the run itself checks and journals the
    /// move and goes on with the build the answer names. `None` when the
    /// run let go of the execution before it paused (it ended, or waits
    /// now): the caller tries again as for any execution.
    pub(super) async fn switch_running(
        &self,
        id: ExecutionId,
        component: &Component,
        by: &str,
    ) -> Option<Result<Upgraded, UpgradeError>> {
        let (ticket, answer) = match self.switches.ask(id, component, by) {
            Ok(asked) => asked,
            Err(NotAsked::NotRunning) => return None,
            Err(NotAsked::Busy) => return Some(Err(UpgradeError::Switching(id))),
        };
        let waited = (self.policy.timeout + PAUSE_MARGIN).min(MAX_PAUSE_WAIT);
        match tokio::time::timeout(waited, answer).await {
            Ok(Ok(answer)) => Some(answer),
            // Dropped untaken: the claim was let go of.
            Ok(Err(_)) => None,
            Err(_) => {
                self.switches.withdraw(id, ticket);
                Some(Err(UpgradeError::NotPaused {
                    exec: id,
                    waited_s: waited.as_secs(),
                }))
            }
        }
    }

    /// Ends a run paused for a switch of builds: what it did is written
    /// (its flow's log and call count), the execution still `running`, and
    /// the outcome says `running`.
    pub(super) async fn pause(
        &self,
        id: ExecutionId,
        record: &mut ExecutionRecord,
    ) -> Result<Outcome, Halt> {
        record.updated_at_us = self.clock.now_us();
        let entry = Entry::Execution { id, record };
        self.journal.write(&[entry], self.ack_sync()).await?;
        Ok(super::outcome_of(id, record))
    }

    /// After a run paused: carries out the switch asked (if its asker has
    /// not given up), answers it, and makes the next run ready — the
    /// execution's record and prelude as the journal has them now, and
    /// the code it goes on with.
    pub(super) async fn after_pause(
        self: &Arc<Self>,
        id: ExecutionId,
        code: FlowCode,
    ) -> Result<(ExecutionRecord, Prelude, FlowCode), Halt> {
        let code = match self.switches.take(id) {
            None => code,
            Some(asked) => {
                let mut moved = self.move_claimed(id, &asked.component, &asked.by).await;
                if let Ok(upgraded) = &mut moved {
                    upgraded.running = true;
                }
                let next = match &moved {
                    Ok(_) => FlowCode::Guest(asked.component),
                    Err(_) => code,
                };
                // An asker that gave up meanwhile reads the journal.
                let _ = asked.reply.send(moved);
                next
            }
        };
        let record = (self.journal.execution(id).await?).ok_or_else(|| vanished(id, id))?;
        let (prelude, closing) = self.prelude(id, &record).await?;
        if !closing.is_empty() {
            let entries: Vec<Entry<'_>> = closing.iter().map(|c| c.entry(id)).collect();
            self.journal.write(&entries, Sync::Durable).await?;
        }
        self.emit(Event::ExecutionResumed { exec: id });
        Ok((record, prelude, code))
    }

    /// The code of execution `id`'s flow as its `record` names it: `code`,
    /// unless a switch of builds during its run moved it to another build.
    pub(super) async fn code_now(
        &self,
        id: ExecutionId,
        record: &ExecutionRecord,
        code: &FlowCode,
    ) -> Result<FlowCode, Halt> {
        match (code, record.component) {
            (FlowCode::Guest(component), Some(hash)) if component.hash() != hash => {
                let component = self.component(hash).await.map_err(|e| Halt::Host {
                    exec: id,
                    reason: format!("cannot load the build it was moved to: {e}"),
                })?;
                Ok(FlowCode::Guest(component))
            }
            _ => Ok(code.clone()),
        }
    }
}
