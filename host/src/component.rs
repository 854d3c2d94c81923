//! A loaded component: its bytes and hash, its compiled code (from the
//! artifact cache when there is an intact entry), its pre-instance for
//! checkpoint stores, and its manifest. (The runner makes flow stores'
//! pre-instances from the compiled code, on first use.)

use std::path::Path;
use std::sync::Arc;

use crate::bindings::{self, ComponentPre};
use crate::engine::Engine;
use crate::error::{LoadError, wasm_cause};
use crate::manifest::{CheckpointInfo, FlowInfo, Manifest};
use crate::model::{ComponentHash, Runtime};
use crate::policy::{CheckpointLimits, Policy};
use crate::runtime::checkpoint::{self, CheckpointState};

/// A component ready to run; cheap to clone.
#[derive(Clone)]
pub struct Component {
    inner: Arc<Inner>,
}

struct Inner {
    hash: ComponentHash,
    bytes: Arc<[u8]>,
    manifest: Manifest,
    /// The linear memory an instance takes before it runs any code.
    min_memory_bytes: u64,
    /// Its compiled code.
    compiled: wasmtime::component::Component,
    checkpoint_pre: ComponentPre<CheckpointState>,
}

impl Component {
    /// Reads and loads a component file: a regular file of at most 256 MiB
    /// (a device would be read forever, a FIFO would block forever); anything
    /// else is a [`LoadError::Read`] that says why.
    pub async fn from_file(
        engine: &Engine,
        path: impl AsRef<Path>,
    ) -> Result<Component, LoadError> {
        let path = path.as_ref();
        let bytes =
            crate::files::read_regular_file(path, MAX_COMPONENT_BYTES).map_err(|source| {
                LoadError::Read {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        Component::from_bytes(engine, bytes).await
    }

    /// Loads a component: checks it is a Cairn component, compiles it (or
    /// takes it from the artifact cache) and reads its manifest. Nothing of
    /// the author's code runs except `describe` and static constructors,
    /// under the default [`Policy`].
    pub async fn from_bytes(
        engine: &Engine,
        bytes: impl Into<Arc<[u8]>>,
    ) -> Result<Component, LoadError> {
        let bytes: Arc<[u8]> = bytes.into();
        let hash = ComponentHash::of(&bytes);
        let compiled = compile(engine, hash, &bytes)?;
        // A flow store's linker has the same imports as a checkpoint
        // store's, so this also refuses a component whose flows could not
        // be instantiated.
        let checkpoint_pre = pre(engine.checkpoint_linker().instantiate_pre(&compiled))?;
        let (manifest, min_memory_bytes) = describe(engine, &checkpoint_pre).await?;
        manifest.validate().map_err(LoadError::BadManifest)?;
        if let Some(c) = manifest.checkpoints.iter().find(|c| {
            c.limits
                .memory_bytes
                .is_some_and(|limit| limit < min_memory_bytes)
        }) {
            return Err(LoadError::BadManifest(format!(
                "checkpoint `{}` limits its memory below the {min_memory_bytes} bytes the component needs to start",
                c.name
            )));
        }
        Ok(Component {
            inner: Arc::new(Inner {
                hash,
                bytes,
                manifest,
                min_memory_bytes,
                compiled,
                checkpoint_pre,
            }),
        })
    }

    /// The blake3 hash of its bytes.
    pub fn hash(&self) -> ComponentHash {
        self.inner.hash
    }

    /// What it contains.
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// The linear memory (bytes) an instance takes before running any
    /// code: a memory limit below it fails every attempt.
    pub fn min_memory_bytes(&self) -> u64 {
        self.inner.min_memory_bytes
    }

    /// Its bytes (the journal keeps a copy of every component it ran).
    pub fn bytes(&self) -> Arc<[u8]> {
        self.inner.bytes.clone()
    }

    pub(crate) fn checkpoint_pre(&self) -> &ComponentPre<CheckpointState> {
        &self.inner.checkpoint_pre
    }

    /// Its compiled code, for the runner to make flow stores'
    /// pre-instances from.
    pub(crate) fn compiled(&self) -> &wasmtime::component::Component {
        &self.inner.compiled
    }
}

/// The largest component file [`Component::from_file`] reads.
pub const MAX_COMPONENT_BYTES: u64 = 256 << 20;

fn compile(
    engine: &Engine,
    hash: ComponentHash,
    bytes: &[u8],
) -> Result<wasmtime::component::Component, LoadError> {
    let cache = engine.artifact_cache();
    if let Some(compiled) = cache.and_then(|c| c.load(engine.wasm(), hash)) {
        return Ok(compiled);
    }
    if is_core_module(bytes) {
        return Err(LoadError::CoreModule);
    }
    let compiled = wasmtime::component::Component::new(engine.wasm(), bytes)
        .map_err(|e| LoadError::Invalid(wasm_cause(e)))?;
    if let Some(cache) = cache {
        cache.store(hash, &compiled);
    }
    Ok(compiled)
}

/// A core module starts with the wasm magic and version 1; a component with
/// the magic and its own layer/version word.
fn is_core_module(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [1, 0, 0, 0]
}

/// A pre-instance from `linker.instantiate_pre(..)`, wrapped in the world's
/// bindings: an import the linker lacks is [`LoadError::UnsupportedImports`],
/// a missing export [`LoadError::NotACairnComponent`].
pub(crate) fn pre<T: 'static>(
    instance_pre: wasmtime::Result<wasmtime::component::InstancePre<T>>,
) -> Result<ComponentPre<T>, LoadError> {
    let instance_pre = instance_pre.map_err(|e| LoadError::UnsupportedImports(wasm_cause(e)))?;
    ComponentPre::new(instance_pre).map_err(|e| LoadError::NotACairnComponent(wasm_cause(e)))
}

const DESCRIBE_FUEL: u64 = 1_000_000_000;
const DESCRIBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn describe(
    engine: &Engine,
    pre: &ComponentPre<CheckpointState>,
) -> Result<(Manifest, u64), LoadError> {
    // `describe` (and the static constructors before it) gets a small
    // budget: loading a component must not hang on a hostile one.
    let policy = Policy::default()
        .fuel(DESCRIBE_FUEL)
        .timeout(DESCRIBE_TIMEOUT);
    let clock: crate::clock::SharedClock = Arc::new(crate::clock::SystemClock);
    let mut store = checkpoint::new_store(engine, &policy, &clock);
    checkpoint::arm(&mut store, engine, &policy);
    let bad = |e: wasmtime::Error| {
        let (kind, message) = crate::runtime::outcome::trap(&e, false, 0, &[]);
        LoadError::BadManifest(format!("`describe` trapped ({kind}): {message}"))
    };
    // Epochs only stop running code: a constructor or `describe` blocked
    // in a host call (a sleep, a poll) is cut off by the host's own bound.
    let blocked = || LoadError::BadManifest("`describe` blocked past its time limit".to_owned());
    let guest = checkpoint::bounded(&policy, pre.instantiate_async(&mut store))
        .await
        .ok_or_else(blocked)?
        .map_err(|e| LoadError::Instantiate(wasm_cause(e)))?;
    let min_memory = store.data().memory_peak();
    let manifest = checkpoint::bounded(
        &policy,
        guest.cairn_checkpoint_guest().call_describe(&mut store),
    )
    .await
    .ok_or_else(blocked)?
    .map_err(bad)?;
    Ok((from_wit(manifest), min_memory))
}

fn from_wit(manifest: bindings::types::Manifest) -> Manifest {
    Manifest {
        sdk_version: manifest.sdk_version,
        flows: manifest
            .flows
            .into_iter()
            .map(|f| FlowInfo {
                name: f.name,
                params: f.params,
                retries: f.retries,
                cache: f.cache,
            })
            .collect(),
        checkpoints: manifest
            .checkpoints
            .into_iter()
            .map(|c| CheckpointInfo {
                name: c.name,
                params: c.params,
                retries: c.retries,
                cache: c.cache,
                kind: c.kind,
                runtime: match c.runtime {
                    bindings::types::Runtime::Inline => Runtime::Inline,
                    bindings::types::Runtime::Isolated => Runtime::Isolated,
                },
                limits: CheckpointLimits {
                    fuel: c.fuel,
                    memory_bytes: c.memory_bytes,
                    timeout_ms: c.timeout_ms,
                },
            })
            .collect(),
    }
}
