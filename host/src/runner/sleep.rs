//! A durable sleep of a flow (the WIT's `timers.sleep`, a host-side flow's
//! `FlowCtx::sleep`), journaled as a step (see [`super::timed_step`]).
//!
//! The first time the flow sleeps, its end is decided from the host's
//! clock and journaled with the step. A sleep of at least
//! [`PARK_AFTER`](crate::runner::call::PARK_AFTER) parks the execution: the
//! flow is unloaded, the execution is `waiting` (its timer says until when),
//! and a resume — `cairn serve` makes one when the time comes, `cairn run`
//! waits for it in its own process, `cairn executions resume` waits for it
//! too — runs the flow again, which finds the end passed and goes on. A
//! shorter sleep is waited out in place, holding the flow: parking would
//! cost more than it saves, and a crash meanwhile only makes the resumed
//! flow sleep that short while again.

use std::time::Duration;

use super::Execution;
use super::timed_step::{OpenStep, SLEEP, Taken};
use crate::call::{CallFailure, Stop};
use crate::model::CallSource;
use crate::runner::call::PARK_AFTER;

/// The longest sleep a flow may ask for: about 136 years, so that no due
/// time overflows.
const MAX_SLEEP: Duration = Duration::from_secs(u32::MAX as u64);

impl Execution {
    /// Sleeps `duration`, durably. What to do is decided at once; the
    /// future writes and waits, and does not hold the execution.
    pub(crate) fn sleep(
        &mut self,
        duration: Duration,
    ) -> impl Future<Output = Result<Result<(), CallFailure>, Stop>> + Send + 'static {
        let decided = if duration > MAX_SLEEP {
            Ok(Err(CallFailure::Context(format!(
                "a sleep of {duration:?} is longer than the longest a flow may sleep ({MAX_SLEEP:?})"
            ))))
        } else {
            self.take_step(SLEEP, sleep_input(duration)).map(Ok)
        };
        let runner = self.ctx.runner.clone();
        let exec = self.ctx.exec;
        let cancel = self.cancel.clone();
        async move {
            let step = match decided? {
                Err(refused) => return Ok(Err(refused)),
                Ok(Taken::Done(_)) => return Ok(Ok(())),
                Ok(Taken::Open(step)) => step,
            };
            if let Some(preset) = step.preset.clone() {
                step.complete(&runner, exec, preset, &[], 0).await?;
                return Ok(Ok(()));
            }
            let started = runner.clock.now_us();
            let due = step.due_at_us.unwrap_or_else(|| {
                let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
                started.saturating_add(micros)
            });
            let left = Duration::from_micros(due.saturating_sub(started));
            if left >= PARK_AFTER {
                step.open(&runner, exec, due, &[]).await?;
                return Err(Stop::Parked(due));
            }
            wait_out(left, &cancel).await?;
            let took = runner.clock.now_us().saturating_sub(started);
            finish(step, &runner, exec, took).await?;
            Ok(Ok(()))
        }
    }
}

/// The step's input: what the flow asked for, so that a resumed flow that
/// asks for another duration is caught as non-deterministic.
fn sleep_input(duration: Duration) -> String {
    // Whole milliseconds, rounded up: the WIT speaks in milliseconds.
    let ms = duration.as_micros().div_ceil(1000);
    format!("{{\"duration_ms\":{ms}}}")
}

/// Sleeps in place, unless the execution is cancelled meanwhile.
async fn wait_out(
    left: Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), Stop> {
    if left.is_zero() {
        return Ok(());
    }
    tokio::select! {
        () = tokio::time::sleep(left) => Ok(()),
        () = cancel.cancelled() => Err(Stop::Cancelled),
    }
}

async fn finish(
    step: OpenStep,
    runner: &crate::runner::Runner,
    exec: crate::model::ExecutionId,
    took_us: u64,
) -> Result<(), Stop> {
    let ended = (CallSource::Executed, "null".to_owned());
    step.complete(runner, exec, ended, &[], took_us).await
}
