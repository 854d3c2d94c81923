//! `/executions`: start, list, show, logs, input, resume, cancel, replay.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use cairn_host::{
    Clock, Component, ExecutionDetail, ExecutionFilter, ExecutionId, ExecutionStatus,
    ExecutionSummary, ReplayRequest, SystemClock, TimerKind,
};
use serde::{Deserialize, Serialize};

use super::ends::Ends;
use super::{Shared, extract, since};
use crate::api::{
    Accepted, AnswerRequest, DEFAULT_PAGE, ExecutionPage, JsonAnswer, MAX_PAGE, MAX_WAIT, PREFIX,
    ReplayBody, StartRequest, parse_wait,
};
use crate::error::ApiError;

/// `202 Accepted` with the execution's place.
fn accepted(accepted: &Accepted) -> Response {
    let location = format!("{PREFIX}/executions/{}", accepted.id);
    (
        StatusCode::ACCEPTED,
        [(LOCATION, location)],
        JsonAnswer(accepted),
    )
        .into_response()
}

/// The query of a request that starts work: `?wait=30s` holds the answer
/// until the execution stops running (completed, failed, cancelled or
/// waiting), for at most that long.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WaitQuery {
    wait: Option<String>,
}

/// How long a request waits for its execution to stop running, and the
/// ends seen before it started work (see [`Ends::mark`]).
struct Waiting {
    wait: std::time::Duration,
    mark: u64,
}

impl Waiting {
    fn from_query(
        query: Result<Query<WaitQuery>, QueryRejection>,
        ends: &Ends,
    ) -> Result<Option<Waiting>, ApiError> {
        let Some(text) = extract::query(query)?.wait else {
            return Ok(None);
        };
        let wait = parse_wait(&text).ok_or_else(|| {
            ApiError::bad_request(
                "bad_wait",
                format!(
                    "`wait` must be a duration like 30s, 250ms or 2m, at most {}s, not `{}`",
                    MAX_WAIT.as_secs(),
                    extract::cut(&text)
                ),
            )
        })?;
        Ok(Some(Waiting {
            wait,
            mark: ends.mark(),
        }))
    }
}

/// The answer to a request that started `started`: `202` at once, or with
/// `?wait=`, `200` with the execution's summary once it stops running
/// (`202` if it still runs when the wait is over or the server shuts down).
async fn answer_started(
    state: &Shared,
    ends: &Ends,
    started: Accepted,
    waiting: Option<Waiting>,
) -> Result<Response, ApiError> {
    let Some(Waiting { wait, mark }) = waiting else {
        return Ok(accepted(&started));
    };
    let id = started.id;
    // However this request ends (answered, timed out, its client gone),
    // its place among those waiting for `id` is given back.
    let _place = Place { ends, id };
    let stopped = tokio::select! {
        stopped = stopped(state, ends, id, mark) => stopped?,
        () = tokio::time::sleep(wait) => None,
        () = state.shutdown.cancelled() => None,
    };
    match stopped {
        Some(summary) => {
            let location = format!("{PREFIX}/executions/{id}");
            Ok((StatusCode::OK, [(LOCATION, location)], JsonAnswer(summary)).into_response())
        }
        None => Ok(accepted(&started)),
    }
}

/// A request's place among those waiting for execution `id`.
struct Place<'a> {
    ends: &'a Ends,
    id: ExecutionId,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.ends.gave_up(self.id);
    }
}

/// Execution `id`'s summary once it no longer runs; `None` if the server's
/// events end first. Each signal (its end, or events missed) is checked
/// against the journal, and a run still going is waited for again.
async fn stopped(
    state: &Shared,
    ends: &Ends,
    id: ExecutionId,
    mark: u64,
) -> Result<Option<ExecutionSummary>, ApiError> {
    loop {
        let (stop, lately) = ends.wait_for(id, mark);
        if lately && let Some(summary) = not_running(state, id).await? {
            return Ok(Some(summary));
        }
        if stop.await.is_err() {
            return Ok(None);
        }
        // Still running: resumed again meanwhile, or woken by a lag.
        if let Some(summary) = not_running(state, id).await? {
            return Ok(Some(summary));
        }
    }
}

async fn not_running(
    state: &Shared,
    id: ExecutionId,
) -> Result<Option<ExecutionSummary>, ApiError> {
    let summary = state
        .host
        .client()
        .summary(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no execution {id}")))?;
    Ok((summary.status != ExecutionStatus::Running).then_some(summary))
}

fn path_id(path: Result<Path<String>, PathRejection>) -> Result<ExecutionId, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::bad_request("bad_path", e.body_text()))?;
    extract::execution_id(&id)
}

async fn component(state: &Shared, hash: &str) -> Result<Component, ApiError> {
    let hash = extract::component_hash(hash)?;
    state.components.get(hash).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no component {hash}; upload it first (POST {PREFIX}/components)"
        ))
    })
}

/// `POST /executions?wait=` `{"component", "flow", "input"}`: starts the
/// flow as a new execution in the background (`202` with its id, once it
/// has a slot; see [`WaitQuery`] for `200` with its end).
pub(crate) async fn start(
    state: Shared,
    Extension(ends): Extension<Arc<Ends>>,
    query: Result<Query<WaitQuery>, QueryRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let waiting = Waiting::from_query(query, &ends)?;
    let request: StartRequest = extract::json(body, state.config.max_json_bytes).await?;
    let component = component(&state, &request.component).await?;
    let flow = match request.flow {
        Some(flow) => flow,
        None => {
            let flows = component.manifest().flow_names();
            match flows.as_slice() {
                [only] => only.clone(),
                _ => {
                    return Err(ApiError::bad_request(
                        "unknown_flow",
                        format!(
                            "the component has {} flows; name one with \"flow\": {}",
                            flows.len(),
                            flows.join(", ")
                        ),
                    ));
                }
            }
        }
    };
    let input = request.input.to_string();
    let started = state.supervisor.start(&component, &flow, &input).await?;
    answer_started(&state, &ends, started, waiting).await
}

/// The query of `GET /executions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    status: Option<ExecutionStatus>,
    flow: Option<String>,
    /// Created at or after: RFC 3339 (`2026-12-01T10:00:00Z`) or seconds
    /// since the Unix epoch.
    since: Option<String>,
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<ExecutionId>,
}

/// `GET /executions?status=&flow=&since=&limit=&cursor=`: newest first, a
/// page at a time.
pub(crate) async fn list(
    state: Shared,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<JsonAnswer<ExecutionPage>, ApiError> {
    let query = extract::query(query)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(
            "bad_query",
            format!("`limit` must be from 1 to {MAX_PAGE}"),
        ));
    }
    let created_since_us = query
        .since
        .as_deref()
        .map(|s| {
            since::parse(s).ok_or_else(|| {
                ApiError::bad_request(
                    "bad_query",
                    format!(
                        "`since` must be RFC 3339 (2026-12-01T10:00:00Z) or seconds since the epoch, not `{}`",
                        extract::cut(s)
                    ),
                )
            })
        })
        .transpose()?;
    let filter = ExecutionFilter {
        status: query.status,
        flow: query.flow,
        created_since_us,
        before: query.cursor,
        // One more than the page tells whether there is a next one.
        limit: Some(limit + 1),
        newest_first: true,
        ..ExecutionFilter::default()
    };
    let mut executions = state.host.client().executions(&filter).await?;
    let next_cursor = if executions.len() > limit {
        executions.truncate(limit);
        executions.last().map(|e| e.id)
    } else {
        None
    };
    Ok(JsonAnswer(ExecutionPage {
        executions,
        next_cursor,
    }))
}

async fn detail(state: &Shared, id: ExecutionId) -> Result<ExecutionDetail, ApiError> {
    state
        .host
        .client()
        .execution(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no execution {id}")))
}

/// `GET /executions/{id}`: the execution with its calls, attempts and waits
/// (the JSON of `cairn executions show --json`).
pub(crate) async fn show(
    state: Shared,
    id: Result<Path<String>, PathRejection>,
) -> Result<JsonAnswer<ExecutionDetail>, ApiError> {
    let id = path_id(id)?;
    Ok(JsonAnswer(detail(&state, id).await?))
}

/// The query of `GET /executions/{id}/logs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogsQuery {
    /// Only this call's attempts (a call id, a checkpoint called once, or
    /// a seq).
    call: Option<String>,
}

/// The logs of an execution.
#[derive(Debug, Serialize)]
pub(crate) struct Logs {
    /// The flow's own stdout, stderr and `log` lines (absent with `call`).
    flow_log: Option<String>,
    /// Each attempt's captured output.
    attempts: Vec<AttemptLog>,
}

#[derive(Debug, Serialize)]
struct AttemptLog {
    call_id: String,
    seq: u32,
    attempt: u32,
    stdout: String,
    stderr: String,
}

/// `GET /executions/{id}/logs?call=SELECTOR`.
pub(crate) async fn logs(
    state: Shared,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<LogsQuery>, QueryRejection>,
) -> Result<JsonAnswer<Logs>, ApiError> {
    let id = path_id(id)?;
    let query = extract::query(query)?;
    let detail = detail(&state, id).await?;
    let calls = match &query.call {
        Some(selector) => vec![
            detail
                .call(selector)
                .map_err(|e| ApiError::bad_request("unknown_selector", e.to_string()))?
                .clone(),
        ],
        None => detail.calls.clone(),
    };
    let attempts = calls
        .iter()
        .flat_map(|c| {
            c.attempts.iter().map(|a| AttemptLog {
                call_id: c.call_id.clone(),
                seq: c.seq,
                attempt: a.n,
                stdout: a.stdout.clone(),
                stderr: a.stderr.clone(),
            })
        })
        .collect();
    Ok(JsonAnswer(Logs {
        flow_log: query.call.is_none().then_some(detail.flow_log),
        attempts,
    }))
}

/// `POST /executions/{id}/input?wait=` `{"wait", "value", "resume"}`:
/// supplies a wait's value (checked against its schema) and, unless
/// `"resume": false`, resumes the execution (`202`, or its end with
/// `?wait=`); else `200` with its status.
pub(crate) async fn input(
    state: Shared,
    Extension(ends): Extension<Arc<Ends>>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<WaitQuery>, QueryRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let waiting = Waiting::from_query(query, &ends)?;
    let request: AnswerRequest = extract::json(body, state.config.max_json_bytes).await?;
    state
        .host
        .answer(id, &request.wait, &request.value.to_string())
        .await?;
    let status = detail_status(&state, id).await?;
    // Parked on a retry not yet due, it is resumed by the server then.
    if request.resume && status == ExecutionStatus::Waiting && not_due(&state, id).await?.is_none()
    {
        let started = state.supervisor.resume(id).await?;
        return answer_started(&state, &ends, started, waiting).await;
    }
    Ok((StatusCode::OK, JsonAnswer(Accepted { id, status })).into_response())
}

async fn detail_status(state: &Shared, id: ExecutionId) -> Result<ExecutionStatus, ApiError> {
    state
        .host
        .client()
        .summary(id)
        .await?
        .map(|e| e.status)
        .ok_or_else(|| ApiError::not_found(format!("no execution {id}")))
}

/// `POST /executions/{id}/resume?wait=`: resumes a failed or waiting
/// execution (or one a crash left running) in the background. One parked
/// on a retry that is not due yet is refused, `409 not_due` naming the
/// time: the server resumes it then by itself, and a resume now would only
/// hold an execution slot while it waited.
pub(crate) async fn resume(
    state: Shared,
    Extension(ends): Extension<Arc<Ends>>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let waiting = Waiting::from_query(query, &ends)?;
    if detail_status(&state, id).await? == ExecutionStatus::Waiting
        && let Some(message) = not_due(&state, id).await?
    {
        return Err(ApiError::new(StatusCode::CONFLICT, "not_due", message));
    }
    let started = state.supervisor.resume(id).await?;
    answer_started(&state, &ends, started, waiting).await
}

/// If execution `id` has retries parked and none is due yet (on the
/// server's clock, the one its wake-ups use), why it cannot be resumed now.
async fn not_due(state: &Shared, id: ExecutionId) -> Result<Option<String>, ApiError> {
    let retries = state.host.client().retries(Some(id)).await?;
    // A wait's deadline holds nothing back: an answer is taken at once.
    let Some(next) = (retries.iter().map(|(_, r)| r))
        .filter(|r| r.kind != TimerKind::WaitDeadline)
        .min_by_key(|r| r.due_at_us)
    else {
        return Ok(None);
    };
    if next.due_at_us <= SystemClock.now_us() {
        return Ok(None);
    }
    if next.kind == TimerKind::Sleep {
        return Ok(Some(format!(
            "execution {id} sleeps until {}; the server resumes it then by itself",
            next.due_at
        )));
    }
    Ok(Some(format!(
        "execution {id} is parked until its retry of `{}` (attempt {}) is due at {}; the server resumes it then by itself",
        next.call_id, next.attempt, next.due_at
    )))
}

/// `POST /executions/{id}/cancel`: a running execution stops at its next
/// request to the runner; a waiting or failed one is marked cancelled.
pub(crate) async fn cancel(
    state: Shared,
    id: Result<Path<String>, PathRejection>,
) -> Result<JsonAnswer<Accepted>, ApiError> {
    let id = path_id(id)?;
    state.host.cancel(id).await?;
    Ok(JsonAnswer(Accepted {
        id,
        status: ExecutionStatus::Cancelled,
    }))
}

/// `POST /executions/{id}/replay?wait=` `{"from", "overrides", "input",
/// "component", "answers"}`: a new execution that reuses this one's
/// outputs (`202` with the new id, or its end with `?wait=`).
pub(crate) async fn replay(
    state: Shared,
    Extension(ends): Extension<Arc<Ends>>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<WaitQuery>, QueryRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let source = path_id(id)?;
    let waiting = Waiting::from_query(query, &ends)?;
    let body: ReplayBody = extract::json(body, state.config.max_json_bytes).await?;
    let mut request = ReplayRequest::default();
    if let Some(from) = body.from {
        request = request.from(from);
    }
    for (selector, output) in body.overrides {
        request = request.override_output(selector, output.to_string());
    }
    if let Some(input) = body.input {
        request = request.input(input.to_string());
    }
    if let Some(hash) = body.component {
        request = request.component(component(&state, &hash).await?);
    }
    for (name, value) in body.answers {
        request = request.answer(name, value.to_string());
    }
    let started = state.supervisor.replay(source, request).await?;
    answer_started(&state, &ends, started, waiting).await
}
