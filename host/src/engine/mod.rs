//! One wasmtime engine for everything a host runs, configured for Cairn:
//! fuel and epoch interruption for limits, the pooling allocator with
//! resident memory for fast fresh stores, and the linker of checkpoint
//! stores. (The runner builds the linker of its flow stores itself: the
//! engine knows nothing of executions.)

mod artifact_cache;
mod incremental_cache;
mod ticker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};

pub(crate) use self::artifact_cache::ArtifactCache;
use self::incremental_cache::IncrementalCache;
use self::ticker::Ticker;
use crate::bindings;
use crate::error::{LoadError, wasm_cause};
use crate::runtime::checkpoint::CheckpointState;
use crate::runtime::map_imports;

/// The smallest native stack WebAssembly may be given.
pub const MIN_WASM_STACK: usize = 64 << 10;

/// The native stack WebAssembly gets unless told otherwise (wasmtime's own
/// default).
pub(crate) const DEFAULT_WASM_STACK: usize = 512 << 10;

/// The largest native stack WebAssembly may be given (each async call
/// reserves this much plus 1 MiB for the host's frames).
pub const MAX_WASM_STACK: usize = 64 << 20;

/// The most linear memories one component instance may have.
const MAX_MEMORIES_PER_COMPONENT: u32 = 2;

/// The most tables one component instance may have.
const MAX_TABLES_PER_COMPONENT: u32 = 8;

/// The most core instances one component instance may have.
const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 16;

/// The most linear memory a pooled slot keeps mapped between instances (the
/// pages its last guest wrote, reset in place). A Python heap dirties a few
/// MiB per call; larger values gained nothing measurable.
const KEEP_RESIDENT_BYTES: usize = 16 << 20;

/// How to build an [`Engine`]. Every knob has a documented default.
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    artifact_cache: Option<PathBuf>,
    artifact_key: Option<PathBuf>,
    epoch_tick: Duration,
    max_memory_bytes: u64,
    max_instances: u32,
    max_wasm_stack: usize,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder {
            artifact_cache: None,
            artifact_key: None,
            epoch_tick: Duration::from_millis(10),
            max_memory_bytes: 1 << 30,
            max_instances: 1000,
            max_wasm_stack: DEFAULT_WASM_STACK,
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

    /// The file holding the secret that signs artifact cache entries.
    /// Default: `<cache folder>.key`, beside the folder, made on first use
    /// with mode 0600. Anyone who can write the cache folder can only make
    /// Cairn compile again; anyone who can read or write the key can make
    /// it run native code of their choosing.
    pub fn artifact_key(mut self, file: impl Into<PathBuf>) -> Self {
        self.artifact_key = Some(file.into());
        self
    }

    /// How often running guests check their wall-clock deadline. Timeouts
    /// are rounded up to whole ticks. Default: 10 ms; from 1 ms to 1 s.
    pub fn epoch_tick(mut self, tick: Duration) -> Self {
        self.epoch_tick = tick.clamp(Duration::from_millis(1), Duration::from_secs(1));
        self
    }

    /// The most linear memory any one guest memory may ever have; a
    /// [`crate::Policy`] limit above it is cut to it. Default: 1 GiB; at
    /// least one page (64 KiB).
    pub fn max_memory_bytes(mut self, bytes: u64) -> Self {
        self.max_memory_bytes = bytes.max(crate::policy::MIN_MEMORY_BYTES);
        self
    }

    /// How many component instances may be alive at once (the pooling
    /// allocator's slots). Default: 1000; from 4 to 100,000.
    pub fn max_instances(mut self, n: u32) -> Self {
        self.max_instances = n.clamp(4, 100_000);
        self
    }

    /// The most native stack WebAssembly may use (deeper recursion traps
    /// with a stack overflow, whose message names this limit and the CLI's
    /// `--stack`). Default: 512 KiB, wasmtime's own: enough for Rust guests
    /// and ordinary Python, not for CPython's C code on deeply nested data
    /// (a 2,000-deep `json.dumps` needs 2 MiB).
    pub fn max_wasm_stack(mut self, bytes: usize) -> Self {
        self.max_wasm_stack = bytes.clamp(MIN_WASM_STACK, MAX_WASM_STACK);
        self
    }

    /// Builds the engine and starts its epoch ticker.
    pub fn build(self) -> Result<Engine, LoadError> {
        let compile = |e: wasmtime::Error| LoadError::Compile(wasm_cause(e));
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(self.max_instances)
            .total_core_instances(self.max_instances * 4)
            .total_memories(self.max_instances)
            .total_tables(self.max_instances * 2)
            .max_memory_size(usize::try_from(self.max_memory_bytes).unwrap_or(usize::MAX))
            // A component built by a toolchain has one memory and a handful
            // of core instances; a hand-made one must not take a share of
            // the pool that starves every other store.
            .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
            .max_tables_per_component(MAX_TABLES_PER_COMPONENT)
            .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
            // Fresh stores reuse warm pages instead of faulting new ones in
            // (see ../shared/WASMTIME-NOTES.md: 26 µs → 10 µs per isolated call).
            // With PAGEMAP_SCAN (Linux 6.7+; elsewhere wasmtime falls back to
            // resetting the lowest `keep_resident` bytes) only the pages a
            // guest wrote are copied back from the image, wherever they lie,
            // so a CPython heap of 12.6 MiB keeps most of its working set
            // mapped between isolated calls: ~80 fewer page faults and
            // ~15 % less time per call (figure 12). The cost is RSS: each
            // warm slot keeps at most this many bytes of pages its last guest
            // dirtied (wasmtime's scan also stops after 32 dirty regions).
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .pagemap_scan(Enabled::Auto)
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
        // Beside the artifact cache, compiled functions: a rebuilt component
        // (a Python app edited, its interpreter unchanged) compiles only
        // what changed. Signed with the artifact cache's key; without a
        // usable key nothing is cached here either.
        if let Some(dir) = &self.artifact_cache {
            let key_file = self
                .artifact_key
                .clone()
                .unwrap_or_else(|| artifact_cache::default_key_file(dir));
            if let Ok(key) = artifact_cache::load_or_create_key(&key_file) {
                config
                    .enable_incremental_compilation(Arc::new(IncrementalCache::new(dir, key)))
                    .map_err(compile)?;
            }
        }
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
        map_imports::define_for_checkpoints(&mut checkpoint_linker).map_err(compile)?;

        let cache = self
            .artifact_cache
            .map(|dir| ArtifactCache::new(dir, self.artifact_key, &wasm));
        Ok(Engine {
            inner: Arc::new(Inner {
                ticker: Ticker::start(wasm.clone(), self.epoch_tick),
                wasm,
                tick: self.epoch_tick,
                max_memory_bytes: self.max_memory_bytes,
                max_wasm_stack: self.max_wasm_stack,
                cache,
                checkpoint_linker,
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
    max_wasm_stack: usize,
    cache: Option<ArtifactCache>,
    checkpoint_linker: Linker<CheckpointState>,
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

    /// The files and folders no checkpoint may be granted: the artifact
    /// cache and its key.
    pub(crate) fn protected_paths(&self) -> Vec<&Path> {
        self.artifact_cache()
            .map(|cache| cache.protected_paths().to_vec())
            .unwrap_or_default()
    }

    pub(crate) fn artifact_cache(&self) -> Option<&ArtifactCache> {
        self.inner.cache.as_ref()
    }

    pub(crate) fn max_memory_bytes(&self) -> u64 {
        self.inner.max_memory_bytes
    }

    /// The most native stack WebAssembly may use, in bytes.
    pub(crate) fn max_wasm_stack(&self) -> usize {
        self.inner.max_wasm_stack
    }

    /// The number of epoch ticks that covers `timeout`, rounded up.
    pub(crate) fn ticks_for(&self, timeout: Duration) -> u64 {
        let tick = self.inner.tick.as_nanos().max(1);
        // wasmtime adds the current epoch to the deadline: leave room, so a
        // huge timeout means "practically never" rather than an overflow.
        u64::try_from(timeout.as_nanos().div_ceil(tick))
            .unwrap_or(u64::MAX)
            .clamp(1, u64::MAX / 4)
    }
}
