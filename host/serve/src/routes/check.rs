//! Safe code upgrades through the API: `POST /check` checks a component
//! the server holds (uploaded with `POST /components`) against the journal
//! of its flows' executions, in a dry run that runs and writes nothing;
//! `POST /executions/{id}/upgrade` moves one execution to it when its check
//! is compatible — one the server is running too: it pauses at its next
//! request to the runner, is checked and moved, and goes on with the new
//! build (or with its own when the check refuses, answered `409`).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use axum::routing::post;
use cairn_host::{
    CheckError, CheckReport, CheckRequest, Component, ExecutionId, ExecutionStatus, UpgradeError,
    Upgraded,
};
use serde::Deserialize;

use super::{AppState, Shared, extract, since};
use crate::api::JsonAnswer;
use crate::error::{ApiError, chain};

/// Who an upgrade through the API journals as having asked.
const BY: &str = "cairn serve: POST /executions/{id}/upgrade";

/// The two routes, for the API's router.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/check", post(check))
        .route("/executions/{id}/upgrade", post(upgrade))
}

/// `POST /check`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    /// The new build's hash (64 hex digits), uploaded before.
    component: String,
    /// Only this flow's executions.
    flow: Option<String>,
    /// Only executions with these statuses.
    #[serde(default)]
    status: Vec<ExecutionStatus>,
    /// Only executions created since (RFC 3339, or seconds since the epoch).
    since: Option<String>,
}

/// `POST /executions/{id}/upgrade`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpgradeBody {
    /// The new build's hash, uploaded before.
    component: String,
}

async fn component(state: &Shared, hash: &str) -> Result<Component, ApiError> {
    let hash = extract::component_hash(hash)?;
    state.components.get(hash).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no component {hash}; upload it first with POST /components"
        ))
    })
}

/// `POST /check`: the report, whatever the verdicts (`200`).
async fn check(state: Shared, body: Body) -> Result<JsonAnswer<CheckReport>, ApiError> {
    let body: CheckBody = extract::json(body, state.config.max_json_bytes).await?;
    let mut request = CheckRequest::component(component(&state, &body.component).await?);
    if let Some(flow) = body.flow {
        request = request.flow(flow);
    }
    for status in body.status {
        request = request.status(status);
    }
    if let Some(text) = body.since {
        let us = since::parse(&text).ok_or_else(|| {
            ApiError::bad_request(
                "bad_since",
                format!(
                    "`{}` is not a time (RFC 3339 or seconds since the epoch)",
                    extract::cut(&text)
                ),
            )
        })?;
        request = request.since_us(us);
    }
    let report = state.host.check(&request).await.map_err(check_error)?;
    Ok(JsonAnswer(report))
}

/// `POST /executions/{id}/upgrade`: the move (`200`; `running: true` when
/// the server was running it and it went on with the new build), or `409`
/// with the divergence or failure when the check refuses it.
async fn upgrade(
    state: Shared,
    id: Result<Path<u64>, PathRejection>,
    body: Body,
) -> Result<JsonAnswer<Upgraded>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request("bad_path", e.body_text()))?;
    let body: UpgradeBody = extract::json(body, state.config.max_json_bytes).await?;
    let component = component(&state, &body.component).await?;
    let upgraded = state
        .host
        .upgrade(ExecutionId(id), &component, BY)
        .await
        .map_err(|e| match e {
            UpgradeError::UnknownExecution(_) => ApiError::not_found(chain(&e)),
            UpgradeError::Incompatible { .. } => {
                ApiError::new(StatusCode::CONFLICT, "incompatible", chain(&e))
            }
            UpgradeError::Running(_)
            | UpgradeError::Switching(_)
            | UpgradeError::NotPaused { .. }
            | UpgradeError::Ended { .. }
            | UpgradeError::SameBuild(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", chain(&e))
            }
            UpgradeError::Journal(e) => e.into(),
            UpgradeError::Check(e) => check_error(e),
            other => ApiError::bad_request("bad_input", chain(&other)),
        })?;
    Ok(JsonAnswer(upgraded))
}

fn check_error(e: CheckError) -> ApiError {
    match e {
        CheckError::Journal(e) => e.into(),
        e @ (CheckError::UnknownFlow { .. } | CheckError::UnregisteredFlow { .. }) => {
            ApiError::bad_request("bad_input", chain(&e))
        }
        other => ApiError::internal(chain(&other)),
    }
}
