//! Every API request's body is read whole before the request takes any
//! place a handler holds (the bound on requests at once, an upload's
//! slot, a waiting request's place): a client that sends its body slowly,
//! or stops halfway, holds only its connection and the bytes it sent
//! (counted in the server's budget), for at most the body deadlines.

use std::sync::Arc;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{AppState, extract};
use crate::api::PREFIX;

/// Reads the body (at most the route's limit: a component's for an
/// upload, a JSON body's for everything else), then serves the request
/// with it in memory.
pub(crate) async fn read_whole(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if request.body().size_hint().exact() == Some(0) {
        return next.run(request).await;
    }
    let upload = request.method() == Method::POST
        && request.uri().path().strip_prefix(PREFIX) == Some("/components");
    let (limit, what) = if upload {
        (state.config.max_component_bytes, "the component")
    } else {
        (state.config.max_json_bytes, "the request body")
    };
    let (parts, body) = request.into_parts();
    match extract::body(body, limit, what).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(refused) => refused.into_response(),
    }
}
