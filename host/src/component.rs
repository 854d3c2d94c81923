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
        Component::load(engine, bytes.into(), Some(path)).await
    }

    /// Loads a component: checks it is a Cairn component, compiles it (or
    /// takes it from the artifact cache) and reads its manifest. Nothing of
    /// the author's code runs except `describe` and static constructors,
    /// under the default [`Policy`].
    ///
    /// Bytes that are not WebAssembly are a [`LoadError::NotWasm`] that
    /// says what they look like; a core module is a
    /// [`LoadError::CoreModule`]; a component built by a guest SDK of
    /// another WIT version is a [`LoadError::IncompatibleSdk`].
    pub async fn from_bytes(
        engine: &Engine,
        bytes: impl Into<Arc<[u8]>>,
    ) -> Result<Component, LoadError> {
        Component::load(engine, bytes.into(), None).await
    }

    /// Loads `bytes`, read from `path` when there is one (errors name it).
    async fn load(
        engine: &Engine,
        bytes: Arc<[u8]>,
        path: Option<&Path>,
    ) -> Result<Component, LoadError> {
        if let Some(kind) = sniff(&bytes) {
            return Err(LoadError::NotWasm {
                path: path.map(Path::to_path_buf),
                kind,
            });
        }
        if is_core_module(&bytes) {
            return Err(LoadError::CoreModule {
                path: path.map(Path::to_path_buf),
            });
        }
        let hash = ComponentHash::of(&bytes);
        let compiled = compile(engine, hash, &bytes)?;
        check_contract(engine, &compiled)?;
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

/// The version of the WIT package `cairn:checkpoint` this host implements
/// (`wit/cairn.wit`); a component's imports and exports carry the version
/// its guest SDK was built for.
pub(crate) const WIT_VERSION: &str = "0.2.0";

/// Refuses a component built for another version of the WIT contract with
/// [`LoadError::IncompatibleSdk`], before linking would refuse it with a
/// type mismatch or a missing export that says nothing of versions. Only
/// names are compared: a component of this version whose types are wrong
/// is still refused by the linker.
fn check_contract(
    engine: &Engine,
    compiled: &wasmtime::component::Component,
) -> Result<(), LoadError> {
    let ty = compiled.component_type();
    let names = ty
        .imports(engine.wasm())
        .map(|(name, _)| name)
        .chain(ty.exports(engine.wasm()).map(|(name, _)| name));
    for name in names {
        let Some(interface) = name.strip_prefix("cairn:checkpoint/") else {
            continue;
        };
        let found = interface.split_once('@').map_or("", |(_, version)| version);
        if found != WIT_VERSION {
            return Err(LoadError::IncompatibleSdk {
                found: found.chars().take(64).collect(),
                expected: WIT_VERSION.to_owned(),
            });
        }
    }
    Ok(())
}

/// What [`LoadError::NotWasm`] says a file of no bytes looks like.
pub(crate) const EMPTY_FILE: &str = "an empty file";

/// What bytes that are not WebAssembly look like, from their first bytes:
/// a noun phrase for [`LoadError::NotWasm`], or `None` when they start
/// with the wasm magic number (a component, a core module, or a broken
/// one: compiling says which).
pub(crate) fn sniff(bytes: &[u8]) -> Option<&'static str> {
    /// Signatures of binary formats, looked for before text: a text file
    /// that starts with one (`%PDF-`, `GIF8`) is not worth a guess.
    const BINARY: [(&[u8], usize, &str); 16] = [
        (b"\x7fELF", 0, "an ELF executable"),
        (b"PK\x03\x04", 0, "a zip archive"),
        (b"PK\x05\x06", 0, "a zip archive"),
        (b"\x1f\x8b", 0, "a gzip archive"),
        (b"\x28\xb5\x2f\xfd", 0, "a zstd archive"),
        (b"\xfd7zXZ\0", 0, "an xz archive"),
        (b"7z\xbc\xaf\x27\x1c", 0, "a 7-Zip archive"),
        (b"ustar", 257, "a tar archive"),
        (b"!<arch>\n", 0, "an ar archive (a static library)"),
        (b"%PDF-", 0, "a PDF document"),
        (b"\x89PNG\r\n\x1a\n", 0, "a PNG image"),
        (b"\xff\xd8\xff", 0, "a JPEG image"),
        (b"\xcf\xfa\xed\xfe", 0, "a Mach-O executable"),
        (b"\xce\xfa\xed\xfe", 0, "a Mach-O executable"),
        (
            b"\xca\xfe\xba\xbe",
            0,
            "a Mach-O universal binary or a Java class file",
        ),
        (b"GIF8", 0, "a GIF image"),
    ];
    if bytes.is_empty() {
        return Some(EMPTY_FILE);
    }
    if bytes.starts_with(b"\0asm") {
        return None;
    }
    let at = |magic: &[u8], offset: usize| {
        bytes
            .get(offset..offset + magic.len())
            .is_some_and(|b| b == magic)
    };
    if let Some((_, _, kind)) = BINARY.iter().find(|(magic, offset, _)| at(magic, *offset)) {
        return Some(kind);
    }
    let head = &bytes[..bytes.len().min(4096)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => Some(text),
        // Cut in the middle of a character by the 4096 bytes.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    if let Some(text) = text.filter(|t| !t.contains('\0')) {
        let start = text.trim_start();
        return Some(
            if start.starts_with("(component") || start.starts_with("(module") {
                "WebAssembly text (WAT), which must be compiled to a binary component first"
            } else if start.starts_with("#!") {
                "a script"
            } else {
                "a text file"
            },
        );
    }
    // Short signatures that text could start with, once it is not text.
    if at(b"MZ", 0) {
        return Some("a Windows executable");
    }
    Some("binary data of another format")
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
            .map(|f| {
                let (params, param_types, optional_params) = params(f.params);
                FlowInfo {
                    name: f.name,
                    params,
                    param_types,
                    optional_params,
                    retries: f.retries,
                    cache: f.cache,
                    doc: f.doc,
                }
            })
            .collect(),
        checkpoints: manifest
            .checkpoints
            .into_iter()
            .map(|c| {
                let (params, param_types, optional_params) = params(c.params);
                CheckpointInfo {
                    name: c.name,
                    params,
                    param_types,
                    optional_params,
                    doc: c.doc,
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
                }
            })
            .collect(),
    }
}

/// A manifest entry's parameters as the host keeps them: their names,
/// their types, and the names of those that may be left out.
fn params(params: Vec<bindings::types::ParamInfo>) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut names = Vec::with_capacity(params.len());
    let mut types = Vec::with_capacity(params.len());
    let mut optional = Vec::new();
    for param in params {
        if param.optional {
            optional.push(param.name.clone());
        }
        names.push(param.name);
        types.push(param.type_name);
    }
    (names, types, optional)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_version_is_the_wit_package_version() {
        let wit = include_str!("../../wit/cairn.wit");
        assert!(
            wit.contains(&format!("package cairn:checkpoint@{WIT_VERSION};")),
            "wit/cairn.wit declares another version than {WIT_VERSION}"
        );
        assert!(
            crate::runtime::map_imports::RUNNER.ends_with(&format!("@{WIT_VERSION}")),
            "the runner's hand-defined imports name another version"
        );
    }

    #[test]
    fn files_that_are_not_wasm_say_what_they_look_like() {
        let mut tar = vec![0u8; 512];
        tar[..9].copy_from_slice(b"notes.txt");
        tar[257..262].copy_from_slice(b"ustar");
        let mut pe = b"MZ\x90\0\x03\0".to_vec();
        pe.resize(128, 0);
        for (bytes, kind) in [
            (&b""[..], "an empty file"),
            (b"# Cairn\n\nDurable flows.\n", "a text file"),
            ("Grüße, ünïcödé\n".as_bytes(), "a text file"),
            (b"#!/bin/sh\necho hi\n", "a script"),
            (
                b"  (component (core module))",
                "WebAssembly text (WAT), which must be compiled to a binary component first",
            ),
            (b"\x7fELF\x02\x01\x01\0\0\0", "an ELF executable"),
            (b"PK\x03\x04\x14\0\0\0", "a zip archive"),
            (b"\x1f\x8b\x08\0", "a gzip archive"),
            (&tar, "a tar archive"),
            (b"%PDF-1.7\n", "a PDF document"),
            (&pe, "a Windows executable"),
            (b"\x01\x02\x03\xff\xfe", "binary data of another format"),
        ] {
            assert_eq!(sniff(bytes), Some(kind), "{bytes:?}");
        }
        for wasm in [&b"\0asm\x01\0\0\0"[..], b"\0asm\x0d\0\x01\0", b"\0asm"] {
            assert_eq!(sniff(wasm), None, "{wasm:?}");
        }
        // Text cut inside a character by the 4096 bytes looked at.
        let mut long = "a".repeat(4095).into_bytes();
        long.extend("é".as_bytes());
        assert_eq!(sniff(&long), Some("a text file"));
    }
}
