//! Steps of a flow that are not checkpoint calls but take a seq as one
//! does: a durable sleep ([`super::sleep`]) and a wait with a deadline
//! ([`super::wait_timeout`]).
//!
//! A step is journaled as a call record under a reserved name that no
//! checkpoint can have (a checkpoint's name starts with a letter or `_`):
//! `@sleep` or `@wait`, with no attempts, its input the flow's arguments
//! and its output how it ended. While it is open its due time is a timer
//! at its seq, the same timer a call's parked retry has, so the journal,
//! the views, a resume and a server's wake-ups need nothing new to keep it:
//! the execution is `waiting`, holds no flow instance, and is resumed when
//! the time has come. The due time is decided once, when the flow first
//! takes the step, and read back from the journal by every later run, so a
//! resumed flow never computes it again from the clock of the day.
//!
//! A completed step is answered from the journal like a completed call: a
//! resumed flow does not sleep again for a sleep that ended. A step that
//! does not match its record (another step, another duration, a call where
//! a step was) stops the flow with a non-determinism error.

use super::Execution;
use crate::call::Stop;
use crate::events::Event;
use crate::journal::Entry;
use crate::journal::record::{CallRecord, TimerRecord};
use crate::model::{CallSource, CallStatus, ComponentHash, ExecutionId, Runtime};
use crate::runner::Runner;
use crate::runner::call_check::describe_call;
use crate::runner::replay::Decision;

/// The name of a sleep's step.
pub(crate) const SLEEP: &str = "@sleep";
/// The name of a wait-with-a-deadline's step.
pub(crate) const WAIT: &str = "@wait";

/// The component a step of a host-side flow is recorded under: it runs no
/// code, and a host-side flow has no component of its own.
const NO_COMPONENT: ComponentHash = ComponentHash([0; 32]);

/// What a timer that parks an execution is for (see
/// [`RetryView::kind`](crate::client::RetryView::kind)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TimerKind {
    /// A call's retry, parked until it is due.
    #[default]
    Retry,
    /// A durable sleep, until it ends.
    Sleep,
    /// A wait's deadline: the execution waits for a value, and is resumed
    /// at this time to time out if none came.
    WaitDeadline,
}

impl TimerKind {
    /// What `timer` is for: a retry always makes an attempt from 2 on; a
    /// step's timer makes none, and its call id names its step.
    pub(crate) fn of(timer: &TimerRecord) -> TimerKind {
        if timer.attempt != 0 {
            TimerKind::Retry
        } else if timer.call_id.starts_with(WAIT) {
            TimerKind::WaitDeadline
        } else {
            TimerKind::Sleep
        }
    }
}

/// What the journal says of a step the flow takes.
pub(super) enum Taken {
    /// It completed in an earlier run: its output.
    Done(String),
    /// It is new, or an earlier run left it open.
    Open(OpenStep),
}

/// A step to take now.
pub(super) struct OpenStep {
    pub(super) seq: u32,
    /// Its record, `running`.
    pub(super) record: CallRecord,
    /// Its due time, if an earlier run journaled it.
    pub(super) due_at_us: Option<u64>,
    /// Whether an earlier run journaled it (open, or failed).
    pub(super) recorded: bool,
    /// For a replay: the output it reuses (or is given) instead of taking
    /// the step again, and where that came from.
    pub(super) preset: Option<(CallSource, String)>,
}

impl Execution {
    /// Gives the step `name` with `input` its seq and call id, and checks
    /// it against what the journal holds at that seq.
    pub(super) fn take_step(&mut self, name: &str, input: String) -> Result<Taken, Stop> {
        self.check_cancelled()?;
        self.make_room(1, input.len() as u64)?;
        let seq = self.next_seq;
        let call_id = self.call_ids.next(name);
        let timer = self.timers.remove(&seq);
        let recorded = self.recorded.take(seq);
        self.next_seq += 1;
        if let Some(recorded) = &recorded {
            let was = &recorded.call;
            if was.name != name || was.input != input || was.call_id != call_id {
                return Err(Stop::NonDeterminism {
                    seq,
                    expected: describe_call(&was.name, &was.call_id, &was.input, None),
                    found: describe_call(name, &call_id, &input, None),
                });
            }
            if was.status == CallStatus::Completed {
                if timer.is_some() && self.dry.is_none() {
                    let done = Entry::TimerDone {
                        exec: self.ctx.exec,
                        seq,
                    };
                    self.ctx.runner.journal.queue(&[done])?;
                }
                if let Some(replay) = self.replay.as_mut() {
                    let _ = replay.track(seq, name, &call_id);
                }
                self.ctx.runner.emit(Event::CallReplayed {
                    exec: self.ctx.exec,
                    seq,
                    call_id,
                });
                return Ok(Taken::Done(
                    was.output.clone().unwrap_or_else(|| "null".to_owned()),
                ));
            }
        }
        // A dry run answers only from the journal: an open step ends it,
        // as a call the journal does not answer does.
        if let Some(unanswered) = self.dry.as_mut() {
            unanswered.insert(seq, call_id);
            return Err(Stop::Waiting(super::dry_stop(seq)));
        }
        let preset = match self.replay.as_mut() {
            None => None,
            Some(replay) => {
                let (decision, divergence) = replay.decide(seq, name, &call_id, &input);
                if let Some(d) = divergence {
                    self.ctx.runner.emit(Event::ReplayDiverged {
                        exec: self.ctx.exec,
                        seq: d.seq,
                        source: d.expected,
                        now: d.found,
                    });
                }
                match decision {
                    Decision::Override(output) => Some((CallSource::Overridden, output)),
                    Decision::Reuse(output) => Some((CallSource::Replayed, output)),
                    Decision::Live { .. } => None,
                }
            }
        };
        let record = CallRecord {
            call_id,
            name: name.to_owned(),
            component: self.record.component.unwrap_or(NO_COMPONENT),
            kind: Some(name.trim_start_matches('@').to_owned()),
            // Nothing runs; the field only has these two values.
            runtime: Runtime::Inline,
            input,
            status: CallStatus::Running,
            source: CallSource::Executed,
            output: None,
            attempts: 0,
        };
        self.ctx.runner.emit(Event::CallSubmitted {
            exec: self.ctx.exec,
            seq,
            call_id: record.call_id.clone(),
        });
        Ok(Taken::Open(OpenStep {
            seq,
            record,
            due_at_us: timer.map(|t| t.due_at_us),
            recorded: recorded.is_some(),
            preset,
        }))
    }
}

impl OpenStep {
    /// The timer that keeps the step's due time.
    pub(super) fn timer(&self, due_at_us: u64) -> TimerRecord {
        TimerRecord {
            call_id: self.record.call_id.clone(),
            attempt: 0,
            retry: 0,
            due_at_us,
        }
    }

    /// Journals the step open with its due time (durably, whatever the
    /// host's durability: the timer is the only thing that wakes the
    /// execution again), unless an earlier run did.
    pub(super) async fn open(
        &self,
        runner: &Runner,
        exec: ExecutionId,
        due_at_us: u64,
        more: &[Entry<'_>],
    ) -> Result<(), Stop> {
        if self.due_at_us.is_some() && more.is_empty() {
            return Ok(());
        }
        let timer = self.timer(due_at_us);
        let mut entries = vec![
            Entry::Call {
                exec,
                seq: self.seq,
                record: &self.record,
            },
            Entry::Timer {
                exec,
                seq: self.seq,
                record: &timer,
            },
        ];
        entries.extend_from_slice(more);
        runner
            .journal
            .write(&entries, crate::journal::Sync::Durable)
            .await?;
        Ok(())
    }

    /// Journals the step completed with `output` (and `more` in the same
    /// commit), removes its timer, and tells the listeners; `took_us` is how
    /// long the step took in this run.
    pub(super) async fn complete(
        mut self,
        runner: &Runner,
        exec: ExecutionId,
        (source, output): (CallSource, String),
        more: &[Entry<'_>],
        took_us: u64,
    ) -> Result<(), Stop> {
        self.record.status = CallStatus::Completed;
        self.record.source = source;
        self.record.output = Some(output);
        let mut entries = vec![Entry::Call {
            exec,
            seq: self.seq,
            record: &self.record,
        }];
        if self.due_at_us.is_some() {
            entries.push(Entry::TimerDone {
                exec,
                seq: self.seq,
            });
        }
        entries.extend_from_slice(more);
        runner.journal.write(&entries, runner.ack_sync()).await?;
        runner.emit(Event::CallCompleted {
            exec,
            seq: self.seq,
            call_id: self.record.call_id.clone(),
            source,
            duration_us: took_us,
        });
        Ok(())
    }
}
