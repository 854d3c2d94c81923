//! The server's scheduler: starts the runs of the journal's schedules when
//! they are due (see `cairn_host::Host::start_scheduled`). It reads the
//! schedules at least every [`MAX_NAP`] (another worker of a shared journal
//! may have changed them), and at once when a route here changes one; a
//! run takes an execution slot like any start. Of several workers that see
//! a run due, the journal lets one start it; the others see it moved on.
//! Runs missed while no server ran follow each schedule's catch-up policy:
//! the first look after a start finds them.

use std::sync::Arc;
use std::time::Duration;

use cairn_host::{Clock, Due, Host, RunError, SystemClock};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::supervisor::Supervisor;

/// The longest the scheduler sleeps between two looks at the schedules.
const MAX_NAP: Duration = Duration::from_secs(1);

/// Starts the scheduler; it stops when `stop` is cancelled. `wake` makes it
/// look again at once.
pub(crate) fn start(
    host: Host,
    supervisor: Arc<Supervisor>,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        loop {
            let nap = look(&host, &supervisor).await;
            tokio::select! {
                () = tokio::time::sleep(nap) => {}
                () = wake.notified() => {}
                () = stop.cancelled() => return,
            }
            if supervisor.is_draining() {
                return;
            }
        }
    });
}

/// Starts or skips what is due now; returns how long until the next look.
async fn look(host: &Host, supervisor: &Arc<Supervisor>) -> Duration {
    let schedules = match host.schedules().await {
        Ok(schedules) => schedules,
        Err(e) => {
            tracing::warn!(error = %crate::error::chain(&e), "cannot read the schedules");
            return MAX_NAP;
        }
    };
    let now = SystemClock.now_us();
    let mut next = now.saturating_add(MAX_NAP.as_micros() as u64);
    for schedule in &schedules {
        match host.due(schedule, now) {
            Due::At(at) => next = next.min(at),
            Due::Run(due) => match supervisor.start_scheduled(&schedule.name, due).await {
                Ok(accepted) => {
                    tracing::info!(schedule = %schedule.name, exec = %accepted.id, "scheduled run started");
                }
                Err(e) if e.kind == "not_due" => {}
                // Busy: looked at again shortly.
                Err(e) => {
                    tracing::warn!(schedule = %schedule.name, error = %e.message, "scheduled run not started");
                    eprintln!(
                        "cairn serve: schedule {}: run not started: {}",
                        crate::routes::cut(&schedule.name),
                        e.message
                    );
                }
            },
            Due::Skip(due) => match host.skip_missed(&schedule.name, due).await {
                Ok(true) => {
                    tracing::info!(schedule = %schedule.name, "missed runs skipped");
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(schedule = %schedule.name, error = %crate::error::chain(&e), "cannot skip missed runs");
                }
            },
            _ => {}
        }
    }
    Duration::from_micros(next.saturating_sub(SystemClock.now_us()))
}

/// Whether a start refused a run because it was not due any more.
pub(crate) fn is_not_due(error: &RunError) -> bool {
    matches!(error, RunError::NotDue { .. })
}
