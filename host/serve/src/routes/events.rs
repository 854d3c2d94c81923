//! `GET /events?execution=ID`: progress as Server-Sent Events.
//!
//! Each event is named by its type (`execution_started`, `attempt_started`,
//! `attempt_failed`, `call_completed`, `execution_finished`, ...) and
//! carries the [`cairn_host::Event`] as JSON. Filtered by execution, the
//! stream opens with a `snapshot` event: the execution as it stands (its
//! summary), read after subscribing, so that nothing falls between the two.
//! A client too slow to keep up gets a `lagged` event with the number of
//! events it missed (read the execution again to catch up). A filtered
//! stream ends once its execution is completed or cancelled (it can have no
//! more events), so a client that follows one execution needs no other
//! request to know it is over. On a journal several workers share, a
//! stream that follows an execution another worker runs reads its progress
//! from the journal (see [`followed`](super::followed)).

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use cairn_host::{Event, ExecutionId, ExecutionStatus, ExecutionSummary};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::followed::{self, Told};
use super::{Shared, extract};
use crate::error::ApiError;

/// The query of `GET /events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsQuery {
    /// Only this execution's events.
    execution: Option<ExecutionId>,
}

/// One open stream.
struct Open {
    receiver: Receiver<Event>,
    execution: Option<ExecutionId>,
    snapshot: Option<ExecutionSummary>,
    /// The execution followed can have no more events: the stream ends.
    over: bool,
    /// What the stream has told of the execution followed, and its
    /// progress in other workers, read from a shared journal.
    told: Arc<Mutex<Told>>,
    elsewhere: Option<mpsc::Receiver<Event>>,
    shutdown: CancellationToken,
    /// Holds the stream's place among `max_streams`.
    _permit: OwnedSemaphorePermit,
}

/// `GET /events`.
pub(crate) async fn stream(
    state: Shared,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let query = extract::query(query)?;
    let permit = state.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::unavailable(format!(
            "{} event streams are open already",
            state.config.max_streams
        ))
    })?;
    // Subscribe first: whatever happens after the snapshot is read is in
    // the stream.
    let receiver = state.host.subscribe();
    let snapshot = match query.execution {
        Some(id) => Some(
            state
                .host
                .client()
                .summary(id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no execution {id}")))?,
        ),
        None => None,
    };
    let told = Arc::new(Mutex::new(Told::default()));
    let elsewhere = match &snapshot {
        Some(snapshot) if !is_final(snapshot.status) => {
            followed::follow(&state.host, &state.supervisor, snapshot, told.clone())
        }
        _ => None,
    };
    let open = Open {
        receiver,
        execution: query.execution,
        snapshot,
        over: false,
        told,
        elsewhere,
        shutdown: state.shutdown.clone(),
        _permit: permit,
    };
    let events = futures_util::stream::unfold(open, next);
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The stream's next event, or its end (the server shuts down).
async fn next(mut open: Open) -> Option<(Result<SseEvent, Infallible>, Open)> {
    if open.over {
        return None;
    }
    if let Some(snapshot) = open.snapshot.take() {
        open.over = is_final(snapshot.status);
        return Some((Ok(json_event("snapshot", &snapshot)), open));
    }
    loop {
        let received = tokio::select! {
            () = open.shutdown.cancelled() => return None,
            received = open.receiver.recv() => received,
            Some(event) = elsewhere(&mut open.elsewhere) => Ok(event),
        };
        match received {
            Ok(event) => {
                if open.execution.is_none_or(|id| event.exec() == id) {
                    if open.execution.is_some() {
                        lock(&open.told).saw(&event);
                    }
                    if let Event::ExecutionFinished { status, .. } = &event {
                        open.over = open.execution.is_some() && is_final(*status);
                    }
                    return Some((Ok(typed_event(&event)), open));
                }
            }
            Err(RecvError::Lagged(missed)) => {
                let event = SseEvent::default().event("lagged").data(missed.to_string());
                return Some((Ok(event), open));
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

/// The next event of the execution followed from the journal, when
/// another worker runs it; never, when nothing follows it there.
async fn elsewhere(followed: &mut Option<mpsc::Receiver<Event>>) -> Option<Event> {
    match followed {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

fn lock(told: &Mutex<Told>) -> std::sync::MutexGuard<'_, Told> {
    // What was told stays whole whatever a holder did.
    told.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether an execution in `status` can have no more events: a failed one
/// may be resumed, a waiting one answered.
fn is_final(status: ExecutionStatus) -> bool {
    matches!(
        status,
        ExecutionStatus::Completed | ExecutionStatus::Cancelled
    )
}

fn json_event(name: &str, value: &impl serde::Serialize) -> SseEvent {
    // Serializing our own types cannot fail; JSON text never holds a raw
    // newline, so it is one `data:` line.
    let data = cairn_host::json_out::to_string(value).unwrap_or_default();
    SseEvent::default().event(name).data(data)
}

/// An event named by its `type`.
fn typed_event(event: &Event) -> SseEvent {
    let value = serde_json::to_value(event).unwrap_or_default();
    let name = value
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("event")
        .to_owned();
    let data = cairn_host::json_out::to_string(&value).unwrap_or_default();
    SseEvent::default().event(name).data(data)
}
