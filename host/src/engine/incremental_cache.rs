//! Cranelift's incremental compilation cache, on disk in
//! `<artifact cache>/incremental/`: compiled functions keyed by what
//! Cranelift hashes of them (the function, the target and the compiler
//! settings). A rebuilt component whose code is mostly unchanged compiles
//! only what changed: a Python app edited and rebuilt with componentize-py
//! keeps the whole CPython interpreter byte for byte, so its second
//! compile reuses nearly every function instead of spending ~20 s of CPU
//! on 18 MB again.
//!
//! An entry is machine code, so it carries a MAC like the artifact cache's
//! (blake3 keyed with the same per-installation secret) over the key and
//! the body: a damaged, foreign or forged entry is a miss, compiled again.
//! Entries are never collected: one compiled interpreter's functions take
//! tens of MB in about ten thousand files; delete the folder to reclaim
//! them (Cairn only compiles more).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use wasmtime::CacheStore;

use super::artifact_cache::{KEY_LEN, write_atomically};

/// The largest entry read back: one compiled function.
const MAX_ENTRY_BYTES: u64 = 64 << 20;

/// What a MAC is computed over first, so no other use of the key collides.
const DOMAIN: &[u8] = b"cairn incremental v1\0";

/// A folder of verified compiled functions.
pub(crate) struct IncrementalCache {
    dir: PathBuf,
    mac_key: [u8; KEY_LEN],
}

impl std::fmt::Debug for IncrementalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncrementalCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl IncrementalCache {
    /// The cache in `<artifact_dir>/incremental`, signed with the artifact
    /// cache's key.
    pub(crate) fn new(artifact_dir: &Path, mac_key: [u8; KEY_LEN]) -> IncrementalCache {
        IncrementalCache {
            dir: artifact_dir.join("incremental"),
            mac_key,
        }
    }

    fn path_of(&self, key: &[u8]) -> PathBuf {
        let name = blake3::hash(key).to_hex();
        // Two levels, so no folder holds tens of thousands of files.
        self.dir.join(&name[..2]).join(&name[2..])
    }

    fn mac(&self, key: &[u8], body: &[u8]) -> blake3::Hash {
        let mut mac = blake3::Hasher::new_keyed(&self.mac_key);
        mac.update(DOMAIN);
        mac.update(&(key.len() as u64).to_le_bytes());
        mac.update(key);
        mac.update(body);
        mac.finalize()
    }
}

impl CacheStore for IncrementalCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let bytes = crate::files::read_regular_file(&self.path_of(key), MAX_ENTRY_BYTES).ok()?;
        let (stored, body) = bytes.split_at_checked(32)?;
        let stored: [u8; 32] = stored.try_into().ok()?;
        // `blake3::Hash` compares in constant time.
        if self.mac(key, body) != blake3::Hash::from_bytes(stored) {
            return None;
        }
        Some(Cow::Owned(body.to_vec()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let path = self.path_of(key);
        let Some(dir) = path.parent() else {
            return false;
        };
        let mut entry = Vec::with_capacity(32 + value.len());
        entry.extend_from_slice(self.mac(key, &value).as_bytes());
        entry.extend_from_slice(&value);
        write_atomically(dir, &path, &entry).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_a_tampered_one_is_a_miss() {
        let dir = tempfile::tempdir().expect("a folder");
        let cache = IncrementalCache::new(dir.path(), [7; KEY_LEN]);
        assert!(cache.get(b"f").is_none());
        assert!(cache.insert(b"f", b"code".to_vec()));
        assert_eq!(cache.get(b"f").as_deref(), Some(&b"code"[..]));
        // Another installation's key does not verify it.
        let other = IncrementalCache::new(dir.path(), [8; KEY_LEN]);
        assert!(other.get(b"f").is_none());
        // Neither does a flipped byte.
        let path = cache.path_of(b"f");
        let mut bytes = std::fs::read(&path).expect("the entry");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).expect("written");
        assert!(cache.get(b"f").is_none());
    }
}
