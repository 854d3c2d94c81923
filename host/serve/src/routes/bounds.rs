//! How many requests of each class are served at once, each class under a
//! bound of its own so that none can starve another: `503` past it, never
//! a queue.
//!
//! - `/health` is never bounded: a probe must learn the server is up
//!   however busy it is;
//! - `/events` streams have their own bound (`max_streams`, in the route);
//! - requests with `?wait=` (start, answer, resume, replay that wait for
//!   the execution's end) are held for as long as it runs: `max_waiting`;
//! - everything else: `max_requests`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::api::PREFIX;
use crate::config::ServeConfig;
use crate::error::ApiError;

/// The places of each class.
#[derive(Clone)]
pub(crate) struct Bounds {
    requests: Arc<Semaphore>,
    waiting: Arc<Semaphore>,
    max_requests: usize,
    max_waiting: usize,
}

impl Bounds {
    pub(crate) fn new(config: &ServeConfig) -> Bounds {
        let max_requests = config.max_requests.max(1);
        let max_waiting = config.max_waiting.max(1);
        Bounds {
            requests: Arc::new(Semaphore::new(max_requests)),
            waiting: Arc::new(Semaphore::new(max_waiting)),
            max_requests,
            max_waiting,
        }
    }
}

/// The class of a request.
#[derive(Debug, PartialEq, Eq)]
enum Class {
    Unbounded,
    Waiting,
    Request,
}

fn class(request: &Request) -> Class {
    let path = request.uri().path();
    let under = path.strip_prefix(PREFIX).unwrap_or("");
    if under == "/health" || under == "/events" {
        return Class::Unbounded;
    }
    let waits = request.uri().query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some("wait"))
    });
    if waits {
        Class::Waiting
    } else {
        Class::Request
    }
}

/// `503` past the bound of the request's class.
pub(crate) async fn bound(State(bounds): State<Bounds>, request: Request, next: Next) -> Response {
    let (places, message) = match class(&request) {
        Class::Unbounded => return next.run(request).await,
        Class::Waiting => (
            &bounds.waiting,
            format!(
                "{} requests are waiting for executions to end already; try again, or start without ?wait= and follow GET /events",
                bounds.max_waiting
            ),
        ),
        Class::Request => (
            &bounds.requests,
            format!(
                "{} requests are being served already; try again",
                bounds.max_requests
            ),
        ),
    };
    match places.clone().try_acquire_owned() {
        Ok(_place) => next.run(request).await,
        Err(_) => ApiError::unavailable(message).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_of(target: &str) -> Class {
        class(
            &Request::builder()
                .uri(target)
                .body(axum::body::Body::empty())
                .expect("a request"),
        )
    }

    #[test]
    fn each_request_has_its_class() {
        assert_eq!(class_of("/api/v1/health"), Class::Unbounded);
        assert_eq!(class_of("/api/v1/events?execution=1"), Class::Unbounded);
        assert_eq!(class_of("/api/v1/executions?wait=30s"), Class::Waiting);
        assert_eq!(
            class_of("/api/v1/executions/3/resume?x=1&wait=1m"),
            Class::Waiting
        );
        assert_eq!(class_of("/api/v1/executions?waiting=1"), Class::Request);
        assert_eq!(class_of("/api/v1/executions"), Class::Request);
        assert_eq!(class_of("/api/v1/healthz"), Class::Request);
        assert_eq!(class_of("/health"), Class::Request);
    }
}
