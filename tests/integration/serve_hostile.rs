//! `cairn serve` against clients that try to make it hold what it should
//! not, through real server processes and raw TCP sockets: slow and idle
//! connections, more connections than its cap, bodies sent halfway, answers
//! never read, waiting requests, and request-line, header and JSON tricks.
//! Every deadline is set short with the server's flags, so that the tests
//! take seconds.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use cairn_serve::ServerAddress;
use cairn_tests::{guest, http, temp};
use serde_json::{Value, json};

use crate::guests;
use crate::serve::Served;

fn address(served: &Served) -> String {
    served.url().trim_start_matches("http://").to_owned()
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a read timeout");
    stream
}

/// The server's resident memory, in KiB.
fn rss_kib(dir: &Path) -> u64 {
    let pid = ServerAddress::read(&dir.join("journal.redb"))
        .expect("the server's address file")
        .pid;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Reads until the server closes the connection (or resets it), for at
/// most `within`: what it sent, and how long that took.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, Duration) {
    let began = Instant::now();
    stream
        .set_read_timeout(Some(within))
        .expect("a read timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!(
                    "the server kept the connection open for {within:?} ({} bytes read)",
                    got.len()
                )
            }
            // Reset: the server closed with bytes of ours unread.
            Err(_) => break,
        }
    }
    (got, began.elapsed())
}

/// An answer's status and its JSON body (`Null` if none could be read).
fn parse_answer(raw: &[u8]) -> Option<(u16, Value)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// Sends `bytes` on a connection of its own and reads the whole answer.
fn exchange(addr: &str, bytes: &[u8]) -> (u16, Value) {
    let mut stream = connect(addr);
    let _ = stream.write_all(bytes);
    let (got, _) = read_until_closed(&mut stream, Duration::from_secs(60));
    parse_answer(&got).unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&got)))
}

/// Checks an answer is `status` with the API's `{"error": kind, ...}`.
fn expect_error(addr: &str, bytes: &[u8], status: u16, kind: &str) {
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(100)]).into_owned();
    let (got, body) = exchange(addr, bytes);
    assert_eq!(got, status, "{shown}: {body}");
    assert_eq!(body["error"], kind, "{shown}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{shown}: {body}"
    );
}

fn health_is_ok(addr: &str) {
    let answer = http::get(addr, "/api/v1/health");
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["status"], "ok");
}

fn upload(addr: &str, g: cairn_tests::Guest) -> String {
    let bytes = std::fs::read(guest(g)).expect("the guest");
    let answer = http::request(addr, "POST", "/api/v1/components", &bytes, false);
    assert!(
        answer.status == 201 || answer.status == 200,
        "{:?}",
        answer.body
    );
    answer.body["hash"].as_str().expect("a hash").to_owned()
}

/// The input of the probe's `held` flow that runs until cancelled: its
/// hold waits for a flag the tests never make, idle (unlike busy work, it
/// does not slow the tests running beside it).
const HELD: &str = "never";

/// Starts a long execution (it runs until cancelled): its id.
fn start_long(addr: &str, probe: &str) -> u64 {
    let answer = http::post_json(
        addr,
        "/api/v1/executions",
        &json!({"component": probe, "flow": "held", "input": {"flag": HELD}}),
    );
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    answer.body["id"].as_u64().expect("an id")
}

/// How many executions the server lists as running.
fn running_count(addr: &str) -> usize {
    let page = http::get(addr, "/api/v1/executions?status=running&limit=100");
    assert_eq!(page.status, 200, "{:?}", page.body);
    page.body["executions"].as_array().map_or(0, Vec::len)
}

/// Waits (60 s at most) until the server lists `n` executions as running.
fn wait_running(addr: &str, n: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let running = running_count(addr);
        if running >= n {
            assert_eq!(running, n, "{what}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {running} of {n} running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn head(method: &str, path: &str, extra: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n{extra}\r\n")
}

#[test]
fn slowloris_and_idle_connections_are_cut_off_and_event_streams_are_not() {
    let dir = temp();
    let served = Served::start(
        dir.path(),
        &["--header-timeout", "1s", "--write-timeout", "1s"],
    );
    let addr = address(&served);

    // A head sent a byte at a time, never finished: cut off once the
    // header timeout is over, however steadily the bytes come.
    let mut slow = connect(&addr);
    slow.write_all(b"GET /api/v1/health HTTP/1.1\r\n")
        .expect("sends");
    let mut writer = slow.try_clone().expect("a clone");
    let dripping = std::thread::spawn(move || {
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(200));
            if writer.write_all(b"x").is_err() {
                return true;
            }
        }
        false
    });
    // What tells the header timeout from none, or from one counted from
    // the last byte: the cut comes before the dripper's 8 s are over (and
    // well before the 10 s default), whatever the load.
    let cut_by = Duration::from_secs(7);
    let (got, took) = read_until_closed(&mut slow, Duration::from_secs(30));
    assert!(took < cut_by, "held for {took:?}");
    if !got.is_empty() {
        let (status, body) = parse_answer(&got).expect("an answer");
        assert_eq!(status, 408, "{body}");
        assert_eq!(body["error"], "timeout", "{body}");
    }
    assert!(
        dripping.join().expect("the dripper"),
        "the server still took bytes"
    );

    // A connection that sends nothing, and one idle after a request.
    let mut idle = connect(&addr);
    let (got, took) = read_until_closed(&mut idle, Duration::from_secs(30));
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert!(took < cut_by, "held for {took:?}");
    let mut kept = connect(&addr);
    kept.write_all(head("GET", "/api/v1/health", "").as_bytes())
        .expect("sends");
    let began = Instant::now();
    let (got, _) = read_until_closed(&mut kept, Duration::from_secs(30));
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(began.elapsed() < cut_by, "held for {:?}", began.elapsed());

    // An event stream is neither a slow head nor an unread answer: it
    // lives past both deadlines and still brings the events.
    let mut events = connect(&addr);
    events
        .write_all(head("GET", "/api/v1/events", "").as_bytes())
        .expect("sends");
    std::thread::sleep(Duration::from_secs(3));
    let hello = upload(&addr, guests::HELLO);
    let started = http::post_json(
        &addr,
        "/api/v1/executions",
        &json!({"component": hello, "input": {"name": "Ada"}}),
    );
    assert_eq!(started.status, 202, "{:?}", started.body);
    events
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a timeout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    while !String::from_utf8_lossy(&seen).contains("execution_finished") {
        let n = events.read(&mut buf).expect("the stream goes on");
        assert!(
            n > 0,
            "the stream ended: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
}

#[test]
fn connections_past_the_cap_are_refused_and_health_answers_afterwards() {
    let dir = temp();
    let served = Served::start(
        dir.path(),
        &["--max-connections", "8", "--header-timeout", "60s"],
    );
    let addr = address(&served);
    // Eight connections, each known to the server (it answered on each),
    // kept open and idle.
    let held: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut stream = connect(&addr);
            stream
                .write_all(head("GET", "/api/v1/health", "").as_bytes())
                .expect("sends");
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).expect("an answer");
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
            stream
        })
        .collect();
    // Past the cap: 503 with the API's error, or the connection closed;
    // never served, never left hanging.
    for _ in 0..20 {
        let mut stream = connect(&addr);
        let _ = stream.write_all(head("GET", "/api/v1/health", "connection: close\r\n").as_bytes());
        let (got, took) = read_until_closed(&mut stream, Duration::from_secs(10));
        assert!(took < Duration::from_secs(5), "left hanging {took:?}");
        if let Some((status, body)) = parse_answer(&got) {
            assert_eq!(status, 503, "{body}");
            assert_eq!(body["error"], "unavailable", "{body}");
        }
    }
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = connect(&addr);
        let _ = stream.write_all(head("GET", "/api/v1/health", "connection: close\r\n").as_bytes());
        let (got, _) = read_until_closed(&mut stream, Duration::from_secs(10));
        if parse_answer(&got).is_some_and(|(status, _)| status == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "the cap was not given back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn half_sent_bodies_are_refused_or_cut_without_the_server_growing() {
    let dir = temp();
    let served = Served::start(
        dir.path(),
        &["--max-body-memory", "16MiB", "--body-timeout", "2s"],
    );
    let addr = address(&served);
    health_is_ok(&addr);
    let before = rss_kib(dir.path());
    // 40 bodies declared 32 MiB, each sent 8 MiB and stopped: 320 MiB if
    // the server held them all.
    let chunk = vec![b' '; 1 << 20];
    let senders: Vec<_> = (0..40)
        .map(|_| {
            let addr = addr.clone();
            let chunk = chunk.clone();
            std::thread::spawn(move || {
                let mut stream = connect(&addr);
                let declared = head(
                    "POST",
                    "/api/v1/executions",
                    &format!(
                        "content-type: application/json\r\ncontent-length: {}\r\n",
                        32 << 20
                    ),
                );
                let _ = stream.write_all(declared.as_bytes());
                for _ in 0..8 {
                    if stream.write_all(&chunk).is_err() {
                        break;
                    }
                }
                read_until_closed(&mut stream, Duration::from_secs(20)).0
            })
        })
        .collect();
    let mut peak = 0;
    let watch_until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < watch_until {
        peak = peak.max(rss_kib(dir.path()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let answers: Vec<Vec<u8>> = senders
        .into_iter()
        .map(|s| s.join().expect("a sender"))
        .collect();
    peak = peak.max(rss_kib(dir.path()));
    let grown_mib = peak.saturating_sub(before) / 1024;
    assert!(
        grown_mib < 96,
        "the server grew by {grown_mib} MiB (from {before} KiB)"
    );
    // Each was refused for the budget (503) or cut when it stalled (408),
    // or its connection closed under it; none was served.
    let mut refused = 0;
    for answer in &answers {
        if let Some((status, body)) = parse_answer(answer) {
            assert!(status == 503 || status == 408, "{status}: {body}");
            let kind = if status == 503 {
                "unavailable"
            } else {
                "timeout"
            };
            assert_eq!(body["error"], kind, "{body}");
            refused += 1;
        }
    }
    assert!(refused > 0, "no answer at all");
    health_is_ok(&addr);
}

#[test]
fn a_stalled_upload_holds_no_place_another_upload_needs() {
    let dir = temp();
    // The body timeout is what an upload that waited for a stalled one's
    // place would wait: it must outlast an upload and its check (a compile
    // when the artifact cache is cold) on a loaded machine.
    let served = Served::start(dir.path(), &["--body-timeout", "15s"]);
    let addr = address(&served);
    // More stalled uploads than the server checks at once (2).
    let stalled: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut stream = connect(&addr);
            let declared = head(
                "POST",
                "/api/v1/components",
                &format!("content-length: {}\r\n", 1 << 20),
            );
            stream.write_all(declared.as_bytes()).expect("sends");
            stream.write_all(&[0u8; 1000]).expect("sends");
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let began = Instant::now();
    upload(&addr, guests::HELLO);
    // Answered while every stalled one still waits for its body: it did
    // not wait for one of their places to be given back.
    for stream in &stalled {
        stream.set_nonblocking(true).expect("non-blocking");
        let mut byte = [0u8; 1];
        let early = stream.peek(&mut byte);
        assert!(
            early
                .as_ref()
                .is_err_and(|e| e.kind() == ErrorKind::WouldBlock),
            "the upload took {:?}, and a stalled one was answered first ({early:?})",
            began.elapsed()
        );
        stream.set_nonblocking(false).expect("blocking");
    }
    // The stalled ones end with 408 once their body timeout is over.
    for mut stream in stalled {
        let (got, _) = read_until_closed(&mut stream, Duration::from_secs(60));
        let (status, body) = parse_answer(&got).expect("an answer");
        assert_eq!(status, 408, "{body}");
        assert_eq!(body["error"], "timeout", "{body}");
    }
}

#[test]
fn a_client_that_does_not_read_a_big_answer_is_dropped_and_answers_are_bounded() {
    let dir = temp();
    // The write timeout must outlast setting up the two idle readers and
    // the third request on a loaded machine; the test waits it out once.
    let served = Served::start(
        dir.path(),
        &["--write-timeout", "10s", "--max-answer-memory", "48MiB"],
    );
    let addr = address(&served);
    let hello = upload(&addr, guests::HELLO);
    // An execution whose JSON is over 20 MB: its input.
    let name = "a".repeat(20 << 20);
    let started = http::post_json(
        &addr,
        "/api/v1/executions",
        &json!({"component": hello, "input": {"name": name}}),
    );
    assert_eq!(started.status, 202, "{:?}", started.body);
    let id = started.body["id"].as_u64().expect("an id");
    let path = format!("/api/v1/executions/{id}");
    // Clients that ask, read the start of their answer (so it is under
    // way, its status known) and nothing more: each holds 20 MB.
    let readers = |n: usize, close: &str| -> Vec<(TcpStream, bool)> {
        let ask = head("GET", &path, close);
        let streams: Vec<TcpStream> = (0..n)
            .map(|_| {
                let mut stream = connect(&addr);
                stream.write_all(ask.as_bytes()).expect("sends");
                stream
            })
            .collect();
        streams
            .into_iter()
            .map(|mut stream| {
                let mut start = [0u8; 12];
                stream.read_exact(&mut start).expect("the answer begins");
                let served = &start == b"HTTP/1.1 200";
                assert!(served || &start == b"HTTP/1.1 503", "{start:?}");
                (stream, served)
            })
            .collect()
    };
    // Two: 40 MB of answers held.
    let mut idle: Vec<TcpStream> = (0..2)
        .map(|_| {
            let (stream, served) = readers(1, "").pop().expect("a reader");
            assert!(served, "an answer that fits is served");
            stream
        })
        .collect();
    // A third does not fit in what is left of the budget.
    let (status, body) = exchange(
        &addr,
        head("GET", &path, "connection: close\r\n").as_bytes(),
    );
    assert_eq!(status, 503, "{:.300}", body.to_string());
    assert_eq!(body["error"], "unavailable", "{body}");
    // Past the write timeout the two are dropped with what they held.
    // Only then do two answers fit again (never three: the budget holds
    // two), so two new readers served at once prove both were dropped.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut fresh = loop {
        let fresh = readers(2, "connection: close\r\n");
        if fresh.iter().all(|(_, served)| *served) {
            break fresh;
        }
        drop(fresh);
        assert!(
            Instant::now() < deadline,
            "the answers of clients that did not read were kept"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    // The dropped two got part of their answer and the connection's end.
    for stream in &mut idle {
        let (got, _) = read_until_closed(stream, Duration::from_secs(10));
        assert!(
            got.len() < 20 << 20,
            "a client that did not read got all of its {} bytes",
            got.len()
        );
    }
    // A reading client gets the whole answer.
    let (mut reading, _) = fresh.pop().expect("a reader");
    drop(fresh);
    let (rest, _) = read_until_closed(&mut reading, Duration::from_secs(60));
    assert!(
        rest.len() > 20 << 20,
        "{} bytes: {:.300}",
        rest.len(),
        String::from_utf8_lossy(&rest)
    );
}

#[test]
fn waiting_requests_have_their_own_bound_and_give_it_back_when_their_client_goes() {
    let dir = temp();
    // The probe's steps leave marks in a granted folder.
    let marks = cairn_tests::marks(dir.path());
    let grant = format!("{}:/marks", marks.display());
    let served = Served::start(
        dir.path(),
        &[
            "--max-waiting",
            "2",
            "--max-requests",
            "4",
            "--allow-dir",
            grant.as_str(),
        ],
    );
    let addr = address(&served);
    let probe = upload(&addr, guests::PROBE);
    let long: Vec<u64> = (0..3).map(|_| start_long(&addr, &probe)).collect();
    // Starts that wait for their (long) execution's end: two fill the
    // bound.
    // `then` is sent after the request: the next request of a client that
    // pipelines (which leaves hyper bytes it has not parsed, so that it
    // does not look for the client's end itself).
    let start_waiting_then = |then: &str| {
        let body = json!({"component": probe, "flow": "held", "input": {"flag": HELD}}).to_string();
        let mut stream = connect(&addr);
        let request = format!(
            "{}{body}{then}",
            head(
                "POST",
                "/api/v1/executions?wait=60s",
                &format!(
                    "content-type: application/json\r\ncontent-length: {}\r\n",
                    body.len()
                )
            )
        );
        stream.write_all(request.as_bytes()).expect("sends");
        stream
    };
    let start_waiting = || start_waiting_then("");
    let first = start_waiting_then(&head("GET", "/api/v1/health", ""));
    let second = start_waiting();
    // A waiting request takes its place before its execution starts: with
    // both started, both places are taken, however slow the server is.
    wait_running(&addr, 5, "the two waiting requests started theirs");
    // A third waiting request: 503 at once.
    let (status, body) = exchange(
        &addr,
        format!(
            "{}{{}}",
            head(
                "POST",
                &format!("/api/v1/executions/{}/resume?wait=5s", long[0]),
                "connection: close\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
            )
        )
        .as_bytes(),
    );
    assert_eq!(status, 503, "{body}");
    // Everything else is served meanwhile, /health above all, more times
    // than `max_requests`.
    for _ in 0..10 {
        health_is_ok(&addr);
        let page = http::get(&addr, "/api/v1/executions?limit=5");
        assert_eq!(page.status, 200, "{:?}", page.body);
    }
    // A waiting client goes away: its place is given back. A waiting
    // request sent then is refused (503) until it is, and once admitted it
    // starts a sixth execution: each try ends one way or the other.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(30);
    let third = 'tries: loop {
        assert!(
            Instant::now() < deadline,
            "the place of a client that went away was not given back"
        );
        let mut stream = start_waiting();
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("a read timeout");
        let mut buf = [0u8; 512];
        loop {
            match stream.read(&mut buf) {
                Ok(n) => {
                    let answered = String::from_utf8_lossy(&buf[..n]).into_owned();
                    assert!(answered.starts_with("HTTP/1.1 503"), "{answered}");
                    std::thread::sleep(Duration::from_millis(100));
                    continue 'tries;
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("the waiting request's connection failed: {e}"),
            }
            if running_count(&addr) == 6 {
                break 'tries stream;
            }
            assert!(
                Instant::now() < deadline,
                "a waiting request neither refused nor started"
            );
        }
    };
    drop((second, third));
    for id in long {
        let _ = http::post_json(
            &addr,
            &format!("/api/v1/executions/{id}/cancel"),
            &json!({}),
        );
    }
    let running = http::get(&addr, "/api/v1/executions?status=running&limit=100");
    for e in running.body["executions"].as_array().into_iter().flatten() {
        let id = e["id"].as_u64().expect("an id");
        let _ = http::post_json(
            &addr,
            &format!("/api/v1/executions/{id}/cancel"),
            &json!({}),
        );
    }
}

#[test]
fn request_line_header_and_json_tricks_get_a_json_client_error() {
    let dir = temp();
    let served = Served::start(dir.path(), &[]);
    let addr = address(&served);
    let hello = upload(&addr, guests::HELLO);
    let close = "connection: close\r\n";
    let plain = |line: &str, headers: &str| format!("{line}\r\n{headers}\r\n").into_bytes();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        // A full URL as the target names a host beside `Host`.
        (
            plain(
                "GET http://evil.example/api/v1/health HTTP/1.1",
                "host: 127.0.0.1\r\nconnection: close\r\n",
            ),
            400,
            "bad_target",
        ),
        (
            plain(
                "GET http://127.0.0.1/api/v1/executions HTTP/1.1",
                "host: 127.0.0.1\r\nconnection: close\r\n",
            ),
            400,
            "bad_target",
        ),
        (
            plain("GET /api/v1/health HTTP/1.1", "connection: close\r\n"),
            400,
            "missing_host",
        ),
        (
            plain("GET /api/v1/health HTTP/1.0", ""),
            400,
            "missing_host",
        ),
        (
            plain(
                "GET /api/v1/health HTTP/1.1",
                "host: 127.0.0.1\r\nhost: evil.example\r\nconnection: close\r\n",
            ),
            400,
            "duplicate_header",
        ),
        (
            plain(
                "GET /api/v1/health HTTP/1.1",
                "host: evil.example\r\nhost: 127.0.0.1\r\nconnection: close\r\n",
            ),
            400,
            "duplicate_header",
        ),
        (
            plain(
                "GET /api/v1/health HTTP/1.1",
                "host: 127.0.0.1\r\nauthorization: Bearer a\r\nauthorization: Bearer b\r\nconnection: close\r\n",
            ),
            400,
            "duplicate_header",
        ),
        (
            plain(
                "GET /api/v1/health HTTP/1.1",
                "host: evil.example\r\nconnection: close\r\n",
            ),
            403,
            "foreign_host",
        ),
        (
            head("GET", "/api/v1/executions/%zz", close).into_bytes(),
            400,
            "bad_encoding",
        ),
        (
            head("GET", "/api/v1/executions/1%", close).into_bytes(),
            400,
            "bad_encoding",
        ),
        (
            head("GET", "/api/v1/executions?flow=%ff", close).into_bytes(),
            400,
            "bad_query",
        ),
        (
            head("GET", "/api/v1/executions?flow=%", close).into_bytes(),
            400,
            "bad_encoding",
        ),
        (
            head("GET", "/api/v1/components/%C3", close).into_bytes(),
            400,
            "bad_path",
        ),
        // Malformed HTTP: hyper refuses it; the answer is still ours.
        (b"GARBAGE\r\n\r\n".to_vec(), 400, "bad_http"),
        (
            plain(
                "GET /api/v1/health HTTP/1.1",
                "host: 127.0.0.1\r\nbad header line\r\n",
            ),
            400,
            "bad_http",
        ),
    ];
    for (bytes, status, kind) in cases {
        expect_error(&addr, &bytes, status, kind);
    }
    // A key twice in a JSON body, at the top or deep inside, in every
    // body the API reads: 400 bad_json, and nothing starts.
    let post = |path: &str, body: &str| {
        format!(
            "{}{body}",
            head(
                "POST",
                path,
                &format!(
                    "connection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                    body.len()
                )
            )
        )
        .into_bytes()
    };
    let bodies = [
        (
            "/api/v1/executions",
            format!(r#"{{"component": "{hello}", "component": "{hello}"}}"#),
        ),
        (
            "/api/v1/executions",
            format!(r#"{{"component": "{hello}", "input": {{"name": "a", "name": "b"}}}}"#),
        ),
        (
            "/api/v1/executions",
            format!(r#"{{"component": "{hello}", "input": {{"name": "a", "\u006eame": "b"}}}}"#),
        ),
        (
            "/api/v1/executions/1/input",
            r#"{"wait": "w", "value": {"a": [{"b": 1, "b": 2}]}}"#.to_owned(),
        ),
        (
            "/api/v1/executions/1/replay",
            r#"{"overrides": {"c": {"x": 1, "x": 1}}}"#.to_owned(),
        ),
        (
            "/api/v1/executions",
            format!("{}{}", "[".repeat(1000), "]".repeat(1000)),
        ),
    ];
    for (path, body) in &bodies {
        expect_error(&addr, &post(path, body), 400, "bad_json");
    }
    let page = http::get(&addr, "/api/v1/executions");
    assert_eq!(page.body["executions"], json!([]), "{:?}", page.body);
    health_is_ok(&addr);
}
