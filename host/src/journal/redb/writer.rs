//! The journal's single writer: one thread owns every write transaction.
//!
//! Writes arrive as batches of puts, each with a durability wish and an
//! acknowledgement channel. The writer drains whatever has queued up into one
//! transaction (group commit), commits it once — with fsync if any batch
//! asked for it — and only then acknowledges every batch in it. A call that
//! completes is therefore acknowledged to its flow only after its record is
//! on disk, and concurrent completions share one fsync.
//!
//! Lazy batches ([`Sync::Lazy`](crate::journal::Sync::Lazy), `eventual` durability) commit without
//! fsync, but never stay off the disk for long: the writer makes a durable
//! commit at least every [`LazyWindow::interval`] and every
//! [`LazyWindow::records`] lazily committed records, whichever comes first,
//! so a crash loses at most that window. A batch holding an execution record
//! (an execution starts, resumes or ends) is always committed durably: a
//! resume starts from it, and it costs one fsync per change of status.
//!
//! A failed commit breaks the writer: a lazy batch may have been lost, so
//! nothing is acknowledged on top of it. Every later write, waited for or
//! only queued, fails with the first error (a full disk is
//! [`JournalError::DiskFull`]).
//!
//! Both sides spin briefly before they park (the writer for the next batch,
//! a waiting caller for its acknowledgement): a sequential flow's next write
//! is microseconds away, and waking a parked thread costs more than that.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableTable};
use tokio::sync::oneshot;

use super::envelope::{RecordKey, encode};
use super::schema::{ATTEMPTS, CACHE, CALLS, COMPONENTS, EXECUTIONS, TIMES, WAITS};
use crate::error::JournalError;
use crate::journal::{Entry, Sync};

/// One put into a table, its record already in its envelope.
#[derive(Debug)]
pub(crate) enum Put {
    /// A component's bytes under its hash, unless it is there already.
    Component { hash: [u8; 32], bytes: Arc<[u8]> },
    /// An execution record.
    Execution { id: u64, record: Vec<u8> },
    /// A call record.
    Call {
        exec: u64,
        seq: u32,
        record: Vec<u8>,
    },
    /// An attempt record.
    Attempt {
        exec: u64,
        seq: u32,
        n: u32,
        record: Vec<u8>,
    },
    /// A cache entry pointing at a completed call.
    Cache { key: [u8; 32], exec: u64, seq: u32 },
    /// A wait record.
    Wait {
        exec: u64,
        name: String,
        record: Vec<u8>,
    },
    /// The n-th value of a flow's `now()`.
    Time { exec: u64, n: u32, us: u64 },
}

impl Put {
    /// An entry as the writer puts it, its record in its envelope.
    pub(crate) fn encode(entry: &Entry<'_>) -> Put {
        match *entry {
            Entry::Component { hash, ref bytes } => Put::Component {
                hash: hash.0,
                bytes: bytes.clone(),
            },
            Entry::Execution { id, record } => Put::Execution {
                id: id.0,
                record: encode(RecordKey::Execution(id.0), record),
            },
            Entry::Call { exec, seq, record } => Put::Call {
                exec: exec.0,
                seq,
                record: encode(RecordKey::Call(exec.0, seq), record),
            },
            Entry::Attempt {
                exec,
                seq,
                n,
                record,
            } => Put::Attempt {
                exec: exec.0,
                seq,
                n,
                record: encode(RecordKey::Attempt(exec.0, seq, n), record),
            },
            Entry::Cache { key, exec, seq } => Put::Cache {
                key,
                exec: exec.0,
                seq,
            },
            Entry::Wait { exec, name, record } => Put::Wait {
                exec: exec.0,
                name: name.to_owned(),
                record: encode(RecordKey::Wait(exec.0, name), record),
            },
            Entry::Time { exec, n, us } => Put::Time {
                exec: exec.0,
                n,
                us,
            },
        }
    }
}

/// One caller counted among those waiting for an acknowledgement, until
/// dropped (also when its future is).
struct Waiting<'a> {
    count: &'a AtomicUsize,
    alone: bool,
}

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Waiting<'a> {
        let before = count.fetch_add(1, Ordering::Relaxed);
        Waiting {
            count,
            alone: before == 0,
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Batch {
    puts: Vec<Put>,
    sync: Sync,
    ack: oneshot::Sender<Result<(), JournalError>>,
}

/// How much lazily committed data may be off the disk at any time: the
/// writer makes a durable commit once the oldest lazy commit is `interval`
/// old, or once `records` records have been committed lazily, whichever
/// comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LazyWindow {
    /// The longest a lazy commit stays off the disk. Default:
    /// [`LAZY_INTERVAL`].
    pub interval: Duration,
    /// The most records committed lazily before a durable commit. Default:
    /// [`LAZY_RECORDS`].
    pub records: usize,
}

/// The default [`LazyWindow::interval`]: 200 ms. One fsync per 200 ms costs
/// well under 1 % of a core even on a slow disk, and a crash loses at most
/// the calls of the last fifth of a second.
pub(crate) const LAZY_INTERVAL: Duration = Duration::from_millis(200);

/// The default [`LazyWindow::records`]: 10,000 records (about 3,000 calls).
/// Bounds what a crash loses when calls are very fast, and how much redb
/// holds in memory between durable commits; one fsync per 10,000 records
/// adds well under a microsecond per record.
pub(crate) const LAZY_RECORDS: usize = 10_000;

impl Default for LazyWindow {
    fn default() -> Self {
        LazyWindow {
            interval: LAZY_INTERVAL,
            records: LAZY_RECORDS,
        }
    }
}

/// How many times the writer yields, waiting for a durable batch to join a
/// group of lazy ones, or for the next batch after a commit before it parks.
const LINGER_YIELDS: u32 = 200;

/// How many times a writer of a waited-for batch polls for its
/// acknowledgement, yielding to other tasks in between, before it parks.
/// A commit with fsync takes a few hundred µs; waking a parked tokio worker
/// from the writer thread costs tens to a hundred more on a busy machine, on
/// every sequential call. The polls are bounded (well under a millisecond)
/// and give way to any other task, so a slow disk only costs that much CPU.
const ACK_SPINS: u32 = 2000;

/// The handle through which everything writes to the journal.
pub(crate) struct Writer {
    queue: Option<mpsc::Sender<Batch>>,
    /// How many callers are waiting for an acknowledgement.
    waiting: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
    commits: Arc<AtomicU64>,
    /// The first failed commit's error, once one failed.
    broken: Arc<OnceLock<JournalError>>,
}

/// What the writer thread works with.
struct Thread {
    db: Arc<Database>,
    /// The journal file, for errors (`:memory:` for an in-memory one).
    path: PathBuf,
    window: LazyWindow,
    commits: Arc<AtomicU64>,
    broken: Arc<OnceLock<JournalError>>,
}

impl Writer {
    /// Starts the writer thread for `db`, the journal at `path`, keeping
    /// lazy commits within `window`.
    pub(crate) fn start(
        db: Arc<Database>,
        path: PathBuf,
        window: LazyWindow,
    ) -> Result<Writer, JournalError> {
        let (queue, batches) = mpsc::channel();
        let commits = Arc::new(AtomicU64::new(0));
        let broken = Arc::new(OnceLock::new());
        let thread = Thread {
            db,
            path,
            window,
            commits: commits.clone(),
            broken: broken.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("cairn-journal-writer".to_owned())
            .spawn(move || thread.run(&batches))
            .map_err(|e| JournalError::storage("starting the journal writer", e))?;
        Ok(Writer {
            queue: Some(queue),
            waiting: Arc::new(AtomicUsize::new(0)),
            thread: Some(thread),
            commits,
            broken,
        })
    }

    /// The error of the commit that broke the writer, if one did.
    fn check(&self) -> Result<(), JournalError> {
        match self.broken.get() {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// Makes everything committed so far durable, and reports whether it
    /// is: the error of any commit that failed since the journal opened
    /// (lazy ones included), or of this one.
    pub(crate) async fn sync(&self) -> Result<(), JournalError> {
        self.write(Vec::new(), Sync::Durable).await
    }

    /// Writes `puts` in one atomic step and waits until they are committed
    /// (and, for [`Sync::Durable`], on disk).
    pub(crate) async fn write(&self, puts: Vec<Put>, sync: Sync) -> Result<(), JournalError> {
        self.check()?;
        let (ack, acked) = oneshot::channel();
        self.queue
            .as_ref()
            .ok_or(JournalError::Closed)?
            .send(Batch { puts, sync, ack })
            .map_err(|_| JournalError::Closed)?;
        let mut acked = acked;
        // Only a lone waiter spins (a sequential flow's call): when many
        // wait at once (a map), they share a commit anyway, and spinning
        // would take the cores their attempts need.
        let waiters = Waiting::enter(&self.waiting);
        let spins = if waiters.alone { ACK_SPINS } else { 0 };
        for _ in 0..spins {
            match acked.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Empty) => tokio::task::yield_now().await,
                Err(oneshot::error::TryRecvError::Closed) => return Err(JournalError::Closed),
            }
        }
        acked.await.map_err(|_| JournalError::Closed)?
    }

    /// Queues `puts` (lazily: see [`Sync::Lazy`]) without waiting for the
    /// commit. Batches commit in the order they were queued, so a later
    /// write that is waited for is committed after this one; if this one
    /// fails, every later one fails too, and the failure is seen there, or
    /// by the next `queue` (so a flow stops within a commit of a failure
    /// instead of running on without a journal).
    pub(crate) fn queue(&self, puts: Vec<Put>) -> Result<(), JournalError> {
        self.check()?;
        let (ack, _) = oneshot::channel();
        self.queue
            .as_ref()
            .ok_or(JournalError::Closed)?
            .send(Batch {
                puts,
                sync: Sync::Lazy,
                ack,
            })
            .map_err(|_| JournalError::Closed)
    }
}

impl Writer {
    /// How many transactions the writer has committed.
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue lets the thread finish what is queued and exit;
        // joining it releases its handle on the database file.
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether a batch must be committed durably whatever its caller asked:
/// an execution record says where an execution is, and a resume (or a
/// caller told it completed) must find it on disk.
fn must_be_durable(batch: &Batch) -> bool {
    batch.sync == Sync::Durable
        || batch
            .puts
            .iter()
            .any(|put| matches!(put, Put::Execution { .. }))
}

/// Lazy commits not yet made durable.
struct Undurable {
    /// When the oldest of them was committed.
    since: Instant,
    /// How many records they hold.
    records: usize,
}

impl Thread {
    fn run(self, batches: &mpsc::Receiver<Batch>) {
        let mut undurable: Option<Undurable> = None;
        // Whether the last commit had a waiting batch in it. Only then is the
        // writer worth keeping awake: with `eventual` durability nobody waits
        // for a commit, and spinning would only take a core from the flows.
        let mut waited_for = false;
        loop {
            // Right after a commit someone waited for, the next batch is
            // usually a few µs away (a sequential flow's next call): look for
            // it before parking, since waking a parked thread costs far more
            // on a busy machine.
            let mut first = None;
            for _ in 0..if waited_for { LINGER_YIELDS } else { 0 } {
                match batches.try_recv() {
                    Ok(batch) => {
                        first = Some(batch);
                        break;
                    }
                    Err(TryRecvError::Empty) => std::thread::yield_now(),
                    Err(TryRecvError::Disconnected) => break,
                }
            }
            let first = match (first, &undurable) {
                (Some(batch), _) => batch,
                (None, None) => match batches.recv() {
                    Ok(batch) => batch,
                    Err(_) => break,
                },
                // Lazy commits are off the disk: wait no longer than until
                // they are due.
                (None, Some(lazy)) => {
                    let due = self.window.interval.saturating_sub(lazy.since.elapsed());
                    match batches.recv_timeout(due) {
                        Ok(batch) => batch,
                        Err(RecvTimeoutError::Timeout) => {
                            // On failure the writer is broken, and nothing
                            // more can be made durable.
                            let _ = self.commit_group(&[], true);
                            undurable = None;
                            waited_for = false;
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            let mut group = vec![first];
            while let Ok(next) = batches.try_recv() {
                group.push(next);
            }
            // When commits are waited for, a lone lazy batch is usually the
            // start of an attempt whose end follows within microseconds:
            // yield a few times to let it arrive and share this commit (and
            // its fsync) instead of taking two.
            for _ in 0..if waited_for { LINGER_YIELDS } else { 0 } {
                if group.iter().any(|b| b.sync == Sync::Durable) {
                    break;
                }
                std::thread::yield_now();
                while let Ok(next) = batches.try_recv() {
                    group.push(next);
                }
            }
            waited_for = group.iter().any(|b| b.sync == Sync::Durable);
            let records: usize = group.iter().map(|b| b.puts.len()).sum();
            let lazy_records = undurable.as_ref().map_or(0, |u| u.records) + records;
            let durable = group.iter().any(must_be_durable)
                || lazy_records >= self.window.records
                || undurable
                    .as_ref()
                    .is_some_and(|u| u.since.elapsed() >= self.window.interval);
            let result = self.commit_group(&group, durable);
            if result.is_ok() {
                undurable = if durable {
                    None
                } else {
                    Some(Undurable {
                        since: undurable.map_or_else(Instant::now, |u| u.since),
                        records: lazy_records,
                    })
                };
            }
            for batch in group {
                let _ = batch.ack.send(result.clone());
            }
        }
        // On an orderly close, make lazy commits durable too: `eventual`
        // durability only gives up what a crash interrupts. Nobody is left
        // to tell if this fails: `Journal::sync` (`Host::close`) is how a
        // caller learns it.
        if undurable.is_some() {
            let _ = self.commit_group(&[], true);
        }
    }

    /// Commits `group` unless the writer is broken; a failure breaks it.
    fn commit_group(&self, group: &[Batch], durable: bool) -> Result<(), JournalError> {
        if let Some(error) = self.broken.get() {
            return Err(error.clone());
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
        let result = catch_unwind(AssertUnwindSafe(|| {
            commit(&self.db, &self.path, group, durable)
        }))
        .unwrap_or_else(|_| {
            Err(JournalError::Storage {
                context: "redb panicked during a commit".to_owned(),
                source: None,
            })
        });
        if let Err(error) = &result {
            let _ = self.broken.set(error.clone());
        }
        result
    }
}

/// A redb failure as a journal error; a full disk (or quota, or file size
/// limit) is [`JournalError::DiskFull`].
pub(super) fn failure(path: &Path, error: impl Into<redb::Error>) -> JournalError {
    match error.into() {
        redb::Error::Io(e) if is_disk_full(&e) => JournalError::DiskFull {
            path: path.to_path_buf(),
            source: Arc::new(e),
        },
        other => JournalError::storage(format!("writing {}", path.display()), other),
    }
}

/// ENOSPC, EDQUOT, or EFBIG (a file size limit, `ulimit -f`).
pub(super) fn is_disk_full(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge
    )
}

fn commit(db: &Database, path: &Path, group: &[Batch], durable: bool) -> Result<(), JournalError> {
    let failed = |e: redb::Error| failure(path, e);
    let mut txn = db.begin_write().map_err(|e| failed(e.into()))?;
    txn.set_durability(if durable {
        Durability::Immediate
    } else {
        Durability::None
    })
    .map_err(|e| failed(e.into()))?;
    {
        let mut components = txn.open_table(COMPONENTS).map_err(|e| failed(e.into()))?;
        let mut executions = txn.open_table(EXECUTIONS).map_err(|e| failed(e.into()))?;
        let mut calls = txn.open_table(CALLS).map_err(|e| failed(e.into()))?;
        let mut attempts = txn.open_table(ATTEMPTS).map_err(|e| failed(e.into()))?;
        let mut cache = txn.open_table(CACHE).map_err(|e| failed(e.into()))?;
        let mut waits = txn.open_table(WAITS).map_err(|e| failed(e.into()))?;
        let mut times = txn.open_table(TIMES).map_err(|e| failed(e.into()))?;
        for put in group.iter().flat_map(|b| &b.puts) {
            let inserted = match put {
                // Content-addressed: bytes already there are the same.
                Put::Component { hash, bytes } => {
                    match components.get(&hash[..]).map(|held| held.is_some()) {
                        Ok(true) => Ok(()),
                        Ok(false) => components.insert(&hash[..], &bytes[..]).map(drop),
                        Err(e) => Err(e),
                    }
                }
                Put::Execution { id, record } => executions.insert(*id, &record[..]).map(drop),
                Put::Call { exec, seq, record } => {
                    calls.insert((*exec, *seq), &record[..]).map(drop)
                }
                Put::Attempt {
                    exec,
                    seq,
                    n,
                    record,
                } => attempts.insert((*exec, *seq, *n), &record[..]).map(drop),
                Put::Cache { key, exec, seq } => cache.insert(&key[..], (*exec, *seq)).map(drop),
                Put::Wait { exec, name, record } => {
                    waits.insert((*exec, name.as_str()), &record[..]).map(drop)
                }
                Put::Time { exec, n, us } => times.insert((*exec, *n), *us).map(drop),
            };
            inserted.map_err(|e| failed(e.into()))?;
        }
    }
    txn.commit().map_err(|e| failed(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Journal;
    use crate::journal::record::{CallRecord, ExecutionRecord};
    use crate::journal::redb::RedbJournal;
    use crate::model::ExecutionId;

    fn call(seq: u32) -> (u32, CallRecord) {
        let call = CallRecord {
            call_id: format!("c_{seq}"),
            name: "c".to_owned(),
            component: crate::model::ComponentHash([0; 32]),
            kind: None,
            runtime: crate::model::Runtime::Inline,
            input: "{}".to_owned(),
            status: crate::model::CallStatus::Completed,
            source: crate::model::CallSource::Executed,
            output: Some("1".to_owned()),
            attempts: 0,
        };
        (seq, call)
    }

    /// Writes the calls `calls` of execution 1 with `sync`.
    async fn write(
        journal: &RedbJournal,
        calls: &[(u32, CallRecord)],
        sync: Sync,
    ) -> Result<(), JournalError> {
        journal.write(&entries(calls), sync).await
    }

    fn entries(calls: &[(u32, CallRecord)]) -> Vec<Entry<'_>> {
        calls
            .iter()
            .map(|(seq, record)| Entry::Call {
                exec: ExecutionId(1),
                seq: *seq,
                record,
            })
            .collect()
    }

    /// What a crash (kill -9, power loss) would leave of the open journal
    /// at `path`: a copy of its file, opened again (redb repairs it).
    fn crash_image(path: &std::path::Path, n: u32) -> Result<RedbJournal, JournalError> {
        let copy = path.with_extension(format!("crash-{n}"));
        std::fs::copy(path, &copy).map_err(|e| JournalError::storage("copying", e))?;
        RedbJournal::open(&copy, LazyWindow::default())
    }

    /// How many of the calls 0..n of execution 1 are in `journal`.
    fn calls_in(journal: &RedbJournal, n: u32) -> usize {
        (0..n)
            .filter(|seq| {
                journal
                    .call(ExecutionId(1), *seq)
                    .expect("readable")
                    .is_some()
            })
            .count()
    }

    fn open(dir: &tempfile::TempDir, window: LazyWindow) -> (std::path::PathBuf, RedbJournal) {
        let path = dir.path().join("journal.redb");
        let journal = RedbJournal::open(&path, window).expect("opens");
        (path, journal)
    }

    /// The control of the tests below: lazy commits not yet made durable
    /// are not in a crash image (so the image shows what a crash loses).
    #[tokio::test]
    async fn lazy_commits_within_the_window_are_not_in_a_crash_image() {
        let dir = tempfile::tempdir().expect("temp dir");
        let window = LazyWindow {
            interval: Duration::from_secs(3600),
            records: usize::MAX,
        };
        let (path, journal) = open(&dir, window);
        write(&journal, &[call(0)], Sync::Durable)
            .await
            .expect("written");
        for seq in 1..30 {
            journal.queue(&entries(&[call(seq)])).expect("queued");
        }
        journal.write(&[], Sync::Lazy).await.expect("committed");
        assert_eq!(calls_in(&journal, 30), 30, "visible to readers at once");
        let image = crash_image(&path, 0).expect("the crash image opens");
        assert_eq!(calls_in(&image, 30), 1, "only the durable one survives");
    }

    /// Lazy commits are made durable once they hold `records` records,
    /// however young they are.
    #[tokio::test]
    async fn lazy_commits_are_made_durable_every_window_records() {
        let dir = tempfile::tempdir().expect("temp dir");
        let window = LazyWindow {
            interval: Duration::from_secs(3600),
            records: 25,
        };
        let (path, journal) = open(&dir, window);
        for seq in 0..30 {
            journal.queue(&entries(&[call(seq)])).expect("queued");
        }
        journal.write(&[], Sync::Lazy).await.expect("committed");
        let image = crash_image(&path, 0).expect("the crash image opens");
        let durable = calls_in(&image, 30);
        assert!(
            durable >= 25,
            "{durable} of 30 lazy records survive a crash"
        );
    }

    /// Lazy commits are made durable at most `interval` after they were
    /// committed, even when nothing else is written.
    #[tokio::test]
    async fn lazy_commits_are_made_durable_within_the_window_interval() {
        let dir = tempfile::tempdir().expect("temp dir");
        let window = LazyWindow {
            interval: Duration::from_millis(50),
            records: usize::MAX,
        };
        let (path, journal) = open(&dir, window);
        for seq in 0..5 {
            journal.queue(&entries(&[call(seq)])).expect("queued");
        }
        journal.write(&[], Sync::Lazy).await.expect("committed");
        let committed = Instant::now();
        // Poll crash images until the calls are in one; a copy taken during
        // a commit may not open, and counts as not yet.
        for n in 0.. {
            let durable = crash_image(&path, n).map_or(0, |image| calls_in(&image, 5));
            if durable == 5 {
                break;
            }
            assert!(
                committed.elapsed() < Duration::from_secs(10),
                "lazy commits still not durable after {:?}",
                committed.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A batch with an execution record is committed durably even when its
    /// writer asked for a lazy commit: a crash never loses where an
    /// execution is.
    #[tokio::test]
    async fn execution_records_are_always_durable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let window = LazyWindow {
            interval: Duration::from_secs(3600),
            records: usize::MAX,
        };
        let (path, journal) = open(&dir, window);
        let record = ExecutionRecord {
            flow: "f".to_owned(),
            component: None,
            input: "{}".to_owned(),
            status: crate::model::ExecutionStatus::Completed,
            output: Some("1".to_owned()),
            failure: None,
            original_exec_id: None,
            created_at_us: 1,
            updated_at_us: 2,
            seed: 3,
            calls: 1,
            replay: None,
            flow_log: Vec::new(),
        };
        journal.queue(&entries(&[call(0)])).expect("queued");
        journal
            .write(
                &[Entry::Execution {
                    id: ExecutionId(1),
                    record: &record,
                }],
                Sync::Lazy,
            )
            .await
            .expect("committed");
        let image = crash_image(&path, 0).expect("the crash image opens");
        let found = image.execution(ExecutionId(1)).await.expect("readable");
        assert_eq!(
            found.map(|e| e.status),
            Some(crate::model::ExecutionStatus::Completed)
        );
        assert_eq!(calls_in(&image, 1), 1, "and what was queued before it");
    }

    /// A read-only journal refuses writes, and syncing it is a no-op.
    #[tokio::test]
    async fn a_read_only_journal_refuses_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, journal) = open(&dir, LazyWindow::default());
        write(&journal, &[call(0)], Sync::Durable)
            .await
            .expect("written");
        drop(journal);
        let journal = RedbJournal::open_read_only(&path).expect("opens read-only");
        assert!(journal.is_read_only());
        assert_eq!(calls_in(&journal, 1), 1);
        let refused = write(&journal, &[call(1)], Sync::Durable).await;
        assert!(
            matches!(refused, Err(JournalError::ReadOnly { .. })),
            "{refused:?}"
        );
        let refused = journal.queue(&entries(&[call(1)]));
        assert!(
            matches!(refused, Err(JournalError::ReadOnly { .. })),
            "{refused:?}"
        );
        journal.sync().await.expect("nothing to sync");
    }

    /// Concurrent durable writes share commits: many batches, few fsyncs,
    /// and every batch acknowledged only once committed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_are_group_committed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let journal = std::sync::Arc::new(
            RedbJournal::open(dir.path().join("journal.redb"), LazyWindow::default())
                .expect("opens"),
        );
        let before = journal.commits();
        let writes = (0..200u32).map(|seq| {
            let journal = journal.clone();
            tokio::spawn(async move { write(&journal, &[call(seq)], Sync::Durable).await })
        });
        for write in writes.collect::<Vec<_>>() {
            write.await.expect("joined").expect("committed");
        }
        let commits = journal.commits() - before;
        assert!(commits < 200, "{commits} commits for 200 concurrent writes");
        assert!(
            journal
                .call(ExecutionId(1), 199)
                .expect("readable")
                .is_some()
        );
    }
}
