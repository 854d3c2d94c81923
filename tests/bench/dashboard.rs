//! Figure 11: the dashboard's executions page on a journal of 100,000
//! executions, beside the same page on a journal of 400, in the same run:
//! the newest page, a page filtered by status and flow, and a page deep in
//! the id cursor. Each journal is a real redb file read by a real server:
//! four executions of the bench guest are run through the library (two
//! completed with one call, one with three, one left waiting after two),
//! then copied under new ids through the journal's own writer up to the
//! size (running 100,000 would take minutes).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use cairn_host::{Component, Durability, Engine, Host};
use cairn_serve::{ServeConfig, Server};

use crate::Row;

/// The large journal.
const LARGE: u64 = 100_000;
/// The baseline journal: the smallest on which every timed page is full
/// (one execution in four passes the filter), so that both journals give
/// each page the same work and only their size differs.
const SMALL: u64 = 400;
/// Loads of each page timed; the median counts.
const LOADS: usize = 21;
/// Rows on a full page of the dashboard.
const PAGE_ROWS: usize = 50;

/// The figure's rows, one per page.
pub(crate) async fn dashboard_pages(engine: &Engine, bench: &Component, work: &Path) -> Vec<Row> {
    let started = Instant::now();
    let small = timings(engine, bench, work, SMALL).await;
    let large = timings(engine, bench, work, LARGE).await;
    eprintln!(
        "bench: figure 11 filled, served and timed both journals in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let names = [
        "11. dashboard, newest page of 100,000 executions",
        "11. dashboard, filtered page (status, flow) of 100,000",
        "11. dashboard, a page deep in the cursor of 100,000",
    ];
    names
        .iter()
        .zip(small.iter().zip(large.iter()))
        .map(|(figure, (small, large))| {
            let ratio = crate::ratio(*large, *small);
            Row {
                figure,
                value: large.as_secs_f64() * 1e3,
                unit: "ms",
                baseline: format!(
                    "the same page, {SMALL} executions: {:.2} ms",
                    small.as_secs_f64() * 1e3
                ),
                ratio: Some(ratio),
                target: "≤ 2× baseline".to_owned(),
                pass: ratio <= 2.0,
            }
        })
        .collect()
}

/// The median load time of each page on a journal of `size` executions.
async fn timings(engine: &Engine, bench: &Component, work: &Path, size: u64) -> [Duration; 3] {
    let path = work.join(format!("dashboard-{size}.redb"));
    fill(engine, bench, &path, size).await;
    let host = Host::builder()
        .journal(&path)
        .engine(engine.clone())
        .open()
        .expect("the journal opens");
    let mut config = ServeConfig::default();
    config.listen = "127.0.0.1:0".parse().expect("an address");
    let server = Server::bind(host, config).await.expect("binds");
    let address = server.url().trim_start_matches("http://").to_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(
        async move {
            let _ = stopped.await;
        },
        |_| {},
    ));
    // The middle of the journal: a page there reads ids far from both ends
    // (and still has a full page below it on the small journal).
    let deep = format!("/?cursor={}", size / 2 + PAGE_ROWS as u64 + 1);
    let pages = ["/", "/?status=waiting&flow=replayable", deep.as_str()];
    let mut medians = [Duration::ZERO; 3];
    for (page, median) in pages.iter().zip(medians.iter_mut()) {
        let rows = load(&address, page).1;
        assert_eq!(rows, PAGE_ROWS, "rows of {page} on {size} executions");
        let mut times: Vec<Duration> = (0..LOADS).map(|_| load(&address, page).0).collect();
        times.sort();
        *median = times[LOADS / 2];
    }
    // Not a figure, a limit to know: a filter nothing matches reads every
    // record (the journal has no index by flow or status).
    let (unmatched, rows) = load(&address, "/?flow=no-such-flow");
    assert_eq!(rows, 0);
    eprintln!(
        "bench: figure 11, {size} executions: a flow filter nothing matches takes {:.1} ms",
        unmatched.as_secs_f64() * 1e3
    );
    let _ = stop.send(());
    serving
        .await
        .expect("joined")
        .expect("the server shuts down");
    medians
}

/// A journal at `path` of `size` executions.
async fn fill(engine: &Engine, bench: &Component, path: &Path, size: u64) {
    let host = Host::builder()
        .journal(path)
        .engine(engine.clone())
        .durability(Durability::Eventual)
        .open()
        .expect("the journal opens");
    for (flow, input) in [
        ("single", "{}"),
        ("sequential_isolated", r#"{"n":3}"#),
        ("replayable", r#"{"n":2}"#),
        ("single", "{}"),
    ] {
        host.run(bench, flow, input).await.expect("runs");
    }
    cairn_host::bench::copy_executions(&host, size)
        .await
        .expect("copies");
}

/// One load of `page` on a new connection: how long until the whole
/// answer was read, and how many execution rows it holds.
fn load(address: &str, page: &str) -> (Duration, usize) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).expect("connects");
    write!(
        stream,
        "GET {page} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("sends");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{page}: {answer:.300}");
    (took, answer.matches("<tr data-execution=").count())
}
