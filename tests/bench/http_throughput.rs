//! Figure 10: small durable executions per second through `cairn serve`'s
//! HTTP API on loopback, [`CLIENTS`] clients at once, each starting an
//! execution and learning its end, as a program using the API would;
//! beside the same executions through the library in the same run. The
//! server is a real `cairn serve` process with its defaults, so that its
//! CPU time per execution is measured apart from the clients'.
//!
//! A client starts with `POST /executions?wait=60s`, which answers once the
//! execution has ended, with its output: one request on a kept-alive
//! connection, which is what a program that wants the result does. Other
//! ways are kept for comparison (`CAIRN_BENCH_HTTP=events` follows
//! `GET /events?execution=ID` after a plain start, on kept connections;
//! `fresh-events` does so with a new connection for every request, as the
//! client did before it kept connections), and `CAIRN_BENCH_SERVE_ARGS`
//! passes options to the server (`--max-executions 64`, say); the figure
//! itself is the default way on the server's defaults.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cairn_host::{Component, Host};
use cairn_serve::ApiClient;
use cairn_serve::ServerAddress;
use cairn_serve::api::{Accepted, ComponentView};
use serde_json::{Value, json};

use crate::{Row, guests, library_executions};

/// How many clients start and follow executions at once.
const CLIENTS: usize = 64;

/// How long each rate is counted, after a warm-up.
const MEASURE_FOR: Duration = Duration::from_secs(3);

/// The figure: executions through a `cairn serve` on a journal in `work`,
/// against `library` run directly by as many tasks.
pub(crate) async fn http_executions(library: &Host, bench: &Component, work: &Path) -> Row {
    library_executions(library, bench, Duration::from_millis(500)).await;
    let (started, cpu) = (Instant::now(), cpu_time("self"));
    let direct_done = library_executions(library, bench, MEASURE_FOR).await;
    let direct_cpu = per_execution(cpu_time("self") - cpu, direct_done);
    let direct = direct_done as f64 / started.elapsed().as_secs_f64();

    let server = Serving::start(work);
    let client = ApiClient::new(&server.url, None).expect("a client");
    let wasm = std::fs::read(cairn_tests::guest(guests::BENCH)).expect("the bench guest");
    let view: ComponentView = client
        .post_bytes("/components", wasm)
        .await
        .expect("uploads");

    let way = Way::from_env();
    over_http(&server.url, &view.hash, way, Duration::from_millis(500)).await;
    let pid = server.child.id().to_string();
    let (started, cpu, server_cpu) = (Instant::now(), cpu_time("self"), cpu_time(&pid));
    let done = over_http(&server.url, &view.hash, way, MEASURE_FOR).await;
    let client_cpu = per_execution(cpu_time("self") - cpu, done);
    let server_cpu = per_execution(cpu_time(&pid) - server_cpu, done);
    let per_second = done as f64 / started.elapsed().as_secs_f64();
    drop(server);
    eprintln!(
        "bench: figure 10 ran {done} executions over HTTP ({way:?}): {server_cpu:.0} µs of the \
         server's CPU each, {client_cpu:.0} µs of the clients'; the library ran {direct:.0}/s, \
         {direct_cpu:.0} µs of CPU each"
    );
    Row {
        figure: "10. executions/s over HTTP, 64 concurrent clients, durable",
        value: per_second,
        unit: "executions/s",
        baseline: format!("the library, 64 submitters (figure 9's loop): {direct:.0}/s"),
        ratio: Some(per_second / direct),
        target: "≥ 2,000/s".to_owned(),
        pass: per_second >= 2_000.0,
    }
}

/// A `cairn serve` process on a journal of its own, killed when dropped.
struct Serving {
    child: Child,
    url: String,
}

impl Serving {
    fn start(work: &Path) -> Serving {
        let dir = work.join("serve");
        std::fs::create_dir_all(&dir).expect("a folder");
        let journal = dir.join("journal.redb");
        let child = cairn_tests::cairn(&dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            // Experiments only (see the module's comment).
            .args(
                std::env::var("CAIRN_BENCH_SERVE_ARGS")
                    .unwrap_or_default()
                    .split_whitespace(),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cairn serve starts");
        let mut serving = Serving {
            child,
            url: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(address) = ServerAddress::read(&journal)
                && address.pid == serving.child.id()
            {
                serving.url = address.url;
                return serving;
            }
            assert!(
                serving.child.try_wait().ok().flatten().is_none(),
                "cairn serve exited"
            );
            assert!(Instant::now() < deadline, "cairn serve did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a client learns that its execution ended.
#[derive(Debug, Clone, Copy)]
enum Way {
    /// `POST /executions?wait=60s`: the answer is the end.
    StartAndWait,
    /// A plain start, then `GET /events?execution=ID`.
    Events,
    /// The same on a new connection for every request.
    FreshEvents,
}

impl Way {
    fn from_env() -> Way {
        match std::env::var("CAIRN_BENCH_HTTP").as_deref() {
            Ok("events") => Way::Events,
            Ok("fresh-events") => Way::FreshEvents,
            _ => Way::StartAndWait,
        }
    }
}

/// How many `single` executions [`CLIENTS`] clients start and see
/// completed in `duration`.
async fn over_http(url: &str, hash: &str, way: Way, duration: Duration) -> u64 {
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let url = url.to_owned();
            let client = ApiClient::new(&url, None).expect("a client");
            let hash = hash.to_owned();
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    match way {
                        Way::StartAndWait => start_and_wait(&client, &hash).await,
                        Way::Events => start_and_follow(&client, &client, &hash).await,
                        Way::FreshEvents => {
                            let fresh = || ApiClient::new(&url, None).expect("a client");
                            start_and_follow(&fresh(), &fresh(), &hash).await;
                        }
                    }
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

/// Starts one execution and waits for its end in the same request.
async fn start_and_wait(client: &ApiClient, hash: &str) {
    let body = json!({"component": hash, "flow": "single"});
    let ended: Value = client
        .post("/executions?wait=60s", &body)
        .await
        .expect("starts");
    // A `202` (still running after the wait) is an `Accepted` without
    // output: it would fail here, as it should in this benchmark.
    assert_eq!(ended["status"], "completed", "{ended}");
}

/// Starts one execution and follows it until it is no longer running.
async fn start_and_follow(client: &ApiClient, follower: &ApiClient, hash: &str) {
    let body = json!({"component": hash, "flow": "single"});
    let accepted: Accepted = client.post("/executions", &body).await.expect("starts");
    let id = accepted.id;
    let mut events = follower
        .events(&format!("/events?execution={id}"))
        .await
        .expect("follows");
    loop {
        let (name, data) = events
            .next()
            .await
            .expect("an event")
            .unwrap_or_else(|| panic!("execution {id}: the stream ended before it did"));
        let status = match name.as_str() {
            "snapshot" | "execution_finished" => {
                let value: Value = serde_json::from_str(&data).expect("JSON");
                value["status"].as_str().unwrap_or_default().to_owned()
            }
            "lagged" => {
                let value: Value = client
                    .get(&format!("/executions/{id}"))
                    .await
                    .expect("shows");
                value["execution"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            }
            _ => continue,
        };
        if status != "running" {
            assert_eq!(status, "completed", "execution {id}");
            return;
        }
    }
}

/// The CPU time process `pid` (or `self`) has used, user and system, from
/// `/proc/PID/stat`; zero where there is none.
fn cpu_time(pid: &str) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces): utime and
    // stime are the 12th and 13th, in clock ticks of 1/100 s.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// µs of `cpu` for each of `done` executions.
fn per_execution(cpu: Duration, done: u64) -> f64 {
    cpu.as_secs_f64() * 1e6 / done.max(1) as f64
}
