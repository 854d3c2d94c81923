//! The routes under `/api/v1`, one file per resource, and what every request
//! goes through first: the token check, its body read whole (under the
//! server's budget and deadlines, before anything that holds a place), and
//! the bound of its class on requests at once.

mod bounds;
mod buffered;
mod check;
mod components;
mod ends;
mod events;
mod executions;
mod extract;
mod followed;
mod health;
mod prune;
mod schedules;
mod since;

use std::sync::Arc;

pub(crate) use extract::cut;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use cairn_host::Host;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::api::PREFIX;
use crate::auth::{self, Auth};
use crate::components::Components;
use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::supervisor::Supervisor;

/// What every handler reaches.
pub(crate) struct AppState {
    pub host: Host,
    pub supervisor: Arc<Supervisor>,
    pub components: Components,
    pub config: ServeConfig,
    /// Uploads being received.
    pub uploads: Arc<Semaphore>,
    /// Event streams open.
    pub streams: Arc<Semaphore>,
    /// Cancelled when the server shuts down: event streams end.
    pub shutdown: CancellationToken,
    /// Makes the scheduler look at the schedules again at once.
    pub scheduler: Arc<tokio::sync::Notify>,
}

pub(crate) type Shared = State<Arc<AppState>>;

/// The whole API.
pub(crate) fn router(state: Arc<AppState>, auth: Auth) -> Router {
    let bounds = bounds::Bounds::new(&state.config);
    let ends = ends::Ends::follow(&state.host);
    let api = Router::new()
        .route("/health", get(health::health))
        .route(
            "/components",
            post(components::upload).get(components::list),
        )
        .route("/components/{hash}", get(components::show))
        .route("/executions", post(executions::start).get(executions::list))
        .route("/executions/{id}", get(executions::show))
        .route("/executions/{id}/logs", get(executions::logs))
        .route("/executions/{id}/input", post(executions::input))
        .route("/executions/{id}/resume", post(executions::resume))
        .route("/executions/{id}/cancel", post(executions::cancel))
        .route("/executions/{id}/replay", post(executions::replay))
        .route("/events", get(events::stream))
        .merge(check::routes())
        .merge(prune::routes())
        .merge(schedules::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::Extension(ends))
        .with_state(state.clone());
    // The last layer runs first: the token, then the body read whole (so
    // that no place below is held while a client sends slowly), then the
    // bound of the request's class.
    Router::new()
        .nest(PREFIX, api)
        .fallback(not_found)
        // Bodies are read whole by `buffered` under the server's limits;
        // this is only the framework's.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(bounds, bounds::bound))
        .layer(middleware::from_fn_with_state(state, buffered::read_whole))
        .layer(middleware::from_fn_with_state(auth, auth::require_token))
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route {} {}; the API is under {PREFIX} (see the README)",
        request.method(),
        shown_path(request.uri().path())
    ))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}",
            request.method(),
            shown_path(request.uri().path())
        ),
    )
}

/// A request path as an error message quotes it: cut, since it is the
/// client's text.
fn shown_path(path: &str) -> String {
    const MAX: usize = 200;
    if path.len() <= MAX {
        return path.to_owned();
    }
    let mut end = MAX;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &path[..end], path.len())
}
