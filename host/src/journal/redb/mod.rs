//! The redb journal: one file holding executions, calls, attempts and the
//! component bytes they ran, for one process at a time.
//!
//! Reads go straight to redb, on the caller's thread (they see every
//! committed write, durable or not); writes go through the [`writer`],
//! which commits them one group at a time, in order (on its own thread, or
//! on the thread of a caller waiting alone). The file is locked while open, so
//! a second process gets [`JournalError::InUse`], and executions are
//! claimed in memory ([`claims`]). A journal opened read-only
//! ([`RedbJournal::open_read_only`]) has no writer: it is never created or
//! changed, and refuses writes with [`JournalError::ReadOnly`].
//!
//! Records are stored in checksummed envelopes ([`envelope`]), encoded when
//! a write is called, on the caller's thread: committing is all that is
//! left to the writer.

mod claims;
mod components;
pub(crate) mod envelope;
mod file;
mod links;
mod overlay;
mod prune;
mod reads;
mod schedules;
pub(crate) mod schema;
pub(crate) mod writer;

use std::future::ready;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ::redb::{Database, ReadableTable};

use self::claims::Claims;
use self::file::Db;
use self::schema::EXECUTIONS;
use self::writer::{LazyWindow, Put, Writer};
use super::record::ScheduleRecord;
use super::record::{CallRecord, ExecutionRecord, TimerRecord, UpgradeRecord, WaitRecord};
use super::{Advance, ScheduleChange};
use super::{
    CacheEntry, CacheSweep, ChildOf, Created, Entry, ExecutionFilter, ExecutionLease, History,
    Journal, JournalFuture, Links, NewRecord, Pruned, PrunedComponents, Sync,
};
use crate::error::JournalError;
use crate::model::{ComponentHash, ExecutionId};

/// A journal in a redb file (or in memory).
pub(crate) struct RedbJournal {
    // Declared before `db`: dropping the writer joins its thread first.
    // `None` when the journal is open read-only.
    writer: Option<Writer>,
    db: Db,
    path: Option<PathBuf>,
    next_execution: AtomicU64,
    claims: Claims,
}

impl RedbJournal {
    /// Opens the journal at `path`, creating it (and its folder) if there is
    /// no file there, with a writer keeping lazy commits within `window`.
    /// An existing file that is not a Cairn journal, or a damaged one, is
    /// refused and left as it is.
    pub(crate) fn open(
        path: impl AsRef<Path>,
        window: LazyWindow,
    ) -> Result<RedbJournal, JournalError> {
        let path = path.as_ref().to_path_buf();
        let db = file::writable(&path)?;
        RedbJournal::start(Db::Database(Arc::new(db)), Some(path), Some(window))
    }

    /// Opens the journal at `path` to read it only: a missing file is
    /// [`JournalError::Missing`] (nothing is created), the file is never
    /// written (it may be read-only, in a read-only folder), and every
    /// write is refused with [`JournalError::ReadOnly`]. A journal left open
    /// by a process that died is repaired in memory for reading.
    pub(crate) fn open_read_only(path: impl AsRef<Path>) -> Result<RedbJournal, JournalError> {
        let path = path.as_ref().to_path_buf();
        let db = file::read_only(&path)?;
        RedbJournal::start(db, Some(path), None)
    }

    /// An in-memory journal, for tests and short-lived embedders.
    pub(crate) fn in_memory() -> Result<RedbJournal, JournalError> {
        let db = Database::builder()
            .create_with_backend(::redb::backends::InMemoryBackend::new())
            .map_err(|e| JournalError::storage("creating an in-memory journal", e))?;
        file::initialize(&db, Path::new(MEMORY))?;
        RedbJournal::start(
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
    ) -> Result<RedbJournal, JournalError> {
        let shown = path.clone().unwrap_or_else(|| PathBuf::from(MEMORY));
        file::check_format(&db, &shown)?;
        if let (Some(_), Db::Database(db)) = (&window, &db) {
            file::mark_current(db, &shown)?;
        }
        let last = guard(|| -> Result<u64, JournalError> {
            let txn = db.begin_read().map_err(storage)?;
            let table = txn.open_table(EXECUTIONS).map_err(storage)?;
            let last = table
                .last()
                .map_err(storage)?
                .map(|(k, _)| k.value())
                .unwrap_or(0);
            // A prune keeps the highest id it saw, so that removing the
            // newest execution does not give its id out again.
            Ok(last.max(prune::last_execution(&txn)?))
        })??;
        let writer = match (window, &db) {
            (Some(window), Db::Database(db)) => Some(Writer::start(db.clone(), shown, window)?),
            _ => None,
        };
        Ok(RedbJournal {
            writer,
            db,
            path,
            next_execution: AtomicU64::new(last + 1),
            claims: Claims::default(),
        })
    }

    /// The writer, or why there is none.
    fn writer(&self) -> Result<&Writer, JournalError> {
        self.writer.as_ref().ok_or_else(|| JournalError::ReadOnly {
            path: self.path.clone().unwrap_or_else(|| PathBuf::from(MEMORY)),
        })
    }

    /// One call (for tests: the runner reads calls through histories).
    #[cfg(test)]
    pub(crate) fn call(
        &self,
        exec: ExecutionId,
        seq: u32,
    ) -> Result<Option<CallRecord>, JournalError> {
        reads::call(&self.db, exec, seq)
    }
}

impl RedbJournal {
    /// The database a prune step writes to in a transaction of its own,
    /// and the file's name for errors; refused on a read-only journal.
    fn for_prune(&self) -> Result<(Arc<Database>, PathBuf), JournalError> {
        self.writer()?;
        let shown = self.path.clone().unwrap_or_else(|| PathBuf::from(MEMORY));
        match &self.db {
            Db::Database(db) => Ok((db.clone(), shown)),
            Db::ReadOnly(_) => Err(JournalError::ReadOnly { path: shown }),
        }
    }
}

/// Runs `work`, which blocks on redb's write lock and I/O, off the async
/// workers when there is a runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, JournalError> + Send + 'static,
) -> Result<T, JournalError> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(move || guard(work))
            .await
            .map_err(|_| JournalError::Closed)??,
        Err(_) => guard(work)?,
    }
}

impl Drop for RedbJournal {
    /// The writer first (it commits what is queued and joins its thread),
    /// then the file, whose close redb writes: on a damaged file that write
    /// can panic inside redb, and a panic must not escape a drop (it would
    /// unwind through whoever dropped the host, or abort). The file is
    /// swapped for an empty in-memory database and closed under a guard.
    fn drop(&mut self) {
        drop(self.writer.take());
        let Ok(empty) =
            Database::builder().create_with_backend(::redb::backends::InMemoryBackend::new())
        else {
            return;
        };
        let file = std::mem::replace(&mut self.db, Db::Database(Arc::new(empty)));
        let _ = catch_unwind(AssertUnwindSafe(move || drop(file)));
    }
}

impl RedbJournal {
    /// The next execution id, claimed. Safe without a transaction: the
    /// file is locked to this process. An id a resume holds (it claims
    /// before it looks whether the id exists) is skipped: a record is made
    /// only for an id claimed here.
    fn next_claimed(&self) -> (ExecutionId, ExecutionLease) {
        loop {
            let id = ExecutionId(self.next_execution.fetch_add(1, Ordering::Relaxed));
            if let Ok(lease) = self.claims.claim(id) {
                return (id, lease);
            }
        }
    }
}

/// Encodes `entries` for the writer.
fn encode(entries: &[Entry<'_>]) -> Vec<Put> {
    entries.iter().map(Put::encode).collect()
}

impl Journal for RedbJournal {
    fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn is_read_only(&self) -> bool {
        self.writer.is_none()
    }

    fn commits(&self) -> u64 {
        self.writer.as_ref().map_or(0, Writer::commits)
    }

    fn create_execution<'a>(
        &'a self,
        component: Option<(ComponentHash, Arc<[u8]>)>,
        record: NewRecord<'a>,
    ) -> JournalFuture<'a, Created> {
        let (id, lease) = self.next_claimed();
        let record = record(id);
        let mut puts = Vec::with_capacity(2);
        if let Some((hash, bytes)) = component {
            puts.push(Put::encode(&Entry::Component { hash, bytes }));
        }
        puts.push(Put::encode(&Entry::Execution {
            id,
            record: &record,
        }));
        Box::pin(async move {
            // Durable whatever the host's durability: a crash may lose the
            // last calls, never the execution itself.
            self.writer()?.write(puts, Sync::Durable).await?;
            Ok(Created { id, record, lease })
        })
    }

    fn create_child<'a>(
        &'a self,
        child_of: ChildOf<'a>,
        component: Option<(ComponentHash, Arc<[u8]>)>,
        record: NewRecord<'a>,
    ) -> JournalFuture<'a, Created> {
        let (id, lease) = self.next_claimed();
        let record = record(id);
        let mut puts = Vec::with_capacity(4);
        if let Some((hash, bytes)) = component {
            puts.push(Put::encode(&Entry::Component { hash, bytes }));
        }
        puts.push(Put::encode(&Entry::Execution {
            id,
            record: &record,
        }));
        puts.push(Put::encode(&Entry::Call {
            exec: child_of.parent,
            seq: child_of.seq,
            record: child_of.step,
        }));
        puts.push(Put::Child {
            parent: child_of.parent.0,
            seq: child_of.seq,
            child: id.0,
        });
        Box::pin(async move {
            self.writer()?.write(puts, Sync::Durable).await?;
            Ok(Created { id, record, lease })
        })
    }

    fn links(&self, exec: ExecutionId) -> JournalFuture<'_, Links> {
        Box::pin(ready(links::read(&self.db, exec)))
    }

    fn claim(&self, exec: ExecutionId) -> JournalFuture<'_, ExecutionLease> {
        Box::pin(ready(self.claims.claim(exec)))
    }

    fn queue(&self, entries: &[Entry<'_>]) -> Result<(), JournalError> {
        self.writer()?.queue(encode(entries))
    }

    fn write(&self, entries: &[Entry<'_>], sync: Sync) -> JournalFuture<'_, ()> {
        let puts = encode(entries);
        Box::pin(async move { self.writer()?.write(puts, sync).await })
    }

    fn sync(&self) -> JournalFuture<'_, ()> {
        Box::pin(async move {
            match &self.writer {
                Some(writer) => writer.sync().await,
                None => Ok(()),
            }
        })
    }

    fn execution(&self, id: ExecutionId) -> JournalFuture<'_, Option<ExecutionRecord>> {
        Box::pin(ready(reads::execution(&self.db, id)))
    }

    fn executions<'a>(
        &'a self,
        filter: &'a ExecutionFilter,
    ) -> JournalFuture<'a, Vec<(ExecutionId, ExecutionRecord, u32)>> {
        Box::pin(ready(reads::executions(&self.db, filter)))
    }

    fn counted_execution(
        &self,
        id: ExecutionId,
    ) -> JournalFuture<'_, Option<(ExecutionRecord, u32)>> {
        Box::pin(ready(reads::counted_execution(&self.db, id)))
    }

    fn history(&self, id: ExecutionId) -> JournalFuture<'_, Option<History>> {
        Box::pin(ready(reads::history(&self.db, id, true)))
    }

    fn history_for_resume(&self, id: ExecutionId) -> JournalFuture<'_, Option<History>> {
        // The attempts of completed calls are counted and checked, not
        // decoded: a resume of 10,000 calls reads half as much.
        Box::pin(ready(reads::history(&self.db, id, false)))
    }

    fn waits(&self, exec: ExecutionId) -> JournalFuture<'_, Vec<(String, WaitRecord)>> {
        Box::pin(ready(reads::waits(&self.db, exec)))
    }

    fn times(&self, exec: ExecutionId) -> JournalFuture<'_, Vec<u64>> {
        Box::pin(ready(reads::times(&self.db, exec)))
    }

    fn timers(
        &self,
        exec: Option<ExecutionId>,
    ) -> JournalFuture<'_, Vec<(ExecutionId, u32, TimerRecord)>> {
        Box::pin(ready(reads::timers(&self.db, exec)))
    }

    fn upgrades(&self, exec: ExecutionId) -> JournalFuture<'_, Vec<UpgradeRecord>> {
        Box::pin(ready(reads::upgrades(&self.db, exec)))
    }

    fn cached_call(
        &self,
        key: [u8; 32],
    ) -> JournalFuture<'_, Option<(ExecutionId, u32, CallRecord)>> {
        Box::pin(ready(reads::cached_call(&self.db, &key)))
    }

    fn component(&self, hash: ComponentHash) -> JournalFuture<'_, Option<Vec<u8>>> {
        Box::pin(ready(components::read(&self.db, hash)))
    }

    fn component_hashes(&self) -> JournalFuture<'_, Vec<ComponentHash>> {
        Box::pin(ready(components::hashes(&self.db)))
    }

    fn prune_components(&self) -> JournalFuture<'_, PrunedComponents> {
        Box::pin(async move {
            let shown = self.path.clone().unwrap_or_else(|| PathBuf::from(MEMORY));
            let (Some(_), Db::Database(db)) = (&self.writer, &self.db) else {
                return Err(JournalError::ReadOnly { path: shown });
            };
            let db = db.clone();
            // Watch claims first, then commit what is queued: a record
            // naming a component is then in the prune's snapshot or
            // written under a watched claim.
            let watch = self.claims.watch();
            self.sync().await?;
            // Reads every record: off the async workers.
            tokio::task::spawn_blocking(move || components::prune(&db, &shown, &watch))
                .await
                .map_err(|e| JournalError::storage("pruning components", e))?
        })
    }

    fn prune_executions<'a>(
        &'a self,
        ids: &'a [ExecutionId],
        cache: &'a [CacheEntry],
        dry_run: bool,
    ) -> JournalFuture<'a, Pruned> {
        let (ids, cache) = (ids.to_vec(), cache.to_vec());
        Box::pin(async move {
            let (db, path) = self.for_prune()?;
            blocking(move || prune::prune_executions(&db, &path, &ids, &cache, dry_run)).await
        })
    }

    fn sweep_cache(
        &self,
        after: Option<Vec<u8>>,
        limit: usize,
        dry_run: bool,
    ) -> JournalFuture<'_, CacheSweep> {
        Box::pin(async move {
            let (db, path) = self.for_prune()?;
            blocking(move || prune::sweep_cache(&db, &path, after.as_deref(), limit, dry_run)).await
        })
    }

    fn schedules(&self) -> JournalFuture<'_, Vec<(String, ScheduleRecord)>> {
        Box::pin(ready(schedules::all(&self.db)))
    }

    fn change_schedule<'a>(
        &'a self,
        name: &'a str,
        change: ScheduleChange,
    ) -> JournalFuture<'a, Option<ScheduleRecord>> {
        Box::pin(async move {
            let (db, path) = self.for_prune()?;
            // A change is small: one record read and written.
            schedules::change(&db, &path, name, change)
        })
    }

    fn create_scheduled<'a>(
        &'a self,
        name: &'a str,
        advance: Advance,
        record: NewRecord<'a>,
    ) -> JournalFuture<'a, Option<Created>> {
        Box::pin(async move {
            let (db, path) = self.for_prune()?;
            // Claimed first, as `create_execution` does; an id the run does
            // not get (it is not due) is skipped, as one a resume holds is.
            let (id, lease) = self.next_claimed();
            let record = record(id);
            let written = schedules::create_run(&db, &path, name, id, advance, &record)?;
            Ok(written.then_some(Created { id, record, lease }))
        })
    }
}

/// How an in-memory journal is named in errors.
const MEMORY: &str = ":memory:";

/// A redb failure while reading.
fn storage(e: impl std::error::Error + Send + std::marker::Sync + 'static) -> JournalError {
    JournalError::storage("reading the journal", e)
}

/// redb can panic on a damaged file; a panic becomes a journal error.
fn guard<T>(f: impl FnOnce() -> T) -> Result<T, JournalError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| JournalError::Storage {
        context: "redb panicked reading the journal (is the file damaged?)".to_owned(),
        source: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExecutionStatus;

    fn record(id: ExecutionId) -> ExecutionRecord {
        ExecutionRecord {
            flow: "f".to_owned(),
            component: None,
            input: "{}".to_owned(),
            status: ExecutionStatus::Running,
            output: None,
            failure: None,
            original_exec_id: None,
            created_at_us: 1,
            updated_at_us: 1,
            seed: id.0,
            calls: 0,
            replay: None,
            flow_log: Vec::new(),
        }
    }

    /// Creating hands out ids in order, writes the record made for the id,
    /// and leaves the new execution claimed until its lease is dropped.
    #[tokio::test]
    async fn a_created_execution_is_written_and_claimed() {
        let journal = RedbJournal::in_memory().expect("opens");
        let first = journal
            .create_execution(None, Box::new(record))
            .await
            .expect("created");
        let second = journal
            .create_execution(None, Box::new(record))
            .await
            .expect("created");
        assert_eq!((first.id, second.id), (ExecutionId(1), ExecutionId(2)));
        let read = journal.execution(first.id).await.expect("readable");
        assert_eq!(read.map(|r| r.seed), Some(1), "the record made for its id");
        assert!(matches!(
            journal.claim(first.id).await,
            Err(JournalError::Claimed {
                exec: ExecutionId(1)
            })
        ));
        drop(first.lease);
        journal.claim(ExecutionId(1)).await.expect("released");
    }

    /// A journal made before the timers table came (format 4 without it)
    /// opens, reads as having no timers, and takes one at its first write.
    #[tokio::test]
    async fn a_journal_without_the_timers_table_reads_none_and_takes_one() {
        use self::schema::{
            ATTEMPTS, CACHE, CALLS, COMPONENTS, FORMAT_VERSION, FORMAT_VERSION_KEY, META, TIMES,
            WAITS,
        };
        let db = Database::builder()
            .create_with_backend(::redb::backends::InMemoryBackend::new())
            .expect("creates");
        {
            let txn = db.begin_write().expect("writes");
            txn.open_table(META)
                .expect("meta")
                .insert(FORMAT_VERSION_KEY, FORMAT_VERSION)
                .expect("version");
            txn.open_table(COMPONENTS).expect("table");
            txn.open_table(EXECUTIONS).expect("table");
            txn.open_table(CALLS).expect("table");
            txn.open_table(ATTEMPTS).expect("table");
            txn.open_table(CACHE).expect("table");
            txn.open_table(WAITS).expect("table");
            txn.open_table(TIMES).expect("table");
            txn.commit().expect("commits");
        }
        let db = Db::Database(Arc::new(db));
        let journal = RedbJournal::start(db, None, Some(LazyWindow::default()))
            .expect("an old journal opens");
        assert!(journal.timers(None).await.expect("reads").is_empty());
        let timer = TimerRecord {
            call_id: "charge".to_owned(),
            attempt: 2,
            retry: 1,
            due_at_us: 1_000,
        };
        let entry = Entry::Timer {
            exec: ExecutionId(1),
            seq: 3,
            record: &timer,
        };
        journal
            .write(&[entry], Sync::Durable)
            .await
            .expect("written");
        assert_eq!(
            journal.timers(None).await.expect("reads"),
            vec![(ExecutionId(1), 3, timer.clone())]
        );
        assert!(
            journal
                .timers(Some(ExecutionId(2)))
                .await
                .expect("reads")
                .is_empty()
        );
        let done = Entry::TimerDone {
            exec: ExecutionId(1),
            seq: 3,
        };
        journal
            .write(&[done], Sync::Durable)
            .await
            .expect("removed");
        assert!(
            journal
                .timers(Some(ExecutionId(1)))
                .await
                .expect("reads")
                .is_empty()
        );
    }

    /// A journal has no `upgrades` table until its first move (none is made
    /// when it is created): it reads as having none, then keeps each
    /// execution's moves in order.
    #[tokio::test]
    async fn upgrades_read_as_none_until_written_then_in_order_per_execution() {
        use crate::journal::record::UpgradeRecord;
        use crate::model::ComponentHash;
        let journal = RedbJournal::in_memory().expect("opens");
        assert!(
            journal
                .upgrades(ExecutionId(1))
                .await
                .expect("reads")
                .is_empty()
        );
        let upgrade = |from: u8, to: u8| UpgradeRecord {
            from: ComponentHash([from; 32]),
            to: ComponentHash([to; 32]),
            at_us: u64::from(to),
            by: "test".to_owned(),
        };
        let (first, second, other) = (upgrade(1, 2), upgrade(2, 3), upgrade(7, 8));
        let entries = [
            Entry::Upgrade {
                exec: ExecutionId(1),
                n: 1,
                record: &second,
            },
            Entry::Upgrade {
                exec: ExecutionId(1),
                n: 0,
                record: &first,
            },
            Entry::Upgrade {
                exec: ExecutionId(2),
                n: 0,
                record: &other,
            },
        ];
        journal
            .write(&entries, Sync::Durable)
            .await
            .expect("written");
        assert_eq!(
            journal.upgrades(ExecutionId(1)).await.expect("reads"),
            vec![first, second]
        );
        assert_eq!(
            journal.upgrades(ExecutionId(2)).await.expect("reads"),
            vec![other]
        );
        assert!(
            journal
                .upgrades(ExecutionId(3))
                .await
                .expect("reads")
                .is_empty()
        );
    }

    /// A component is put once: a second put of the same hash (a queued
    /// one, which nobody checked first) keeps the bytes there.
    #[tokio::test]
    async fn a_component_is_put_if_absent() {
        let journal = RedbJournal::in_memory().expect("opens");
        let bytes: Arc<[u8]> = Arc::from(&b"component"[..]);
        let hash = ComponentHash::of(&bytes);
        let entry = Entry::Component {
            hash,
            bytes: bytes.clone(),
        };
        journal.queue(std::slice::from_ref(&entry)).expect("queued");
        journal
            .write(&[entry], Sync::Durable)
            .await
            .expect("written");
        let read = journal.component(hash).await.expect("readable");
        assert_eq!(read.as_deref(), Some(&bytes[..]));
    }
}
