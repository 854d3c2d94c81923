//! A durable wait with a deadline (the WIT's `timers.wait-timeout`, a
//! host-side flow's `FlowCtx::wait_timeout`): a wait (see
//! [`Execution::wait`]) plus a step (see [`super::timed_step`]) whose timer
//! is the deadline.
//!
//! The first time, the wait is recorded and the step opened with its
//! deadline (the wait's asking time plus the timeout) in one durable
//! commit, and the execution waits. An answer before the deadline is taken
//! as a plain wait's is, and a resume hands it to the flow; when the
//! deadline comes (a server resumes the execution then; from the command
//! line, a resume after it), the flow runs again, finds no value, and the
//! timeout is journaled: the wait is marked timed out (so a value supplied
//! later is refused, see `Runner::answer`) and the step completes with
//! `"timed_out"`. The step's output decides every later run: `"answered"`
//! gives the wait's value, `"timed_out"` gives `None`.

use std::time::Duration;

use super::timed_step::{OpenStep, Taken, TimerKind, WAIT};
use super::{Execution, WaitStep};
use crate::call::{CallFailure, Stop};
use crate::journal::Entry;
use crate::journal::record::WaitRecord;
use crate::model::{AnswerSource, CallSource, ExecutionId};
use crate::runner::Runner;

/// The step's output once the wait had its value.
const ANSWERED: &str = "\"answered\"";
/// The step's output once the wait's time was up.
const TIMED_OUT: &str = "\"timed_out\"";

/// The longest timeout a wait may have: about 136 years, so that no
/// deadline overflows.
const MAX_TIMEOUT: Duration = Duration::from_secs(u32::MAX as u64);

/// What a wait with a deadline does, decided before anything is written.
struct Decided {
    name: String,
    step: Taken,
    wait: WaitStep,
    /// The wait as the journal held it when the run started, if it did.
    recorded: Option<WaitRecord>,
    timeout: Duration,
}

/// The outcome of a wait with a deadline: the value, or `None` when the
/// time was up; `Err(CallFailure)` refuses the wait; `Err(Stop)` stops the
/// flow (it waits).
type Waited = Result<Result<Option<String>, CallFailure>, Stop>;

impl Execution {
    /// A durable wait for at most `timeout`. What to do is decided at once;
    /// the future writes, and does not hold the execution.
    pub(crate) fn wait_timeout(
        &mut self,
        name: &str,
        question: &str,
        schema: &str,
        timeout: Duration,
    ) -> impl Future<Output = Waited> + Send + 'static {
        let decided = self.decide_wait_timeout(name, question, schema, timeout);
        let runner = self.ctx.runner.clone();
        let exec = self.ctx.exec;
        async move {
            match decided? {
                Err(refused) => Ok(Err(refused)),
                Ok(decided) => decided.run(&runner, exec).await,
            }
        }
    }

    /// The refusal of a plain wait under the name of a wait whose time was
    /// up: it never gets a value (see `Runner::answer`).
    pub(super) fn timed_out_wait(&self, name: &str) -> Option<CallFailure> {
        let (_, wait) = self.waits.iter().find(|(n, _)| n == name)?;
        (wait.source == Some(AnswerSource::TimedOut)).then(|| {
            CallFailure::Context(format!(
                "wait `{name}` timed out earlier in this execution; it has no value"
            ))
        })
    }

    fn decide_wait_timeout(
        &mut self,
        name: &str,
        question: &str,
        schema: &str,
        timeout: Duration,
    ) -> Result<Result<Decided, CallFailure>, Stop> {
        if timeout > MAX_TIMEOUT {
            return Ok(Err(CallFailure::Context(format!(
                "the timeout of wait `{name}`, {timeout:?}, is longer than the longest a wait may have ({MAX_TIMEOUT:?})"
            ))));
        }
        // The wait is checked (its name, question, schema, the policy's
        // limits) before the step takes a seq: a refused wait journals
        // nothing.
        let recorded = self
            .waits
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, w)| w.clone());
        let wait = match self.decide_wait(name, question, schema)? {
            WaitStep::Answered(Err(refused)) => return Ok(Err(refused)),
            wait => wait,
        };
        let step = self.take_step(WAIT, wait_input(name, timeout))?;
        if let (Taken::Open(_), WaitStep::Ask(record) | WaitStep::Supplied(record)) = (&step, &wait)
        {
            self.waits.push((name.to_owned(), record.clone()));
        }
        Ok(Ok(Decided {
            name: name.to_owned(),
            step,
            wait,
            recorded,
            timeout,
        }))
    }
}

impl Decided {
    async fn run(self, runner: &Runner, exec: ExecutionId) -> Waited {
        let Decided {
            name,
            step,
            wait,
            recorded,
            timeout,
        } = self;
        let step = match step {
            Taken::Done(output) if output == TIMED_OUT => return Ok(Ok(None)),
            Taken::Done(_) => {
                return match wait {
                    WaitStep::Answered(Ok(value)) => Ok(Ok(Some(value))),
                    _ => Err(Stop::Host(format!(
                        "the journal holds wait `{name}` answered, but not its value"
                    ))),
                };
            }
            Taken::Open(step) => step,
        };
        // A replay that reuses its source's timeout times out too; one that
        // reuses an answer gets the value as a plain wait of a replay does.
        let replayed_timeout = step
            .preset
            .as_ref()
            .is_some_and(|(_, output)| output == TIMED_OUT);
        let now = runner.clock.now_us();
        let (recorded, asked_at_us) = match wait {
            WaitStep::Answered(Ok(value)) => {
                return answered(step, runner, exec, value, None).await;
            }
            WaitStep::Supplied(record) => {
                let value = record.value.clone().unwrap_or_else(|| "null".to_owned());
                return answered(step, runner, exec, value, Some((name.as_str(), &record))).await;
            }
            // Refusals returned before the step was taken.
            WaitStep::Answered(Err(refused)) => return Ok(Err(refused)),
            WaitStep::Pending => {
                let Some(recorded) = recorded else {
                    return Err(Stop::Host(format!(
                        "wait `{name}` is not in the journal any more"
                    )));
                };
                if recorded.source != Some(AnswerSource::TimedOut) {
                    // The run's snapshot of the waits is from its start: an
                    // answer given since is in the journal.
                    let waits = runner.journal.waits(exec).await?;
                    if let Some((_, WaitRecord { value: Some(v), .. })) =
                        waits.into_iter().find(|(n, _)| *n == name)
                    {
                        return answered(step, runner, exec, v, None).await;
                    }
                }
                let asked = recorded.asked_at_us;
                (recorded, asked)
            }
            WaitStep::Ask(record) => {
                let asked = record.asked_at_us;
                (record, asked)
            }
        };
        let micros = u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX);
        let deadline = step
            .due_at_us
            .unwrap_or_else(|| asked_at_us.saturating_add(micros));
        let timed_out = recorded.source == Some(AnswerSource::TimedOut);
        if timed_out || replayed_timeout || now >= deadline {
            let record = WaitRecord {
                answered_at_us: Some(recorded.answered_at_us.unwrap_or(now)),
                source: Some(AnswerSource::TimedOut),
                value: None,
                ..recorded
            };
            let entry = Entry::Wait {
                exec,
                name: &name,
                record: &record,
            };
            let took = now.saturating_sub(asked_at_us);
            let ended = (CallSource::Executed, TIMED_OUT.to_owned());
            step.complete(runner, exec, ended, &[entry], took).await?;
            return Ok(Ok(None));
        }
        // Not due yet: the wait (if new) and the deadline are journaled
        // together, and the execution waits.
        let entry = Entry::Wait {
            exec,
            name: &name,
            record: &recorded,
        };
        let more: &[Entry<'_>] = if step.due_at_us.is_none() {
            std::slice::from_ref(&entry)
        } else {
            &[]
        };
        step.open(runner, exec, deadline, more).await?;
        Err(Stop::Waiting(name))
    }
}

/// Completes the step with the wait's value (writing the wait too when it
/// is new, as a replay's supplied value is).
async fn answered(
    step: OpenStep,
    runner: &Runner,
    exec: ExecutionId,
    value: String,
    new_wait: Option<(&str, &WaitRecord)>,
) -> Waited {
    let more: Vec<Entry<'_>> = new_wait
        .map(|(name, record)| Entry::Wait { exec, name, record })
        .into_iter()
        .collect();
    let ended = (CallSource::Executed, ANSWERED.to_owned());
    step.complete(runner, exec, ended, &more, 0).await?;
    Ok(Ok(Some(value)))
}

/// The step's input: the wait it bounds and for how long, so that a resumed
/// flow that asks otherwise is caught as non-deterministic.
fn wait_input(name: &str, timeout: Duration) -> String {
    let ms = timeout.as_micros().div_ceil(1000);
    // The name passed `names::check` (letters, digits, `_-.`): no escaping.
    format!("{{\"timeout_ms\":{ms},\"wait\":\"{name}\"}}")
}

impl Runner {
    /// If `wait` (wait `name` of `exec`) had a deadline that has passed,
    /// when: the timeout is journaled, or its time is up on the host's
    /// clock though no run has journaled it yet (the flow will time out
    /// when it runs again, so a value now would be one it never sees).
    pub(crate) async fn deadline_passed(
        &self,
        exec: ExecutionId,
        name: &str,
        wait: &WaitRecord,
    ) -> Result<Option<u64>, crate::error::JournalError> {
        if wait.source == Some(AnswerSource::TimedOut) {
            return Ok(Some(wait.answered_at_us.unwrap_or(wait.asked_at_us)));
        }
        if wait.value.is_some() {
            return Ok(None);
        }
        let now = self.clock.now_us();
        let passed: Vec<(u32, u64)> = (self.journal.timers(Some(exec)).await?)
            .into_iter()
            .filter(|(_, _, t)| TimerKind::of(t) == TimerKind::WaitDeadline && t.due_at_us <= now)
            .map(|(_, seq, t)| (seq, t.due_at_us))
            .collect();
        if passed.is_empty() {
            return Ok(None);
        }
        // Which wait a deadline bounds is in its step's input.
        let Some(history) = self.journal.history(exec).await? else {
            return Ok(None);
        };
        let bounds = |input: &str| {
            serde_json::from_str::<serde_json::Value>(input)
                .is_ok_and(|v| v.get("wait").and_then(|w| w.as_str()) == Some(name))
        };
        Ok(history
            .calls
            .iter()
            .filter(|c| c.call.name == WAIT && bounds(&c.call.input))
            .find_map(|c| passed.iter().find(|(seq, _)| *seq == c.seq))
            .map(|(_, due)| *due))
    }
}
