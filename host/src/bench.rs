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

/// An instance kept alive between calls, as an execution's inline store is.
pub struct LiveInstance {
    store: wasmtime::Store<checkpoint::CheckpointState>,
    guest: crate::bindings::Component,
    engine: Engine,
    policy: Policy,
}

impl LiveInstance {
    /// Instantiates `component` in a checkpoint store.
    pub async fn new(engine: &Engine, component: &Component) -> Option<LiveInstance> {
        let policy = Policy::default();
        let mut store = armed_store(engine, &policy);
        let guest = component
            .checkpoint_pre()
            .instantiate_async(&mut store)
            .await
            .ok()?;
        Some(LiveInstance {
            store,
            guest,
            engine: engine.clone(),
            policy,
        })
    }

    /// One call of `run-checkpoint(name, input)`, re-armed as an inline
    /// attempt is; whether it returned an output.
    pub async fn call(&mut self, name: &str, input: &str) -> bool {
        checkpoint::arm(&mut self.store, &self.engine, &self.policy);
        matches!(
            self.guest
                .cairn_checkpoint_guest()
                .call_run_checkpoint(&mut self.store, name, input)
                .await,
            Ok(Ok(_))
        )
    }
}

/// Encodes a call record with `input` and decodes it again, as every
/// journaled call is; whether it came back equal.
pub fn call_record_round_trip(input: &str) -> bool {
    use crate::journal::record::CallRecord;
    use crate::journal::redb::envelope::{RecordKey, decode, encode};
    use crate::model::{CallSource, CallStatus, ComponentHash, Runtime};
    let call = CallRecord {
        call_id: "step_2".to_owned(),
        name: "step".to_owned(),
        component: ComponentHash([7; 32]),
        kind: None,
        runtime: Runtime::Isolated,
        input: input.to_owned(),
        status: CallStatus::Completed,
        source: CallSource::Executed,
        output: Some("42".to_owned()),
        attempts: 1,
    };
    let key = RecordKey::Call(1, 2);
    decode::<CallRecord>(key, &encode(key, &call)).is_ok_and(|back| back == call)
}

/// Checks and canonicalizes a call's input, as every submitted call is.
pub fn canonical_input(input: &str) -> Result<String, String> {
    crate::runner::canonical_input(input)
}

/// The cache key of a call with `input`.
pub fn cache_key(input: &str) -> [u8; 32] {
    crate::runner::cache_key(crate::model::ComponentHash([7; 32]), "", "step", input)
}

/// Grows the journal of `host` to `total` executions by copying the ones it
/// holds (their execution, call, attempt and wait records, unchanged but
/// for the id) under new ids after them, round-robin, in batches written
/// through the journal's own writer: what `cargo xtask bench` lists pages
/// of, without running 100,000 executions. The copies are not claimable
/// by `host` (it would hand out their ids again): drop it and open the
/// journal anew. Returns how many were written.
pub async fn copy_executions(host: &crate::Host, total: u64) -> Result<u64, crate::JournalError> {
    use crate::journal::{Entry, Sync};
    use crate::model::ExecutionId;

    /// Executions per write: one commit each.
    const BATCH: u64 = 2_000;

    let client = host.client();
    let journal = client.journal();
    let listed = journal
        .executions(&crate::ExecutionFilter::default())
        .await?;
    let Some(last) = listed.last().map(|(id, _, _)| id.0) else {
        return Ok(0);
    };
    let mut templates = Vec::new();
    for (id, _, _) in &listed {
        if let Some(history) = journal.history(*id).await? {
            templates.push((history, journal.waits(*id).await?));
        }
    }
    let wanted = total.saturating_sub(listed.len() as u64);
    let mut written = 0;
    while written < wanted {
        let batch = BATCH.min(wanted - written);
        let ids: Vec<(ExecutionId, usize)> = (0..batch)
            .map(|i| {
                let n = written + i;
                let template = usize::try_from(n).unwrap_or(0) % templates.len();
                (ExecutionId(last + 1 + n), template)
            })
            .collect();
        let mut entries = Vec::new();
        for &(exec, t) in &ids {
            let (history, waits) = &templates[t];
            entries.push(Entry::Execution {
                id: exec,
                record: &history.execution,
            });
            for call in &history.calls {
                entries.push(Entry::Call {
                    exec,
                    seq: call.seq,
                    record: &call.call,
                });
                for (n, attempt) in &call.attempts {
                    entries.push(Entry::Attempt {
                        exec,
                        seq: call.seq,
                        n: *n,
                        record: attempt,
                    });
                }
            }
            for (name, wait) in waits {
                entries.push(Entry::Wait {
                    exec,
                    name,
                    record: wait,
                });
            }
        }
        journal.write(&entries, Sync::Lazy).await?;
        written += batch;
    }
    journal.sync().await?;
    Ok(written)
}
