//! Figure 16: small executions per second over HTTP through 1, 2 and 3
//! `cairn serve` workers on one PostgreSQL database, beside one
//! `cairn serve` on redb, in the same run.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cairn_serve::ApiClient;
use cairn_serve::api::ComponentView;
use serde_json::{Value, json};

use super::schema;
use crate::{Row, guests};

/// Clients at once, spread over the workers (as figure 10's).
const CLIENTS: usize = 64;

/// How long each rate is counted, after a warm-up.
const MEASURE_FOR: Duration = Duration::from_secs(3);

/// The figure's rows: one per number of workers on PostgreSQL, each beside
/// one server on redb.
pub(super) async fn serve_workers(url: &str, work: &Path) -> Vec<Row> {
    let redb_dir = work.join("figure-16");
    std::fs::create_dir_all(&redb_dir).expect("a folder");
    let on_redb = {
        let journal = redb_dir.join("journal.redb");
        let server = Worker::start(&journal, &redb_dir, 0);
        rate(std::slice::from_ref(&server.url)).await
    };
    let mut rows = Vec::new();
    let mut one = 0.0;
    for workers in 1..=3 {
        let journal = PathBuf::from(schema(url, &format!("bench_workers_{workers}")).await);
        let servers: Vec<Worker> = (0..workers)
            .map(|n| Worker::start(&journal, work, n))
            .collect();
        let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
        let per_second = rate(&urls).await;
        drop(servers);
        if workers == 1 {
            one = per_second;
        }
        eprintln!(
            "bench: figure 16: {workers} worker(s) on PostgreSQL: {per_second:.0} executions/s \
             (one `cairn serve` on redb: {on_redb:.0}/s)"
        );
        rows.push(Row {
            figure: match workers {
                1 => "16. executions/s over HTTP, 64 clients, PostgreSQL, 1 `cairn serve` worker",
                2 => "16. executions/s over HTTP, 64 clients, PostgreSQL, 2 workers, one database",
                _ => "16. executions/s over HTTP, 64 clients, PostgreSQL, 3 workers, one database",
            },
            value: per_second,
            unit: "executions/s",
            baseline: if workers == 1 {
                format!("one `cairn serve` on redb: {on_redb:.0}/s")
            } else {
                format!("1 worker: {one:.0}/s; redb: {on_redb:.0}/s")
            },
            ratio: Some(per_second / on_redb.max(1.0)),
            target: "reported".to_owned(),
            pass: true,
        });
    }
    rows
}

/// Uploads the bench component to the first server, warms every server
/// up, then counts the executions [`CLIENTS`] clients spread over `urls`
/// complete in [`MEASURE_FOR`].
async fn rate(urls: &[String]) -> f64 {
    let first = ApiClient::new(&urls[0], None).expect("a client");
    let wasm = std::fs::read(cairn_tests::guest(guests::BENCH)).expect("the bench guest");
    let view: ComponentView = first
        .post_bytes("/components", wasm)
        .await
        .expect("uploads");
    executions(urls, &view.hash, Duration::from_millis(500)).await;
    let started = Instant::now();
    let done = executions(urls, &view.hash, MEASURE_FOR).await;
    done as f64 / started.elapsed().as_secs_f64()
}

/// How many `single` executions the clients see completed in `duration`.
async fn executions(urls: &[String], hash: &str, duration: Duration) -> u64 {
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let client = ApiClient::new(&urls[n % urls.len()], None).expect("a client");
            let body = json!({"component": hash, "flow": "single"});
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    let ended: Value = client
                        .post("/executions?wait=60s", &body)
                        .await
                        .expect("starts");
                    assert_eq!(ended["status"], "completed", "{ended}");
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut done = 0;
    for task in tasks {
        done += task.await.expect("joined");
    }
    done
}

/// A `cairn serve` process, found by the line it prints once it listens;
/// killed when dropped.
struct Worker {
    child: Child,
    url: String,
}

impl Worker {
    fn start(journal: &Path, dir: &Path, n: usize) -> Worker {
        let log = dir.join(format!("figure-16-worker-{n}-{}.log", std::process::id()));
        let child = cairn_tests::backend::cairn_on(journal)
            .args(["serve", "--listen", "127.0.0.1:0"])
            // The default claim: the figure measures what users run.
            .env_remove("CAIRN_LEASE")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log"))
            .spawn()
            .expect("cairn serve starts");
        let mut worker = Worker {
            child,
            url: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(rest) = text.split("listening on ").nth(1)
                && rest.contains('\n')
                && let Some(url) = rest.split_whitespace().next()
            {
                worker.url = url.to_owned();
                return worker;
            }
            assert!(
                worker.child.try_wait().ok().flatten().is_none(),
                "cairn serve exited: {text}"
            );
            assert!(
                Instant::now() < deadline,
                "cairn serve did not start: {text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
