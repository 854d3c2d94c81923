//! Compiled components on disk, keyed by the component's hash and the
//! engine's compatibility hash.
//!
//! wasmtime's `Component::deserialize` only checks that an artifact was made
//! by a compatible engine: a flipped byte is accepted and runs as native
//! code. So each entry carries the blake3 hash of its body, checked before it
//! is deserialized; a damaged entry is compiled again and replaced.
//!
//! Entry layout: `b"CAIRNART"`, `u32` LE layout version, 32-byte blake3 of the
//! body, body (the output of `Component::serialize`).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::component::Component;

use crate::model::ComponentHash;

const MAGIC: &[u8; 8] = b"CAIRNART";
const LAYOUT_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 32;

/// A folder of verified, compiled components.
#[derive(Debug)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
}

impl ArtifactCache {
    pub(crate) fn new(dir: PathBuf, engine: &wasmtime::Engine) -> ArtifactCache {
        let mut hasher = Blake3Hasher(blake3::Hasher::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hasher.0.finalize().to_hex()[..16].to_owned();
        ArtifactCache { dir, engine_key }
    }

    /// Where the entry for `hash` lives.
    pub(crate) fn path_of(&self, hash: ComponentHash) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", hash.to_hex(), self.engine_key))
    }

    /// The cached compilation of `hash`, if there is an intact one.
    pub(crate) fn load(&self, engine: &wasmtime::Engine, hash: ComponentHash) -> Option<Component> {
        let path = self.path_of(hash);
        let bytes = std::fs::read(&path).ok()?;
        let Some(body) = verified_body(&bytes) else {
            tracing::warn!(path = %path.display(), "artifact cache entry is damaged; compiling again");
            return None;
        };
        // SAFETY: `body` is byte for byte what `Component::serialize` wrote for
        // this engine configuration (its blake3 hash matched above), which is
        // the contract `deserialize` asks for.
        #[expect(unsafe_code, reason = "loading a verified precompiled artifact")]
        let component = unsafe { Component::deserialize(engine, body) };
        component.ok()
    }

    /// Stores a compilation. Failing to write only costs a recompile later.
    pub(crate) fn store(&self, hash: ComponentHash, component: &Component) {
        let Ok(body) = component.serialize() else {
            return;
        };
        let mut entry = Vec::with_capacity(HEADER_LEN + body.len());
        entry.extend_from_slice(MAGIC);
        entry.extend_from_slice(&LAYOUT_VERSION.to_le_bytes());
        entry.extend_from_slice(blake3::hash(&body).as_bytes());
        entry.extend_from_slice(&body);
        if let Err(e) = write_atomically(&self.dir, &self.path_of(hash), &entry) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write the artifact cache");
        }
    }
}

fn verified_body(entry: &[u8]) -> Option<&[u8]> {
    if entry.len() < HEADER_LEN || &entry[..8] != MAGIC {
        return None;
    }
    if entry[8..12] != LAYOUT_VERSION.to_le_bytes() {
        return None;
    }
    let body = &entry[HEADER_LEN..];
    (blake3::hash(body).as_bytes()[..] == entry[12..HEADER_LEN]).then_some(body)
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Feeds `Hash` output into blake3, so the key is stable across Rust versions
/// (unlike `DefaultHasher`).
struct Blake3Hasher(blake3::Hasher);

impl Hasher for Blake3Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.finalize();
        u64::from_le_bytes(digest.as_bytes()[..8].try_into().unwrap_or([0; 8]))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
