//! Cancelling or upgrading an execution whose run is in another process
//! sharing the journal (a `cairn serve` worker on PostgreSQL): the asker
//! leaves a request in the journal (see `journal::stop`), the process that
//! holds the execution does there what a cancel or an upgrade in that
//! process does — fires the run's cancel token, or pauses the run and moves
//! it (see [`super::switch`]) — and replies; the asker answers its caller
//! as if the run had been its own.
//!
//! On a journal only one process opens there is no other process: the
//! journal takes no request, and a cancel or an upgrade behaves as it
//! always did.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Runner;
use crate::check::{CheckError, UpgradeError, Upgraded, Verdict};
use crate::component::Component;
use crate::error::{CancelError, JournalError, LoadError};
use crate::journal::{Entry, StopAsk, StopAsked, StopReply, Sync};
use crate::model::{ExecutionId, ExecutionStatus};

/// How often an asker reads the reply and the execution's status.
const POLL: Duration = Duration::from_millis(50);

/// How long a request stands beyond the asker's own wait: the holder looks
/// for requests every quarter second, and its reply must find the request
/// there.
const STANDS_BEYOND: Duration = Duration::from_secs(10);

/// A switch's answer as it travels from the holder to the asker: every
/// refusal an upgrade in the holder can give, by name and with its data,
/// so that the asker returns the same [`UpgradeError`] variant; a failure
/// of the holder itself (its journal, loading the build) as its message.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
enum SwitchAnswer {
    Upgraded { upgraded: Upgraded },
    UnknownExecution,
    Running,
    Switching,
    NotPaused { waited_s: u64 },
    Ended { status: ExecutionStatus },
    HostFlow,
    SameBuild,
    UnknownFlow { flow: String },
    Incompatible { verdict: Verdict },
    Failed { reason: String },
}

impl SwitchAnswer {
    fn of(answer: Result<Upgraded, UpgradeError>) -> SwitchAnswer {
        let error = match answer {
            Ok(upgraded) => return SwitchAnswer::Upgraded { upgraded },
            Err(error) => error,
        };
        match error {
            UpgradeError::UnknownExecution(_) => SwitchAnswer::UnknownExecution,
            UpgradeError::Running(_) => SwitchAnswer::Running,
            UpgradeError::Switching(_) => SwitchAnswer::Switching,
            UpgradeError::NotPaused { waited_s, .. } => SwitchAnswer::NotPaused { waited_s },
            UpgradeError::Ended { status, .. } => SwitchAnswer::Ended { status },
            UpgradeError::HostFlow(_) => SwitchAnswer::HostFlow,
            UpgradeError::SameBuild(_) => SwitchAnswer::SameBuild,
            UpgradeError::UnknownFlow { flow, .. } => SwitchAnswer::UnknownFlow { flow },
            UpgradeError::Incompatible { verdict, .. } => SwitchAnswer::Incompatible { verdict },
            other => SwitchAnswer::Failed {
                reason: crate::error::with_causes(&other),
            },
        }
    }

    fn into_result(self, exec: ExecutionId) -> Result<Upgraded, UpgradeError> {
        Err(match self {
            SwitchAnswer::Upgraded { upgraded } => return Ok(upgraded),
            SwitchAnswer::UnknownExecution => UpgradeError::UnknownExecution(exec),
            SwitchAnswer::Running => UpgradeError::Running(exec),
            SwitchAnswer::Switching => UpgradeError::Switching(exec),
            SwitchAnswer::NotPaused { waited_s } => UpgradeError::NotPaused { exec, waited_s },
            SwitchAnswer::Ended { status } => UpgradeError::Ended { exec, status },
            SwitchAnswer::HostFlow => UpgradeError::HostFlow(exec),
            SwitchAnswer::SameBuild => UpgradeError::SameBuild(exec),
            SwitchAnswer::UnknownFlow { flow } => UpgradeError::UnknownFlow { exec, flow },
            SwitchAnswer::Incompatible { verdict } => UpgradeError::Incompatible { exec, verdict },
            SwitchAnswer::Failed { reason } => UpgradeError::Check(CheckError::Host {
                exec,
                reason: format!("in the process that runs it: {reason}"),
            }),
        })
    }
}

impl Runner {
    /// How long an asker waits for a run to stop at its next request to
    /// the runner: the calls it had started finish first.
    fn stop_wait(&self) -> Duration {
        (self.policy.timeout + super::switch::PAUSE_MARGIN).min(super::switch::MAX_PAUSE_WAIT)
    }

    /// Cancels execution `id`, whose claim is held and whose run is not in
    /// this process: asks the process that holds it, and returns once the
    /// execution is `cancelled` — or, if it is not yet when the wait runs
    /// out, once its run was told to stop (as a cancel in that process
    /// returns). An execution let go of meanwhile is cancelled here under
    /// its claim. `None` when the journal has no other process to ask.
    pub(super) async fn cancel_elsewhere(
        &self,
        id: ExecutionId,
    ) -> Option<Result<(), CancelError>> {
        let wait = self.stop_wait();
        let ticket = match (self.journal)
            .ask_stop(id, &StopAsk::Cancel, wait + STANDS_BEYOND)
            .await
        {
            Ok(Some(ticket)) => ticket,
            Ok(None) => return None,
            Err(e) => return Some(Err(e.into())),
        };
        let cancelled = self.await_cancel(id, ticket, wait).await;
        // Best effort: an orphaned request lapses by itself.
        let _ = self.journal.withdraw_stop(ticket).await;
        Some(cancelled)
    }

    async fn await_cancel(
        &self,
        id: ExecutionId,
        ticket: u64,
        wait: Duration,
    ) -> Result<(), CancelError> {
        let until = tokio::time::Instant::now() + wait;
        let mut told = false;
        loop {
            // Its run came here (this process adopted it) meanwhile.
            if let Some(token) = self.token_of(id) {
                token.cancel();
                return Ok(());
            }
            let record = self
                .journal
                .execution(id)
                .await?
                .ok_or(CancelError::UnknownExecution(id))?;
            match record.status {
                ExecutionStatus::Cancelled => return Ok(()),
                ExecutionStatus::Completed => {
                    return Err(CancelError::NotCancellable {
                        exec: id,
                        status: record.status,
                    });
                }
                _ => {}
            }
            told = told || self.journal.stop_reply(ticket).await? == Some(StopReply::Cancelling);
            // Not running anywhere any more (its process let go of it, or
            // died and its lease lapsed): marked here under its claim, as
            // an execution nobody runs is. (A run that ended cancelled
            // meanwhile is found so under the claim.)
            match self.journal.claim(id).await {
                Ok(_lease) => {
                    return match self.mark_cancelled(id).await {
                        Err(CancelError::NotCancellable {
                            status: ExecutionStatus::Cancelled,
                            ..
                        }) => Ok(()),
                        marked => marked,
                    };
                }
                Err(JournalError::Claimed { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            if tokio::time::Instant::now() >= until {
                // Told to stop: it does at its next request, as after a
                // cancel in its own process. Never told: nobody took it.
                return if told {
                    Ok(())
                } else {
                    Err(CancelError::Busy(id))
                };
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Moves execution `id`, whose run is in another process, to
    /// `component`: that process pauses its run, checks and moves it, and
    /// goes on with the build its answer names, which is returned here.
    /// `None` when that process let go of the execution first: the caller
    /// tries again as for any execution. A journal with no other process
    /// answers [`UpgradeError::Running`].
    pub(super) async fn switch_elsewhere(
        &self,
        id: ExecutionId,
        component: &Component,
        by: &str,
    ) -> Option<Result<Upgraded, UpgradeError>> {
        let ask = StopAsk::Switch {
            to: component.hash(),
            by: by.to_owned(),
        };
        let wait = self.stop_wait() + STANDS_BEYOND;
        let ticket = match self.journal.ask_stop(id, &ask, wait + STANDS_BEYOND).await {
            Ok(Some(ticket)) => ticket,
            Ok(None) => return Some(Err(UpgradeError::Running(id))),
            Err(e) => return Some(Err(e.into())),
        };
        let answer = match self.offer(id, component).await {
            Ok(()) => self.await_switch(id, ticket, wait).await,
            Err(e) => Some(Err(e)),
        };
        let _ = self.journal.withdraw_stop(ticket).await;
        answer
    }

    /// Refuses at once what the holder would refuse after a pause, and
    /// puts the build in the journal, where the holder loads it from (it
    /// looks again while the build is not there yet).
    async fn offer(&self, id: ExecutionId, component: &Component) -> Result<(), UpgradeError> {
        self.movable(id, component).await?;
        let entry = Entry::Component {
            hash: component.hash(),
            bytes: component.bytes(),
        };
        self.journal.write(&[entry], Sync::Durable).await?;
        Ok(())
    }

    async fn await_switch(
        &self,
        id: ExecutionId,
        ticket: u64,
        wait: Duration,
    ) -> Option<Result<Upgraded, UpgradeError>> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            match self.journal.stop_reply(ticket).await {
                Ok(Some(StopReply::Switched(answer))) => {
                    return Some(match serde_json::from_str::<SwitchAnswer>(&answer) {
                        Ok(answer) => answer.into_result(id),
                        Err(e) => Err(UpgradeError::Journal(JournalError::Corrupt {
                            what: format!("the reply to upgrade request {ticket}"),
                            reason: e.to_string(),
                        })),
                    });
                }
                Ok(Some(StopReply::NotRunning | StopReply::Cancelling)) => return None,
                Ok(None) => {}
                Err(e) => return Some(Err(e.into())),
            }
            if tokio::time::Instant::now() >= until {
                return Some(Err(UpgradeError::NotPaused {
                    exec: id,
                    waited_s: wait.as_secs(),
                }));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The cancel token of execution `id`'s run in this process, if any.
    fn token_of(&self, id: ExecutionId) -> Option<tokio_util::sync::CancellationToken> {
        self.active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    /// Answers the requests other processes leave for the executions this
    /// one runs, for as long as the runner lives. A switch is carried out
    /// on the runtime this is called on (the journal's own when there is
    /// none): it may load a build.
    pub(crate) fn answer_stops(self: &Arc<Self>) {
        let runner = Arc::downgrade(self);
        let runtime = tokio::runtime::Handle::try_current().ok();
        self.journal
            .on_stop_asked(Arc::new(move |asked: StopAsked| {
                let Some(runner) = runner.upgrade() else {
                    return;
                };
                match &asked.ask {
                    StopAsk::Cancel => {
                        // Not running here yet (claimed, its token on the way)
                        // or any more: dropped unanswered, looked at again.
                        if let Some(token) = runner.token_of(asked.exec) {
                            token.cancel();
                            asked.reply(StopReply::Cancelling);
                        }
                    }
                    StopAsk::Switch { .. } => {
                        let work = runner.switch_asked(asked);
                        match &runtime {
                            Some(runtime) => drop(runtime.spawn(work)),
                            None => drop(tokio::spawn(work)),
                        }
                    }
                }
            }));
    }

    /// Carries out a switch of builds another process asked of a run here,
    /// as [`Runner::upgrade`] does for one asked in this process.
    async fn switch_asked(self: Arc<Self>, asked: StopAsked) {
        let StopAsk::Switch { to, by } = asked.ask.clone() else {
            return;
        };
        let id = asked.exec;
        if !self.runs_here(id) {
            asked.reply(StopReply::NotRunning);
            return;
        }
        let answer = match self.component(to).await {
            // The asker has not written it yet: looked at again.
            Err(LoadError::NotInJournal(_)) => return,
            Err(e) => Some(Err(UpgradeError::Load(e))),
            Ok(component) => match self.movable(id, &component).await {
                Err(e) => Some(Err(e)),
                Ok(_) => self.switch_running(id, &component, &by).await,
            },
        };
        let Some(answer) = answer else {
            asked.reply(StopReply::NotRunning);
            return;
        };
        match serde_json::to_string(&SwitchAnswer::of(answer)) {
            Ok(answer) => asked.reply(StopReply::Switched(answer)),
            Err(e) => {
                tracing::warn!(exec = %id, error = %e, "cannot encode an upgrade's answer");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each refusal the holder gives reaches the asker as the same variant.
    #[test]
    fn a_switch_answer_crosses_as_the_same_error() {
        let exec = ExecutionId(7);
        let cases = [
            UpgradeError::UnknownExecution(exec),
            UpgradeError::Running(exec),
            UpgradeError::Switching(exec),
            UpgradeError::NotPaused { exec, waited_s: 70 },
            UpgradeError::Ended {
                exec,
                status: ExecutionStatus::Completed,
            },
            UpgradeError::HostFlow(exec),
            UpgradeError::SameBuild(exec),
            UpgradeError::UnknownFlow {
                exec,
                flow: "march".to_owned(),
            },
        ];
        for error in cases {
            let shown = error.to_string();
            let text = serde_json::to_string(&SwitchAnswer::of(Err(error))).expect("encodes");
            let back: SwitchAnswer = serde_json::from_str(&text).expect("decodes");
            let back = back.into_result(exec).expect_err("an error");
            assert_eq!(back.to_string(), shown);
        }
        let failed = SwitchAnswer::of(Err(UpgradeError::Journal(JournalError::Closed)));
        assert!(matches!(
            failed.into_result(exec),
            Err(UpgradeError::Check(CheckError::Host { .. }))
        ));
    }
}
