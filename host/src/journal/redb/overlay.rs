//! A copy-on-write view of a journal file: redb reads the file and writes to
//! memory, so a journal can be opened, and repaired after a crash, without
//! changing a byte of it. A read-only open needs it when the last writer did
//! not close the file (redb's own read-only open refuses to repair), and the
//! damage report uses it to see what survives of a truncated journal.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use redb::backends::FileBackend;
use redb::{BackendError, Database, DatabaseError, StorageBackend};

/// The granularity of the in-memory copies (redb's page size).
const BLOCK: u64 = 4096;

/// Where redb keeps its "god byte" (right after its 9-byte magic number),
/// and the bit in it that says the last writer did not shut down cleanly
/// (redb's file format, `docs/design.md`).
const GOD_BYTE: u64 = 9;
const RECOVERY_REQUIRED: u8 = 2;

/// Opens the database in `path` through a copy-on-write view. With
/// `salvage`, the view also pads a truncated file to a whole page and flags
/// it as needing repair, so that redb rebuilds what it can instead of
/// trusting a layout the file no longer has.
///
/// The file is opened read-only and held with a shared lock over its whole
/// range, so a writer cannot open it meanwhile, and an open writer makes
/// this fail with [`DatabaseError::DatabaseAlreadyOpen`].
pub(super) fn open(path: &Path, salvage: bool) -> Result<Database, DatabaseError> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let backend = FileBackend::new(file)?;
    let locked = backend
        .try_lock_shared_range(Bound::Unbounded, Bound::Unbounded)
        .map_err(|e| DatabaseError::Storage(redb::StorageError::from(e)))?;
    if !locked {
        return Err(DatabaseError::DatabaseAlreadyOpen);
    }
    let view = CopyOnWrite {
        file: backend,
        state: Mutex::new(State {
            len: if salvage {
                len.next_multiple_of(BLOCK)
            } else {
                len
            },
            base: len,
            blocks: BTreeMap::new(),
        }),
    };
    if salvage && len > GOD_BYTE {
        let mut god = [0];
        view.read(GOD_BYTE, &mut god)?;
        view.write(GOD_BYTE, &[god[0] | RECOVERY_REQUIRED])?;
    }
    // On a backend that is not empty this opens (never initializes) the
    // database, repairing it in memory if it needs that.
    Database::builder().create_with_backend(view)
}

#[derive(Debug)]
struct CopyOnWrite {
    file: FileBackend,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The length redb sees.
    len: u64,
    /// Below this offset, bytes not copied to memory are the file's; above
    /// it, zero (the view was shortened, or grew past the file).
    base: u64,
    /// Blocks written to, by index.
    blocks: BTreeMap<u64, Box<[u8]>>,
}

impl CopyOnWrite {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads what the view holds at `offset` outside its in-memory blocks.
    fn read_base(&self, base: u64, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let from_file = base.saturating_sub(offset).min(out.len() as u64) as usize;
        let (file, zeros) = out.split_at_mut(from_file);
        if !file.is_empty() {
            self.file.read(offset, file)?;
        }
        zeros.fill(0);
        Ok(())
    }
}

impl StorageBackend for CopyOnWrite {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.state().len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let state = self.state();
        let end = offset.saturating_add(out.len() as u64);
        if end > state.len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("read past the end: {end} > {}", state.len),
            ));
        }
        if out.is_empty() {
            return Ok(());
        }
        let (first, last) = (offset / BLOCK, (end - 1) / BLOCK);
        if state.blocks.range(first..=last).next().is_none() {
            return self.read_base(state.base, offset, out);
        }
        let mut at = offset;
        let mut rest = out;
        while !rest.is_empty() {
            let within = at % BLOCK;
            let n = ((BLOCK - within) as usize).min(rest.len());
            let (head, tail) = rest.split_at_mut(n);
            match state.blocks.get(&(at / BLOCK)) {
                Some(block) => head.copy_from_slice(&block[within as usize..within as usize + n]),
                None => self.read_base(state.base, at, head)?,
            }
            at += n as u64;
            rest = tail;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut state = self.state();
        if len < state.len {
            state.base = state.base.min(len);
            let whole = len.div_ceil(BLOCK);
            state.blocks.split_off(&whole);
            if !len.is_multiple_of(BLOCK)
                && let Some(block) = state.blocks.get_mut(&(len / BLOCK))
            {
                block[(len % BLOCK) as usize..].fill(0);
            }
        }
        state.len = len;
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut state = self.state();
        let end = offset.saturating_add(data.len() as u64);
        state.len = state.len.max(end);
        let mut at = offset;
        let mut rest = data;
        while !rest.is_empty() {
            let index = at / BLOCK;
            let within = (at % BLOCK) as usize;
            let n = (BLOCK as usize - within).min(rest.len());
            if !state.blocks.contains_key(&index) {
                let mut block = vec![0; BLOCK as usize].into_boxed_slice();
                self.read_base(state.base, index * BLOCK, &mut block)?;
                state.blocks.insert(index, block);
            }
            if let Some(block) = state.blocks.get_mut(&index) {
                block[within..within + n].copy_from_slice(&rest[..n]);
            }
            at += n as u64;
            rest = &rest[n..];
        }
        Ok(())
    }

    fn close(&self) -> Result<(), io::Error> {
        self.file.close()
    }

    // Locking is done once, by `open`, on the file itself: redb's locks
    // would be exclusive ones (it opens this view as a writer), which a
    // read-only file cannot take and which would shut out other readers.
    fn try_lock_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<bool, BackendError> {
        Err(BackendError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(contents: &[u8]) -> (tempfile::TempDir, CopyOnWrite) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("file");
        std::fs::write(&path, contents).expect("write");
        let file = File::open(&path).expect("open");
        let view = CopyOnWrite {
            file: FileBackend::new(file).expect("backend"),
            state: Mutex::new(State {
                len: contents.len() as u64,
                base: contents.len() as u64,
                blocks: BTreeMap::new(),
            }),
        };
        (dir, view)
    }

    /// Writes land in memory across block edges, reads merge them with the
    /// file, shrinking and growing again reads zeros, and the file never
    /// changes.
    #[test]
    fn writes_stay_in_memory_and_reads_see_them() {
        let contents: Vec<u8> = (0..3 * BLOCK as usize).map(|i| (i % 251) as u8).collect();
        let (dir, view) = view(&contents);
        let mut expected = contents.clone();
        let patch = vec![0xAB; 100];
        let at = BLOCK as usize - 50;
        view.write(at as u64, &patch).expect("write");
        expected[at..at + 100].copy_from_slice(&patch);
        let mut all = vec![0; expected.len()];
        view.read(0, &mut all).expect("read");
        assert_eq!(all, expected);
        let mut some = vec![0; 10];
        view.read(at as u64 + 95, &mut some).expect("read");
        assert_eq!(some, expected[at + 95..at + 105]);

        view.set_len(BLOCK + 10).expect("shrink");
        view.set_len(2 * BLOCK).expect("grow");
        let mut grown = vec![1; 2 * BLOCK as usize];
        view.read(0, &mut grown).expect("read");
        assert_eq!(
            grown[..BLOCK as usize + 10],
            expected[..BLOCK as usize + 10]
        );
        assert!(grown[BLOCK as usize + 10..].iter().all(|b| *b == 0));
        assert!(
            view.read(2 * BLOCK - 1, &mut [0, 0]).is_err(),
            "past the end"
        );

        view.write(5 * BLOCK, b"far").expect("write past the end");
        assert_eq!(view.len().expect("len"), 5 * BLOCK + 3);
        let mut gap = vec![1; BLOCK as usize];
        view.read(3 * BLOCK, &mut gap).expect("read");
        assert!(gap.iter().all(|b| *b == 0));

        let on_disk = std::fs::read(dir.path().join("file")).expect("read");
        assert_eq!(on_disk, contents, "the file is untouched");
    }
}
