//! The journal: one redb file holding executions, calls, attempts and the
//! component bytes they ran.
//!
//! Reads go straight to redb (they see every committed write, durable or
//! not); writes go through the single [`writer`]. The file is locked while
//! open, so a second process gets [`JournalError::InUse`]. A journal opened
//! read-only ([`Journal::open_read_only`]) has no writer: it is never
//! created or changed, and refuses writes with [`JournalError::ReadOnly`].

mod file;
mod overlay;
pub mod record;
pub mod schema;
pub mod writer;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{Database, ReadableTable, TableError};

use self::file::Db;
use self::record::{AttemptRecord, CallRecord, ExecutionRecord, RecordKey, WaitRecord, decode};
use self::schema::{ATTEMPTS, CACHE, CALLS, COMPONENTS, EXECUTIONS, TIMES, WAITS};
use self::writer::{LazyWindow, Put, Sync, Writer};
use crate::error::JournalError;
use crate::model::{CallStatus, ComponentHash, ExecutionId, ExecutionStatus};

/// An execution with its calls (in seq order) and each call's attempts (in
/// order), as the journal holds them.
#[derive(Debug, Clone)]
pub struct History {
    /// The execution.
    pub execution: ExecutionRecord,
    /// Its calls, in seq order.
    pub calls: Vec<CallHistory>,
}

/// A call and its attempts.
#[derive(Debug, Clone)]
pub struct CallHistory {
    /// Its seq.
    pub seq: u32,
    /// Its record.
    pub call: CallRecord,
    /// Its attempts, by number (see [`Journal::history_for_resume`] for
    /// when some are only counted).
    pub attempts: Vec<(u32, AttemptRecord)>,
    /// How many attempts the journal holds for it, numbered 1, 2, ...
    pub held: u32,
}

impl History {
    /// Damage can remove a record without a trace in the others' checksums,
    /// so the counts kept in the parents are checked: each call has exactly
    /// the attempts it counts, numbered from 1, and once the execution has
    /// ended its seqs run from 0 without a gap, as many as it counts. (While
    /// it runs, or after its process died, gaps are normal: calls are
    /// journaled when their first attempt starts, and parallel calls start
    /// out of order.)
    fn check(&self, id: ExecutionId) -> Result<(), JournalError> {
        let ended = matches!(
            self.execution.status,
            ExecutionStatus::Completed | ExecutionStatus::Failed
        );
        for (
            i,
            CallHistory {
                seq, call, held, ..
            },
        ) in self.calls.iter().enumerate()
        {
            if ended && *seq as usize != i {
                return Err(incomplete(id, format!("the call at seq {i} is missing")));
            }
            if *held != call.attempts {
                return Err(incomplete(
                    id,
                    format!(
                        "seq {seq} counts {} attempts, the journal holds {held}",
                        call.attempts
                    ),
                ));
            }
        }
        if ended && self.calls.len() != self.execution.calls as usize {
            return Err(incomplete(
                id,
                format!(
                    "the execution counts {} calls, the journal holds {}",
                    self.execution.calls,
                    self.calls.len()
                ),
            ));
        }
        Ok(())
    }
}

fn incomplete(id: ExecutionId, reason: String) -> JournalError {
    JournalError::Corrupt {
        what: format!("execution {id}"),
        reason,
    }
}

/// A handle on an open journal; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

struct Inner {
    // Declared before `db`: dropping the writer joins its thread first.
    // `None` when the journal is open read-only.
    writer: Option<Writer>,
    db: Db,
    path: Option<PathBuf>,
    next_execution: AtomicU64,
}

impl Journal {
    /// Opens the journal at `path`, creating it (and its folder) if there is
    /// no file there, with a writer keeping lazy commits within `window`.
    /// An existing file that is not a Cairn journal, or a damaged one, is
    /// refused and left as it is.
    pub fn open(path: impl AsRef<Path>, window: LazyWindow) -> Result<Journal, JournalError> {
        let path = path.as_ref().to_path_buf();
        let db = file::writable(&path)?;
        Journal::start(Db::Database(Arc::new(db)), Some(path), Some(window))
    }

    /// Opens the journal at `path` to read it only: a missing file is
    /// [`JournalError::Missing`] (nothing is created), the file is never
    /// written (it may be read-only, in a read-only folder), and every
    /// write is refused with [`JournalError::ReadOnly`]. A journal left open
    /// by a process that died is repaired in memory for reading.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Journal, JournalError> {
        let path = path.as_ref().to_path_buf();
        let db = file::read_only(&path)?;
        Journal::start(db, Some(path), None)
    }

    /// An in-memory journal, for tests and short-lived embedders.
    pub fn in_memory() -> Result<Journal, JournalError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| JournalError::Storage(e.to_string()))?;
        file::initialize(&db, Path::new(MEMORY))?;
        Journal::start(
            Db::Database(Arc::new(db)),
            None,
            Some(LazyWindow::default()),
        )
    }

    /// Starts a journal on `db`: with a writer keeping lazy commits within
    /// `window`, or read-only without one.
    fn start(
        db: Db,
        path: Option<PathBuf>,
        window: Option<LazyWindow>,
    ) -> Result<Journal, JournalError> {
        let shown = path.clone().unwrap_or_else(|| PathBuf::from(MEMORY));
        file::check_format(&db, &shown)?;
        let last = guard(|| -> Result<u64, JournalError> {
            let txn = db.begin_read().map_err(storage)?;
            let table = txn.open_table(EXECUTIONS).map_err(storage)?;
            Ok(table
                .last()
                .map_err(storage)?
                .map(|(k, _)| k.value())
                .unwrap_or(0))
        })??;
        let writer = match (window, &db) {
            (Some(window), Db::Database(db)) => Some(Writer::start(db.clone(), shown, window)?),
            _ => None,
        };
        Ok(Journal {
            inner: Arc::new(Inner {
                writer,
                db,
                path,
                next_execution: AtomicU64::new(last + 1),
            }),
        })
    }

    /// The journal file, or `None` for an in-memory journal.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Whether the journal was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.inner.writer.is_none()
    }

    /// The writer, or why there is none.
    fn writer(&self) -> Result<&Writer, JournalError> {
        self.inner
            .writer
            .as_ref()
            .ok_or_else(|| JournalError::ReadOnly {
                path: self
                    .inner
                    .path
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(MEMORY)),
            })
    }

    /// Hands out the next execution id. Safe without a transaction because
    /// the file is locked to this process while open.
    pub fn next_execution_id(&self) -> ExecutionId {
        ExecutionId(self.inner.next_execution.fetch_add(1, Ordering::Relaxed))
    }

    /// How many transactions have been committed since the journal opened.
    pub fn commits(&self) -> u64 {
        self.inner.writer.as_ref().map_or(0, Writer::commits)
    }

    /// Queues `puts` lazily without waiting; see [`Writer::queue`].
    pub fn queue(&self, puts: Vec<Put>) -> Result<(), JournalError> {
        self.writer()?.queue(puts)
    }

    /// Writes `puts` atomically; see [`writer`].
    pub async fn write(&self, puts: Vec<Put>, sync: Sync) -> Result<(), JournalError> {
        self.writer()?.write(puts, sync).await
    }

    /// Makes everything written so far durable, and reports the first
    /// commit that failed since the journal opened, if one did (lazy
    /// commits included); see [`Writer::sync`]. A read-only journal has
    /// nothing to make durable.
    pub async fn sync(&self) -> Result<(), JournalError> {
        match &self.inner.writer {
            Some(writer) => writer.sync().await,
            None => Ok(()),
        }
    }

    /// One execution.
    pub fn execution(&self, id: ExecutionId) -> Result<Option<ExecutionRecord>, JournalError> {
        self.read(|txn| {
            let Some(table) = open(txn, EXECUTIONS)? else {
                return Ok(None);
            };
            match table.get(id.0).map_err(storage)? {
                Some(bytes) => decode(RecordKey::Execution(id.0), bytes.value()).map(Some),
                None => Ok(None),
            }
        })
    }

    /// Every execution, in id order.
    pub fn executions(&self) -> Result<Vec<(ExecutionId, ExecutionRecord)>, JournalError> {
        self.read(|txn| {
            let Some(table) = open(txn, EXECUTIONS)? else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for entry in table.iter().map_err(storage)? {
                let (key, value) = entry.map_err(storage)?;
                let id = key.value();
                out.push((
                    ExecutionId(id),
                    decode(RecordKey::Execution(id), value.value())?,
                ));
            }
            Ok(out)
        })
    }

    /// An execution with all its calls and attempts, read in one
    /// transaction and checked for completeness (see [`History`]).
    pub fn history(&self, id: ExecutionId) -> Result<Option<History>, JournalError> {
        self.read_history(id, true)
    }

    /// The same, for a resume: the attempts of completed calls, which a
    /// resume never looks at, are counted and checked for completeness but
    /// not decoded (a resume of 10,000 calls reads half as much).
    pub fn history_for_resume(&self, id: ExecutionId) -> Result<Option<History>, JournalError> {
        self.read_history(id, false)
    }

    fn read_history(
        &self,
        id: ExecutionId,
        completed_attempts: bool,
    ) -> Result<Option<History>, JournalError> {
        let exec = id.0;
        self.read(|txn| {
            let Some(executions) = open(txn, EXECUTIONS)? else {
                return Ok(None);
            };
            let Some(bytes) = executions.get(exec).map_err(storage)? else {
                return Ok(None);
            };
            let execution: ExecutionRecord = decode(RecordKey::Execution(exec), bytes.value())?;
            let mut calls: Vec<CallHistory> = Vec::new();
            if let Some(table) = open(txn, CALLS)? {
                for entry in table.range((exec, 0)..=(exec, u32::MAX)).map_err(storage)? {
                    let (key, value) = entry.map_err(storage)?;
                    let (_, seq) = key.value();
                    let call = decode(RecordKey::Call(exec, seq), value.value())?;
                    calls.push(CallHistory {
                        seq,
                        call,
                        attempts: Vec::new(),
                        held: 0,
                    });
                }
            }
            if let Some(table) = open(txn, ATTEMPTS)? {
                let range = (exec, 0, 0)..=(exec, u32::MAX, u32::MAX);
                // Both tables are in seq order: walk the calls alongside.
                let mut at = 0;
                for entry in table.range(range).map_err(storage)? {
                    let (key, value) = entry.map_err(storage)?;
                    let (_, seq, n) = key.value();
                    while calls.get(at).is_some_and(|c| c.seq < seq) {
                        at += 1;
                    }
                    let Some(call) = calls.get_mut(at).filter(|c| c.seq == seq) else {
                        let reason = format!("attempt {n} belongs to seq {seq}, which has no call");
                        return Err(incomplete(id, reason));
                    };
                    if n != call.held + 1 {
                        let reason = format!("seq {seq} has attempt {n} after {}", call.held);
                        return Err(incomplete(id, reason));
                    }
                    call.held = n;
                    if completed_attempts || call.call.status != CallStatus::Completed {
                        let record = value.value();
                        let attempt = decode(RecordKey::Attempt(exec, seq, n), record)?;
                        call.attempts.push((n, attempt));
                    }
                }
            }
            let history = History { execution, calls };
            history.check(id)?;
            Ok(Some(history))
        })
    }

    /// One call.
    pub fn call(&self, exec: ExecutionId, seq: u32) -> Result<Option<CallRecord>, JournalError> {
        self.read(|txn| {
            let Some(table) = open(txn, CALLS)? else {
                return Ok(None);
            };
            match table.get((exec.0, seq)).map_err(storage)? {
                Some(bytes) => decode(RecordKey::Call(exec.0, seq), bytes.value()).map(Some),
                None => Ok(None),
            }
        })
    }

    /// An execution's waits, by name.
    pub fn waits(&self, exec: ExecutionId) -> Result<Vec<(String, WaitRecord)>, JournalError> {
        self.read(|txn| {
            let Some(table) = open(txn, WAITS)? else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            let range = (exec.0, "")..(exec.0 + 1, "");
            for entry in table.range(range).map_err(storage)? {
                let (key, value) = entry.map_err(storage)?;
                let (_, name) = key.value();
                let record = decode(RecordKey::Wait(exec.0, name), value.value())?;
                out.push((name.to_owned(), record));
            }
            Ok(out)
        })
    }

    /// The values an execution's `now()` returned, in order.
    pub fn times(&self, exec: ExecutionId) -> Result<Vec<u64>, JournalError> {
        self.read(|txn| {
            let Some(table) = open(txn, TIMES)? else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for entry in table
                .range((exec.0, 0)..=(exec.0, u32::MAX))
                .map_err(storage)?
            {
                let (key, value) = entry.map_err(storage)?;
                let (_, n) = key.value();
                if n as usize != out.len() {
                    return Err(incomplete(
                        exec,
                        format!("the flow's time value {} is missing", out.len()),
                    ));
                }
                out.push(value.value());
            }
            Ok(out)
        })
    }

    /// The completed call a cache key points at, if any.
    pub fn cached(&self, key: &[u8; 32]) -> Result<Option<(ExecutionId, u32)>, JournalError> {
        self.read(|txn| {
            let Some(table) = open(txn, CACHE)? else {
                return Ok(None);
            };
            Ok(table.get(&key[..]).map_err(storage)?.map(|v| {
                let (exec, seq) = v.value();
                (ExecutionId(exec), seq)
            }))
        })
    }

    /// A component's bytes, checked against their hash.
    pub fn component(&self, hash: ComponentHash) -> Result<Option<Vec<u8>>, JournalError> {
        self.read(|txn| {
            let Some(table) = open(txn, COMPONENTS)? else {
                return Ok(None);
            };
            let Some(bytes) = table.get(&hash.0[..]).map_err(storage)? else {
                return Ok(None);
            };
            let bytes = bytes.value().to_vec();
            if ComponentHash::of(&bytes) != hash {
                return Err(JournalError::Corrupt {
                    what: format!("components/{hash}"),
                    reason: "the bytes do not match their hash".to_owned(),
                });
            }
            Ok(Some(bytes))
        })
    }

    /// Whether the journal holds a component.
    pub fn has_component(&self, hash: ComponentHash) -> Result<bool, JournalError> {
        self.read(|txn| {
            let Some(table) = open(txn, COMPONENTS)? else {
                return Ok(false);
            };
            Ok(table.get(&hash.0[..]).map_err(storage)?.is_some())
        })
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&redb::ReadTransaction) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        guard(|| {
            let txn = self.inner.db.begin_read().map_err(storage)?;
            f(&txn)
        })?
    }
}

fn open<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &redb::ReadTransaction,
    table: redb::TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, JournalError> {
    match txn.open_table(table) {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(storage(e)),
    }
}

/// How an in-memory journal is named in errors.
const MEMORY: &str = ":memory:";

fn storage(e: impl std::fmt::Display) -> JournalError {
    JournalError::Storage(e.to_string())
}

/// redb can panic on a damaged file; a panic becomes a journal error.
fn guard<T>(f: impl FnOnce() -> T) -> Result<T, JournalError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| {
        JournalError::Storage("redb panicked reading the journal (is the file damaged?)".to_owned())
    })
}
