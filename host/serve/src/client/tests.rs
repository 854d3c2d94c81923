//! The client against a bare HTTP/1.1 server whose behaviour
//! each test scripts: it counts the connections it accepts and the
//! requests it reads, and can close a kept connection after reading a
//! request, without answering (as a server closing an idle connection
//! just as the client writes on it).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::pool::MAX_IDLE;
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

/// What a hostile server sends after reading one request's head.
#[derive(Clone, Copy)]
enum Hostile {
    /// A `200` declaring a body of this many bytes, then sending them.
    Declared(u64),
    /// A chunked `200` whose body goes on until the client stops reading.
    Endless,
    /// A `500` whose body goes on (chunked) until the client stops.
    EndlessError,
    /// A `200` with this many header fields.
    Headers(usize),
}

/// A server that answers every request as `hostile` says; the counter is
/// how many body bytes it managed to write.
async fn hostile_server(hostile: Hostile) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let written = Arc::new(AtomicU64::new(0));
    let counter = written.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut byte = [0u8; 1];
                    if stream.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let chunk = vec![b' '; 64 << 10];
                let (answer, chunked, mut left) = match hostile {
                    Hostile::Declared(n) => (
                        format!("HTTP/1.1 200 OK\r\ncontent-length: {n}\r\n\r\n"),
                        false,
                        n,
                    ),
                    Hostile::Endless => (
                        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_owned(),
                        true,
                        u64::MAX,
                    ),
                    Hostile::EndlessError => (
                        "HTTP/1.1 500 Oops\r\ntransfer-encoding: chunked\r\n\r\n".to_owned(),
                        true,
                        u64::MAX,
                    ),
                    Hostile::Headers(n) => {
                        let fields: String = (0..n).map(|i| format!("x-{i}: {i}\r\n")).collect();
                        (
                            format!("HTTP/1.1 200 OK\r\n{fields}content-length: 2\r\n\r\n{{}}"),
                            false,
                            0,
                        )
                    }
                };
                if stream.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    let sent = if chunked {
                        let framed =
                            [format!("{n:x}\r\n").as_bytes(), &chunk[..n], b"\r\n"].concat();
                        stream.write_all(&framed).await
                    } else {
                        stream.write_all(&chunk[..n]).await
                    };
                    if sent.is_err() {
                        return;
                    }
                    counter.fetch_add(n as u64, Ordering::SeqCst);
                    left -= n as u64;
                }
            });
        }
    });
    (url, written)
}

#[tokio::test]
async fn an_answer_declared_too_large_is_refused_unread() {
    let (url, written) = hostile_server(Hostile::Declared(1 << 30)).await;
    let client = ApiClient::new(&url, None).expect("a client");
    let error = client
        .get::<serde_json::Value>("/executions/1")
        .await
        .expect_err("1 GiB is more than any answer");
    assert!(
        matches!(
            error,
            ClientError::TooLarge {
                limit: MAX_ANSWER,
                what: "an answer",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("larger than"), "{error}");
    // Refused on the declared length: the server got no further than what
    // the socket buffers took.
    assert!(written.load(Ordering::SeqCst) < MAX_ANSWER as u64 / 2);
    assert_eq!(client.idle.len(), 0, "the connection is not kept");
}

#[tokio::test]
async fn an_endless_answer_is_cut_at_the_bound() {
    let (url, written) = hostile_server(Hostile::Endless).await;
    let client = ApiClient::new(&url, None).expect("a client");
    let error = client
        .get::<serde_json::Value>("/executions")
        .await
        .expect_err("an endless body");
    assert!(
        matches!(
            error,
            ClientError::TooLarge {
                limit: MAX_ANSWER,
                ..
            }
        ),
        "{error:?}"
    );
    // The client read about the bound, and then stopped reading.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = written.load(Ordering::SeqCst);
    assert!(sent >= MAX_ANSWER as u64, "{sent}");
    assert!(sent < 2 * MAX_ANSWER as u64, "{sent}");
}

#[tokio::test]
async fn an_endless_error_answer_is_cut_at_its_smaller_bound() {
    let (url, written) = hostile_server(Hostile::EndlessError).await;
    let client = ApiClient::new(&url, None).expect("a client");
    let error = client
        .post::<_, serde_json::Value>("/executions", &"{}")
        .await
        .expect_err("an endless error");
    assert!(
        matches!(
            error,
            ClientError::TooLarge {
                limit: MAX_ERROR,
                what: "an error answer",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(written.load(Ordering::SeqCst) < MAX_ANSWER as u64 / 2);
}

#[tokio::test]
async fn too_many_header_fields_are_refused() {
    let (url, _) = hostile_server(Hostile::Headers(10)).await;
    let client = ApiClient::new(&url, None).expect("a client");
    let fine: serde_json::Value = client.get("/health").await.expect("a few headers pass");
    assert_eq!(fine, serde_json::json!({}));
    let (url, _) = hostile_server(Hostile::Headers(1_000)).await;
    let client = ApiClient::new(&url, None).expect("a client");
    let error = client
        .get::<serde_json::Value>("/health")
        .await
        .expect_err("a thousand headers");
    assert!(matches!(error, ClientError::Protocol { .. }), "{error:?}");
}

#[tokio::test]
async fn an_event_without_an_end_is_cut_at_its_bound() {
    let (url, written) = hostile_server(Hostile::Endless).await;
    let client = ApiClient::new(&url, None).expect("a client");
    let mut events = client.events("/events").await.expect("a stream");
    let error = events.next().await.expect_err("an endless line");
    assert!(
        matches!(
            error,
            ClientError::TooLarge {
                what: "an event",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(written.load(Ordering::SeqCst) < MAX_ANSWER as u64 / 2);
}
