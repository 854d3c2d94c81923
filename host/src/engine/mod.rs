//! One wasmtime engine for everything a host runs, configured for Cairn:
//! fuel and epoch interruption for limits, the pooling allocator with
//! resident memory for fast fresh stores, and the linkers of the two store
//! kinds (checkpoint, flow).

mod artifact_cache;
mod ticker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

pub(crate) use self::artifact_cache::ArtifactCache;
use self::ticker::Ticker;
use crate::bindings;
use crate::error::LoadError;
use crate::runtime::checkpoint::CheckpointState;
use crate::runtime::flow::FlowState;

/// How to build an [`Engine`]. Every knob has a documented default.
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    artifact_cache: Option<PathBuf>,
    epoch_tick: Duration,
    max_memory_bytes: u64,
    max_instances: u32,
    max_wasm_stack: usize,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder {
            artifact_cache: None,
            epoch_tick: Duration::from_millis(10),
            max_memory_bytes: 1 << 30,
            max_instances: 1000,
            max_wasm_stack: 512 << 10,
        }
    }
}

impl EngineBuilder {
    /// Keeps compiled components in `dir`, so a component is compiled once
    /// per engine version rather than once per process. Default: no cache.
    pub fn artifact_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.artifact_cache = Some(dir.into());
        self
    }

    /// How often running guests check their wall-clock deadline. Timeouts
    /// are rounded up to whole ticks. Default: 10 ms.
    pub fn epoch_tick(mut self, tick: Duration) -> Self {
        self.epoch_tick = tick.max(Duration::from_millis(1));
        self
    }

    /// The most linear memory any one guest memory may ever have; a
    /// [`crate::Policy`] limit above it is cut to it. Default: 1 GiB.
    pub fn max_memory_bytes(mut self, bytes: u64) -> Self {
        self.max_memory_bytes = bytes;
        self
    }

    /// How many component instances may be alive at once (the pooling
    /// allocator's slots). Default: 1000.
    pub fn max_instances(mut self, n: u32) -> Self {
        self.max_instances = n.max(4);
        self
    }

    /// The most native stack WebAssembly may use (deeper recursion traps
    /// with a stack overflow). Default: 512 KiB.
    pub fn max_wasm_stack(mut self, bytes: usize) -> Self {
        self.max_wasm_stack = bytes.max(64 << 10);
        self
    }

    /// Builds the engine and starts its epoch ticker.
    pub fn build(self) -> Result<Engine, LoadError> {
        let compile = |e: wasmtime::Error| LoadError::Compile(format!("{e:#}"));
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(self.max_instances)
            .total_core_instances(self.max_instances * 4)
            .total_memories(self.max_instances)
            .total_tables(self.max_instances * 2)
            .max_memory_size(usize::try_from(self.max_memory_bytes).unwrap_or(usize::MAX))
            // Fresh stores reuse warm pages instead of faulting new ones in
            // (see ../shared/WASMTIME-NOTES.md: 26 µs → 10 µs per isolated call).
            .linear_memory_keep_resident(1 << 20)
            .table_keep_resident(1 << 16);
        let mut config = Config::new();
        config
            .consume_fuel(true)
            .epoch_interruption(true)
            .concurrency_support(false)
            .max_wasm_stack(self.max_wasm_stack)
            // Async calls run on their own stack, which must hold the wasm
            // stack and the host's frames under it.
            .async_stack_size(self.max_wasm_stack + (1 << 20))
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let wasm = wasmtime::Engine::new(&config).map_err(compile)?;

        let mut checkpoint_linker = Linker::<CheckpointState>::new(&wasm);
        wasmtime_wasi::p2::add_to_linker_async(&mut checkpoint_linker).map_err(compile)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut checkpoint_linker)
            .map_err(compile)?;
        bindings::Component::add_to_linker::<_, HasSelf<CheckpointState>>(
            &mut checkpoint_linker,
            |s| s,
        )
        .map_err(compile)?;
        let mut flow_linker = Linker::<FlowState>::new(&wasm);
        wasmtime_wasi::p2::add_to_linker_async(&mut flow_linker).map_err(compile)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut flow_linker).map_err(compile)?;
        bindings::Component::add_to_linker::<_, HasSelf<FlowState>>(&mut flow_linker, |s| s)
            .map_err(compile)?;

        let cache = self
            .artifact_cache
            .map(|dir| ArtifactCache::new(dir, &wasm));
        Ok(Engine {
            inner: Arc::new(Inner {
                ticker: Ticker::start(wasm.clone(), self.epoch_tick),
                wasm,
                tick: self.epoch_tick,
                max_memory_bytes: self.max_memory_bytes,
                cache,
                checkpoint_linker,
                flow_linker,
            }),
        })
    }
}

/// The engine that compiles and runs components; cheap to clone, shared by
/// everything in a host.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    wasm: wasmtime::Engine,
    tick: Duration,
    max_memory_bytes: u64,
    cache: Option<ArtifactCache>,
    checkpoint_linker: Linker<CheckpointState>,
    flow_linker: Linker<FlowState>,
    #[expect(
        dead_code,
        reason = "held so the ticker stops when the engine is dropped"
    )]
    ticker: Ticker,
}

impl Engine {
    /// An engine with the default settings and no artifact cache.
    pub fn new() -> Result<Engine, LoadError> {
        EngineBuilder::default().build()
    }

    /// Starts configuring an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    pub(crate) fn wasm(&self) -> &wasmtime::Engine {
        &self.inner.wasm
    }

    pub(crate) fn checkpoint_linker(&self) -> &Linker<CheckpointState> {
        &self.inner.checkpoint_linker
    }

    pub(crate) fn flow_linker(&self) -> &Linker<FlowState> {
        &self.inner.flow_linker
    }

    pub(crate) fn artifact_cache(&self) -> Option<&ArtifactCache> {
        self.inner.cache.as_ref()
    }

    pub(crate) fn max_memory_bytes(&self) -> u64 {
        self.inner.max_memory_bytes
    }

    /// The number of epoch ticks that covers `timeout`, rounded up.
    pub(crate) fn ticks_for(&self, timeout: Duration) -> u64 {
        let tick = self.inner.tick.as_nanos().max(1);
        u64::try_from(timeout.as_nanos().div_ceil(tick))
            .unwrap_or(u64::MAX)
            .max(1)
    }
}
