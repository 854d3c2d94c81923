//! Compiled components on disk, keyed by the component's hash and the
//! engine's compatibility hash.
//!
//! wasmtime's `Component::deserialize` only checks that an artifact was made
//! by a compatible engine: a flipped byte is accepted and runs as native
//! code, and so would another component's artifact copied under this one's
//! name. So each entry carries a MAC — blake3 keyed with a per-installation
//! secret — over the component hash, the engine key and the body, checked
//! before the body is deserialized. A damaged, foreign or forged entry is
//! compiled again and replaced.
//!
//! Who may write what: anyone who can write the cache folder can only make
//! Cairn compile again. The key lives outside the folder, in `<folder>.key`
//! (created with mode 0600 on first use); whoever can write or read the key
//! can forge entries, i.e. run native code of their choosing in the host. So
//! a key is used only if it is a regular file (not a symlink) owned by the
//! user Cairn runs as and readable by nobody else; otherwise nothing is
//! cached (another user may have planted it, in `/tmp` say).
//!
//! Entry layout: `b"CAIRNART"`, `u32` LE layout version, 32-byte MAC, body
//! (the output of `Component::serialize`).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::component::Component;

use crate::model::ComponentHash;

const MAGIC: &[u8; 8] = b"CAIRNART";
const LAYOUT_VERSION: u32 = 2;
pub(super) const KEY_LEN: usize = 32;

/// The largest entry read back (a compiled 256 MiB component stays below).
const MAX_ENTRY_BYTES: u64 = 2 << 30;
const HEADER_LEN: usize = 8 + 4 + 32;

/// A folder of verified, compiled components.
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    key_file: PathBuf,
    engine_key: String,
    /// The installation's secret; `None` if it could not be read or made,
    /// and then nothing is cached.
    mac_key: Option<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for ArtifactCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactCache")
            .field("dir", &self.dir)
            .field("engine_key", &self.engine_key)
            .finish_non_exhaustive()
    }
}

impl ArtifactCache {
    /// A cache in `dir`, its entries signed with the key in `key_file`
    /// (default: `<dir>.key`).
    pub(crate) fn new(
        dir: PathBuf,
        key_file: Option<PathBuf>,
        engine: &wasmtime::Engine,
    ) -> ArtifactCache {
        let mut hasher = Blake3Hasher(blake3::Hasher::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hasher.0.finalize().to_hex()[..16].to_owned();
        let key_file = key_file.unwrap_or_else(|| default_key_file(&dir));
        let mac_key = match load_or_create_key(&key_file) {
            Ok(key) => Some(key),
            Err(e) => {
                tracing::warn!(key = %key_file.display(), error = %e, "no artifact cache key; components are compiled every time");
                None
            }
        };
        ArtifactCache {
            dir,
            key_file,
            engine_key,
            mac_key,
        }
    }

    fn mac(&self, key: &[u8; KEY_LEN], hash: ComponentHash, body: &[u8]) -> blake3::Hash {
        let mut mac = blake3::Hasher::new_keyed(key);
        mac.update(b"cairn artifact v2\0");
        mac.update(&hash.0);
        mac.update(self.engine_key.as_bytes());
        mac.update(body);
        mac.finalize()
    }

    /// The cache folder.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache folder and its key file: what no checkpoint may be
    /// granted (it could forge entries, i.e. native code).
    pub(crate) fn protected_paths(&self) -> [&Path; 2] {
        [&self.dir, &self.key_file]
    }

    /// Where the entry for `hash` lives.
    pub(crate) fn path_of(&self, hash: ComponentHash) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", hash.to_hex(), self.engine_key))
    }

    /// The cached compilation of `hash`, if there is an intact one.
    pub(crate) fn load(&self, engine: &wasmtime::Engine, hash: ComponentHash) -> Option<Component> {
        let key = self.mac_key.as_ref()?;
        let path = self.path_of(hash);
        // Not `fs::read`: whoever can write the folder could put a FIFO or
        // a link to `/dev/zero` there.
        let bytes = crate::files::read_regular_file(&path, MAX_ENTRY_BYTES).ok()?;
        let Some(body) = verified_body(&bytes, |body| self.mac(key, hash, body)) else {
            tracing::warn!(path = %path.display(), "artifact cache entry is damaged; compiling again");
            return None;
        };
        // SAFETY: `body` is byte for byte what `Component::serialize` wrote for
        // this component under this engine configuration (its MAC, keyed with
        // a secret only this installation holds, matched above), which is the
        // contract `deserialize` asks for.
        #[expect(unsafe_code, reason = "loading a verified precompiled artifact")]
        let component = unsafe { Component::deserialize(engine, body) };
        component.ok()
    }

    /// Stores a compilation. Failing to write only costs a recompile later.
    pub(crate) fn store(&self, hash: ComponentHash, component: &Component) {
        let Some(key) = &self.mac_key else {
            return;
        };
        let Ok(body) = component.serialize() else {
            return;
        };
        let mut entry = Vec::with_capacity(HEADER_LEN + body.len());
        entry.extend_from_slice(MAGIC);
        entry.extend_from_slice(&LAYOUT_VERSION.to_le_bytes());
        entry.extend_from_slice(self.mac(key, hash, &body).as_bytes());
        entry.extend_from_slice(&body);
        if let Err(e) = write_atomically(&self.dir, &self.path_of(hash), &entry) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write the artifact cache");
        }
    }
}

fn verified_body(entry: &[u8], mac: impl Fn(&[u8]) -> blake3::Hash) -> Option<&[u8]> {
    if entry.len() < HEADER_LEN || &entry[..8] != MAGIC {
        return None;
    }
    if entry[8..12] != LAYOUT_VERSION.to_le_bytes() {
        return None;
    }
    let body = &entry[HEADER_LEN..];
    let stored: [u8; 32] = entry[12..HEADER_LEN].try_into().ok()?;
    // `blake3::Hash` compares in constant time.
    (mac(body) == blake3::Hash::from_bytes(stored)).then_some(body)
}

/// `<dir>.key`: beside the cache folder, not in it.
pub(super) fn default_key_file(dir: &Path) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "artifacts".into());
    name.push(".key");
    dir.with_file_name(name)
}

/// Reads the installation's key, or makes one (readable by its owner only)
/// if there is none. A key file of the wrong size is an error, not
/// replaced: someone else may depend on it.
pub(super) fn load_or_create_key(path: &Path) -> std::io::Result<[u8; KEY_LEN]> {
    use std::io::{Read, Write};
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut open, libc::O_NOFOLLOW | libc::O_NONBLOCK);
    match open.open(path) {
        Ok(file) => {
            let meta = file.metadata()?;
            if !meta.is_file() {
                return Err(invalid("the key is not a regular file"));
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                if meta.uid() != effective_uid() {
                    return Err(invalid("the key belongs to another user"));
                }
                if meta.mode() & 0o077 != 0 {
                    return Err(invalid("the key is readable or writable by other users"));
                }
            }
            let mut key = [0; KEY_LEN];
            let mut rest = Vec::new();
            let mut file = file.take(KEY_LEN as u64 + 1);
            file.read_exact(&mut key)?;
            file.read_to_end(&mut rest)?;
            if !rest.is_empty() {
                return Err(invalid("the key file is longer than a key"));
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut key = [0; KEY_LEN];
            wasmtime_wasi::Rng::fill_bytes(&mut wasmtime_wasi::thread_rng(), &mut key);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(mut file) => {
                    file.write_all(&key)?;
                    file.sync_all()?;
                    Ok(key)
                }
                // Another process made it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_key(path),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

pub(super) fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    // A fresh name, created exclusively: a name planted in advance (a
    // symlink to some file of ours) is never written through.
    let nonce = wasmtime_wasi::Rng::next_u64(&mut wasmtime_wasi::thread_rng());
    let tmp = path.with_extension(format!("tmp{}-{nonce:016x}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The user this process runs as.
#[cfg(unix)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[expect(unsafe_code, reason = "geteuid is a plain libc call")]
    unsafe {
        libc::geteuid()
    }
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
