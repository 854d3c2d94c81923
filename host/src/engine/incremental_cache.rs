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
//!
//! The folder is bounded ([`MAX_CACHE_BYTES`] by default): one compiled
//! interpreter's functions take ~76 MB in about ten thousand files, and
//! each new interpreter (another componentize-py, other compiler settings)
//! adds as much. An entry read is touched (its mtime set to now), so the
//! mtime says when it was last used; when the folder is past its bound,
//! the least recently used entries are deleted until it is under
//! [`LOW_WATER`] of it. The folder is measured at a process's first insert
//! (it is compiling, which costs far more than a walk of the folder) and
//! again after every [`SWEEP_EVERY`] bytes it inserts. A deleted entry is
//! only a miss: its function is compiled again.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use wasmtime::CacheStore;

use super::artifact_cache::{KEY_LEN, write_atomically};

/// The default bound of the folder: about six compiled interpreters.
pub(crate) const MAX_CACHE_BYTES: u64 = 512 << 20;

/// A sweep deletes down to this share of the bound (in percent), so that
/// the next inserts do not start another sweep at once.
const LOW_WATER: u64 = 80;

/// Inserted bytes between two measures of the folder.
const SWEEP_EVERY: u64 = 64 << 20;

/// The largest entry read back: one compiled function.
const MAX_ENTRY_BYTES: u64 = 64 << 20;

/// What a MAC is computed over first, so no other use of the key collides.
const DOMAIN: &[u8] = b"cairn incremental v1\0";

/// A folder of verified compiled functions.
pub(crate) struct IncrementalCache {
    dir: PathBuf,
    mac_key: [u8; KEY_LEN],
    /// How large the folder may grow.
    max_bytes: u64,
    /// Bytes inserted since the folder was last measured; `u64::MAX` until
    /// the first insert, which measures it.
    since_sweep: AtomicU64,
    /// Whether a thread is sweeping (compiles insert from many threads).
    sweeping: AtomicBool,
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
        IncrementalCache::bounded(artifact_dir, mac_key, MAX_CACHE_BYTES)
    }

    /// The same, the folder bounded to `max_bytes`.
    pub(crate) fn bounded(
        artifact_dir: &Path,
        mac_key: [u8; KEY_LEN],
        max_bytes: u64,
    ) -> IncrementalCache {
        IncrementalCache {
            dir: artifact_dir.join("incremental"),
            mac_key,
            max_bytes,
            since_sweep: AtomicU64::new(u64::MAX),
            sweeping: AtomicBool::new(false),
        }
    }

    /// Counts `bytes` inserted, and sweeps when the folder is due a
    /// measure (at the first insert, then every [`SWEEP_EVERY`] bytes).
    fn inserted(&self, bytes: u64) {
        let before = self.since_sweep.fetch_add(bytes, Ordering::Relaxed);
        // `u64::MAX` is the first insert's marker (the add wraps it).
        let due = before == u64::MAX || before.saturating_add(bytes) >= SWEEP_EVERY;
        if !due || self.sweeping.swap(true, Ordering::Acquire) {
            return;
        }
        self.since_sweep.store(0, Ordering::Relaxed);
        self.sweep();
        self.sweeping.store(false, Ordering::Release);
    }

    /// Deletes the least recently used entries while the folder is past
    /// its bound, down to [`LOW_WATER`] percent of it. Returns how many
    /// bytes it deleted. Errors (an entry another process deleted, a
    /// folder not readable) skip the entry: a sweep never fails a compile.
    pub(crate) fn sweep(&self) -> u64 {
        let mut entries = Vec::new();
        let mut total = 0u64;
        let Ok(shards) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        for shard in shards.flatten() {
            let Ok(files) = std::fs::read_dir(shard.path()) else {
                continue;
            };
            for file in files.flatten() {
                // `DirEntry::metadata` does not follow a symlink: only
                // regular files are counted, and deleted.
                let Ok(meta) = file.metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                total += meta.len();
                entries.push((used, meta.len(), file.path()));
            }
        }
        if total <= self.max_bytes {
            return 0;
        }
        let target = (u128::from(self.max_bytes) * u128::from(LOW_WATER) / 100) as u64;
        entries.sort_by_key(|entry| entry.0);
        let mut deleted = 0;
        for (_, len, path) in entries {
            if total <= target {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
                deleted += len;
            }
        }
        deleted
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

/// The time an entry is marked used at.
#[expect(
    clippy::disallowed_methods,
    reason = "a cache file's last use, never seen by a guest nor journaled"
)]
fn now() -> SystemTime {
    SystemTime::now()
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
        // Marks it used, for the sweep (least recently used go first).
        if let Ok(file) = std::fs::File::open(self.path_of(key)) {
            let _ = file.set_modified(now());
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
        let written = write_atomically(dir, &path, &entry).is_ok();
        if written {
            self.inserted(entry.len() as u64);
        }
        written
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

    fn age(cache: &IncrementalCache, key: &[u8], secs: u64) {
        let file = std::fs::File::open(cache.path_of(key)).expect("the entry");
        let when = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        file.set_modified(when).expect("mtime set");
    }

    /// Past its bound, the folder loses its least recently used entries,
    /// down to the low-water mark: an entry read lately stays, however old
    /// its file; under the bound nothing is deleted.
    #[test]
    fn the_least_recently_used_entries_go_past_the_bound() {
        let dir = tempfile::tempdir().expect("a folder");
        // Entries of 1,032 bytes (a 32-byte MAC and 1,000 bytes of body).
        let cache = IncrementalCache::bounded(dir.path(), [7; KEY_LEN], 10 * 1_032);
        let keys: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i]).collect();
        for (i, key) in keys.iter().enumerate() {
            assert!(cache.insert(key, vec![i as u8; 1_000]));
            age(&cache, key, 1_000 + i as u64);
        }
        // At the bound exactly: nothing goes.
        assert_eq!(cache.sweep(), 0);
        assert!(keys.iter().all(|k| cache.get(k).is_some()));
        for (i, key) in keys.iter().enumerate() {
            age(&cache, key, 1_000 + i as u64);
        }
        // The oldest file is read now: it is the newest in use.
        assert!(cache.get(&keys[0]).is_some());
        // Two more: 12 entries, past the bound of 10; down to 80 %, i.e. 8.
        for key in [b"x".to_vec(), b"y".to_vec()] {
            assert!(cache.insert(&key, vec![9; 1_000]));
            age(&cache, &key, 5_000);
        }
        assert_eq!(cache.sweep(), 4 * 1_032);
        let kept: Vec<bool> = keys.iter().map(|k| cache.get(k).is_some()).collect();
        assert_eq!(
            kept,
            [
                true, false, false, false, false, true, true, true, true, true
            ]
        );
        assert!(cache.get(b"x").is_some() && cache.get(b"y").is_some());
    }

    /// The first insert of a process measures the folder, so a folder left
    /// past its bound by earlier processes shrinks then.
    #[test]
    fn the_first_insert_sweeps_a_folder_past_its_bound() {
        let dir = tempfile::tempdir().expect("a folder");
        let earlier = IncrementalCache::bounded(dir.path(), [7; KEY_LEN], u64::MAX);
        for i in 0..20u8 {
            assert!(earlier.insert(&[i], vec![i; 1_000]));
            age(&earlier, &[i], 1_000 + u64::from(i));
        }
        let bounded = IncrementalCache::bounded(dir.path(), [7; KEY_LEN], 10 * 1_032);
        assert!(bounded.insert(b"new", vec![1; 1_000]));
        let left = (0..20u8).filter(|i| bounded.get(&[*i]).is_some()).count();
        // 21 entries down to 8 of the bound of 10: the new one and the
        // 7 newest of the earlier ones.
        assert_eq!(left, 7);
        assert!(bounded.get(b"new").is_some());
        // Later inserts under SWEEP_EVERY measure nothing.
        assert!(bounded.insert(b"more", vec![1; 1_000]));
        assert_eq!(
            (0..20u8).filter(|i| bounded.get(&[*i]).is_some()).count(),
            7
        );
    }
}
