//! Figures 14 and 15: the PostgreSQL journal, on the throwaway server
//! `cargo xtask bench` starts (`CAIRN_TEST_POSTGRES`), beside redb in the
//! same run.
//!
//! - 14: a sequential durable isolated call, against the physical limit: a
//!   bare fresh call plus a bare durable single-row commit on the same
//!   server (one round trip and the server's WAL flush). The anchor is
//!   DBOS 3.4's 3.4 ms per durable step on PostgreSQL on this machine; the
//!   aim is well under 1 ms.
//! - 15: small executions per second (one checkpoint each) from 64
//!   submitters through one host, on PostgreSQL, with redb's beside it.
//! - 16: small executions per second over HTTP through 1, 2 and 3
//!   `cairn serve` workers (real processes) on one database, 64 clients
//!   spread over them (`POST /executions?wait=`, as figure 10), beside one
//!   `cairn serve` on redb in the same run. Every process shares the
//!   machine's cores with the others and with PostgreSQL: more workers
//!   only go faster where there are cores (or machines) to put them on.

use std::path::Path;
use std::time::{Duration, Instant};

use cairn_host::{Component, Durability, Engine, Host, Policy};

use super::{Row, library_executions, per_call, ratio, timed, us};

mod workers;

/// Calls per turn of figure 14, and turns.
const TURN_CALLS: u32 = 100;
const TURNS: u32 = 5;

/// How long figure 15 counts executions on each journal.
const COUNT_FOR: Duration = Duration::from_secs(3);

/// Both figures, or none (with a notice) when there is no server.
pub(crate) async fn postgres_figures(engine: &Engine, bench: &Component, work: &Path) -> Vec<Row> {
    let Ok(url) = std::env::var("CAIRN_TEST_POSTGRES") else {
        eprintln!(
            "bench: figures 14 and 15 need CAIRN_TEST_POSTGRES (`cargo xtask bench` sets it)"
        );
        return Vec::new();
    };
    let host = |journal: &str| {
        Host::builder()
            .journal_url(journal)
            .engine(engine.clone())
            .policy(Policy::default())
            .durability(Durability::Immediate)
            .open()
            .expect("a host on PostgreSQL")
    };
    let mut rows = Vec::new();
    let seq = host(&schema(&url, "bench_seq").await);
    rows.push(sequential(&seq, engine, bench, &url).await);
    drop(seq);
    let many = host(&schema(&url, "bench_many").await);
    let on_postgres = executions_per_second(&many, bench).await;
    drop(many);
    let redb = Host::builder()
        .journal(work.join("figure-15.redb"))
        .engine(engine.clone())
        .policy(Policy::default())
        .open()
        .expect("a host on redb");
    let on_redb = executions_per_second(&redb, bench).await;
    drop(redb);
    rows.push(Row {
        figure: "15. executions/s, 64 submitters, durable, PostgreSQL (1 worker)",
        value: on_postgres,
        unit: "executions/s",
        baseline: format!("the same on redb: {on_redb:.0}/s"),
        ratio: Some(on_postgres / on_redb.max(1.0)),
        target: "reported".to_owned(),
        pass: true,
    });
    rows.extend(workers::serve_workers(&url, work).await);
    rows
}

/// Figure 14, in alternating turns with its baseline (the server and the
/// machine are shared: only sums over the same stretch compare).
async fn sequential(host: &Host, engine: &Engine, bench: &Component, url: &str) -> Row {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("the bench connects");
    let driver = tokio::spawn(connection);
    // A row of a real (WAL-logged) table, committed durably, as the
    // journal's commits are.
    client
        .batch_execute(
            "SET synchronous_commit = on;
             CREATE TABLE IF NOT EXISTS bench_commits (k BIGINT PRIMARY KEY, v BYTEA NOT NULL)",
        )
        .await
        .expect("a table");
    let durable = client
        .prepare(
            "INSERT INTO bench_commits VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
        )
        .await
        .expect("prepared");
    let input = r#"{"i":1}"#;
    timed(host, bench, "sequential_isolated", r#"{"n": 10}"#).await;
    let (mut flow, mut fresh, mut commit) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut key: i64 = 0;
    for _ in 0..TURNS {
        for _ in 0..TURN_CALLS {
            fresh += cairn_host::bench::fresh_instance_calls(engine, bench, "tick", input, 1).await;
            let started = Instant::now();
            key += 1;
            client
                .execute(&durable, &[&key, &vec![0u8; 64]])
                .await
                .expect("a durable commit");
            commit += started.elapsed();
        }
        let n = format!(r#"{{"n": {TURN_CALLS}}}"#);
        flow += timed(host, bench, "sequential_isolated", &n).await;
    }
    drop(client);
    let _ = driver.await;
    let calls = TURNS * TURN_CALLS;
    let each = per_call(flow, calls);
    let limit = per_call(fresh + commit, calls);
    eprintln!(
        "bench: figure 14: fresh call {:.0} µs, durable PostgreSQL commit {:.0} µs",
        us(per_call(fresh, calls)),
        us(per_call(commit, calls))
    );
    Row {
        figure: "14. sequential isolated, durable, PostgreSQL (per call)",
        value: us(each),
        unit: "µs",
        baseline: format!("fresh call + durable commit: {:.0} µs", us(limit)),
        ratio: Some(ratio(each, limit)),
        target: "< 1,000 µs (DBOS: 3,400 µs)".to_owned(),
        pass: us(each) < 1_000.0,
    }
}

/// Small executions per second from figure 9's submitters on `host`.
async fn executions_per_second(host: &Host, bench: &Component) -> f64 {
    timed(host, bench, "single", "{}").await;
    let started = Instant::now();
    let done = library_executions(host, bench, COUNT_FOR).await;
    done as f64 / started.elapsed().as_secs_f64()
}

/// The URL of a fresh schema `name` of the server at `url`.
async fn schema(url: &str, name: &str) -> String {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("the bench connects");
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
        ))
        .await
        .expect("a schema");
    drop(client);
    let _ = driver.await;
    let join = if url.contains('?') { '&' } else { '?' };
    format!("{url}{join}options=-csearch_path%3D{name}")
}
