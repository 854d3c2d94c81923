//! Following an execution on the server over its event stream, with the
//! progress lines a run on the journal prints.

use std::time::Duration;

use cairn_host::{Event, ExecutionDetail, ExecutionId, ExecutionStatus};
use cairn_serve::{ApiClient, EventStream};

use super::connection::exit;
use super::reads;
use crate::exit::Exit;
use crate::render::Progress;

/// How long the stream may stay silent before the execution is read.
const IDLE_CHECK: Duration = Duration::from_secs(10);

/// The server's stream of every execution's events, opened before the
/// request that starts work: the work's first events (its start, calls
/// that complete at once) may come before the server answers with the
/// execution's id, and must not fall between the answer and a stream
/// opened after it.
pub(crate) struct Watch {
    events: EventStream,
}

impl Watch {
    pub(crate) async fn open(client: &ApiClient) -> Result<Watch, Exit> {
        let events = client.events("/events").await.map_err(exit)?;
        Ok(Watch { events })
    }

    /// Prints execution `id`'s progress until it stops running
    /// (completed, failed, waiting or cancelled), then reads it.
    pub(crate) async fn follow(
        mut self,
        client: &ApiClient,
        id: ExecutionId,
    ) -> Result<ExecutionDetail, Exit> {
        let mut progress = Progress::default();
        loop {
            let next = tokio::time::timeout(IDLE_CHECK, self.events.next()).await;
            let Ok(next) = next else {
                // Nothing for a while: an end lost on the way (or an
                // execution the server stopped running without an end
                // event) is found by reading it.
                let detail = reads::detail(client, id).await?;
                if detail.execution.status != ExecutionStatus::Running && !parked(&detail) {
                    return Ok(detail);
                }
                continue;
            };
            let Some((name, data)) = next.map_err(exit)? else {
                // The server ended the stream: it is shutting down.
                let detail = reads::detail(client, id).await?;
                if detail.execution.status == ExecutionStatus::Running {
                    return Err(Exit::host(anyhow::anyhow!(
                        "the server ended its event stream while execution {id} was running (is it shutting down?); the next `cairn serve` on its journal resumes it"
                    )));
                }
                return Ok(detail);
            };
            if name == "lagged" {
                // Events were dropped for this slow reader: the end may be
                // among them, so the execution is read instead.
                let detail = reads::detail(client, id).await?;
                if detail.execution.status != ExecutionStatus::Running && !parked(&detail) {
                    return Ok(detail);
                }
                continue;
            }
            // An event this CLI does not know (a newer server) is skipped.
            let Ok(event) = serde_json::from_str::<Event>(&data) else {
                continue;
            };
            if event.exec() != id {
                continue;
            }
            progress.on(&event);
            if let Event::ExecutionFinished { status, .. } = event
                && status != ExecutionStatus::Running
            {
                let detail = reads::detail(client, id).await?;
                if !parked(&detail) {
                    return Ok(detail);
                }
                for retry in &detail.retries {
                    eprintln!(
                        "cairn: {}; the server resumes execution {id} then (Ctrl-C detaches)",
                        crate::timer_text::due(retry)
                    );
                }
            }
        }
    }
}

/// Whether the execution waits only for a call's retry to be due (it failed
/// with a retry delay of a second or more): the server resumes it by itself
/// then, so a run that follows it goes on following, as it does on a journal.
pub(crate) fn parked(detail: &ExecutionDetail) -> bool {
    detail.execution.status == ExecutionStatus::Waiting
        && !detail.retries.is_empty()
        && detail.waits.iter().all(|w| w.value.is_some())
}
