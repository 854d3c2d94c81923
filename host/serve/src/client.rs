//! [`ApiClient`]: the API from the other side, as the `cairn` CLI uses it
//! with `--server`. Plain HTTP/1.1, one connection per request (a CLI makes
//! a handful), bodies read under a limit.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;

use crate::api::{ErrorBody, PREFIX};

/// The largest answer read (an execution with many calls is large).
const MAX_ANSWER: usize = 1 << 30;
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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

/// A client of one server.
#[derive(Debug, Clone)]
pub struct ApiClient {
    url: String,
    authority: String,
    token: Option<String>,
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
        let port = authority.port_u16().unwrap_or(80);
        Ok(ApiClient {
            url: trimmed.to_owned(),
            authority: format!("{}:{port}", authority.host()),
            token,
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `GET PREFIX/path`, decoded as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let response = self.send(Method::GET, path, None, "").await?;
        self.decode(response).await
    }

    /// `POST PREFIX/path` with a JSON body, decoded as `T`.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let json = serde_json::to_vec(body).map_err(|e| self.protocol(e))?;
        let response = self
            .send(Method::POST, path, Some(json.into()), "application/json")
            .await?;
        self.decode(response).await
    }

    /// `POST PREFIX/path` with raw bytes (a component), decoded as `T`.
    pub async fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        bytes: Vec<u8>,
    ) -> Result<T, ClientError> {
        let response = self
            .send(Method::POST, path, Some(bytes.into()), "application/wasm")
            .await?;
        self.decode(response).await
    }

    /// Opens `GET PREFIX/path` as a stream of Server-Sent Events.
    pub async fn events(&self, path: &str) -> Result<EventStream, ClientError> {
        let response = self.send(Method::GET, path, None, "").await?;
        if !response.status().is_success() {
            return Err(self.api_error(response).await);
        }
        Ok(EventStream {
            body: response.into_body(),
            buffer: Vec::new(),
            url: self.url.clone(),
        })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
    ) -> Result<hyper::Response<Incoming>, ClientError> {
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
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.protocol(e))?;
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{PREFIX}{path}"))
            .header("host", self.authority.as_str());
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        if let Some(token) = &self.token {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| self.protocol("the token is not a valid header value"))?;
            request = request.header("authorization", value);
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| self.protocol(e))?;
        sender
            .send_request(request)
            .await
            .map_err(|e| self.protocol(e))
    }

    async fn decode<T: DeserializeOwned>(
        &self,
        response: hyper::Response<Incoming>,
    ) -> Result<T, ClientError> {
        if !response.status().is_success() {
            return Err(self.api_error(response).await);
        }
        let bytes = self.read(response).await?;
        serde_json::from_slice(&bytes).map_err(|e| self.protocol(format!("a bad answer: {e}")))
    }

    async fn api_error(&self, response: hyper::Response<Incoming>) -> ClientError {
        let status = response.status();
        let bytes = match self.read(response).await {
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

    async fn read(&self, response: hyper::Response<Incoming>) -> Result<Bytes, ClientError> {
        Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| self.protocol(e))
    }

    fn protocol(&self, reason: impl std::fmt::Display) -> ClientError {
        ClientError::Protocol {
            url: self.url.clone(),
            reason: reason.to_string(),
        }
    }
}

/// Server-Sent Events as they arrive: `(event name, data)`.
pub struct EventStream {
    body: Incoming,
    buffer: Vec<u8>,
    url: String,
}

/// The longest event kept while waiting for its end.
const MAX_EVENT: usize = 16 << 20;

impl EventStream {
    /// The next event, or `None` when the server ends the stream.
    pub async fn next(&mut self) -> Result<Option<(String, String)>, ClientError> {
        loop {
            if let Some(event) = self.take_event() {
                if event.0.is_empty() && event.1.is_empty() {
                    continue;
                }
                return Ok(Some(event));
            }
            if self.buffer.len() > MAX_EVENT {
                return Err(ClientError::Protocol {
                    url: self.url.clone(),
                    reason: "an event larger than 16 MiB".to_owned(),
                });
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(ClientError::Protocol {
                        url: self.url.clone(),
                        reason: e.to_string(),
                    });
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// One complete event from the buffer (it ends at a blank line).
    fn take_event(&mut self) -> Option<(String, String)> {
        let text = &self.buffer;
        let end = text.windows(2).position(|w| w == b"\n\n")?;
        let block = String::from_utf8_lossy(&text[..end]).into_owned();
        self.buffer.drain(..end + 2);
        let (mut name, mut data) = (String::new(), Vec::new());
        for line in block.lines() {
            if let Some(value) = line.strip_prefix("event:") {
                name = value.trim_start().to_owned();
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push(value.strip_prefix(' ').unwrap_or(value).to_owned());
            }
        }
        Some((name, data.join("\n")))
    }
}
