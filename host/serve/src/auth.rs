//! The bearer token check, before any route runs.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::token;

/// The token every request must carry, if the server has one.
#[derive(Clone)]
pub(crate) struct Auth {
    pub token: Option<Arc<str>>,
}

/// Lets a request through when the server has no token, or when it carries
/// `Authorization: Bearer <token>`; `401` otherwise.
pub(crate) async fn require_token(
    State(auth): State<Auth>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = auth.token.as_deref() else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if token::matches(expected, given.trim()) => next.run(request).await,
        _ => {
            let mut response = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this server needs `Authorization: Bearer <token>` (the CLI: --token-file or CAIRN_TOKEN)",
            )
            .into_response();
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
            response
        }
    }
}
