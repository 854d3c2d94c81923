//! Figure 12: what a Python checkpoint call costs, inline (the execution's
//! shared CPython store) and isolated (a fresh CPython store per call,
//! its pre-initialised heap mapped by the pooling allocator), on the
//! Python probe built by `cargo xtask bench` with the Python SDK.

use std::path::Path;

use cairn_host::{Component, Durability, Engine, Host, Policy};
use cairn_tests::python::PYPROBE;

use super::{Row, per_call, ratio, timed, us};

/// Calls per flow: isolated calls are ~100 times dearer.
const INLINE_CALLS: u32 = 2_000;
const ISOLATED_CALLS: u32 = 200;

/// Both rows of figure 12.
pub(crate) async fn python_calls(engine: &Engine, work: &Path) -> Vec<Row> {
    let probe = Component::from_file(engine, PYPROBE.path())
        .await
        .expect("the Python probe loads");
    let host = Host::builder()
        .journal(work.join("python.redb"))
        .engine(engine.clone())
        .policy(Policy::default())
        .durability(Durability::Eventual)
        .open()
        .expect("host");
    // One warm-up call of each, so neither figure pays a first fault-in.
    timed(&host, &probe, "bench_inline", r#"{"n": 1}"#).await;
    timed(&host, &probe, "bench_isolated", r#"{"n": 1}"#).await;
    let input = |n: u32| format!(r#"{{"n": {n}}}"#);
    let inline = per_call(
        timed(&host, &probe, "bench_inline", &input(INLINE_CALLS)).await,
        INLINE_CALLS,
    );
    // More isolated calls (e.g. 2,000) steady the figure on a busy machine
    // and make a profile of them (perf record) mostly instantiation.
    let isolated_calls = std::env::var("CAIRN_BENCH_PYTHON_ISOLATED_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ISOLATED_CALLS);
    let isolated = per_call(
        timed(&host, &probe, "bench_isolated", &input(isolated_calls)).await,
        isolated_calls,
    );
    vec![
        Row {
            figure: "12. Python checkpoint, inline, eventual (per call)",
            value: us(inline),
            unit: "µs",
            baseline: "the execution's CPython store".to_owned(),
            ratio: None,
            target: "report".to_owned(),
            pass: true,
        },
        Row {
            figure: "12. Python checkpoint, isolated, eventual (per call)",
            value: us(isolated),
            unit: "µs",
            baseline: format!("inline Python call: {:.1} µs", us(inline)),
            ratio: Some(ratio(isolated, inline)),
            target: "report".to_owned(),
            pass: true,
        },
    ]
}
