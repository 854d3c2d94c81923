//! [`ApiClient`]: the API from the other side, as the `cairn` CLI uses it
//! with `--server`. Plain HTTP/1.1 on connections kept alive between
//! requests (a few idle ones per client, shared by its clones), bodies read
//! under a limit.
//!
//! A kept connection may be closed by the server while it sits idle. One
//! found closed before a request is written is dropped and the request goes
//! on another; one that breaks after the request was written may have
//! delivered it, so only a request that is safe to repeat (`GET`) is sent
//! again, once, on a new connection. A `POST` that may have been received
//! is never sent twice: its error is returned.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;

use crate::api::{ErrorBody, PREFIX};

/// The largest answer read (an execution with many calls is large).
const MAX_ANSWER: usize = 1 << 30;
/// The largest error answer read: `{"error", "message"}` is short, and a
/// server that sends more is not one to spend memory on.
const MAX_ERROR: usize = 64 << 10;
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to answer a request whole: a start may wait
/// up to five minutes for its execution's end (`?wait=`), so a little more;
/// a server that stalls must not hold a client for ever.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(330);
/// The same for an upload, whose body can be hundreds of MiB.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);
/// The most idle connections a client (with its clones) keeps for reuse.
const MAX_IDLE: usize = 8;

/// One HTTP/1.1 connection's sending side; dropping it closes the
/// connection once its answer in flight, if any, is read.
type Sender = SendRequest<Full<Bytes>>;

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

/// A client of one server. Clones share its idle connections.
#[derive(Debug, Clone)]
pub struct ApiClient {
    url: String,
    authority: String,
    token: Option<String>,
    idle: Arc<Idle>,
}

/// Connections whose last answer was read whole, ready for another
/// request. A plain mutex: it is never held across an await.
#[derive(Debug, Default)]
struct Idle(Mutex<Vec<Sender>>);

impl Idle {
    fn take(&self) -> Option<Sender> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// Keeps `sender` for the next request, unless [`MAX_IDLE`] are kept.
    fn give_back(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// A request as sent, kept whole so that it can be built again for a retry.
struct Outgoing<'a> {
    method: Method,
    path: &'a str,
    body: Bytes,
    content_type: &'a str,
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
            let exchange = self.send(Method::GET, path, Bytes::new(), "").await?;
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
                .send(Method::POST, path, json.into(), "application/json")
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
                .send(Method::POST, path, bytes.into(), "application/wasm")
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
                let (response, sender) = self.send(Method::GET, path, Bytes::new(), "").await?;
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

    /// Sends a request on an idle connection, or on a new one when none is
    /// left (see the module's comment for when a request is sent again).
    /// The sender comes back with the answer, to be kept once the answer's
    /// body is read.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(hyper::Response<Incoming>, Sender), ClientError> {
        let outgoing = Outgoing {
            method,
            path,
            body,
            content_type,
        };
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
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
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

    async fn decode<T: DeserializeOwned>(
        &self,
        (response, sender): (hyper::Response<Incoming>, Sender),
    ) -> Result<T, ClientError> {
        if !response.status().is_success() {
            return Err(self.api_error((response, sender)).await);
        }
        let bytes = self.read(response, sender).await?;
        serde_json::from_slice(&bytes).map_err(|e| self.protocol(format!("a bad answer: {e}")))
    }

    async fn api_error(
        &self,
        (response, sender): (hyper::Response<Incoming>, Sender),
    ) -> ClientError {
        let status = response.status();
        let bytes = match self.read_at_most(response, sender, MAX_ERROR).await {
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

    /// The answer's body, whole; its connection is kept for the next
    /// request only then (one cut short is closed).
    async fn read(
        &self,
        response: hyper::Response<Incoming>,
        sender: Sender,
    ) -> Result<Bytes, ClientError> {
        self.read_at_most(response, sender, MAX_ANSWER).await
    }

    async fn read_at_most(
        &self,
        response: hyper::Response<Incoming>,
        sender: Sender,
        limit: usize,
    ) -> Result<Bytes, ClientError> {
        let bytes = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| self.protocol(e))?;
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

/// Server-Sent Events as they arrive: `(event name, data)`.
pub struct EventStream {
    body: Incoming,
    buffer: Vec<u8>,
    /// How far the buffer is known to hold no event's end: each new frame
    /// is searched from there, not from the start (an event sent a byte at
    /// a time would cost a scan of everything before it per byte).
    scanned: usize,
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
        // The end may straddle the previous scan's last byte.
        let from = self.scanned.saturating_sub(1);
        let Some(found) = self.buffer[from..].windows(2).position(|w| w == b"\n\n") else {
            self.scanned = self.buffer.len();
            return None;
        };
        let end = from + found;
        let block = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
        self.buffer.drain(..end + 2);
        self.scanned = 0;
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

#[cfg(test)]
mod tests {
    //! The connection pool against a bare HTTP/1.1 server whose behaviour
    //! each test scripts: it counts the connections it accepts and the
    //! requests it reads, and can close a kept connection after reading a
    //! request, without answering (as a server closing an idle connection
    //! just as the client writes on it).

    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[test]
    fn a_url_with_user_info_or_another_scheme_is_refused() {
        for url in [
            "http://127.0.0.1@evil.example:7080",
            "http://user:pw@127.0.0.1:7080",
            "https://127.0.0.1:7080",
            "http://127.0.0.1:7080/api",
            "127.0.0.1:7080",
        ] {
            assert!(
                matches!(ApiClient::new(url, None), Err(ClientError::BadUrl { .. })),
                "{url}"
            );
        }
        assert!(ApiClient::new("http://127.0.0.1:7080/", None).is_ok());
    }

    /// What the server saw.
    #[derive(Default)]
    struct Seen {
        connections: AtomicUsize,
        requests: Mutex<Vec<String>>,
    }

    /// How the server's first connection ends (the others stay open).
    #[derive(Clone, Copy, PartialEq)]
    enum Close {
        Never,
        /// It reads this request (from 1) and closes without answering.
        BeforeAnswering(usize),
        /// It answers this request and closes.
        AfterAnswering(usize),
    }

    /// A server answering `{"n": K}` (K counting requests) with keep-alive.
    async fn server(close: Close) -> (String, Arc<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let seen = Arc::new(Seen::default());
        let shared = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let first = shared.connections.fetch_add(1, Ordering::SeqCst) == 0;
                let close = if first { close } else { Close::Never };
                tokio::spawn(connection(stream, shared.clone(), close));
            }
        });
        (url, seen)
    }

    async fn connection(mut stream: TcpStream, seen: Arc<Seen>, close: Close) {
        let mut buffer = Vec::new();
        let mut read_here = 0;
        loop {
            let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                let mut chunk = [0u8; 4096];
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                }
                continue;
            };
            let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buffer.len() < head_end + 4 + length {
                let mut chunk = [0u8; 4096];
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                }
            }
            buffer.drain(..head_end + 4 + length);
            read_here += 1;
            let n = {
                let mut requests = seen.requests.lock().expect("not poisoned");
                requests.push(head.lines().next().unwrap_or_default().to_owned());
                requests.len()
            };
            if close == Close::BeforeAnswering(read_here) {
                return;
            }
            let body = format!("{{\"n\": {n}}}");
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            if stream.write_all(answer.as_bytes()).await.is_err()
                || close == Close::AfterAnswering(read_here)
            {
                return;
            }
        }
    }

    #[derive(Debug, serde::Deserialize)]
    struct Counted {
        n: usize,
    }

    #[tokio::test]
    async fn requests_reuse_one_kept_connection() {
        let (url, seen) = server(Close::Never).await;
        let client = ApiClient::new(&url, None).expect("a client");
        let clone = client.clone();
        for expected in 1..=3 {
            let answer: Counted = client.get("/health").await.expect("answers");
            assert_eq!(answer.n, expected);
        }
        let answer: Counted = clone.post("/executions", &"{}").await.expect("answers");
        assert_eq!(answer.n, 4);
        assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
        assert_eq!(client.idle.len(), 1);
    }

    #[tokio::test]
    async fn requests_at_once_each_get_a_connection_and_keep_a_bounded_few() {
        let (url, seen) = server(Close::Never).await;
        let client = ApiClient::new(&url, None).expect("a client");
        let many = (0..MAX_IDLE + 4).map(|_| client.get::<Counted>("/health"));
        for answer in futures_util::future::join_all(many).await {
            answer.expect("answers");
        }
        assert_eq!(seen.connections.load(Ordering::SeqCst), MAX_IDLE + 4);
        assert_eq!(client.idle.len(), MAX_IDLE);
    }

    #[tokio::test]
    async fn a_get_on_a_connection_closed_under_it_is_sent_again_once() {
        let (url, seen) = server(Close::BeforeAnswering(2)).await;
        let client = ApiClient::new(&url, None).expect("a client");
        let _: Counted = client.get("/health").await.expect("answers");
        let answer: Counted = client.get("/executions/1").await.expect("sent again");
        assert_eq!(answer.n, 3, "the server read it twice");
        assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
        let requests = seen.requests.lock().expect("not poisoned").clone();
        assert_eq!(requests[1], requests[2]);
        assert!(requests[2].starts_with("GET /api/v1/executions/1 "));
    }

    #[tokio::test]
    async fn a_post_the_server_may_have_received_is_never_sent_again() {
        let (url, seen) = server(Close::BeforeAnswering(2)).await;
        let client = ApiClient::new(&url, None).expect("a client");
        let _: Counted = client.get("/health").await.expect("answers");
        let error = client
            .post::<_, Counted>("/executions", &"{}")
            .await
            .expect_err("the connection closed after the request was read");
        assert!(matches!(error, ClientError::Protocol { .. }), "{error:?}");
        let requests = seen.requests.lock().expect("not poisoned").clone();
        assert_eq!(requests.len(), 2, "{requests:?}");
        assert!(requests[1].starts_with("POST /api/v1/executions "));
        assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
        // The next request goes on a new connection.
        let answer: Counted = client.get("/health").await.expect("answers");
        assert_eq!(answer.n, 3);
        assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_kept_connection_the_server_closed_while_idle_is_skipped() {
        let (url, seen) = server(Close::AfterAnswering(1)).await;
        let client = ApiClient::new(&url, None).expect("a client");
        let _: Counted = client.get("/health").await.expect("answers");
        // The close reaches the client while the connection is idle.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let answer: Counted = client
            .post("/executions", &"{}")
            .await
            .expect("a new connection");
        assert_eq!(answer.n, 2, "sent once");
        assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
    }
}
