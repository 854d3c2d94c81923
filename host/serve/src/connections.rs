//! The server's accept loop and its connections, in place of
//! `axum::serve`, for the bounds it does not have:
//!
//! - at most `max_connections` open: one past it is answered `503` with a
//!   single non-blocking write and closed at once (no task is spent on it);
//! - a request head must arrive within `header_timeout` (also the longest
//!   a connection may sit idle between requests): hyper's own timer, then a
//!   `408` if part of a head had come;
//! - request bodies and answers are read and written under their budgets
//!   and deadlines ([`RequestBody`], [`AnswerBody`], [`ConnIo`]);
//! - a client that goes away while its request is served (a `?wait=` that
//!   waits for an execution, an event stream) is noticed at once and its
//!   request dropped, with whatever place it held;
//! - on shutdown no connection is accepted, idle ones are closed and busy
//!   ones finish their request (hyper's graceful shutdown).

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::Request;
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::ReadBuf;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::answer_body::{self, AnswerBody};
use crate::byte_budget::ByteBudget;
use crate::config::ServeConfig;
use crate::conn_io::{ConnIo, ConnState, InFlight, error_answer};
use crate::error::ApiError;
use crate::request_body::{BodyLimits, RequestBody, Taken};
use crate::request_target;

/// What every connection shares.
struct Shared {
    app: Router,
    body: BodyLimits,
    answers: ByteBudget,
    header_timeout: Duration,
    write_timeout: Duration,
}

/// How long the accept loop pauses when accepting fails for want of file
/// descriptors or memory (retrying at once would spin).
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// How long a busy connection whose client sent more bytes (not read yet:
/// a pipelined request, a body the handler does not read) waits before
/// looking at the socket again for the client's end.
const GONE_POLL: Duration = Duration::from_millis(250);

/// Accepts connections on `listener` and serves `app` on them until
/// `stopping` is cancelled; then stops accepting, closes idle connections
/// and lets busy ones finish their request. `connections` tracks them.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    config: &ServeConfig,
    stopping: CancellationToken,
    connections: TaskTracker,
) {
    let shared = Arc::new(Shared {
        app,
        body: BodyLimits {
            budget: ByteBudget::new(config.max_body_memory),
            timeout: config.body_timeout,
            min_rate: config.body_min_rate,
        },
        answers: ByteBudget::new(config.max_answer_memory),
        header_timeout: config.header_timeout,
        write_timeout: config.write_timeout,
    });
    let open = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let full = error_answer(&ApiError::unavailable(format!(
        "the server has {} connections open already; try again",
        config.max_connections.max(1)
    )));
    loop {
        let accepted = tokio::select! {
            () = stopping.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed; pausing");
                tokio::time::sleep(ACCEPT_PAUSE).await;
                continue;
            }
        };
        let Ok(place) = open.clone().try_acquire_owned() else {
            // One try, no waiting: the socket's buffer takes a few hundred
            // bytes at once, and a client that does not take them gets the
            // close alone.
            let _ = stream.try_write(&full);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let stopping = stopping.clone();
        connections.spawn(async move {
            connection(stream, shared, stopping).await;
            drop(place);
        });
    }
}

/// Accept errors that concern one connection only (it was reset before it
/// was taken): the next accept may succeed at once.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it closes, fails, times out, its client
/// goes away, or the server shuts down.
async fn connection(stream: TcpStream, shared: Arc<Shared>, stopping: CancellationToken) {
    let state = Arc::new(ConnState::default());
    let (io, read) = ConnIo::new(stream, shared.write_timeout, state.clone());
    let service = {
        let shared = shared.clone();
        let state = state.clone();
        hyper::service::service_fn(move |request| {
            serve_request(request, shared.clone(), state.clone())
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served
                    && e.is_timeout()
                    && state.in_flight() == 0
                    && state.mid_request()
                {
                    let late = ApiError::new(
                        axum::http::StatusCode::REQUEST_TIMEOUT,
                        "timeout",
                        format!(
                            "the request's head did not arrive within {:?}",
                            shared.header_timeout
                        ),
                    );
                    let _ = (*read).as_ref().try_write(&error_answer(&late));
                }
                return;
            }
            () = stopping.cancelled(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
            () = client_gone(&read, &state) => return,
        }
    }
}

/// Completes when the client has closed its end while a request of its is
/// in flight: hyper does not read the socket then (after a request with
/// `connection: close` it never does), so a client that gave up on a long
/// request would otherwise hold its place until the request ends.
async fn client_gone(read: &OwnedReadHalf, state: &ConnState) {
    let mut byte = [0u8; 1];
    loop {
        let changed = state.changed();
        let mut changed = std::pin::pin!(changed);
        changed.as_mut().enable();
        if state.in_flight() == 0 {
            changed.await;
            continue;
        }
        let mut buf = ReadBuf::new(&mut byte);
        let peeked = tokio::select! {
            peeked = std::future::poll_fn(|cx| read.as_ref().poll_peek(cx, &mut buf)) => peeked,
            () = changed => continue,
        };
        match peeked {
            // The client's end is closed (or the connection broke).
            Ok(0) | Err(_) => return,
            // Bytes hyper has not read yet: look again later.
            Ok(_) => tokio::time::sleep(GONE_POLL).await,
        }
    }
}

/// One request: checked ([`request_target`]), its body read under the
/// budget, served by the routes, its answer counted until sent.
async fn serve_request(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    state: Arc<ConnState>,
) -> Result<hyper::Response<AnswerBody>, Infallible> {
    let in_flight = InFlight::new(&state);
    if let Err(refused) = request_target::check(&request) {
        let response = refused.into_response();
        return Ok(answer_body::answer(response, &shared.answers, in_flight));
    }
    let taken = Taken::default();
    let request = request.map(|body| RequestBody::new(body, shared.body.clone(), taken.clone()));
    let routes = TowerToHyperService::new(shared.app.clone());
    let response = match hyper::service::Service::call(&routes, request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    // The handler is done with what it read.
    taken.give_back();
    Ok(answer_body::answer(response, &shared.answers, in_flight))
}
