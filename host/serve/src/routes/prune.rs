//! Retention through the API: `POST /prune` removes ended executions older
//! than an age with everything they own, in bounded steps while the server
//! goes on running others (see `Host::prune`), and answers what it removed.
//! The body: `{"older_than_secs": N, "status": ["completed", …],
//! "dry_run": false, "step_executions": 64, "step_calls": 10000}` (only
//! `older_than_secs` is required).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use cairn_host::{ExecutionStatus, PruneError, PruneReport, PruneRequest};
use serde::Deserialize;

use super::{AppState, Shared, extract};
use crate::api::JsonAnswer;
use crate::error::{ApiError, chain};

/// The route, for the API's router.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/prune", post(prune))
}

/// `POST /prune`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PruneBody {
    /// Executions that ended longer ago than this many seconds.
    older_than_secs: u64,
    /// Only executions with these statuses (all ended ones when empty).
    #[serde(default)]
    status: Vec<ExecutionStatus>,
    /// Count, and remove nothing.
    #[serde(default)]
    dry_run: bool,
    /// At most this many executions per transaction.
    step_executions: Option<u32>,
    /// At most this many calls per transaction.
    step_calls: Option<u64>,
}

/// `POST /prune`: the report (`200`); `400` for a status of executions
/// that have not ended.
async fn prune(state: Shared, body: Body) -> Result<JsonAnswer<PruneReport>, ApiError> {
    let body: PruneBody = extract::json(body, state.config.max_json_bytes).await?;
    let mut request =
        PruneRequest::older_than(Duration::from_secs(body.older_than_secs)).dry_run(body.dry_run);
    for status in body.status {
        request = request.status(status);
    }
    if let Some(n) = body.step_executions {
        request = request.step_executions(n as usize);
    }
    if let Some(n) = body.step_calls {
        request = request.step_calls(n);
    }
    let report = state.host.prune(&request).await.map_err(|e| match e {
        PruneError::Journal(e) => e.into(),
        other => ApiError::bad_request("bad_input", chain(&other)),
    })?;
    Ok(JsonAnswer(report))
}
