//! The client's connections: HTTP/1.1, kept alive between requests (a few
//! idle ones per client, shared by its clones).
//!
//! A kept connection may be closed by the server while it sits idle. One
//! found closed before a request is written is dropped and the request goes
//! on another; one that breaks after the request was written may have
//! delivered it, so only a request that is safe to repeat (`GET`) is sent
//! again, once, on a new connection. A `POST` that may have been received
//! is never sent twice: its error is returned.

use std::sync::Mutex;

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, Request};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{ApiClient, CONNECT_TIMEOUT, ClientError};
use crate::api::PREFIX;

/// The most idle connections a client (with its clones) keeps for reuse.
pub(super) const MAX_IDLE: usize = 8;
/// The most header fields an answer may have: the API sends a handful.
const MAX_HEADERS: usize = 32;
/// The most bytes an answer's status line and headers may take.
const MAX_HEAD_BYTES: usize = 16 << 10;

/// One HTTP/1.1 connection's sending side; dropping it closes the
/// connection once its answer in flight, if any, is read.
pub(super) type Sender = SendRequest<Full<Bytes>>;

/// Connections whose last answer was read whole, ready for another
/// request. A plain mutex: it is never held across an await.
#[derive(Debug, Default)]
pub(super) struct Idle(Mutex<Vec<Sender>>);

impl Idle {
    fn take(&self) -> Option<Sender> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// Keeps `sender` for the next request, unless [`MAX_IDLE`] are kept.
    pub(super) fn give_back(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// A request as sent, kept whole so that it can be built again for a retry.
pub(super) struct Outgoing<'a> {
    pub(super) method: Method,
    pub(super) path: &'a str,
    pub(super) body: Bytes,
    pub(super) content_type: &'a str,
}

impl Outgoing<'_> {
    /// Whether sending it twice does what sending it once does (RFC 9110
    /// §9.2.2); the API's `POST`s start or change things.
    fn idempotent(&self) -> bool {
        matches!(
            self.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        )
    }
}

impl ApiClient {
    /// Sends a request on an idle connection, or on a new one when none is
    /// left (see the module's comment for when a request is sent again).
    /// The sender comes back with the answer, to be kept once the answer's
    /// body is read.
    pub(super) async fn send(
        &self,
        outgoing: Outgoing<'_>,
    ) -> Result<(hyper::Response<Incoming>, Sender), ClientError> {
        while let Some(mut sender) = self.idle.take() {
            // Closed while idle: try the next one.
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(self.request(&outgoing)?).await {
                Ok(response) => return Ok((response, sender)),
                Err(mut error) => {
                    let unsent = error.take_message().is_some();
                    if !unsent && !outgoing.idempotent() {
                        return Err(self.protocol(error.into_error()));
                    }
                    // Once, on a new connection: a server that closes one
                    // kept connection has likely closed the others too.
                    break;
                }
            }
        }
        let mut sender = self.connect().await?;
        let response = sender
            .send_request(self.request(&outgoing)?)
            .await
            .map_err(|e| self.protocol(e))?;
        Ok((response, sender))
    }

    async fn connect(&self) -> Result<Sender, ClientError> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.authority))
            .await
            .map_err(|_| ClientError::Unreachable {
                url: self.url.clone(),
                source: std::io::Error::from(std::io::ErrorKind::TimedOut),
            })?
            .map_err(|source| ClientError::Unreachable {
                url: self.url.clone(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        // An answer's head is bounded here, its body where it is read.
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .max_headers(MAX_HEADERS)
            .max_header_size(MAX_HEAD_BYTES)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.protocol(e))?;
        // Ends when the connection closes: the server closed it, or every
        // sender for it is dropped and its last answer is read.
        tokio::spawn(connection);
        Ok(sender)
    }

    fn request(&self, outgoing: &Outgoing<'_>) -> Result<Request<Full<Bytes>>, ClientError> {
        let mut request = Request::builder()
            .method(outgoing.method.clone())
            .uri(format!("{PREFIX}{}", outgoing.path))
            .header("host", self.authority.as_str());
        if !outgoing.content_type.is_empty() {
            request = request.header("content-type", outgoing.content_type);
        }
        if let Some(token) = &self.token {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| self.protocol("the token is not a valid header value"))?;
            request = request.header("authorization", value);
        }
        request
            .body(Full::new(outgoing.body.clone()))
            .map_err(|e| self.protocol(e))
    }
}
