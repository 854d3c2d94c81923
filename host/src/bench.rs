//! Baselines for `cargo xtask bench`, measured with this crate's own engine
//! configuration and store setup, so that Cairn's figures can be compared
//! with what wasmtime alone costs in the same run. Not a public API.

use std::time::{Duration, Instant};

use crate::clock::{SharedClock, SystemClock};
use crate::component::Component;
use crate::engine::Engine;
use crate::policy::Policy;
use crate::runtime::checkpoint;

/// `n` times: a fresh store, instantiation from the pre-instance, and one
/// call of `run-checkpoint(name, input)`. Returns the total time.
pub async fn fresh_instance_calls(
    engine: &Engine,
    component: &Component,
    name: &str,
    input: &str,
    n: u32,
) -> Duration {
    let policy = Policy::default();
    let started = Instant::now();
    for _ in 0..n {
        let mut store = armed_store(engine, &policy);
        if let Ok(guest) = component
            .checkpoint_pre()
            .instantiate_async(&mut store)
            .await
        {
            let _ = guest
                .cairn_checkpoint_guest()
                .call_run_checkpoint(&mut store, name, input)
                .await;
        }
    }
    started.elapsed()
}

/// One instantiation, then `n` calls into the live instance. Returns the
/// time of the calls.
pub async fn live_instance_calls(
    engine: &Engine,
    component: &Component,
    name: &str,
    input: &str,
    n: u32,
) -> Duration {
    let policy = Policy::default();
    let mut store = armed_store(engine, &policy);
    let Ok(guest) = component
        .checkpoint_pre()
        .instantiate_async(&mut store)
        .await
    else {
        return Duration::ZERO;
    };
    let started = Instant::now();
    for _ in 0..n {
        checkpoint::arm(&mut store, engine, &policy);
        let _ = guest
            .cairn_checkpoint_guest()
            .call_run_checkpoint(&mut store, name, input)
            .await;
    }
    started.elapsed()
}

/// A checkpoint store as an isolated attempt gets it.
fn armed_store(engine: &Engine, policy: &Policy) -> wasmtime::Store<checkpoint::CheckpointState> {
    let clock: SharedClock = std::sync::Arc::new(SystemClock);
    let mut store = checkpoint::new_store(engine, policy, &clock);
    checkpoint::arm(&mut store, engine, policy);
    store
}
