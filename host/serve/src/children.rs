//! Child flows in a server. A child runs in the process of the flow that
//! started it, outside the supervisor's slots, so the supervisor does not
//! see its end: this follows the host's events instead. A child that
//! stops waiting on a timer (it sleeps, or a retry is parked) gets its
//! wake-up, as a run of the supervisor does; a child that ends (completed,
//! failed, cancelled) resumes its parent if the parent waits for it (it
//! was answered, or woken, after its parent stopped).
//!
//! A child can end in another process (a worker sharing the journal) while
//! its parent is still stopping to wait for it, and find the parent still
//! running. So the other side looks too: a parent whose run stops waiting,
//! and every waiting parent when the server starts (or missed events),
//! is resumed at once if a child it waits for has ended. One of the two
//! looks comes after both writes, whatever their order.

use std::sync::Arc;
use std::time::Duration;

use cairn_host::{Event, ExecutionFilter, ExecutionId, ExecutionStatus, Host};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::supervisor::Supervisor;

/// How often, and how many times, an ended child looks again at a parent
/// still running: it may be about to stop and wait for the child (its run
/// saw the child running elsewhere).
const PARENT_LOOK: Duration = Duration::from_millis(500);
const PARENT_LOOKS: u32 = 10;

/// Follows the ends of child flows until `stopping`.
pub(crate) fn follow(host: Host, supervisor: Arc<Supervisor>, stopping: CancellationToken) {
    let mut events = host.subscribe();
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                () = stopping.cancelled() => return,
            };
            match event {
                Ok(Event::ExecutionFinished { exec, status }) => {
                    let (host, supervisor) = (host.clone(), supervisor.clone());
                    tokio::spawn(async move { ended(&host, &supervisor, exec, status).await });
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "events were missed; looking for waiting parents whose children ended"
                    );
                    let (host, supervisor) = (host.clone(), supervisor.clone());
                    tokio::spawn(async move { resume_parents_of_ended(&host, &supervisor).await });
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}

async fn ended(
    host: &Host,
    supervisor: &Arc<Supervisor>,
    exec: ExecutionId,
    status: ExecutionStatus,
) {
    let parent = match host.client().parent_of(exec).await {
        Ok(Some(link)) => link.id,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(exec = %exec, error = %e, "cannot read the parent of an execution that ended");
            return;
        }
    };
    match status {
        // A run of the supervisor gets its wake-up when it returns.
        ExecutionStatus::Waiting if !supervisor.runs_here(exec) => {
            supervisor.wake_when_due(exec).await;
        }
        ExecutionStatus::Completed | ExecutionStatus::Failed | ExecutionStatus::Cancelled => {
            resume_waiting(host, supervisor, parent).await;
        }
        _ => {}
    }
}

/// Resumes `parent` if it waits (for its child, which just ended).
async fn resume_waiting(host: &Host, supervisor: &Arc<Supervisor>, parent: ExecutionId) {
    for _ in 0..PARENT_LOOKS {
        let status = match host.client().summary(parent).await {
            Ok(Some(summary)) => summary.status,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(exec = %parent, error = %e, "cannot read the parent of a child flow that ended");
                return;
            }
        };
        match status {
            ExecutionStatus::Waiting => {
                supervisor.wake_at(parent, 0);
                return;
            }
            ExecutionStatus::Running if !supervisor.is_draining() => {
                tokio::time::sleep(PARENT_LOOK).await;
            }
            _ => return,
        }
    }
}

/// Resumes `parent`, which has just stopped to wait, if a child it waits
/// for has ended meanwhile.
pub(crate) async fn resume_if_a_child_ended(
    host: &Host,
    supervisor: &Arc<Supervisor>,
    parent: ExecutionId,
) {
    match host.client().ended_children_awaited(parent).await {
        Ok(ended) if !ended.is_empty() => supervisor.wake_at(parent, 0),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(exec = %parent, error = %e, "cannot read the children a waiting execution waits for");
        }
    }
}

/// Resumes every waiting execution whose flow waits for a child that has
/// ended: on start, and when events were missed. Reads them a page at a
/// time, since a journal may hold any number.
pub(crate) async fn resume_parents_of_ended(host: &Host, supervisor: &Arc<Supervisor>) {
    const PAGE: usize = 500;
    let mut after = None;
    loop {
        let waiting = ExecutionFilter {
            status: Some(ExecutionStatus::Waiting),
            after,
            limit: Some(PAGE),
            ..ExecutionFilter::default()
        };
        let page = match host.client().executions(&waiting).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the waiting executions");
                return;
            }
        };
        for parent in &page {
            resume_if_a_child_ended(host, supervisor, parent.id).await;
        }
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(last.id),
            _ => return,
        }
    }
}
