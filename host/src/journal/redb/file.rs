//! Opening the journal file: for writing (created when missing), or
//! read-only (never created, never changed). A file that is not a journal
//! is refused and left as it is, and told apart from a journal that is
//! damaged: a redb file starts with redb's magic number.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, DatabaseError, ReadOnlyDatabase, ReadableDatabase, ReadableTable};

use super::envelope::{RecordKey, decode};
use super::schema::{
    ATTEMPTS, CACHE, CALLS, COMPONENT_CHUNKS, COMPONENT_MANIFESTS, COMPONENTS, EXECUTIONS,
    FORMAT_VERSION, FORMAT_VERSION_KEY, META, OLDEST_READABLE_VERSION, TIMERS, TIMES, WAITS,
};
use super::writer::{failure, is_disk_full};
use super::{guard, overlay, storage};
use crate::error::{Cause, JournalError};
use crate::journal::record::ExecutionRecord;

/// What a journal is read through.
pub(super) enum Db {
    /// Opened by redb for writing, or a copy-on-write view of a file that
    /// needed a repair to be read (see [`overlay`]).
    Database(Arc<Database>),
    /// Opened by redb read-only.
    ReadOnly(ReadOnlyDatabase),
}

impl Db {
    pub(super) fn begin_read(&self) -> Result<redb::ReadTransaction, redb::TransactionError> {
        match self {
            Db::Database(db) => db.begin_read(),
            Db::ReadOnly(db) => db.begin_read(),
        }
    }
}

/// redb's magic number, the first bytes of every redb file (redb's file
/// format, `docs/design.md`).
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// Opens the journal at `path` for writing, creating it (and its folder) if
/// there is no file there.
pub(super) fn writable(path: &Path) -> Result<Database, JournalError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() == 0 => Err(not_a_journal(path, "the file is empty")),
        Ok(_) => guard(|| Database::open(path))
            .map_err(|_| unopenable(path, "redb panicked opening it", None))?
            .map_err(|e| open_error(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(e) => Err(JournalError::storage(
            format!("cannot read {}", path.display()),
            e,
        )),
    }
}

/// Opens the journal at `path` without ever writing to it: a missing file
/// is [`JournalError::Missing`], and a journal whose last writer did not
/// close it (a crash) is repaired in memory, not on disk.
pub(super) fn read_only(path: &Path) -> Result<Db, JournalError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() == 0 => return Err(not_a_journal(path, "the file is empty")),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(JournalError::Missing {
                path: path.to_path_buf(),
            });
        }
        Err(e) => {
            return Err(JournalError::storage(
                format!("cannot read {}", path.display()),
                e,
            ));
        }
    }
    let panicked = |_| unopenable(path, "redb panicked opening it", None);
    match guard(|| ReadOnlyDatabase::open(path)).map_err(panicked)? {
        Ok(db) => Ok(Db::ReadOnly(db)),
        // redb's read-only open does not repair a file left open by a
        // process that died; a copy-on-write view can.
        Err(DatabaseError::RepairAborted) => guard(|| overlay::open(path, false))
            .map_err(panicked)?
            .map(|db| Db::Database(Arc::new(db)))
            .map_err(|e| open_error(path, e)),
        Err(e) => Err(open_error(path, e)),
    }
}

/// Creates a journal beside `path` and moves it into place once it is
/// initialized, so a process killed halfway never leaves a half-made journal
/// that later opens would refuse.
fn create(path: &Path) -> Result<Database, JournalError> {
    let io_error = |what: &Path, e: std::io::Error| {
        if is_disk_full(&e) {
            JournalError::DiskFull {
                path: path.to_path_buf(),
                source: Arc::new(e),
            }
        } else {
            JournalError::storage(format!("cannot create {}", what.display()), e)
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    }
    let fresh = path.with_extension(format!("creating-{}", std::process::id()));
    let _ = std::fs::remove_file(&fresh);
    let made = (|| {
        let db = guard(|| Database::create(&fresh))?.map_err(|e| open_error(&fresh, e))?;
        initialize(&db, path)?;
        drop(db);
        std::fs::rename(&fresh, path).map_err(|e| io_error(path, e))
    })();
    if let Err(error) = made {
        let _ = std::fs::remove_file(&fresh);
        return Err(error);
    }
    guard(|| Database::open(path))?.map_err(|e| open_error(path, e))
}

/// Writes the format version and creates every table.
pub(super) fn initialize(db: &Database, path: &Path) -> Result<(), JournalError> {
    let failed = |e: redb::Error| failure(path, e);
    guard(|| {
        let txn = db.begin_write().map_err(|e| failed(e.into()))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| failed(e.into()))?;
            meta.insert(FORMAT_VERSION_KEY, FORMAT_VERSION)
                .map_err(|e| failed(e.into()))?;
            txn.open_table(COMPONENTS).map_err(|e| failed(e.into()))?;
            txn.open_table(COMPONENT_MANIFESTS)
                .map_err(|e| failed(e.into()))?;
            txn.open_table(COMPONENT_CHUNKS)
                .map_err(|e| failed(e.into()))?;
            txn.open_table(EXECUTIONS).map_err(|e| failed(e.into()))?;
            txn.open_table(CALLS).map_err(|e| failed(e.into()))?;
            txn.open_table(ATTEMPTS).map_err(|e| failed(e.into()))?;
            txn.open_table(CACHE).map_err(|e| failed(e.into()))?;
            txn.open_table(WAITS).map_err(|e| failed(e.into()))?;
            txn.open_table(TIMES).map_err(|e| failed(e.into()))?;
            txn.open_table(TIMERS).map_err(|e| failed(e.into()))?;
        }
        txn.commit().map_err(|e| failed(e.into()))
    })?
}

/// Checks that `db` is a Cairn journal of this build's format.
pub(super) fn check_format(db: &Db, path: &Path) -> Result<(), JournalError> {
    let version = guard(|| -> Result<Option<u64>, JournalError> {
        let txn = db.begin_read().map_err(storage)?;
        let meta = match txn.open_table(META) {
            Ok(meta) => meta,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(storage(e)),
        };
        Ok(meta
            .get(FORMAT_VERSION_KEY)
            .map_err(storage)?
            .map(|v| v.value()))
    })??;
    match version {
        None => Err(not_a_journal(path, "it has no Cairn format version")),
        Some(found) if found > FORMAT_VERSION => Err(JournalError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: FORMAT_VERSION,
        }),
        Some(found) if found < OLDEST_READABLE_VERSION => Err(JournalError::TooOld {
            path: path.to_path_buf(),
            found,
            supported: FORMAT_VERSION,
        }),
        Some(_) => Ok(()),
    }
}

/// Marks a journal of an older format this build reads (checked by
/// [`check_format`]) as this build's: its writes may be what the older
/// format's builds would not find (chunked components), so those builds
/// must refuse it from now on ([`JournalError::TooNew`]).
pub(super) fn mark_current(db: &Database, path: &Path) -> Result<(), JournalError> {
    let failed = |e: redb::Error| failure(path, e);
    // Read first: a journal of this format (nearly always) gets no write
    // transaction, which would make redb write the file when it closes
    // (harmful to a damaged file only read from).
    let found = guard(|| -> Result<Option<u64>, JournalError> {
        let txn = db.begin_read().map_err(storage)?;
        let meta = txn.open_table(META).map_err(storage)?;
        Ok(meta
            .get(FORMAT_VERSION_KEY)
            .map_err(storage)?
            .map(|v| v.value()))
    })??;
    if found == Some(FORMAT_VERSION) {
        return Ok(());
    }
    guard(|| {
        let txn = db.begin_write().map_err(|e| failed(e.into()))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| failed(e.into()))?;
            let found = meta
                .get(FORMAT_VERSION_KEY)
                .map_err(|e| failed(e.into()))?
                .map(|v| v.value());
            if found == Some(FORMAT_VERSION) {
                return Ok(());
            }
            meta.insert(FORMAT_VERSION_KEY, FORMAT_VERSION)
                .map_err(|e| failed(e.into()))?;
        }
        txn.commit().map_err(|e| failed(e.into()))
    })?
}

fn open_error(path: &Path, error: DatabaseError) -> JournalError {
    match error {
        DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
            JournalError::InUse {
                path: path.to_path_buf(),
            }
        }
        // redb reports a file that is not a redb database as invalid data.
        DatabaseError::Storage(redb::StorageError::Io(e))
            if e.kind() == std::io::ErrorKind::InvalidData =>
        {
            unopenable(path, "redb cannot read it", Some(Arc::new(e)))
        }
        DatabaseError::Storage(redb::StorageError::Io(e)) if is_disk_full(&e) => {
            JournalError::DiskFull {
                path: path.to_path_buf(),
                source: Arc::new(e),
            }
        }
        DatabaseError::Storage(redb::StorageError::Io(e)) => {
            JournalError::storage(format!("cannot open {}", path.display()), e)
        }
        other => unopenable(path, "redb cannot open it", Some(Arc::new(other))),
    }
}

/// A file redb could not open: damaged if it is a redb file (it starts with
/// redb's magic number, or is a truncated piece of it), else not a journal.
fn unopenable(path: &Path, reason: &str, source: Option<Cause>) -> JournalError {
    if !starts_like_redb(path) {
        return JournalError::NotAJournal {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
            source,
        };
    }
    JournalError::Damaged {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
        source,
        surviving: surviving(path),
    }
}

fn starts_like_redb(path: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::with_capacity(REDB_MAGIC.len());
    let read = std::fs::File::open(path)
        .and_then(|f| f.take(REDB_MAGIC.len() as u64).read_to_end(&mut head));
    matches!(read, Ok(n) if n > 0) && REDB_MAGIC.starts_with(&head)
}

/// How many executions a repair of a copy of the damaged file, in memory,
/// reads back intact (their records pass their checksums).
fn surviving(path: &Path) -> Option<usize> {
    let count = || -> Option<usize> {
        let db = overlay::open(path, true).ok()?;
        let txn = db.begin_read().ok()?;
        let table = txn.open_table(EXECUTIONS).ok()?;
        let mut intact = 0;
        for entry in table.iter().ok()? {
            let Ok((key, value)) = entry else { break };
            let id = key.value();
            if decode::<ExecutionRecord>(RecordKey::Execution(id), value.value()).is_ok() {
                intact += 1;
            }
        }
        Some(intact)
    };
    guard(count).ok().flatten()
}

fn not_a_journal(path: &Path, reason: &str) -> JournalError {
    JournalError::NotAJournal {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
        source: None,
    }
}
