//! `GET /health`: whether the server is up, for clients and probes.

use axum::Json;

use super::Shared;
use crate::api::Health;

pub(crate) async fn health(state: Shared) -> Json<Health> {
    Json(Health {
        status: if state.supervisor.is_draining() {
            "draining"
        } else {
            "ok"
        }
        .to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        journal: state
            .host
            .journal_path()
            .map_or_else(|| ":memory:".to_owned(), |p| p.display().to_string()),
        running: state.supervisor.running(),
    })
}
