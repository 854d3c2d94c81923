//! `/components`: upload, list and show components.

use axum::body::Body;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};

use super::{Shared, extract};
use crate::api::{ComponentList, ComponentView, JsonAnswer, PREFIX};
use crate::components::{view, view_of};
use crate::error::ApiError;

/// `POST /components` with the component's bytes: checked exactly as
/// `cairn run` checks a file, stored in the journal, answered with its hash
/// and manifest (`201` when new, `200` when the journal had it).
pub(crate) async fn upload(state: Shared, body: Body) -> Result<Response, ApiError> {
    // Uploads are large: only a few are held in memory at once.
    let _upload = state
        .uploads
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
    let limit = state.config.max_component_bytes;
    let bytes = extract::body(body, limit, "the component").await?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "bad_component",
            "the request body is empty; send the component's bytes (curl --data-binary @file.wasm)",
        ));
    }
    let (component, new) = state.components.upload(bytes.to_vec()).await?;
    let view = view(&component);
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = format!("{PREFIX}/components/{}", view.hash);
    Ok((status, [(LOCATION, location)], JsonAnswer(view)).into_response())
}

/// `GET /components`: every component in the journal, from their
/// manifests (none is loaded for the list but those never seen before).
pub(crate) async fn list(state: Shared) -> Result<JsonAnswer<ComponentList>, ApiError> {
    let mut components = Vec::new();
    for hash in state.components.hashes().await? {
        if let Some(manifest) = state.components.manifest(hash).await? {
            components.push(view_of(hash, &manifest));
        }
    }
    Ok(JsonAnswer(ComponentList { components }))
}

/// `GET /components/{hash}`.
pub(crate) async fn show(
    state: Shared,
    hash: Result<Path<String>, PathRejection>,
) -> Result<JsonAnswer<ComponentView>, ApiError> {
    let Path(hash) = hash.map_err(|e| ApiError::bad_request("bad_path", e.body_text()))?;
    let hash = extract::component_hash(&hash)?;
    let component = state
        .components
        .get(hash)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no component {hash}")))?;
    Ok(JsonAnswer(view(&component)))
}
