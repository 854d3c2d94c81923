//! One execution in progress: the call logic behind a flow's `submit`.
//!
//! Each call gets the next seq (program order) and its call id, and runs its
//! attempts in order. Before an attempt starts, the call and the attempt are
//! written lazily (visible at once, on disk with the next durable commit);
//! when the call finishes, its final record is committed durably and only
//! then is the outcome handed to the flow.

use std::sync::Arc;

use super::Runner;
use super::call_id::CallIds;
use super::input::canonical_object;
use crate::bindings::types::{self, CallError};
use crate::component::Component;
use crate::error::JournalError;
use crate::events::Event;
use crate::journal::record::{AttemptRecord, CallRecord, ExecutionRecord, encode};
use crate::journal::writer::{Put, Sync};
use crate::model::{AttemptOutcome, CallSource, CallStatus, ExecutionId, Runtime, TrapKind};
use crate::policy::Policy;
use crate::runtime::inline::InlineRuntime;
use crate::runtime::isolated;
use crate::runtime::outcome::AttemptResult;

/// The host failed while journaling a call; the flow is stopped.
#[derive(Debug, thiserror::Error)]
#[error("journal failure during execution: {0}")]
pub(crate) struct Abort(pub(crate) JournalError);

/// What a `submit` gets back.
pub(crate) enum CallReply {
    /// The call could not be made; nothing was journaled.
    Refused(CallError),
    /// The call ran (or failed after all its attempts).
    Finished(Result<String, CallError>),
}

pub(crate) struct Execution {
    id: ExecutionId,
    record: ExecutionRecord,
    runner: Arc<Runner>,
    component: Component,
    next_seq: u32,
    call_ids: CallIds,
    inline: InlineRuntime,
}

impl Execution {
    pub(crate) fn new(
        id: ExecutionId,
        record: ExecutionRecord,
        runner: Arc<Runner>,
        component: Component,
    ) -> Execution {
        Execution {
            id,
            record,
            runner,
            component,
            next_seq: 0,
            call_ids: CallIds::default(),
            inline: InlineRuntime::default(),
        }
    }

    pub(crate) fn record(&self) -> &ExecutionRecord {
        &self.record
    }

    pub(crate) fn policy(&self) -> &Policy {
        &self.runner.policy
    }

    /// Makes one checkpoint call, journaled.
    pub(crate) async fn call(&mut self, name: &str, input: &str) -> Result<CallReply, Abort> {
        let Some(info) = self.component.manifest().checkpoint(name).cloned() else {
            return Ok(CallReply::Refused(CallError::Context(format!(
                "unknown checkpoint `{name}`; the component has: {}",
                self.component.manifest().checkpoint_names()
            ))));
        };
        let input = match canonical_object(input) {
            Ok(input) => input,
            Err(reason) => {
                return Ok(CallReply::Refused(CallError::Context(format!(
                    "the input of checkpoint `{name}` is {reason}"
                ))));
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut call = CallRecord {
            call_id: self.call_ids.next(name),
            name: name.to_owned(),
            kind: info.kind.clone(),
            runtime: info.runtime,
            input,
            status: CallStatus::Running,
            source: CallSource::Executed,
            output: None,
        };
        let attempts = info.retries.saturating_add(1);
        for n in 1..=attempts {
            let mut attempt = AttemptRecord {
                started_at_us: self.runner.clock.now_us(),
                ended_at_us: None,
                outcome: None,
                fuel_used: 0,
                stdout: Vec::new(),
                stderr: Vec::new(),
            };
            self.journal(seq, Some(&call), n, &attempt, Sync::Lazy)
                .await?;
            self.runner.emit(Event::AttemptStarted {
                exec: self.id,
                seq,
                call_id: call.call_id.clone(),
                checkpoint: call.name.clone(),
                runtime: call.runtime,
                attempt: n,
            });
            let report = self.attempt(call.runtime, name, &call.input).await;
            attempt.ended_at_us = Some(self.runner.clock.now_us());
            attempt.fuel_used = report.fuel_used;
            attempt.stdout = report.stdout;
            attempt.stderr = report.stderr;
            let error = match report.result {
                AttemptResult::Output(output) => {
                    attempt.outcome = Some(AttemptOutcome::Ok);
                    call.status = CallStatus::Completed;
                    call.output = Some(output.clone());
                    self.journal(seq, Some(&call), n, &attempt, Sync::Durable)
                        .await?;
                    self.runner.emit(Event::CallCompleted {
                        exec: self.id,
                        seq,
                        call_id: call.call_id.clone(),
                        attempts: n,
                        duration_us: attempt
                            .ended_at_us
                            .unwrap_or(0)
                            .saturating_sub(attempt.started_at_us),
                    });
                    return Ok(CallReply::Finished(Ok(output)));
                }
                AttemptResult::Failed(message) => {
                    attempt.outcome = Some(AttemptOutcome::Failed {
                        message: message.clone(),
                    });
                    CallError::Failed(message)
                }
                AttemptResult::Trapped(kind, message) => {
                    attempt.outcome = Some(AttemptOutcome::Trapped {
                        kind,
                        message: message.clone(),
                    });
                    CallError::Trapped(types::Trapped {
                        kind: wit_trap_kind(kind),
                        message,
                    })
                }
            };
            let last = n == attempts;
            if last {
                call.status = CallStatus::Failed;
            }
            let (call_put, sync) = if last {
                (Some(&call), Sync::Durable)
            } else {
                (None, Sync::Lazy)
            };
            self.journal(seq, call_put, n, &attempt, sync).await?;
            self.runner.emit(Event::AttemptFailed {
                exec: self.id,
                seq,
                call_id: call.call_id.clone(),
                attempt: n,
                outcome: attempt.outcome.clone().unwrap_or(AttemptOutcome::Ok),
                will_retry: !last,
            });
            if last {
                return Ok(CallReply::Finished(Err(error)));
            }
        }
        unreachable!("the loop runs at least once and returns on its last attempt")
    }

    async fn attempt(
        &mut self,
        runtime: Runtime,
        name: &str,
        input: &str,
    ) -> crate::runtime::outcome::AttemptReport {
        let runner = &self.runner;
        match runtime {
            Runtime::Inline => {
                self.inline
                    .attempt(
                        &runner.engine,
                        &self.component,
                        &runner.policy,
                        &runner.clock,
                        name,
                        input,
                    )
                    .await
            }
            Runtime::Isolated => {
                isolated::attempt(
                    &runner.engine,
                    &self.component,
                    &runner.policy,
                    &runner.clock,
                    name,
                    input,
                )
                .await
            }
        }
    }

    // `&mut self`, not `&self`: the future must be `Send`, and an execution
    // (which owns a store) is `Send` but not `Sync`.
    async fn journal(
        &mut self,
        seq: u32,
        call: Option<&CallRecord>,
        n: u32,
        attempt: &AttemptRecord,
        sync: Sync,
    ) -> Result<(), Abort> {
        let exec = self.id.0;
        let mut puts = Vec::with_capacity(2);
        if let Some(call) = call {
            puts.push(Put::Call {
                exec,
                seq,
                record: encode(call),
            });
        }
        puts.push(Put::Attempt {
            exec,
            seq,
            n,
            record: encode(attempt),
        });
        self.runner.journal.write(puts, sync).await.map_err(Abort)
    }
}

fn wit_trap_kind(kind: TrapKind) -> types::TrapKind {
    match kind {
        TrapKind::OutOfFuel => types::TrapKind::OutOfFuel,
        TrapKind::Memory => types::TrapKind::Memory,
        TrapKind::Timeout => types::TrapKind::Timeout,
        _ => types::TrapKind::Trap,
    }
}
