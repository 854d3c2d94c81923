//! Running one submitted call: the cache, then attempts in order, numbered
//! after any earlier ones. Before an attempt starts, the call and the
//! attempt are written lazily (visible at once, on disk with the next durable
//! commit); when the call finishes, its final record is committed durably —
//! sharing the commit with whatever else finished meanwhile — and only then
//! is the outcome handed to the flow.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Runner;
use super::cache;
use crate::call::{CallFailure, CallOutcome, Stop};
use crate::component::Component;
use crate::events::Event;
use crate::journal::record::{AttemptRecord, CallRecord, TimerRecord};
use crate::journal::{Entry, Sync};
use crate::manifest::CheckpointInfo;
use crate::model::{AttemptOutcome, CallSource, CallStatus, ExecutionId};
use crate::policy::Policy;
use crate::runtime::attempt_info::AttemptId;
use crate::runtime::inline::InlineRuntime;
use crate::runtime::isolated;
use crate::runtime::outcome::{AttemptReport, AttemptResult};

/// The longest pause between two attempts of a call.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// The shortest pause before a retry that parks the execution (its timer
/// journaled, its flow unloaded, resumed when the retry is due) instead of
/// holding the flow's instance while it passes. Parking costs a durable
/// commit, unloading the flow and replaying it up to the call; below a
/// second that outweighs what the held instance costs, and what a crash
/// during the pause loses (the retry runs at once on resume, under a second
/// early) does not matter.
pub(crate) const PARK_AFTER: Duration = Duration::from_secs(1);

/// What every call of an execution shares.
pub(crate) struct CallContext {
    pub(crate) exec: ExecutionId,
    pub(crate) runner: Arc<Runner>,
    /// The execution's cancel token: a cancelled execution starts no
    /// further attempt (an attempt already running finishes and is
    /// journaled).
    pub(crate) cancel: CancellationToken,
}

/// A call ready to run.
pub(crate) struct Job {
    pub(crate) seq: u32,
    /// The component whose checkpoint it calls.
    pub(crate) component: Component,
    pub(crate) call: CallRecord,
    pub(crate) info: CheckpointInfo,
    /// The number of its first attempt (after earlier runs' attempts).
    pub(crate) first_attempt: u32,
    /// Whether it may use and fill the cache.
    pub(crate) cached: bool,
    /// For a replay: an output decided without running (reused or
    /// overridden), and where it came from.
    pub(crate) preset: Option<(CallSource, String)>,
    /// The retry timer the call parked on in an earlier run, if it did.
    pub(crate) timer: Option<TimerRecord>,
}

/// Where an attempt runs.
pub(crate) enum Lane<'a> {
    /// In the execution's shared store.
    Inline(&'a mut InlineRuntime),
    /// In a fresh store, within the host's isolated pool.
    Isolated,
}

/// Runs a call to its end and journals it.
pub(crate) async fn run(ctx: &CallContext, job: Job, mut lane: Lane<'_>) -> CallOutcome {
    match attempts(ctx, job, &mut lane).await {
        Ok(outcome) => CallOutcome::Finished(outcome),
        Err(stop) => CallOutcome::Stopped(stop),
    }
}

async fn attempts(
    ctx: &CallContext,
    job: Job,
    lane: &mut Lane<'_>,
) -> Result<Result<String, CallFailure>, Stop> {
    let Job {
        seq,
        component,
        mut call,
        info,
        first_attempt: first,
        cached,
        preset,
        timer,
    } = job;
    let exec = ctx.exec;
    let runner = &ctx.runner;
    if let Some((source, output)) = preset {
        return complete_without_running(ctx, seq, call, (source, output), timer.is_some()).await;
    }
    let policy = runner.policy.tightened(&info.limits);
    let grants = if cached {
        policy.grants()
    } else {
        String::new()
    };
    if cached {
        let hit = cache::lookup(
            &*runner.journal,
            component.hash(),
            &grants,
            &call.name,
            &call.input,
        )
        .await?;
        // An output cached under a roomier policy that this one would
        // refuse runs again instead.
        let fits = |output: &String| {
            crate::guest_text::check_output(output, policy.max_output_bytes).is_ok()
        };
        if let Some(output) = hit.filter(fits) {
            let cached = (CallSource::Cached, output);
            return complete_without_running(ctx, seq, call, cached, timer.is_some()).await;
        }
    }
    // Retries are counted from the call's first attempt of this series: a
    // call that parked goes on from the retry its timer holds, so a park
    // neither resets the retries left nor the doubling of the delay.
    let resumed_retry = timer.as_ref().map_or(0, |t| t.retry);
    let last_retry = info.retries.max(resumed_retry);
    let mut pause = match &timer {
        Some(t) => {
            let left = Duration::from_micros(t.due_at_us.saturating_sub(runner.clock.now_us()));
            // Woken before its time (by another call's timer): it parks
            // again on the timer it has.
            if left >= PARK_AFTER {
                return Err(Stop::Parked(t.due_at_us));
            }
            left
        }
        None => Duration::ZERO,
    };
    for (retry, n) in (resumed_retry..=last_retry).zip(first..) {
        if !pause.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(std::mem::take(&mut pause)) => {}
                () = ctx.cancel.cancelled() => {}
            }
        }
        if ctx.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        call.attempts = n;
        let mut attempt = AttemptRecord {
            started_at_us: runner.clock.now_us(),
            ended_at_us: None,
            outcome: None,
            fuel_used: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
            policy: Some(policy.record()),
        };
        // The start of an attempt is not waited for: it only has to be
        // committed before the attempt's end, which the writer's order
        // guarantees.
        let mut starting = vec![
            call_entry(exec, seq, &call),
            attempt_entry(exec, seq, n, &attempt),
        ];
        if retry == resumed_retry && timer.is_some() {
            starting.push(Entry::TimerDone { exec, seq });
        }
        runner.journal.queue(&starting)?;
        runner.emit(Event::AttemptStarted {
            exec,
            seq,
            call_id: call.call_id.clone(),
            checkpoint: call.name.clone(),
            runtime: call.runtime,
            attempt: n,
        });
        let attempt_id = AttemptId {
            exec: exec.0,
            seq,
            call_id: call.call_id.clone(),
            number: n,
        };
        let report = attempt_once(
            ctx,
            &component,
            lane,
            &policy,
            (&call.name, attempt_id),
            &call.input,
        )
        .await;
        attempt.ended_at_us = Some(runner.clock.now_us());
        attempt.fuel_used = report.fuel_used;
        attempt.stdout = report.stdout;
        attempt.stderr = report.stderr;
        let error = match report.result {
            AttemptResult::Output(output) => {
                attempt.outcome = Some(AttemptOutcome::Ok);
                call.status = CallStatus::Completed;
                call.output = Some(output.clone());
                let mut entries = vec![
                    call_entry(exec, seq, &call),
                    attempt_entry(exec, seq, n, &attempt),
                ];
                if cached {
                    entries.push(Entry::Cache {
                        key: cache::key(component.hash(), &grants, &call.name, &call.input),
                        exec,
                        seq,
                    });
                }
                write(runner, &entries, runner.ack_sync()).await?;
                let took = attempt
                    .ended_at_us
                    .unwrap_or(0)
                    .saturating_sub(attempt.started_at_us);
                completed(runner, exec, seq, &call, took);
                return Ok(Ok(output));
            }
            AttemptResult::Failed(message) => {
                attempt.outcome = Some(AttemptOutcome::Failed {
                    message: message.clone(),
                });
                CallFailure::Failed(message)
            }
            AttemptResult::Trapped(kind, message) => {
                attempt.outcome = Some(AttemptOutcome::Trapped {
                    kind,
                    message: message.clone(),
                });
                CallFailure::Trapped { kind, message }
            }
        };
        let out_of_attempts = retry == last_retry;
        if out_of_attempts {
            call.status = CallStatus::Failed;
        }
        let delay = retry_delay(runner, retry.saturating_add(1));
        let parked = (!out_of_attempts && delay >= PARK_AFTER).then(|| TimerRecord {
            call_id: call.call_id.clone(),
            attempt: n.saturating_add(1),
            retry: retry.saturating_add(1),
            due_at_us: attempt
                .ended_at_us
                .unwrap_or(attempt.started_at_us)
                .saturating_add(u64::try_from(delay.as_micros()).unwrap_or(u64::MAX)),
        });
        let mut entries = vec![attempt_entry(exec, seq, n, &attempt)];
        let sync = if out_of_attempts {
            entries.push(call_entry(exec, seq, &call));
            runner.ack_sync()
        } else if let Some(timer) = &parked {
            // The timer is the only thing that wakes the execution again:
            // it is durable with the failed attempt, whatever the host's
            // durability (the delay makes the fsync cheap by comparison).
            entries.push(Entry::Timer {
                exec,
                seq,
                record: timer,
            });
            Sync::Durable
        } else {
            Sync::Lazy
        };
        write(runner, &entries, sync).await?;
        runner.emit(Event::AttemptFailed {
            exec,
            seq,
            call_id: call.call_id.clone(),
            attempt: n,
            outcome: attempt.outcome.clone().unwrap_or(AttemptOutcome::Ok),
            will_retry: !out_of_attempts,
        });
        if out_of_attempts {
            return Ok(Err(error));
        }
        if let Some(timer) = parked {
            return Err(Stop::Parked(timer.due_at_us));
        }
        pause = delay;
    }
    unreachable!("the loop runs at least once and returns on its last attempt")
}

/// Completes a call with an output that needs no attempt (cached, or a
/// replay's reused or overridden output).
async fn complete_without_running(
    ctx: &CallContext,
    seq: u32,
    mut call: CallRecord,
    (source, output): (CallSource, String),
    had_timer: bool,
) -> Result<Result<String, CallFailure>, Stop> {
    let runner = &ctx.runner;
    call.status = CallStatus::Completed;
    call.source = source;
    call.output = Some(output.clone());
    let mut entries = vec![call_entry(ctx.exec, seq, &call)];
    // A parked call can find its output in the cache when it wakes: its
    // timer goes with its completion.
    if had_timer {
        entries.push(Entry::TimerDone {
            exec: ctx.exec,
            seq,
        });
    }
    write(runner, &entries, runner.ack_sync()).await?;
    completed(runner, ctx.exec, seq, &call, 0);
    Ok(Ok(output))
}

async fn attempt_once(
    ctx: &CallContext,
    component: &Component,
    lane: &mut Lane<'_>,
    policy: &Policy,
    name: (&str, AttemptId),
    input: &str,
) -> AttemptReport {
    let runner = &ctx.runner;
    match lane {
        Lane::Inline(inline) => {
            inline
                .attempt(
                    &runner.engine,
                    component,
                    policy,
                    &runner.clock,
                    name,
                    input,
                )
                .await
        }
        Lane::Isolated => {
            // The pool is never closed, so acquiring only fails if it were;
            // then the attempt runs without a permit rather than not at all.
            let _permit = runner.isolated_pool.acquire().await;
            isolated::attempt(
                &runner.engine,
                component,
                policy,
                &runner.clock,
                name,
                input,
            )
            .await
        }
    }
}

/// The pause before retry number `retry` (from 1): the policy's delay,
/// doubled for each further retry, at most a minute. A pause of at least
/// [`PARK_AFTER`] parks the execution.
fn retry_delay(runner: &Runner, retry: u32) -> Duration {
    let base = runner.policy.retry_delay;
    base.saturating_mul(1 << retry.saturating_sub(1).min(16))
        .min(MAX_RETRY_DELAY)
}

fn completed(runner: &Runner, exec: ExecutionId, seq: u32, call: &CallRecord, duration_us: u64) {
    runner.emit(Event::CallCompleted {
        exec,
        seq,
        call_id: call.call_id.clone(),
        source: call.source,
        duration_us,
    });
}

/// Writes a call's records. A lazy write is only queued: nothing waits for
/// a commit that skips the disk anyway (`eventual` durability), and the
/// writer's order keeps it before anything written later; a failure shows
/// up at the next write that is waited for.
async fn write(runner: &Runner, entries: &[Entry<'_>], sync: Sync) -> Result<(), Stop> {
    match sync {
        Sync::Lazy => runner.journal.queue(entries)?,
        Sync::Durable => runner.journal.write(entries, sync).await?,
    }
    Ok(())
}

fn call_entry(exec: ExecutionId, seq: u32, record: &CallRecord) -> Entry<'_> {
    Entry::Call { exec, seq, record }
}

fn attempt_entry(exec: ExecutionId, seq: u32, n: u32, record: &AttemptRecord) -> Entry<'_> {
    Entry::Attempt {
        exec,
        seq,
        n,
        record,
    }
}
