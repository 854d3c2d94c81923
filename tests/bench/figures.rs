//! `cargo xtask bench`: Cairn's figures beside the physical limits of this
//! machine, measured in the same run (the machine is shared and noisy, so
//! only ratios within one run mean anything). Prints a table and writes the
//! same rows as JSON (`--json PATH`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_host::{Component, Durability, Engine, ExecutionStatus, Host, Policy};
use serde_json::json;

const CALLS: u32 = 2_000;
const COMMITS: u32 = 500;

struct Row {
    figure: &'static str,
    value: f64,
    unit: &'static str,
    baseline: String,
    ratio: Option<f64>,
    target: String,
    pass: bool,
}

fn main() {
    let json_path = std::env::args()
        .skip_while(|a| a != "--json")
        .nth(1)
        .map(PathBuf::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let rows = runtime.block_on(measure());
    print(&rows);
    if let Some(path) = json_path {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                json!({"figure": r.figure, "value": r.value, "unit": r.unit, "baseline": r.baseline,
                       "ratio": r.ratio, "target": r.target, "pass": r.pass})
            })
            .collect();
        let doc = json!({"machine": machine(), "rows": rows});
        std::fs::write(&path, serde_json::to_string_pretty(&doc).expect("json"))
            .expect("write the JSON");
        eprintln!("bench: wrote {}", path.display());
    }
}

async fn measure() -> Vec<Row> {
    let work = tempfile::tempdir().expect("a temporary folder");
    let engine = Engine::builder()
        .artifact_cache(cairn_tests::artifact_dir())
        .build()
        .expect("engine");
    let bench = Component::from_file(&engine, cairn_tests::guest("bench"))
        .await
        .expect("bench guest");
    let input = r#"{"i":1}"#;

    // Baselines.
    let fresh = per_call(
        cairn_host::bench::fresh_instance_calls(&engine, &bench, "tick", input, CALLS).await,
        CALLS,
    );
    let live = per_call(
        cairn_host::bench::live_instance_calls(&engine, &bench, "tick", input, CALLS).await,
        CALLS,
    );
    let fsync = per_call(redb_commits(work.path(), true), COMMITS);
    let no_fsync = per_call(redb_commits(work.path(), false), COMMITS);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let parallel_fresh = parallel_fresh_throughput(&engine, &bench, cores).await;
    eprintln!(
        "bench: baselines: fresh {:.1} µs, live {:.2} µs, fsync commit {:.0} µs, commit {:.1} µs, {} cores: {:.0} fresh calls/s",
        us(fresh),
        us(live),
        us(fsync),
        us(no_fsync),
        cores,
        parallel_fresh
    );

    let mut rows = Vec::new();
    let host_on = |name: &str, durability: Durability| {
        Host::builder()
            .journal(work.path().join(name))
            .engine(engine.clone())
            .policy(Policy::default())
            .durability(durability)
            .open()
            .expect("host")
    };

    // 4 and 8 first, so that the peak RSS is the fan-out's.
    let rss_before = cairn_tests::peak_rss_kib();
    let host = host_on("fan.redb", Durability::Immediate);
    let took = timed(&host, &bench, "fan_out", r#"{"n": 10000}"#).await;
    let throughput = 10_000.0 / took.as_secs_f64();
    let share = throughput / parallel_fresh;
    rows.push(Row {
        figure: "4. map of 10,000 isolated, durable (calls/s)",
        value: throughput,
        unit: "calls/s",
        baseline: format!("bare fresh calls on {cores} cores: {parallel_fresh:.0}/s"),
        ratio: Some(share),
        target: "≥ 0.5 of baseline".to_owned(),
        pass: share >= 0.5,
    });
    let rss_after = cairn_tests::peak_rss_kib();
    rows.push(Row {
        figure: "8. peak RSS during figure 4",
        value: rss_after as f64 / 1024.0,
        unit: "MiB",
        baseline: format!("before: {:.0} MiB", rss_before as f64 / 1024.0),
        ratio: None,
        target: "reported".to_owned(),
        pass: true,
    });
    drop(host);

    let host = host_on("seq.redb", Durability::Immediate);
    let commits_before = host.journal_commits();
    let took = timed(&host, &bench, "sequential_isolated", r#"{"n": 1000}"#).await;
    let each = per_call(took, 1000);
    eprintln!(
        "bench: figure 1 took {:.2} commits per call",
        (host.journal_commits() - commits_before) as f64 / 1000.0
    );
    let limit = fresh + fsync;
    rows.push(Row {
        figure: "1. sequential isolated, durable (per call)",
        value: us(each),
        unit: "µs",
        baseline: format!("fresh call + fsync commit: {:.0} µs", us(limit)),
        ratio: Some(ratio(each, limit)),
        target: "≤ 1.3".to_owned(),
        pass: ratio(each, limit) <= 1.3,
    });
    drop(host);

    let host = host_on("seq-eventual.redb", Durability::Eventual);
    let took = timed(&host, &bench, "sequential_isolated", r#"{"n": 1000}"#).await;
    let each = per_call(took, 1000);
    rows.push(Row {
        figure: "2. sequential isolated, eventual (per call)",
        value: us(each),
        unit: "µs",
        baseline: format!("fresh call: {:.1} µs", us(fresh)),
        ratio: Some(ratio(each, fresh)),
        target: "≤ 3".to_owned(),
        pass: ratio(each, fresh) <= 3.0,
    });
    let took = timed(&host, &bench, "sequential_inline", r#"{"n": 10000}"#).await;
    let each = per_call(took, 10_000);
    rows.push(Row {
        figure: "3. sequential inline, eventual (per call)",
        value: us(each),
        unit: "µs",
        baseline: format!("live call: {:.2} µs", us(live)),
        ratio: Some(ratio(each, live)),
        target: "≤ 20 µs".to_owned(),
        pass: us(each) <= 20.0,
    });
    drop(host);

    let host = host_on("replay.redb", Durability::Immediate);
    let waiting = host
        .run(&bench, "replayable", r#"{"n": 10000}"#)
        .await
        .expect("runs");
    assert_eq!(waiting.status, ExecutionStatus::Waiting);
    host.answer(waiting.id, "go", "true")
        .await
        .expect("answered");
    let started = Instant::now();
    let done = host.resume(waiting.id).await.expect("resumes");
    let took = started.elapsed();
    assert_eq!(done.status, ExecutionStatus::Completed);
    let replayed = 10_000.0 / took.as_secs_f64();
    rows.push(Row {
        figure: "5. resume replaying 10,000 journaled calls",
        value: replayed,
        unit: "calls/s",
        baseline: format!("bare commit: {:.1} µs", us(no_fsync)),
        ratio: None,
        target: "≥ 200,000 calls/s".to_owned(),
        pass: replayed >= 200_000.0,
    });
    drop(host);

    let host = host_on("small.redb", Durability::Immediate);
    let started = Instant::now();
    for _ in 0..1000 {
        let outcome = host.run(&bench, "single", "{}").await.expect("runs");
        assert_eq!(outcome.status, ExecutionStatus::Completed);
    }
    let per_second = 1000.0 / started.elapsed().as_secs_f64();
    let floor = 1.0 / (fresh + fsync * 3).as_secs_f64();
    rows.push(Row {
        figure: "6. small executions (1 checkpoint each), durable",
        value: per_second,
        unit: "executions/s",
        baseline: format!("1 / (fresh call + 3 fsync commits): {floor:.0}/s"),
        ratio: Some(per_second / floor),
        target: "reported".to_owned(),
        pass: true,
    });
    drop(host);

    rows.push(cli_run(work.path()));
    rows.sort_by(|a, b| a.figure.cmp(b.figure));
    rows
}

/// Figure 7: `cairn run` of the hello example, start to exit, warm cache.
fn cli_run(work: &Path) -> Row {
    let hello = cairn_tests::guest("hello");
    let run = |journal: &Path| {
        let started = Instant::now();
        let status = std::process::Command::new(cairn_tests::cairn_bin())
            .arg("--journal")
            .arg(journal)
            .arg("--artifacts")
            .arg(cairn_tests::artifact_dir())
            .arg("run")
            .arg(&hello)
            .args(["--input", r#"{"name": "bench"}"#])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("cairn runs");
        assert!(status.success());
        started.elapsed()
    };
    let journal = work.join("cli.redb");
    run(&journal);
    let mut times: Vec<Duration> = (0..10).map(|_| run(&journal)).collect();
    times.sort();
    let median = times[times.len() / 2];
    Row {
        figure: "7. `cairn run` hello, process start to exit (median of 10)",
        value: median.as_secs_f64() * 1000.0,
        unit: "ms",
        baseline: "Kitaru: ~300 ms per checkpoint".to_owned(),
        ratio: None,
        target: "reported".to_owned(),
        pass: true,
    }
}

async fn timed(host: &Host, component: &Component, flow: &str, input: &str) -> Duration {
    let started = Instant::now();
    let outcome = host.run(component, flow, input).await.expect("runs");
    let took = started.elapsed();
    assert_eq!(
        outcome.status,
        ExecutionStatus::Completed,
        "{flow}: {outcome:?}"
    );
    took
}

async fn parallel_fresh_throughput(engine: &Engine, component: &Component, tasks: usize) -> f64 {
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (engine, component) = (engine.clone(), component.clone());
            tokio::spawn(async move {
                cairn_host::bench::fresh_instance_calls(
                    &engine,
                    &component,
                    "tick",
                    r#"{"i":1}"#,
                    CALLS,
                )
                .await
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("joined");
    }
    f64::from(CALLS) * tasks as f64 / started.elapsed().as_secs_f64()
}

fn redb_commits(dir: &Path, fsync: bool) -> Duration {
    let path = dir.join(if fsync {
        "bare-fsync.redb"
    } else {
        "bare.redb"
    });
    let db = redb::Database::create(&path).expect("redb");
    let table: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("t");
    let record = [7u8; 96];
    let started = Instant::now();
    for i in 0..u64::from(COMMITS) {
        let mut txn = db.begin_write().expect("txn");
        let durability = if fsync {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        };
        txn.set_durability(durability).expect("durability");
        txn.open_table(table)
            .expect("table")
            .insert(i, &record[..])
            .expect("insert");
        txn.commit().expect("commit");
    }
    started.elapsed()
}

fn per_call(total: Duration, n: u32) -> Duration {
    total / n.max(1)
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}

fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_default();
    json!({"cores": std::thread::available_parallelism().map_or(1, usize::from), "cpu": cpu})
}

fn print(rows: &[Row]) {
    println!(
        "{:<58} {:>12} {:<13} {:>7}  {:<16} {:<4}  baseline",
        "figure", "value", "unit", "ratio", "target", "ok"
    );
    for r in rows {
        let ratio = r
            .ratio
            .map_or_else(|| "-".to_owned(), |x| format!("{x:.2}"));
        let ok = if r.pass { "yes" } else { "NO" };
        println!(
            "{:<58} {:>12.1} {:<13} {:>7}  {:<16} {:<4}  {}",
            r.figure, r.value, r.unit, ratio, r.target, ok, r.baseline
        );
    }
    let _ = Arc::new(());
}
