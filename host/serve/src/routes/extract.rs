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
use crate::request_body::BodyError;
use crate::strict_json;

/// The body, at most `limit` bytes (`413` past it).
pub(crate) async fn body(body: Body, limit: usize, what: &str) -> Result<Bytes, ApiError> {
    // A declared length past the limit is refused before waiting for bytes
    // that would be refused anyway (or that never come).
    let declared = axum::body::HttpBody::size_hint(&body).lower();
    if declared > limit as u64 {
        return Err(too_large(what, limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // `to_bytes` reports an over-long body as a length-limit error
        // somewhere in its source chain, and the connection's reader its
        // budget and deadlines (`RequestBody`); anything else is a broken
        // upload.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.is::<http_body_util::LengthLimitError>() {
                return too_large(what, limit);
            }
            match c.downcast_ref::<BodyError>() {
                Some(over @ BodyError::OverBudget { .. }) => {
                    return ApiError::unavailable(format!("{what}: {over}"));
                }
                Some(stalled @ BodyError::Stalled(_)) => {
                    return ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "timeout",
                        format!("{what}: {stalled}"),
                    );
                }
                _ => {}
            }
            cause = c.source();
        }
        ApiError::bad_request("bad_body", format!("cannot read {what}: {e}"))
    })
}

fn too_large(what: &str, limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("{what} is larger than {limit} bytes"),
    )
}

/// The body as JSON of type `T`, at most `limit` bytes, with no object
/// holding a key twice ([`strict_json`]).
pub(crate) async fn json<T: DeserializeOwned>(raw: Body, limit: usize) -> Result<T, ApiError> {
    let bytes = body(raw, limit, "the request body").await?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "bad_json",
            "the request needs a JSON body",
        ));
    }
    let bad =
        |e: serde_json::Error| ApiError::bad_request("bad_json", format!("the request body: {e}"));
    strict_json::check_unique_keys(&bytes).map_err(bad)?;
    serde_json::from_slice(&bytes).map_err(bad)
}

/// An execution id from a path, as its digits only: ` 1` or `+1` would
/// name execution 1 too, and one resource should have one path.
pub(crate) fn execution_id(text: &str) -> Result<ExecutionId, ApiError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten().ok_or_else(|| {
        ApiError::bad_request("bad_id", format!("`{}` is not an execution id", cut(text)))
    })
}

/// A component hash from a path or a body: exactly its 64 hex digits,
/// nothing around them.
pub(crate) fn component_hash(text: &str) -> Result<ComponentHash, ApiError> {
    let hex = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then(|| text.parse().ok()).flatten().ok_or_else(|| {
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
