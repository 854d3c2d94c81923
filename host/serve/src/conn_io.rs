//! [`ConnIo`]: one client connection as hyper reads and writes it, with what
//! hyper does not do itself:
//!
//! - a write deadline: a client that leaves an answer unread (the socket
//!   takes no byte) for `write_timeout` is cut off, and the answer it held
//!   is dropped with the connection;
//! - the bare `4xx` hyper writes on its own for malformed HTTP (no request
//!   reached the API) is replaced by the API's JSON error;
//! - what the connection's task needs to know: bytes read, requests in
//!   flight ([`ConnState`]), and the socket itself, to notice a client that
//!   went away while its request is served.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Notify;
use tokio::time::Sleep;

use crate::error::ApiError;

/// What a connection's task and its requests share.
#[derive(Default)]
pub(crate) struct ConnState {
    /// Requests received and not yet answered whole.
    in_flight: AtomicUsize,
    /// Bytes read from the client so far.
    read: AtomicU64,
    /// `read` when the last answer was complete: bytes past it are a
    /// request head under way.
    read_at_rest: AtomicU64,
    /// Signalled when `in_flight` changes.
    changed: Notify,
}

impl ConnState {
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Whether bytes of a request arrived since the last answer: a timeout
    /// now cuts a request short rather than an idle connection.
    pub(crate) fn mid_request(&self) -> bool {
        self.read.load(Ordering::Acquire) > self.read_at_rest.load(Ordering::Acquire)
    }

    /// Completes when `in_flight` changes after this call (enable it
    /// before reading `in_flight`, so that no change falls between).
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }
}

/// Counts a request in flight on its connection until dropped (when its
/// answer has been handed to hyper whole, or the connection is gone).
pub(crate) struct InFlight(Arc<ConnState>);

impl InFlight {
    pub(crate) fn new(state: &Arc<ConnState>) -> InFlight {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        state.changed.notify_waiters();
        InFlight(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let state = &self.0;
        state
            .read_at_rest
            .store(state.read.load(Ordering::Acquire), Ordering::Release);
        state.in_flight.fetch_sub(1, Ordering::AcqRel);
        state.changed.notify_waiters();
    }
}

/// A client connection as hyper uses it.
pub(crate) struct ConnIo {
    read: Arc<OwnedReadHalf>,
    write: OwnedWriteHalf,
    write_timeout: Duration,
    /// Running while a write waits for the client to take bytes.
    stalled: Option<Pin<Box<Sleep>>>,
    state: Arc<ConnState>,
    /// The API's error answer, in place of hyper's bare one: what is left
    /// to write of it. Once set, whatever hyper writes is dropped (it closes
    /// the connection after such an answer).
    replaced: Option<Vec<u8>>,
}

impl ConnIo {
    pub(crate) fn new(
        stream: TcpStream,
        write_timeout: Duration,
        state: Arc<ConnState>,
    ) -> (ConnIo, Arc<OwnedReadHalf>) {
        let (read, write) = stream.into_split();
        let read = Arc::new(read);
        let io = ConnIo {
            read: read.clone(),
            write,
            write_timeout,
            stalled: None,
            state,
            replaced: None,
        };
        (io, read)
    }

    fn stream(&self) -> &TcpStream {
        (*self.read).as_ref()
    }

    /// `Pending` from the socket: starts the write deadline, or says it
    /// passed.
    fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let timeout = self.write_timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no byte of its answer in time",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Writes `buf` to the socket, under the write deadline.
    fn poll_socket_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.write).poll_write(cx, buf) {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.poll_stalled(cx),
        }
    }

    /// Writes what is left of the replacement answer.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(left) = self.replaced.take() {
            if left.is_empty() {
                self.replaced = Some(left);
                break;
            }
            let result = self.poll_socket_write(cx, &left);
            let written = match result {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    self.replaced = Some(left);
                    return Poll::Pending;
                }
            };
            self.replaced = Some(left[written.min(left.len())..].to_vec());
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            ready!(this.stream().poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match this.stream().try_read(unfilled) {
                Ok(n) => {
                    buf.advance(n);
                    this.state.read.fetch_add(n as u64, Ordering::AcqRel);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replaced.is_none()
            && this.state.in_flight() == 0
            && let Some(answer) = replacement(buf)
        {
            this.replaced = Some(answer);
        }
        if this.replaced.is_some() {
            ready!(this.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        this.poll_socket_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.write).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.write).poll_shutdown(cx)
    }
}

/// The API's JSON error for the bare error answer hyper writes by itself
/// when a request is not HTTP it can read (`HTTP/1.1 400 Bad Request`,
/// `content-length: 0`, nothing else); `None` for anything else.
fn replacement(written: &[u8]) -> Option<Vec<u8>> {
    let head = written.strip_prefix(b"HTTP/1.1 ")?;
    let code = std::str::from_utf8(head.get(..3)?).ok()?;
    let status = axum::http::StatusCode::from_bytes(code.as_bytes()).ok()?;
    let bare = status.is_client_error()
        && written.ends_with(b"\r\n\r\n")
        && written
            .windows(b"content-length: 0\r\n".len())
            .any(|w| w.eq_ignore_ascii_case(b"content-length: 0\r\n"));
    if !bare {
        return None;
    }
    let (kind, message) = match status.as_u16() {
        431 => (
            "headers_too_large",
            "the request's headers are larger than the server reads",
        ),
        414 => (
            "uri_too_long",
            "the request's URI is longer than the server reads",
        ),
        _ => (
            "bad_http",
            "the request is not HTTP/1.1 the server can read (its line, a header or the body's framing)",
        ),
    };
    Some(error_answer(&ApiError::new(status, kind, message)))
}

/// `error` as the raw bytes of a whole answer that closes the connection:
/// for the places where no request is being served (hyper's own errors, a
/// connection past the cap, a request head that did not arrive in time).
pub(crate) fn error_answer(error: &ApiError) -> Vec<u8> {
    let body = serde_json::json!({"error": error.kind, "message": error.message}).to_string();
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        error.status.as_u16(),
        error.status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bare_client_errors_are_replaced() {
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 10:00:00 GMT\r\n\r\n";
        let answer = replacement(bare).expect("replaced");
        let text = String::from_utf8(answer).expect("text");
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        let body = text.split("\r\n\r\n").nth(1).expect("a body");
        let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(body["error"], "bad_http");
        let big = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert!(
            String::from_utf8_lossy(&replacement(big).expect("replaced"))
                .contains("headers_too_large")
        );
        // An answer of our own, or with a body, is not touched.
        assert!(replacement(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(replacement(b"HTTP/1.1 404 Not Found\r\ncontent-length: 20\r\n\r\n").is_none());
        assert!(replacement(b"{\"executions\": []}").is_none());
    }
}
