//! Micro-benchmarks of Cairn's hot paths, with divan. `cargo xtask bench`
//! runs them after the figures, in the same profile as the tests
//! (`cargo bench --profile dev`): dependencies and `cairn-host` at
//! `opt-level = 2`.
//!
//! Each group has its baseline beside it: `bare_live_call` is one call into
//! a live instance with Cairn's own store setup, what an inline checkpoint
//! costs without the runner and the journal; `bare_fresh_call` is a fresh
//! store, instantiation and one call, what an isolated attempt costs.

use std::sync::OnceLock;

use cairn_host::bench::{self, LiveInstance};
use cairn_host::{Checkpoint, Component, Durability, Engine, FlowCtx, FlowError, Host, HostFlow};
use divan::Bencher;
use divan::counter::ItemsCount;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

/// How many calls one execution of a flow makes.
const CALLS: u64 = 100;

fn main() {
    divan::main();
}

struct Fixture {
    runtime: Runtime,
    engine: Engine,
    bench: Component,
    host: Host,
}

/// One runtime, engine, component and host (in-memory journal, eventual
/// durability: these figures are about the runner, not the disk).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let engine = Engine::builder()
            .artifact_cache(cairn_tests::artifact_dir())
            .build()
            .expect("an engine");
        let bench = runtime
            .block_on(Component::from_file(&engine, cairn_tests::guest("bench")))
            .expect("the bench guest loads");
        let host = Host::builder()
            .in_memory()
            .engine(engine.clone())
            .durability(Durability::Eventual)
            .open()
            .expect("a host");
        for checkpoint in ["tick_inline", "tick"] {
            let tick: Checkpoint<Value, u64> = bench.checkpoint(checkpoint).expect("tick");
            host.register(HostFlow::new(checkpoint, move |ctx: FlowCtx, n: u64| {
                let tick = tick.clone();
                async move {
                    let mut sum = 0;
                    for i in 0..n {
                        sum += ctx.call(&tick, &json!({ "i": i })).await?;
                    }
                    Ok::<_, FlowError>(sum)
                }
            }))
            .expect("registers");
        }
        Fixture {
            runtime,
            engine,
            bench,
            host,
        }
    })
}

/// Executions of the bench guest's `flow`, of `CALLS` calls each.
fn guest_flow_calls(bencher: Bencher, flow: &str) {
    let f = fixture();
    let input = format!(r#"{{"n": {CALLS}}}"#);
    bencher.counter(ItemsCount::new(CALLS)).bench_local(|| {
        f.runtime
            .block_on(f.host.run(&f.bench, flow, &input))
            .expect("runs")
    });
}

/// Executions of the host-side flow calling `checkpoint`, of `CALLS` calls
/// each.
fn host_flow_calls(bencher: Bencher, checkpoint: &str) {
    let f = fixture();
    bencher.counter(ItemsCount::new(CALLS)).bench_local(|| {
        f.runtime
            .block_on(f.host.run_flow(checkpoint, &CALLS))
            .expect("runs")
    });
}

/// Inline checkpoints: the bare call, then through a guest flow and a
/// host-side flow (per call, execution overhead spread over 100 calls).
mod inline {
    use super::*;

    #[divan::bench]
    fn bare_live_call(bencher: Bencher) {
        let f = fixture();
        let mut live = f
            .runtime
            .block_on(LiveInstance::new(&f.engine, &f.bench))
            .expect("instantiates");
        bencher.bench_local(|| f.runtime.block_on(live.call("tick_inline", r#"{"i":1}"#)));
    }

    #[divan::bench]
    fn guest_flow_call(bencher: Bencher) {
        guest_flow_calls(bencher, "sequential_inline");
    }

    #[divan::bench]
    fn host_flow_call(bencher: Bencher) {
        host_flow_calls(bencher, "tick_inline");
    }
}

/// Isolated checkpoints: the bare fresh-store call, then through the runner.
mod isolated {
    use super::*;

    #[divan::bench]
    fn bare_fresh_call(bencher: Bencher) {
        let f = fixture();
        bencher.bench_local(|| {
            f.runtime.block_on(bench::fresh_instance_calls(
                &f.engine,
                &f.bench,
                "tick",
                r#"{"i":1}"#,
                1,
            ))
        });
    }

    #[divan::bench]
    fn guest_flow_call(bencher: Bencher) {
        guest_flow_calls(bencher, "sequential_isolated");
    }

    #[divan::bench]
    fn host_flow_call(bencher: Bencher) {
        host_flow_calls(bencher, "tick");
    }
}

/// The journal's per-record work and the checks every call goes through.
mod journal {
    use super::*;

    const INPUT: &str = r#"{"text": "a checkpoint input of some length", "n": 42, "flag": true}"#;

    #[divan::bench]
    fn call_record_encode_and_decode() -> bool {
        bench::call_record_round_trip(divan::black_box(INPUT))
    }

    #[divan::bench]
    fn canonical_input() -> Result<String, String> {
        bench::canonical_input(divan::black_box(INPUT))
    }

    #[divan::bench]
    fn cache_key() -> [u8; 32] {
        bench::cache_key(divan::black_box(INPUT))
    }
}
