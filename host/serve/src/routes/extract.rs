//! Reading what a client sent, with the API's errors instead of the
//! framework's plain-text ones: bodies under a size limit, JSON, ids and
//! hashes in paths, query strings.

use axum::body::{Body, Bytes};
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use cairn_host::{ComponentHash, ExecutionId};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The body, at most `limit` bytes (`413` past it).
pub(crate) async fn body(body: Body, limit: usize, what: &str) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // `to_bytes` reports an over-long body as a length-limit error
        // somewhere in its source chain; anything else is a broken upload.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.is::<http_body_util::LengthLimitError>() {
                return ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("{what} is larger than {limit} bytes"),
                );
            }
            cause = c.source();
        }
        ApiError::bad_request("bad_body", format!("cannot read {what}: {e}"))
    })
}

/// The body as JSON of type `T`, at most `limit` bytes.
pub(crate) async fn json<T: DeserializeOwned>(raw: Body, limit: usize) -> Result<T, ApiError> {
    let bytes = body(raw, limit, "the request body").await?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "bad_json",
            "the request needs a JSON body",
        ));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("bad_json", format!("the request body: {e}")))
}

/// An execution id from a path.
pub(crate) fn execution_id(text: &str) -> Result<ExecutionId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request("bad_id", format!("`{}` is not an execution id", cut(text)))
    })
}

/// A component hash from a path or a body.
pub(crate) fn component_hash(text: &str) -> Result<ComponentHash, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(
            "bad_hash",
            format!("`{}` is not a component hash (64 hex digits)", cut(text)),
        )
    })
}

/// A query string as `T`.
pub(crate) fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request("bad_query", e.body_text()))
}

/// A client's text as an error message quotes it.
pub(crate) fn cut(text: &str) -> String {
    const MAX: usize = 80;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
