//! `cairn serve`, through real server processes on loopback: the API end to
//! end, many clients at once, cancel of a running execution, a wait answered
//! over HTTP, SIGTERM with work in flight, the token beyond loopback, and
//! hostile requests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use cairn_host::{ExecutionDetail, ExecutionId, ExecutionStatus};
use cairn_serve::api::{Accepted, ComponentList, ComponentView, ExecutionPage, Health};
use cairn_serve::{ApiClient, ServerAddress};
use cairn_tests::backend::{Backend, TEST_LEASE};
use cairn_tests::{cairn, guest, on_backends, temp};
use serde_json::{Value, json};

use crate::guests;

/// A `cairn serve` process on a journal in a test's folder.
pub(crate) struct Served {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Served {
    /// Starts a server on a free loopback port and waits until it answers.
    pub(crate) fn start(dir: &Path, extra: &[&str]) -> Served {
        Served::start_on(dir, "127.0.0.1:0", extra)
    }

    pub(crate) fn start_on(dir: &Path, listen: &str, extra: &[&str]) -> Served {
        let journal = dir.join("journal.redb");
        Served::spawn(cairn(dir), &journal, dir, listen, extra)
    }

    /// Starts a server on `journal` (a redb file, or a PostgreSQL URL:
    /// [`Backend::journal`](cairn_tests::backend::Backend::journal)) on a
    /// free loopback port, its log in `dir`, with claims of
    /// [`TEST_LEASE`](cairn_tests::backend::TEST_LEASE).
    pub(crate) fn start_journal(journal: &Path, dir: &Path, extra: &[&str]) -> Served {
        Served::start_journal_with_lease(journal, dir, TEST_LEASE, extra)
    }

    /// [`Served::start_journal`] with claims of `lease`: a test that runs
    /// several live workers on one database, and kills none, gives them
    /// [`LIVE_LEASE`](cairn_tests::backend::LIVE_LEASE).
    pub(crate) fn start_journal_with_lease(
        journal: &Path,
        dir: &Path,
        lease: Duration,
        extra: &[&str],
    ) -> Served {
        let command = cairn_tests::backend::cairn_with_lease(journal, lease);
        Served::spawn(command, journal, dir, "127.0.0.1:0", extra)
    }

    /// Runs `command serve` and waits until it answers: its address is in
    /// the address file beside a redb journal, or, for a database (which
    /// has no folder), in the line it prints once it listens.
    fn spawn(
        mut command: std::process::Command,
        journal: &Path,
        dir: &Path,
        listen: &str,
        extra: &[&str],
    ) -> Served {
        static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nth = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = dir.join(format!("serve-{}-{nth}.log", std::process::id()));
        let child = command
            .args(["serve", "--listen", listen])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("cairn serve starts");
        let mut served = Served {
            child,
            url: String::new(),
            log,
        };
        let database = journal.to_string_lossy().starts_with("postgres");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if database {
                if let Some(url) = listening_url(&served.log_text()) {
                    served.url = url;
                    break;
                }
            } else if let Some(address) = ServerAddress::read(journal)
                && address.pid == served.child.id()
            {
                served.url = address.url;
                break;
            }
            if let Ok(Some(status)) = served.child.try_wait() {
                panic!("cairn serve exited ({status}): {}", served.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "cairn serve did not start: {}",
                served.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        served
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn client(&self) -> ApiClient {
        ApiClient::new(&self.url, None).expect("a client")
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([name, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Sends `signal` (`-TERM`, `-KILL`) and waits for the process to end.
    pub(crate) fn stop(mut self, signal: &str) -> (ExitStatus, Duration) {
        let began = Instant::now();
        self.signal(signal);
        let status = self.child.wait().expect("waits");
        (status, began.elapsed())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The URL in `cairn serve`'s `listening on URL` line, once printed.
fn listening_url(log: &str) -> Option<String> {
    let rest = log.split("listening on ").nth(1)?;
    let url = rest.split_whitespace().next()?;
    // Whole only once the line is: a URL cut mid-write has no port yet.
    rest.contains('\n').then(|| url.to_owned())
}

/// A runtime for a test that drives a server's API from a plain `#[test]`.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn wasm(g: cairn_tests::Guest) -> Vec<u8> {
    std::fs::read(guest(g)).expect("the guest")
}

/// Uploads guest `g`; returns its hash.
pub(crate) async fn upload(client: &ApiClient, g: cairn_tests::Guest) -> String {
    let view: ComponentView = client
        .post_bytes("/components", wasm(g))
        .await
        .expect("uploads");
    view.hash
}

/// Waits until the execution's status is no longer `running`.
pub(crate) async fn settled(client: &ApiClient, id: ExecutionId) -> ExecutionDetail {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let detail: ExecutionDetail = client
            .get(&format!("/executions/{id}"))
            .await
            .expect("shows");
        if detail.execution.status != ExecutionStatus::Running {
            return detail;
        }
        assert!(Instant::now() < deadline, "execution {id} still running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

on_backends! {
    #[test]
    fn the_api_uploads_starts_follows_and_shows_an_execution(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let served = Served::start_journal(&journal, dir.path(), &[]);
        runtime().block_on(async {
            let client = served.client();
            let health: Health = client.get("/health").await.expect("health");
            assert_eq!(health.status, "ok");

            let first: ComponentView = client
                .post_bytes("/components", wasm(guests::HELLO))
                .await
                .expect("uploads");
            assert_eq!(first.hash.len(), 64);
            assert!(
                first.flows.to_string().contains("\"hello\""),
                "{}",
                first.flows
            );
            // The same bytes again: known, same hash.
            let again: ComponentView = client
                .post_bytes("/components", wasm(guests::HELLO))
                .await
                .expect("uploads again");
            assert_eq!(again.hash, first.hash);
            let list: ComponentList = client.get("/components").await.expect("lists");
            assert_eq!(list.components.len(), 1);

            let accepted: Accepted = client
                .post(
                    "/executions",
                    &json!({"component": first.hash, "input": {"name": "Ada"}}),
                )
                .await
                .expect("starts");
            // The stream opens with where the execution stands, then follows it.
            let mut events = client
                .events(&format!("/events?execution={}", accepted.id))
                .await
                .expect("streams");
            let mut names = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            while let Some((name, data)) = events.next().await.expect("an event") {
                let value: Value = serde_json::from_str(&data).expect("JSON data");
                names.push(name.clone());
                let finished = name == "execution_finished"
                    || (name == "snapshot" && value["status"] != "running");
                if finished {
                    break;
                }
                assert!(Instant::now() < deadline, "no end in {names:?}");
            }
            assert_eq!(
                names.first().map(String::as_str),
                Some("snapshot"),
                "{names:?}"
            );

            let detail = settled(&client, accepted.id).await;
            assert_eq!(detail.execution.status, ExecutionStatus::Completed);
            assert_eq!(
                detail.execution.output.as_ref().expect("an output")["text"],
                "HELLO, ADA, FROM A DURABLE FLOW!"
            );
            assert_eq!(detail.calls.len(), 3);

            let logs: Value = client
                .get(&format!("/executions/{}/logs", accepted.id))
                .await
                .expect("logs");
            assert_eq!(logs["attempts"].as_array().map(Vec::len), Some(3), "{logs}");

            // Pages: newest first, cut by id.
            for _ in 0..2 {
                let more: Accepted = client
                    .post(
                        "/executions",
                        &json!({"component": first.hash, "flow": "hello", "input": {"name": "Bo"}}),
                    )
                    .await
                    .expect("starts");
                settled(&client, more.id).await;
            }
            let page: ExecutionPage = client.get("/executions?limit=2").await.expect("a page");
            assert_eq!(page.executions.len(), 2);
            assert!(page.executions[0].id > page.executions[1].id);
            let cursor = page.next_cursor.expect("a next page");
            let rest: ExecutionPage = client
                .get(&format!("/executions?limit=2&cursor={cursor}"))
                .await
                .expect("the next page");
            assert_eq!(rest.executions.len(), 1);
            assert_eq!(rest.executions[0].id, accepted.id);
            assert!(rest.next_cursor.is_none());
            let completed: ExecutionPage = client
                .get("/executions?status=completed&flow=hello&since=2020-01-01T00:00:00Z")
                .await
                .expect("filtered");
            assert_eq!(completed.executions.len(), 3);
            let none: ExecutionPage = client
                .get("/executions?status=failed")
                .await
                .expect("filtered");
            assert!(none.executions.is_empty());
        });
    }
}

on_backends! {
    #[test]
    fn many_clients_start_executions_at_once(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let served = Served::start_journal(&journal, dir.path(), &["--max-executions", "4"]);
        runtime().block_on(async {
            let client = served.client();
            let hash = upload(&client, guests::HELLO).await;
            let mut clients = Vec::new();
            for i in 0..64 {
                let client = served.client();
                let hash = hash.clone();
                clients.push(tokio::spawn(async move {
                    let accepted: Accepted = client
                        .post(
                            "/executions",
                            &json!({"component": hash, "input": {"name": format!("n{i}")}}),
                        )
                        .await
                        .expect("starts");
                    (i, accepted.id)
                }));
            }
            let mut ids = Vec::new();
            for task in clients {
                ids.push(task.await.expect("a client"));
            }
            let mut seen = std::collections::BTreeSet::new();
            for (i, id) in ids {
                assert!(seen.insert(id), "id {id} given twice");
                let detail = settled(&client, id).await;
                assert_eq!(detail.execution.status, ExecutionStatus::Completed);
                assert_eq!(
                    detail.execution.output.as_ref().expect("output")["text"],
                    format!("HELLO, N{i}, FROM A DURABLE FLOW!")
                );
            }
        });
    }
}

on_backends! {
    #[test]
    fn cancel_reaches_a_running_execution(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let marks = cairn_tests::marks(dir.path());
        let grant = format!("{}:/marks", marks.display());
        let served = Served::start_journal(&journal, dir.path(), &["--allow-dir", grant.as_str()]);
        runtime().block_on(async {
            let client = served.client();
            let hash = upload(&client, guests::PROBE).await;
            // Far more steps than it can make before the cancel.
            let long: Accepted = client
                .post(
                    "/executions",
                    &json!({"component": hash, "flow": "steps", "input": {"count": 50_000, "work": 2_000_000}}),
                )
                .await
                .expect("starts");
            // Cancelled once its first call is on the record, however long
            // the server takes to get there.
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let now: ExecutionDetail = client
                    .get(&format!("/executions/{}", long.id))
                    .await
                    .expect("shows");
                assert_eq!(now.execution.status, ExecutionStatus::Running, "{now:?}");
                if !now.calls.is_empty() {
                    break;
                }
                assert!(Instant::now() < deadline, "no call started: {now:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let cancelled: Accepted = client
                .post(&format!("/executions/{}/cancel", long.id), &json!({}))
                .await
                .expect("cancels");
            assert_eq!(cancelled.status, ExecutionStatus::Cancelled);
            let detail = settled(&client, long.id).await;
            assert_eq!(detail.execution.status, ExecutionStatus::Cancelled);
            assert!(!detail.calls.is_empty());
            assert!(detail.calls.len() < 50_000, "{} calls", detail.calls.len());
            // It stopped: no call is added after the cancel.
            let calls = detail.calls.len();
            tokio::time::sleep(Duration::from_millis(300)).await;
            let later = settled(&client, long.id).await;
            assert_eq!(later.calls.len(), calls);
            // Cancelled is final.
            let again = client
                .post::<_, Accepted>(&format!("/executions/{}/resume", long.id), &json!({}))
                .await
                .expect_err("refused");
            assert_eq!(again.status().map(|s| s.as_u16()), Some(409), "{again}");
            assert_eq!(again.kind(), Some("cancelled"));
        });
    }
}

on_backends! {
    #[test]
    fn a_wait_answered_over_http_resumes_the_execution(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let served = Served::start_journal(&journal, dir.path(), &[]);
        runtime().block_on(async {
            let client = served.client();
            let hash = upload(&client, guests::APPROVAL).await;
            let accepted: Accepted = client
                .post(
                    "/executions",
                    &json!({"component": hash, "input": {"topic": "wasm"}}),
                )
                .await
                .expect("starts");
            let waiting = settled(&client, accepted.id).await;
            assert_eq!(waiting.execution.status, ExecutionStatus::Waiting);
            assert_eq!(waiting.waits[0].name, "approve");

            // A value that breaks the schema is refused, and nothing resumes.
            let bad = client
                .post::<_, Accepted>(
                    &format!("/executions/{}/input", accepted.id),
                    &json!({"wait": "approve", "value": {"approved": "yes"}}),
                )
                .await
                .expect_err("refused");
            assert_eq!(bad.status().map(|s| s.as_u16()), Some(400), "{bad}");

            let resumed: Accepted = client
                .post(
                    &format!("/executions/{}/input", accepted.id),
                    &json!({"wait": "approve", "value": {"approved": true, "reviewer": "ada"}}),
                )
                .await
                .expect("answers");
            assert_eq!(resumed.id, accepted.id);
            // The resume runs in the background: it is accepted before the flow
            // has run again, so the execution may still read `waiting` at first.
            let deadline = Instant::now() + Duration::from_secs(60);
            let done = loop {
                let done = settled(&client, accepted.id).await;
                if done.execution.status != ExecutionStatus::Waiting || Instant::now() > deadline {
                    break done;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            assert_eq!(
                done.execution.status,
                ExecutionStatus::Completed,
                "{done:?}"
            );
        });
    }
}

on_backends! {
    #[test]
    fn sigterm_gives_running_work_its_grace_and_the_next_start_resumes_the_rest(backend) {
        // About 0.13 s each: far more than the half second before the
        // SIGTERM and the one second of grace.
        const STEPS: u64 = 60;
        let dir = temp();
        let journal = backend.journal(dir.path());
        let marks = cairn_tests::marks(dir.path());
        let grant = format!("{}:/marks", marks.display());
        let args = ["--grace", "1s", "--allow-dir", grant.as_str()];
        let served = Served::start_journal(&journal, dir.path(), &args);
        let id = runtime().block_on(async {
            let client = served.client();
            let hash = upload(&client, guests::PROBE).await;
            let accepted: Accepted = client
                .post(
                    "/executions",
                    &json!({"component": hash, "flow": "steps", "input": {"count": STEPS, "work": 20_000_000}}),
                )
                .await
                .expect("starts");
            tokio::time::sleep(Duration::from_millis(500)).await;
            accepted.id
        });
        let (status, took) = served.stop("-TERM");
        assert!(status.success(), "{status}");
        assert!(took < Duration::from_secs(10), "took {took:?}");
        // On a shared journal, what a stopped worker held is another's to
        // resume once its claim lapses (no worker can tell a stopped one
        // from a slow one before that).
        if backend == Backend::Postgres {
            std::thread::sleep(TEST_LEASE + Duration::from_millis(300));
        }

        let served = Served::start_journal(&journal, dir.path(), &args);
        // It says so once it has looked (after it wrote its address).
        let deadline = Instant::now() + Duration::from_secs(30);
        while !served.log_text().contains("resuming 1 execution") {
            assert!(Instant::now() < deadline, "{}", served.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
        runtime().block_on(async {
            let client = served.client();
            let detail = settled(&client, id).await;
            assert_eq!(detail.execution.status, ExecutionStatus::Completed);
            let expected: u64 = (0..STEPS).map(|i| i * i).sum();
            assert_eq!(detail.execution.output, Some(json!(expected)));
        });
        // Every step ran, none that completed ran twice (each leaves one mark).
        for i in 0..STEPS {
            let n = cairn_tests::count_marks(&marks, &format!("step-{i}"));
            assert!((1..=2).contains(&n), "step {i}: {n} marks");
        }
    }
}

#[test]
fn beyond_loopback_requests_need_the_token_made_on_first_start() {
    let dir = temp();
    let served = Served::start_on(dir.path(), "0.0.0.0:0", &[]);
    let token_file = dir.path().join("journal.redb.token");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file)
            .expect("the token file")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let token = std::fs::read_to_string(&token_file).expect("token");
    let port = served.url().rsplit(':').next().expect("a port").to_owned();
    let url = format!("http://127.0.0.1:{port}");
    runtime().block_on(async {
        let anonymous = ApiClient::new(&url, None).expect("client");
        let refused = anonymous
            .get::<Health>("/health")
            .await
            .expect_err("refused");
        assert_eq!(refused.status().map(|s| s.as_u16()), Some(401));
        let wrong = ApiClient::new(&url, Some("x".repeat(64))).expect("client");
        assert!(wrong.get::<Health>("/health").await.is_err());
        let known = ApiClient::new(&url, Some(token.trim().to_owned())).expect("client");
        let health: Health = known.get("/health").await.expect("answers");
        assert_eq!(health.status, "ok");
    });
}

/// One raw HTTP/1.1 exchange: the status and the body.
fn raw(url: &str, request: &[u8]) -> (u16, String) {
    let address = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    // A server may answer (413) before reading all of a huge body and close.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

fn request(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

#[test]
fn hostile_requests_get_clear_client_errors() {
    let dir = temp();
    let served = Served::start(dir.path(), &[]);
    let url = served.url().to_owned();
    let zeros = "0".repeat(64);
    let rebound = |host: &str, method: &str, path: &str| {
        format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
            .into_bytes()
    };
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (request("GET", "/nope", b""), 404, "not_found"),
        // DNS rebinding: a page whose name resolves to 127.0.0.1 reaches a
        // token-less server under its own name; every route refuses it.
        (
            rebound("attacker.example", "GET", "/api/v1/executions"),
            403,
            "foreign_host",
        ),
        (
            rebound(
                "localhost.attacker.example:7080",
                "POST",
                "/api/v1/executions/1/cancel",
            ),
            403,
            "foreign_host",
        ),
        (rebound("127.0.0.1.nip.io", "GET", "/"), 403, "foreign_host"),
        (
            rebound("10.1.2.3", "GET", "/api/v1/health"),
            403,
            "foreign_host",
        ),
        (
            request("GET", "/api/v1/../../etc/passwd", b""),
            404,
            "not_found",
        ),
        (
            request("GET", "/api/v1/executions/%2e%2e%2fetc", b""),
            400,
            "bad_id",
        ),
        (
            request("GET", "/api/v1/executions/99999", b""),
            404,
            "not_found",
        ),
        (request("GET", "/api/v1/executions/-1", b""), 400, "bad_id"),
        (
            request("DELETE", "/api/v1/executions", b""),
            405,
            "method_not_allowed",
        ),
        (
            request("POST", "/api/v1/executions", b"{not json"),
            400,
            "bad_json",
        ),
        (request("POST", "/api/v1/executions", b""), 400, "bad_json"),
        (
            request("POST", "/api/v1/executions", br#"{"component": "abc"}"#),
            400,
            "bad_hash",
        ),
        (
            request(
                "POST",
                "/api/v1/executions",
                format!(r#"{{"component": "{zeros}"}}"#).as_bytes(),
            ),
            404,
            "not_found",
        ),
        (
            request(
                "POST",
                "/api/v1/executions",
                br#"{"component": 1, "extra": 2}"#,
            ),
            400,
            "bad_json",
        ),
        (
            request("GET", "/api/v1/executions?limit=100000", b""),
            400,
            "bad_query",
        ),
        (
            request("GET", "/api/v1/executions?limit=abc", b""),
            400,
            "bad_query",
        ),
        (
            request("GET", "/api/v1/executions?since=yesterday", b""),
            400,
            "bad_query",
        ),
        (
            request("GET", "/api/v1/executions?status=bogus", b""),
            400,
            "bad_query",
        ),
        (
            request("GET", "/api/v1/components/xyz", b""),
            400,
            "bad_hash",
        ),
        (
            request("GET", &format!("/api/v1/components/{zeros}"), b""),
            404,
            "not_found",
        ),
        (
            request("POST", "/api/v1/components", b""),
            400,
            "bad_component",
        ),
        (
            request("POST", "/api/v1/components", b"this is not wasm at all"),
            422,
            "bad_component",
        ),
        (
            request("GET", "/api/v1/events?execution=77", b""),
            404,
            "not_found",
        ),
        (
            request("POST", "/api/v1/executions/1/replay", b"[1, 2"),
            400,
            "bad_json",
        ),
    ];
    // A real component, for bodies that are JSON of the wrong shape.
    let (got, body) = raw(
        &url,
        &request("POST", "/api/v1/components", &wasm(guests::HELLO)),
    );
    assert_eq!(got, 201, "{body}");
    let hello: ComponentView = serde_json::from_str(&body).expect("a component view");
    let cases = cases
        .into_iter()
        .chain(hostile_ids_and_paths())
        .chain(hostile_bodies(&hello.hash))
        .chain(hostile_queries())
        .chain(wrong_methods());
    for (bytes, status, kind) in cases {
        expect_client_error(&url, &bytes, status, kind);
    }
    // A body past the limit is refused without being held.
    let huge = vec![b' '; 65 << 20];
    let (got, _) = raw(&url, &request("POST", "/api/v1/executions", &huge));
    assert_eq!(got, 413);
    // A declared length past the limit, on every route that takes a body,
    // is refused at once, without waiting for bytes that never come.
    for path in [
        "/api/v1/executions",
        "/api/v1/executions/1/input",
        "/api/v1/executions/1/replay",
        "/api/v1/components",
    ] {
        let bytes = format!(
            "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 300000000000\r\n\r\n{{"
        );
        let began = Instant::now();
        expect_client_error(&url, bytes.as_bytes(), 413, "too_large");
        // A server that waited for the body would wait its body timeout
        // (30 s by default) and then answer 408, not 413: well under that
        // is at once, however loaded the machine.
        assert!(
            began.elapsed() < Duration::from_secs(15),
            "{path} waited for the body ({:?})",
            began.elapsed()
        );
    }
    // Without a content type, or with a form's, the body is still read as
    // JSON (what `curl -d` sends): bad JSON is bad JSON either way.
    for content_type in ["", "content-type: application/x-www-form-urlencoded\r\n"] {
        let body = "component=abc&flow=hello";
        let bytes = format!(
            "POST /api/v1/executions HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n{content_type}content-length: {}\r\n\r\n{body}",
            body.len()
        );
        expect_client_error(&url, bytes.as_bytes(), 400, "bad_json");
    }
    // Malformed HTTP is the protocol layer's to refuse (a bare 4xx, or the
    // connection closed); either way the server lives on.
    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"POST /api/v1/executions HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"GET /api/v1/health HTTP/1.1\r\ncontent-length: -1\r\n\r\n",
    ] {
        let status = raw_status(&url, garbage);
        assert!(
            status.is_none_or(|s| (400..500).contains(&s)),
            "{:?}: {status:?}",
            String::from_utf8_lossy(garbage)
        );
    }
    // The server is still there, and answers what it answered before.
    let (got, _) = raw(&url, &request("GET", "/api/v1/health", b""));
    assert_eq!(got, 200);
    let (got, body) = raw(
        &url,
        &request("GET", &format!("/api/v1/components/{}", hello.hash), b""),
    );
    assert_eq!(got, 200, "{body}");
}

type Case = (Vec<u8>, u16, &'static str);

/// Sends one request and checks its answer is `status` with a JSON
/// `{"error": kind, "message": ...}`.
fn expect_client_error(url: &str, bytes: &[u8], status: u16, kind: &str) {
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned();
    let (got, body) = raw(url, bytes);
    assert_eq!(got, status, "{shown}: {body}");
    let body: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{shown}: {body}"));
    assert_eq!(body["error"], kind, "{shown}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{shown}: {body}"
    );
}

/// The status of a raw exchange, if the server answered at all.
fn raw_status(url: &str, request: &[u8]) -> Option<u16> {
    let address = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
}

/// Ids and hashes that are not one, and paths that try to climb out or
/// smuggle a separator in percent-encoding.
fn hostile_ids_and_paths() -> Vec<Case> {
    let get = |path: &str| request("GET", path, b"");
    let mut cases = Vec::new();
    for id in [
        "18446744073709551616",
        "%2B1",
        "%201",
        "1%20",
        "0x10",
        "1.0",
        "1e3",
        "%00",
        "1%2F..%2F..%2Fhealth",
        "%2e%2e",
    ] {
        for tail in ["", "/logs"] {
            cases.push((
                get(&format!("/api/v1/executions/{id}{tail}")),
                400,
                "bad_id",
            ));
        }
        cases.push((
            request("POST", &format!("/api/v1/executions/{id}/resume"), b""),
            400,
            "bad_id",
        ));
    }
    let long = "9".repeat(10_000);
    cases.push((get(&format!("/api/v1/executions/{long}")), 400, "bad_id"));
    cases.push((get("/api/v1/executions/%FF"), 400, "bad_path"));
    for hash in [
        "0".repeat(63),
        "0".repeat(65),
        "g".repeat(64),
        format!("%20{}", "0".repeat(64)),
        "%2e%2e%2f%2e%2e%2fjournal.redb".to_owned(),
        "..%2F..%2F..%2Fetc%2Fpasswd".to_owned(),
        "..".to_owned(),
    ] {
        cases.push((get(&format!("/api/v1/components/{hash}")), 400, "bad_hash"));
    }
    for path in [
        "/api/v1/executions/1/../../health",
        "/api/v1/./health",
        "/api/v1//health",
        "/api/v1/%68ealth",
        "/api/v1/executions/1/logs/extra",
        "/api/v1/executions/",
        "/api/v1",
        "/api/v2/health",
    ] {
        cases.push((get(path), 404, "not_found"));
    }
    cases.push((get("/api/v1/executions/1"), 404, "not_found"));
    cases.push((
        request("POST", "/api/v1/executions/1/cancel", b""),
        404,
        "not_found",
    ));
    cases.push((
        request("POST", "/api/v1/executions/1/resume", b""),
        404,
        "not_found",
    ));
    cases
}

/// Bodies that are not JSON, JSON of the wrong shape, unknown fields and
/// inputs the flow refuses, on every route that takes a body.
fn hostile_bodies(hash: &str) -> Vec<Case> {
    let start = |body: String| request("POST", "/api/v1/executions", body.as_bytes());
    let deep = "[".repeat(100_000);
    let mut cases = vec![
        (start("null".into()), 400, "bad_json"),
        (start("[]".into()), 400, "bad_json"),
        (start("\"text\"".into()), 400, "bad_json"),
        (start(deep.clone()), 400, "bad_json"),
        (
            request("POST", "/api/v1/executions", b"\xff\xfe{}"),
            400,
            "bad_json",
        ),
        (
            start(format!(r#"{{"component": "{hash}"}} trailing"#)),
            400,
            "bad_json",
        ),
        (
            start(format!(
                r#"{{"component": "{hash}", "component": "{hash}"}}"#
            )),
            400,
            "bad_json",
        ),
        (
            start(format!(r#"{{"component": "{hash}", "flow": 5}}"#)),
            400,
            "bad_json",
        ),
        (
            start(format!(
                r#"{{"component": "{hash}", "flow": "hello", "input": {{"name": "a"}}, "extra": 1}}"#
            )),
            400,
            "bad_json",
        ),
        (
            start(format!(r#"{{"component": ["{hash}"]}}"#)),
            400,
            "bad_json",
        ),
        (start(r#"{"flow": "hello"}"#.into()), 400, "bad_json"),
        (
            start(format!(r#"{{"component": " {hash}"}}"#)),
            400,
            "bad_hash",
        ),
        (
            start(format!(r#"{{"component": "{hash}", "flow": "nope"}}"#)),
            400,
            "unknown_flow",
        ),
        (
            start(format!(
                r#"{{"component": "{hash}", "flow": "hello", "input": "Ada"}}"#
            )),
            400,
            "bad_input",
        ),
        (
            start(format!(
                r#"{{"component": "{hash}", "flow": "hello", "input": {{"name": "a", "age": 3}}}}"#
            )),
            400,
            "bad_input",
        ),
        (
            start(format!(
                r#"{{"component": "{hash}", "flow": "hello", "input": {{}}}}"#
            )),
            400,
            "bad_input",
        ),
    ];
    for body in [
        "",
        "{",
        "null",
        r#"{"wait": 1, "value": 2}"#,
        r#"{"value": 2}"#,
        r#"{"wait": "w", "value": 1, "resume": "yes"}"#,
        r#"{"wait": "w", "value": 1, "extra": 0}"#,
    ] {
        cases.push((
            request("POST", "/api/v1/executions/1/input", body.as_bytes()),
            400,
            "bad_json",
        ));
    }
    cases.push((
        request(
            "POST",
            "/api/v1/executions/1/input",
            br#"{"wait": "w", "value": 1}"#,
        ),
        404,
        "not_found",
    ));
    for body in [
        "",
        "null",
        r#"{"overrides": []}"#,
        r#"{"answers": 1}"#,
        r#"{"from": 3}"#,
        r#"{"unknown": true}"#,
        deep.as_str(),
    ] {
        cases.push((
            request("POST", "/api/v1/executions/1/replay", body.as_bytes()),
            400,
            "bad_json",
        ));
    }
    cases.push((
        request(
            "POST",
            "/api/v1/executions/1/replay",
            br#"{"component": "nothex"}"#,
        ),
        400,
        "bad_hash",
    ));
    cases.push((
        request("POST", "/api/v1/executions/1/replay", b"{}"),
        404,
        "not_found",
    ));
    cases.push((
        request("POST", "/api/v1/components", &[0u8; 16]),
        422,
        "bad_component",
    ));
    cases
}

/// Query strings of the wrong type, out of range, unknown or repeated.
fn hostile_queries() -> Vec<Case> {
    let mut cases = Vec::new();
    for query in [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=99999999999999999999999",
        "limit=",
        "limit=1&limit=2",
        "cursor=abc",
        "cursor=-1",
        "cursor=1.5",
        "cursor=18446744073709551616",
        "since=",
        "since=2026-13-01T00:00:00Z",
        "since=2026-12-01T10:00:00",
        "since=-5",
        "status=RUNNING",
        "status=",
        "unknown=1",
        "limit=%FF",
    ] {
        cases.push((
            request("GET", &format!("/api/v1/executions?{query}"), b""),
            400,
            "bad_query",
        ));
    }
    for query in ["execution=abc", "execution=", "execution=-1", "other=1"] {
        cases.push((
            request("GET", &format!("/api/v1/events?{query}"), b""),
            400,
            "bad_query",
        ));
    }
    cases.push((
        request("GET", "/api/v1/executions/1/logs?bogus=1", b""),
        400,
        "bad_query",
    ));
    cases
}

/// Every route with a method it does not take.
fn wrong_methods() -> Vec<Case> {
    [
        ("POST", "/api/v1/health"),
        ("PUT", "/api/v1/components"),
        ("DELETE", "/api/v1/components"),
        ("POST", &format!("/api/v1/components/{}", "0".repeat(64))),
        ("PATCH", "/api/v1/executions"),
        ("PUT", "/api/v1/executions/1"),
        ("DELETE", "/api/v1/executions/1"),
        ("POST", "/api/v1/executions/1"),
        ("POST", "/api/v1/executions/1/logs"),
        ("GET", "/api/v1/executions/1/input"),
        ("GET", "/api/v1/executions/1/resume"),
        ("GET", "/api/v1/executions/1/cancel"),
        ("DELETE", "/api/v1/executions/1/replay"),
        ("POST", "/api/v1/events"),
        ("OPTIONS", "/api/v1/executions"),
    ]
    .into_iter()
    .map(|(method, path)| (request(method, path, b""), 405, "method_not_allowed"))
    .collect()
}

on_backends! {
    #[test]
    fn a_stream_that_follows_one_execution_ends_when_it_completes(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let served = Served::start_journal(&journal, dir.path(), &[]);
        runtime().block_on(async {
            let client = served.client();
            let hash = upload(&client, guests::HELLO).await;
            let accepted: Accepted = client
                .post(
                    "/executions",
                    &json!({"component": hash, "input": {"name": "Ada"}}),
                )
                .await
                .expect("starts");
            // Followed from its start: its events, then the end of the stream.
            let mut events = client
                .events(&format!("/events?execution={}", accepted.id))
                .await
                .expect("streams");
            let mut names = Vec::new();
            let ended = tokio::time::timeout(Duration::from_secs(60), async {
                while let Some((name, _)) = events.next().await.expect("an event") {
                    names.push(name);
                }
            })
            .await;
            assert!(ended.is_ok(), "the stream went on after {names:?}");
            assert_eq!(names.first().map(String::as_str), Some("snapshot"));
            let last = names.last().map(String::as_str);
            assert!(
                last == Some("execution_finished") || names.len() == 1,
                "{names:?}"
            );
            // Followed once it is over: the snapshot alone.
            let detail = settled(&client, accepted.id).await;
            assert_eq!(detail.execution.status, ExecutionStatus::Completed);
            let mut events = client
                .events(&format!("/events?execution={}", accepted.id))
                .await
                .expect("streams");
            let (name, data) = events.next().await.expect("an event").expect("a snapshot");
            assert_eq!(name, "snapshot");
            assert!(data.contains("\"completed\""), "{data}");
            let end = tokio::time::timeout(Duration::from_secs(10), events.next()).await;
            assert!(
                matches!(end, Ok(Ok(None))),
                "the stream of a completed execution goes on: {end:?}"
            );
        });
    }
}

/// `POST PATH` with a JSON body on a connection of its own: the status and
/// the answer as JSON.
fn post_json(url: &str, path: &str, body: &Value) -> (u16, Value) {
    let (status, text) = raw(url, &request("POST", path, body.to_string().as_bytes()));
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, value)
}

on_backends! {
    #[test]
    fn a_start_that_waits_answers_with_the_end_or_202_when_the_wait_is_over(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let marks = cairn_tests::marks(dir.path());
        let grant = format!("{}:/marks", marks.display());
        let served = Served::start_journal(&journal, dir.path(), &["--allow-dir", grant.as_str()]);
        let client = served.client();
        let (hello, approval, probe) = runtime().block_on(async {
            (
                upload(&client, guests::HELLO).await,
                upload(&client, guests::APPROVAL).await,
                upload(&client, guests::PROBE).await,
            )
        });
        let url = served.url();

        // Completed within the wait: 200 with its summary, output included.
        let (status, ended) = post_json(
            url,
            "/api/v1/executions?wait=60s",
            &json!({"component": hello, "input": {"name": "Ada"}}),
        );
        assert_eq!(status, 200, "{ended}");
        assert_eq!(ended["status"], "completed", "{ended}");
        assert_eq!(ended["flow"], "hello");
        assert_eq!(ended["output"]["text"], "HELLO, ADA, FROM A DURABLE FLOW!");
        let id = ended["id"].as_u64().expect("an id");
        let shown = runtime().block_on(settled(&client, ExecutionId(id)));
        assert_eq!(shown.execution.status, ExecutionStatus::Completed);

        // Stopped to wait for input: 200 with status waiting; answering with
        // a wait answers with its end too.
        let (status, waiting) = post_json(
            url,
            "/api/v1/executions?wait=60s",
            &json!({"component": approval, "input": {"topic": "wasm"}}),
        );
        assert_eq!(status, 200, "{waiting}");
        assert_eq!(waiting["status"], "waiting", "{waiting}");
        let id = waiting["id"].as_u64().expect("an id");
        let (status, answered) = post_json(
            url,
            &format!("/api/v1/executions/{id}/input?wait=60s"),
            &json!({"wait": "approve", "value": {"approved": true, "reviewer": "ada"}}),
        );
        assert_eq!(status, 200, "{answered}");
        assert_eq!(answered["status"], "completed", "{answered}");

        // Still running when the wait is over: 202, as without a wait.
        let began = Instant::now();
        let (status, accepted) = post_json(
            url,
            "/api/v1/executions?wait=300ms",
            &json!({"component": probe, "flow": "steps", "input": {"count": 50_000, "work": 2_000_000}}),
        );
        let took = began.elapsed();
        assert_eq!(status, 202, "{accepted}");
        assert_eq!(accepted["status"], "running", "{accepted}");
        assert!(
            took >= Duration::from_millis(300),
            "answered after {took:?}"
        );
        assert!(took < Duration::from_secs(30), "answered after {took:?}");
        let long = accepted["id"].as_u64().expect("an id");
        let (status, _) = post_json(
            url,
            &format!("/api/v1/executions/{long}/cancel"),
            &json!({}),
        );
        assert_eq!(status, 200);

        // Past the longest wait, or not a duration: 400, and nothing starts.
        let before: ExecutionPage = runtime()
            .block_on(client.get("/executions"))
            .expect("a page");
        for wait in ["301s", "6m", "99999999999999999999", "30x", "-1s", ""] {
            let (status, error) = post_json(
                url,
                &format!("/api/v1/executions?wait={wait}"),
                &json!({"component": hello, "input": {"name": "Bo"}}),
            );
            assert_eq!(status, 400, "wait={wait}: {error}");
            assert_eq!(error["error"], "bad_wait", "wait={wait}: {error}");
        }
        let after: ExecutionPage = runtime()
            .block_on(client.get("/executions"))
            .expect("a page");
        assert_eq!(after.executions.len(), before.executions.len());
    }
}
