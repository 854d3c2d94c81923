//! One execution in progress: the call logic behind a flow's `submit`.
//!
//! Each call gets the next seq (program order) and its call id. If the
//! journal already has the call at that seq (a resume), it must be the same
//! checkpoint with the same input — else the flow is stopped with a
//! non-determinism error — and a completed one returns its recorded output
//! without running. Otherwise the cache is consulted, then attempts run in
//! order, numbered after any earlier ones. Before an attempt starts, the call
//! and the attempt are written lazily (visible at once, on disk with the next
//! durable commit); when the call finishes, its final record is committed
//! durably and only then is the outcome handed to the flow.

use std::sync::Arc;
use std::time::Duration;

use super::Runner;
use super::cache;
use super::call_id::CallIds;
use super::input::canonical_object;
use super::recorded::Recorded;
use crate::bindings::types::{self, CallError};
use crate::component::Component;
use crate::error::JournalError;
use crate::events::Event;
use crate::journal::record::{AttemptRecord, CallRecord, ExecutionRecord};
use crate::journal::writer::Put;
use crate::manifest::CheckpointInfo;
use crate::model::{AttemptOutcome, CallSource, CallStatus, ExecutionId, Runtime, TrapKind};
use crate::policy::Policy;
use crate::runtime::inline::InlineRuntime;
use crate::runtime::isolated;
use crate::runtime::outcome::{AttemptReport, AttemptResult};

/// Why a flow is stopped from inside a call.
#[derive(Debug, thiserror::Error)]
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
}

/// What a `submit` gets back.
pub(crate) enum CallReply {
    /// The call could not be made; nothing was journaled.
    Refused(CallError),
    /// The call ran (or failed after all its attempts).
    Finished(Result<String, CallError>),
}

/// The longest pause between two attempts of a call.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

pub(crate) struct Execution {
    id: ExecutionId,
    record: ExecutionRecord,
    runner: Arc<Runner>,
    component: Component,
    flow_cache: bool,
    recorded: Recorded,
    recorded_len: u32,
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
        recorded: Recorded,
    ) -> Execution {
        let flow_cache = component
            .manifest()
            .flow(&record.flow)
            .is_none_or(|f| f.cache);
        Execution {
            id,
            record,
            runner,
            component,
            flow_cache,
            recorded_len: recorded.len(),
            recorded,
            next_seq: 0,
            call_ids: CallIds::default(),
            inline: InlineRuntime::default(),
        }
    }

    pub(crate) fn record(&self) -> &ExecutionRecord {
        &self.record
    }

    /// How many calls the journal holds for this execution: those the flow
    /// made, or more if an earlier run made more.
    pub(crate) fn calls_journaled(&self) -> u32 {
        self.next_seq.max(self.recorded_len)
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
        let (mut call, first_attempt) = match self.recorded.take(seq) {
            Some(recorded) => {
                if recorded.call.name != name || recorded.call.input != input {
                    return Err(Abort::NonDeterminism {
                        seq,
                        expected: format!("`{}` with {}", recorded.call.name, recorded.call.input),
                        found: format!("`{name}` with {input}"),
                    });
                }
                self.next_seq += 1;
                self.call_ids.next(name);
                if recorded.call.status == CallStatus::Completed {
                    self.completed(seq, &recorded.call, 0);
                    let output = recorded.call.output.unwrap_or_else(|| "null".to_owned());
                    return Ok(CallReply::Finished(Ok(output)));
                }
                let mut call = recorded.call;
                call.status = CallStatus::Running;
                (call, recorded.last_attempt + 1)
            }
            None => (
                CallRecord {
                    call_id: {
                        self.next_seq += 1;
                        self.call_ids.next(name)
                    },
                    name: name.to_owned(),
                    kind: info.kind.clone(),
                    runtime: info.runtime,
                    input,
                    status: CallStatus::Running,
                    source: CallSource::Executed,
                    output: None,
                    attempts: 0,
                },
                1,
            ),
        };
        let cached = info.cache.unwrap_or(self.flow_cache);
        if cached {
            let hit = cache::lookup(
                &self.runner.journal,
                self.component.hash(),
                name,
                &call.input,
            )?;
            if let Some(output) = hit {
                call.status = CallStatus::Completed;
                call.source = CallSource::Cached;
                call.output = Some(output.clone());
                let put = self.call_put(seq, &call);
                self.write(vec![put], true).await?;
                self.completed(seq, &call, 0);
                return Ok(CallReply::Finished(Ok(output)));
            }
        }
        self.attempts(seq, call, &info, first_attempt, cached).await
    }

    /// Runs up to `retries + 1` attempts, numbered from `first`.
    async fn attempts(
        &mut self,
        seq: u32,
        mut call: CallRecord,
        info: &CheckpointInfo,
        first: u32,
        cached: bool,
    ) -> Result<CallReply, Abort> {
        let last = first.saturating_add(info.retries);
        for n in first..=last {
            if n > first {
                tokio::time::sleep(self.retry_delay(n - first)).await;
            }
            call.attempts = n;
            let mut attempt = AttemptRecord {
                started_at_us: self.runner.clock.now_us(),
                ended_at_us: None,
                outcome: None,
                fuel_used: 0,
                stdout: Vec::new(),
                stderr: Vec::new(),
            };
            let puts = vec![
                self.call_put(seq, &call),
                self.attempt_put(seq, n, &attempt),
            ];
            self.write(puts, false).await?;
            self.runner.emit(Event::AttemptStarted {
                exec: self.id,
                seq,
                call_id: call.call_id.clone(),
                checkpoint: call.name.clone(),
                runtime: call.runtime,
                attempt: n,
            });
            let report = self.attempt(call.runtime, &call.name, &call.input).await;
            attempt.ended_at_us = Some(self.runner.clock.now_us());
            attempt.fuel_used = report.fuel_used;
            attempt.stdout = report.stdout;
            attempt.stderr = report.stderr;
            let error = match report.result {
                AttemptResult::Output(output) => {
                    attempt.outcome = Some(AttemptOutcome::Ok);
                    call.status = CallStatus::Completed;
                    call.output = Some(output.clone());
                    let mut puts = vec![
                        self.call_put(seq, &call),
                        self.attempt_put(seq, n, &attempt),
                    ];
                    if cached {
                        puts.push(Put::Cache {
                            key: cache::key(self.component.hash(), &call.name, &call.input),
                            exec: self.id.0,
                            seq,
                        });
                    }
                    self.write(puts, true).await?;
                    let took = attempt
                        .ended_at_us
                        .unwrap_or(0)
                        .saturating_sub(attempt.started_at_us);
                    self.completed(seq, &call, took);
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
            let out_of_attempts = n == last;
            if out_of_attempts {
                call.status = CallStatus::Failed;
            }
            let mut puts = vec![self.attempt_put(seq, n, &attempt)];
            if out_of_attempts {
                puts.push(self.call_put(seq, &call));
            }
            self.write(puts, out_of_attempts).await?;
            self.runner.emit(Event::AttemptFailed {
                exec: self.id,
                seq,
                call_id: call.call_id.clone(),
                attempt: n,
                outcome: attempt.outcome.clone().unwrap_or(AttemptOutcome::Ok),
                will_retry: !out_of_attempts,
            });
            if out_of_attempts {
                return Ok(CallReply::Finished(Err(error)));
            }
        }
        unreachable!("the loop runs at least once and returns on its last attempt")
    }

    async fn attempt(&mut self, runtime: Runtime, name: &str, input: &str) -> AttemptReport {
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

    /// The pause before retry number `retry` (from 1): the policy's delay,
    /// doubled for each further retry, at most a minute.
    fn retry_delay(&self, retry: u32) -> Duration {
        let base = self.runner.policy.retry_delay;
        base.saturating_mul(1 << retry.saturating_sub(1).min(16))
            .min(MAX_RETRY_DELAY)
    }

    fn completed(&self, seq: u32, call: &CallRecord, duration_us: u64) {
        self.runner.emit(Event::CallCompleted {
            exec: self.id,
            seq,
            call_id: call.call_id.clone(),
            source: call.source,
            duration_us,
        });
    }

    fn call_put(&self, seq: u32, call: &CallRecord) -> Put {
        Put::call(self.id.0, seq, call)
    }

    fn attempt_put(&self, seq: u32, n: u32, attempt: &AttemptRecord) -> Put {
        Put::attempt(self.id.0, seq, n, attempt)
    }

    // `&mut self`, not `&self`: the future must be `Send`, and an execution
    // (which owns a store) is `Send` but not `Sync`.
    async fn write(&mut self, puts: Vec<Put>, acknowledged: bool) -> Result<(), Abort> {
        let sync = if acknowledged {
            self.runner.ack_sync()
        } else {
            crate::journal::writer::Sync::Lazy
        };
        Ok(self.runner.journal.write(puts, sync).await?)
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
