//! [`ApiClient`]: the API from the other side, as the `cairn` CLI uses it
//! with `--server`. Plain HTTP/1.1 on connections kept alive between
//! requests ([`pool`]); every part of an answer is read under a bound, so
//! a hostile or broken server can hold neither the client's memory nor
//! its time: the head ([`pool`]: header count and size), the body (by what
//! the request can legitimately produce: [`MAX_ANSWER`], [`MAX_ERROR`]),
//! each server-sent event ([`sse`]) and the whole exchange (a timeout).

mod pool;
mod sse;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{Method, StatusCode, Uri};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::ErrorBody;
use pool::{Idle, Outgoing, Sender};
pub use sse::EventStream;

/// The largest answer read. The API's largest answers are one
/// execution's JSON (its calls with their inputs and outputs), a page of
/// executions and a component's manifest; a server sending more is
/// refused rather than held. (An execution whose JSON is larger still can
/// be read on the server's machine, `--journal`, which streams nothing
/// through a client.)
pub const MAX_ANSWER: usize = 64 << 20;
/// The largest error answer read: `{"error", "message"}` is short, and a
/// server that sends more is not one to spend memory on.
pub const MAX_ERROR: usize = 64 << 10;
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to answer a request whole: a start may wait
/// up to five minutes for its execution's end (`?wait=`), so a little more;
/// a server that stalls must not hold a client for ever.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(330);
/// The same for an upload, whose body can be hundreds of MiB.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// A request to a server failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server URL is not `http://HOST:PORT`.
    #[error("`{url}` is not a server URL (http://HOST:PORT)")]
    BadUrl {
        /// What was given.
        url: String,
    },
    /// No server answers there.
    #[error("cannot reach the server at {url}")]
    Unreachable {
        /// The server.
        url: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server answered with an error.
    #[error("{}", body.message)]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The error the server sent.
        body: ErrorBody,
    },
    /// The exchange broke (connection reset, a malformed answer).
    #[error("talking to the server at {url} failed: {reason}")]
    Protocol {
        /// The server.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The server sent more than any answer to the request can be; the
    /// rest was not read and the connection was closed.
    #[error(
        "the server at {url} sent {what} larger than {limit} bytes, more than the API answers; it was not read"
    )]
    TooLarge {
        /// The server.
        url: String,
        /// What was too large (`an answer`, `an error answer`, `an event`).
        what: &'static str,
        /// The bound.
        limit: usize,
    },
}

impl ClientError {
    /// The error's kind as the server named it (`not_found`, `bad_input`,
    /// ...), if the server answered.
    pub fn kind(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.error),
            _ => None,
        }
    }

    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A client of one server. Clones share its idle connections.
#[derive(Debug, Clone)]
pub struct ApiClient {
    url: String,
    authority: String,
    token: Option<String>,
    idle: Arc<Idle>,
}

impl ApiClient {
    /// A client of the server at `url` (`http://HOST:PORT`), sending
    /// `token` as a bearer token when given.
    pub fn new(url: &str, token: Option<String>) -> Result<ApiClient, ClientError> {
        let bad = || ClientError::BadUrl {
            url: url.to_owned(),
        };
        let trimmed = url.trim_end_matches('/');
        let uri: Uri = trimmed.parse().map_err(|_| bad())?;
        if uri.scheme_str() != Some("http") || !matches!(uri.path(), "" | "/") {
            return Err(bad());
        }
        let authority = uri.authority().ok_or_else(bad)?;
        // `http://127.0.0.1@elsewhere:7080` is a request to `elsewhere` that
        // reads as a local one: a URL with user info is refused, since the
        // bearer token goes wherever the host part says.
        if authority.as_str().contains('@') {
            return Err(bad());
        }
        let port = authority.port_u16().unwrap_or(80);
        Ok(ApiClient {
            url: trimmed.to_owned(),
            authority: format!("{}:{port}", authority.host()),
            token,
            idle: Arc::default(),
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `GET PREFIX/path`, decoded as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.within(ANSWER_TIMEOUT, async {
            let exchange = self
                .send(outgoing(Method::GET, path, Bytes::new(), ""))
                .await?;
            self.decode(exchange).await
        })
        .await
    }

    /// `work`, or a protocol error once `limit` has passed.
    async fn within<T>(
        &self,
        limit: Duration,
        work: impl Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
            Err(self.protocol(format!("no whole answer within {} s", limit.as_secs())))
        })
    }

    /// `POST PREFIX/path` with a JSON body, decoded as `T`.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let json = serde_json::to_vec(body).map_err(|e| self.protocol(e))?;
        self.within(ANSWER_TIMEOUT, async {
            let exchange = self
                .send(outgoing(
                    Method::POST,
                    path,
                    json.into(),
                    "application/json",
                ))
                .await?;
            self.decode(exchange).await
        })
        .await
    }

    /// `POST PREFIX/path` with raw bytes (a component), decoded as `T`.
    pub async fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        bytes: Vec<u8>,
    ) -> Result<T, ClientError> {
        self.within(UPLOAD_TIMEOUT, async {
            let exchange = self
                .send(outgoing(
                    Method::POST,
                    path,
                    bytes.into(),
                    "application/wasm",
                ))
                .await?;
            self.decode(exchange).await
        })
        .await
    }

    /// Opens `GET PREFIX/path` as a stream of Server-Sent Events. The
    /// stream keeps its connection to itself: it is closed when the stream
    /// ends, not kept.
    pub async fn events(&self, path: &str) -> Result<EventStream, ClientError> {
        let (response, sender) = self
            .within(ANSWER_TIMEOUT, async {
                let (response, sender) = self
                    .send(outgoing(Method::GET, path, Bytes::new(), ""))
                    .await?;
                if !response.status().is_success() {
                    return Err(self.api_error((response, sender)).await);
                }
                Ok((response, sender))
            })
            .await?;
        drop(sender);
        Ok(EventStream {
            body: response.into_body(),
            buffer: Vec::new(),
            scanned: 0,
            url: self.url.clone(),
        })
    }

    async fn decode<T: DeserializeOwned>(
        &self,
        (response, sender): (hyper::Response<Incoming>, Sender),
    ) -> Result<T, ClientError> {
        if !response.status().is_success() {
            return Err(self.api_error((response, sender)).await);
        }
        let bytes = self
            .read_at_most(response, sender, MAX_ANSWER, "an answer")
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| self.protocol(format!("a bad answer: {e}")))
    }

    async fn api_error(
        &self,
        (response, sender): (hyper::Response<Incoming>, Sender),
    ) -> ClientError {
        let status = response.status();
        let bytes = match self
            .read_at_most(response, sender, MAX_ERROR, "an error answer")
            .await
        {
            Ok(bytes) => bytes,
            Err(e) => return e,
        };
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| ErrorBody {
            error: "http".to_owned(),
            message: format!(
                "the server answered {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ),
        });
        ClientError::Api { status, body }
    }

    /// The answer's body, whole and at most `limit` bytes; its connection
    /// is kept for the next request only then (one cut short is closed).
    /// A body its `content-length` says is too large is not read at all.
    async fn read_at_most(
        &self,
        response: hyper::Response<Incoming>,
        sender: Sender,
        limit: usize,
        what: &'static str,
    ) -> Result<Bytes, ClientError> {
        let too_large = || ClientError::TooLarge {
            url: self.url.clone(),
            what,
            limit,
        };
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let bytes = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| {
                if e.downcast_ref::<LengthLimitError>().is_some() {
                    too_large()
                } else {
                    self.protocol(e)
                }
            })?;
        self.idle.give_back(sender);
        Ok(bytes)
    }

    fn protocol(&self, reason: impl std::fmt::Display) -> ClientError {
        ClientError::Protocol {
            url: self.url.clone(),
            reason: reason.to_string(),
        }
    }
}

fn outgoing<'a>(method: Method, path: &'a str, body: Bytes, content_type: &'a str) -> Outgoing<'a> {
    Outgoing {
        method,
        path,
        body,
        content_type,
    }
}
