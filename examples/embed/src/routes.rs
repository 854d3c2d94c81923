//! The HTTP routes. Every error is a JSON `{"error": ...}` with a status
//! that says whose fault it was.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_host::{CancelError, ComponentHash, ExecutionId, Outcome, ResumeError, RunError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Service;
use crate::batch::Batch;

type Shared = State<Arc<Service>>;

pub(crate) fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/components", post(upload))
        .route("/executions", post(run))
        .route("/batches", post(batch))
        .route("/executions/{id}", get(show))
        .route("/executions/{id}/resume", post(resume))
        .route("/executions/{id}/cancel", post(cancel))
        .with_state(service)
}

/// A failed request: its status and message.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn bad_request(error: impl std::fmt::Display) -> Failure {
    Failure(StatusCode::BAD_REQUEST, error.to_string())
}

/// A run error's status: the caller's mistake, or the service's.
fn run_failure(error: RunError) -> Failure {
    let status = match &error {
        RunError::Journal(_) | RunError::Host { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    failure(status, error)
}

/// A resume error's status.
fn resume_failure(error: ResumeError) -> Failure {
    let status = match &error {
        ResumeError::UnknownExecution(_) => StatusCode::NOT_FOUND,
        ResumeError::AlreadyRunning(_) | ResumeError::Cancelled(_) => StatusCode::CONFLICT,
        ResumeError::UnregisteredFlow { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    failure(status, error)
}

/// A cancel error's status.
fn cancel_failure(error: CancelError) -> Failure {
    let status = match &error {
        CancelError::UnknownExecution(_) => StatusCode::NOT_FOUND,
        CancelError::NotCancellable { .. } | CancelError::Busy(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    failure(status, error)
}

/// The error and its causes, as one message (anyhow's `{:#}`).
fn failure(status: StatusCode, error: impl std::error::Error + Send + Sync + 'static) -> Failure {
    Failure(status, format!("{:#}", anyhow::Error::new(error)))
}

fn outcome_json(outcome: Outcome) -> Json<Value> {
    Json(json!({
        "id": outcome.id,
        "status": outcome.status,
        "output": outcome.output.and_then(|o| serde_json::from_str::<Value>(&o).ok()),
        "failure": outcome.failure,
    }))
}

/// `POST /components` with the component's bytes.
async fn upload(State(service): Shared, body: Bytes) -> Result<Json<Value>, Failure> {
    let component = service
        .components
        .add(body.to_vec())
        .await
        .map_err(bad_request)?;
    let manifest = component.manifest();
    Ok(Json(json!({
        "hash": component.hash().to_hex(),
        "flows": manifest.flows.iter().map(|f| &f.name).collect::<Vec<_>>(),
        "checkpoints": manifest.checkpoints.iter().map(|c| &c.name).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct RunRequest {
    component: String,
    flow: String,
    #[serde(default = "empty_object")]
    input: Value,
}

fn empty_object() -> Value {
    json!({})
}

/// `POST /executions`: runs a flow of an uploaded component to its end.
async fn run(
    State(service): Shared,
    Json(request): Json<RunRequest>,
) -> Result<Json<Value>, Failure> {
    let hash: ComponentHash = request.component.parse().map_err(bad_request)?;
    let component = service
        .components
        .get(hash)
        .await
        .map_err(bad_request)?
        .ok_or_else(|| Failure(StatusCode::NOT_FOUND, format!("unknown component {hash}")))?;
    let outcome = service
        .host
        .run(&component, &request.flow, &request.input.to_string())
        .await
        .map_err(run_failure)?;
    Ok(outcome_json(outcome))
}

/// `POST /batches`: runs the host-side batch flow to its end.
async fn batch(State(service): Shared, Json(batch): Json<Batch>) -> Result<Json<Value>, Failure> {
    let outcome = service
        .host
        .run_flow("batch", &batch)
        .await
        .map_err(run_failure)?;
    Ok(outcome_json(outcome))
}

fn execution_id(id: &str) -> Result<ExecutionId, Failure> {
    id.parse()
        .map_err(|_| bad_request(format!("`{id}` is not an execution id")))
}

/// `GET /executions/{id}`: the execution with its calls and attempts.
async fn show(State(service): Shared, Path(id): Path<String>) -> Result<Json<Value>, Failure> {
    let id = execution_id(&id)?;
    let detail = service
        .host
        .client()
        .execution(id)
        .await
        .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .ok_or_else(|| Failure(StatusCode::NOT_FOUND, format!("no execution {id}")))?;
    serde_json::to_value(detail)
        .map(Json)
        .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// `POST /executions/{id}/resume`.
async fn resume(State(service): Shared, Path(id): Path<String>) -> Result<Json<Value>, Failure> {
    let outcome = service
        .host
        .resume(execution_id(&id)?)
        .await
        .map_err(resume_failure)?;
    Ok(outcome_json(outcome))
}

/// `POST /executions/{id}/cancel`.
async fn cancel(State(service): Shared, Path(id): Path<String>) -> Result<StatusCode, Failure> {
    service
        .host
        .cancel(execution_id(&id)?)
        .await
        .map_err(cancel_failure)?;
    Ok(StatusCode::NO_CONTENT)
}
