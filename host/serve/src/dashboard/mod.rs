//! The web dashboard at `/`: server-rendered pages over the same host the
//! API uses, a little JavaScript that follows the API's event stream and
//! calls the API for actions, every asset compiled into the binary.
//!
//! ```text
//! mount(api, ...)          the dashboard's routes, the API as fallback
//!   ├ security             CSP and friends on every answer
//!   ├ session              who may look: cookie login, CSRF, cross-origin
//!   ├ assets               the CSS and the script, embedded
//!   ├ html                 the escaping writer every page is built with
//!   └ pages/               executions, one execution, components
//! ```

mod assets;
mod format;
mod html;
mod layout;
mod pages;
mod security;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::Semaphore;

use crate::routes::AppState;

/// What the dashboard's handlers reach.
pub(crate) struct Dashboard {
    app: Arc<AppState>,
    keys: session::Keys,
}

/// The dashboard's pages at `/`, with `api` (the routes under `/api/v1`)
/// behind them; the session gate and the security headers wrap both.
pub(crate) fn mount(api: Router, app: Arc<AppState>, token: Option<Arc<str>>) -> Router {
    let dashboard = Arc::new(Dashboard {
        app,
        keys: session::Keys::new(token),
    });
    let pages = Router::new()
        .route("/", get(pages::executions::page))
        .route("/executions/{id}", get(pages::execution::page))
        .route("/components", get(pages::components::page))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/assets/{name}", get(assets::serve))
        .with_state(dashboard.clone())
        // Pages read the journal too: they get the API's bound on requests
        // at once, a count of their own.
        .layer(middleware::from_fn_with_state(
            Arc::new(Semaphore::new(dashboard.app.config.max_requests.max(1))),
            bound_pages,
        ));
    Router::new()
        .merge(pages)
        .fallback_service(api)
        .layer(middleware::from_fn_with_state(dashboard, session::gate))
        .layer(middleware::from_fn(security::headers))
}

/// `503` past `max_requests` pages at once.
async fn bound_pages(
    State(pages): State<Arc<Semaphore>>,
    request: Request,
    next: Next,
) -> Response {
    match pages.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many requests at once; try again",
        )
            .into_response(),
    }
}
