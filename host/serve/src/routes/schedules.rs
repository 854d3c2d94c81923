//! Schedules through the API (see `cairn_host::ScheduleView`): the server's
//! scheduler (`scheduler.rs`) starts their runs.
//!
//! - `POST /schedules` `{"name", "component": HASH, "flow", "input"?: {...},
//!   "cron", "catch_up"?: "skip" | "once"}`: adds one (`201`), the build
//!   uploaded first with `POST /components`;
//! - `GET /schedules`, `GET /schedules/{name}`;
//! - `POST /schedules/{name}/pause`, `POST /schedules/{name}/resume`;
//! - `DELETE /schedules/{name}` (or `POST /schedules/{name}/delete`): the
//!   schedule as it was (the executions it started stay).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use axum::routing::{get, post};
use cairn_host::{CatchUp, RunError, ScheduleError, ScheduleSpec, ScheduleView};
use serde::Deserialize;

use super::{AppState, Shared, extract};
use crate::api::JsonAnswer;
use crate::error::{ApiError, chain};

/// The routes, for the API's router.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/schedules", post(add).get(list))
        .route("/schedules/{name}", get(show).delete(delete))
        .route("/schedules/{name}/pause", post(pause))
        .route("/schedules/{name}/resume", post(resume))
        .route("/schedules/{name}/delete", post(delete))
}

/// `POST /schedules`' body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    name: String,
    /// The build's hash, uploaded before.
    component: String,
    flow: String,
    /// The flow's input, an object of its parameters (`{}` by default).
    #[serde(default = "empty_object")]
    input: serde_json::Value,
    cron: String,
    #[serde(default)]
    catch_up: CatchUp,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// A schedule error as an answer: `400` for what the request got wrong,
/// `404` for an unknown schedule, `409` for a name taken.
fn answer(e: ScheduleError) -> ApiError {
    match e {
        ScheduleError::Unknown(_) => ApiError::not_found(chain(&e)),
        ScheduleError::Exists(_) => ApiError::new(StatusCode::CONFLICT, "exists", chain(&e)),
        ScheduleError::BadCron { .. } => ApiError::bad_request("bad_cron", chain(&e)),
        ScheduleError::Run(RunError::UnknownFlow { .. }) => {
            ApiError::bad_request("unknown_flow", chain(&e))
        }
        ScheduleError::Journal(e) => e.into(),
        other => ApiError::bad_request("bad_input", chain(&other)),
    }
}

fn name_of(name: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(name) = name.map_err(|e| ApiError::bad_request("bad_path", e.body_text()))?;
    Ok(name)
}

/// `POST /schedules`: the new schedule (`201`).
async fn add(
    state: Shared,
    body: Body,
) -> Result<(StatusCode, JsonAnswer<ScheduleView>), ApiError> {
    let body: AddBody = extract::json(body, state.config.max_json_bytes).await?;
    let hash = extract::component_hash(&body.component)?;
    let component = state.components.get(hash).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no component {hash}; upload it first with POST /components"
        ))
    })?;
    let spec = ScheduleSpec::new(&body.name, &body.flow, &body.input.to_string(), &body.cron)
        .catch_up(body.catch_up);
    let view = state
        .host
        .add_schedule(&component, &spec)
        .await
        .map_err(answer)?;
    // The scheduler looks again at once, so a schedule due soon is not
    // missed by a scheduler asleep until a later one.
    state.scheduler.notify_one();
    Ok((StatusCode::CREATED, JsonAnswer(view)))
}

/// `GET /schedules`: every schedule, by name.
async fn list(state: Shared) -> Result<JsonAnswer<Vec<ScheduleView>>, ApiError> {
    Ok(JsonAnswer(state.host.schedules().await?))
}

/// `GET /schedules/{name}`.
async fn show(
    state: Shared,
    name: Result<Path<String>, PathRejection>,
) -> Result<JsonAnswer<ScheduleView>, ApiError> {
    let name = name_of(name)?;
    Ok(JsonAnswer(
        state.host.schedule(&name).await.map_err(answer)?,
    ))
}

/// `POST /schedules/{name}/pause`: the schedule, paused.
async fn pause(
    state: Shared,
    name: Result<Path<String>, PathRejection>,
) -> Result<JsonAnswer<ScheduleView>, ApiError> {
    let name = name_of(name)?;
    let view = state.host.pause_schedule(&name).await.map_err(answer)?;
    Ok(JsonAnswer(view))
}

/// `POST /schedules/{name}/resume`: the schedule, due again from now.
async fn resume(
    state: Shared,
    name: Result<Path<String>, PathRejection>,
) -> Result<JsonAnswer<ScheduleView>, ApiError> {
    let name = name_of(name)?;
    let view = state.host.resume_schedule(&name).await.map_err(answer)?;
    state.scheduler.notify_one();
    Ok(JsonAnswer(view))
}

/// `DELETE /schedules/{name}`: the schedule as it was.
async fn delete(
    state: Shared,
    name: Result<Path<String>, PathRejection>,
) -> Result<JsonAnswer<ScheduleView>, ApiError> {
    let name = name_of(name)?;
    let view = state.host.delete_schedule(&name).await.map_err(answer)?;
    Ok(JsonAnswer(view))
}
