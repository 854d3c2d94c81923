//! The progress of an execution another worker runs, for an event stream
//! that follows it (`GET /events?execution=ID`) on a journal several
//! workers share: a worker's events are its own runs' only, so while
//! another worker runs the execution, its stream reads the journal every
//! [`LOOK_EVERY`] and tells what changed there as the events the runner
//! would have sent — `execution_resumed`, `call_completed` for each call
//! completed since, `execution_finished` when it stops running.
//!
//! What the stream has told (from this worker's events, or from the
//! journal) is kept in [`Told`], shared with the stream, so a change is
//! told once whichever way it came. A look is skipped while this worker
//! runs the execution: its events come through the stream then.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cairn_host::{CallStatus, Event, ExecutionDetail, ExecutionStatus, ExecutionSummary, Host};
use tokio::sync::mpsc;

use super::since;
use crate::supervisor::Supervisor;

/// How often the journal is read while another worker runs the execution.
pub(crate) const LOOK_EVERY: Duration = Duration::from_millis(500);

/// What a stream has told of its execution.
#[derive(Debug, Default)]
pub(crate) struct Told {
    status: Option<ExecutionStatus>,
    calls: u32,
    completed: BTreeSet<u32>,
}

impl Told {
    /// Notes an event the stream passed on from this worker.
    pub(crate) fn saw(&mut self, event: &Event) {
        match event {
            Event::ExecutionStarted { .. } | Event::ExecutionResumed { .. } => {
                self.status = Some(ExecutionStatus::Running);
            }
            Event::ExecutionFinished { status, .. } => self.status = Some(*status),
            Event::CallCompleted { seq, .. } => {
                self.completed.insert(*seq);
            }
            _ => {}
        }
    }

    /// The events that tell what changed between what was told and
    /// `detail`, noting them told.
    fn news(&mut self, detail: &ExecutionDetail) -> Vec<Event> {
        let exec = detail.execution.id;
        let status = detail.execution.status;
        let mut news = Vec::new();
        if status == ExecutionStatus::Running && self.status != Some(status) {
            news.push(Event::ExecutionResumed { exec });
        }
        for call in &detail.calls {
            if call.status == CallStatus::Completed && self.completed.insert(call.seq) {
                news.push(Event::CallCompleted {
                    exec,
                    seq: call.seq,
                    call_id: call.call_id.clone(),
                    source: call.source,
                    duration_us: took_us(call.attempts.last()),
                });
            }
        }
        if status != ExecutionStatus::Running && self.status != Some(status) {
            news.push(Event::ExecutionFinished { exec, status });
        }
        self.status = Some(status);
        self.calls = detail.execution.call_count;
        news
    }
}

fn lock(told: &Mutex<Told>) -> std::sync::MutexGuard<'_, Told> {
    // What was told stays whole whatever a holder did.
    told.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long an attempt took, from its journaled times (0 when it has not
/// ended, or nothing ran).
fn took_us(attempt: Option<&cairn_host::AttemptView>) -> u64 {
    let Some(attempt) = attempt else { return 0 };
    let started = since::parse(&attempt.started_at);
    let ended = attempt.ended_at.as_deref().and_then(since::parse);
    match (started, ended) {
        (Some(started), Some(ended)) => ended.saturating_sub(started),
        _ => 0,
    }
}

/// Starts following execution `id` in the journal for a stream, from what
/// `told` holds; the events come on the receiver, which ends once the
/// execution can have no more, or the stream is dropped. `None` on a
/// journal no other worker shares: every event is this worker's then.
pub(crate) fn follow(
    host: &Host,
    supervisor: &Arc<Supervisor>,
    snapshot: &ExecutionSummary,
    told: Arc<Mutex<Told>>,
) -> Option<mpsc::Receiver<Event>> {
    if !host.journal_is_shared() {
        return None;
    }
    let id = snapshot.id;
    {
        let mut told = lock(&told);
        told.status = Some(snapshot.status);
        told.calls = snapshot.call_count;
    }
    let (send, receive) = mpsc::channel(64);
    let (host, supervisor) = (host.clone(), supervisor.clone());
    tokio::spawn(async move {
        // The calls completed when the stream opened, read right after its
        // snapshot, are not news.
        if let Ok(Some(detail)) = host.client().execution(id).await {
            let mut told = lock(&told);
            for call in &detail.calls {
                if call.status == CallStatus::Completed {
                    told.completed.insert(call.seq);
                }
            }
        }
        let mut ticks = tokio::time::interval(LOOK_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if send.is_closed() {
                return;
            }
            if supervisor.runs_here(id) {
                continue;
            }
            let client = host.client();
            // Read whole only when something moved: its status or its calls.
            let Ok(Some(summary)) = client.summary(id).await else {
                continue;
            };
            let moved = {
                let told = lock(&told);
                told.status != Some(summary.status) || told.calls != summary.call_count
            };
            if !moved {
                continue;
            }
            let Ok(Some(detail)) = client.execution(id).await else {
                continue;
            };
            let news = lock(&told).news(&detail);
            for event in news {
                if send.send(event).await.is_err() {
                    return;
                }
            }
            if matches!(
                detail.execution.status,
                ExecutionStatus::Completed | ExecutionStatus::Cancelled
            ) {
                return;
            }
        }
    });
    Some(receive)
}
