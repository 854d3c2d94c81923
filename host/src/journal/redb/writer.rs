//! The journal's single writer: one committer at a time owns the write
//! transaction, and batches commit in the order they were queued.
//!
//! Writes arrive as batches of puts, each with a durability wish and an
//! acknowledgement channel, and go into one queue. Whoever commits takes
//! everything queued so far into one transaction (group commit), commits it
//! once — with fsync if any batch asked for it — and only then acknowledges
//! every batch in it. A call that completes is therefore acknowledged to its
//! flow only after its record is on disk, and concurrent completions share
//! one fsync.
//!
//! Two kinds of committer take turns, never two at once (the `committing`
//! flag under the queue's lock is the pen):
//! - **The caller**, when it waits alone and the pen is free (a sequential
//!   flow's call): it commits the queue on its own thread, with no hand-off
//!   to another thread and back, each of which costs tens to a hundred µs
//!   on a busy machine. On tokio's multi-thread runtime the commit runs in
//!   [`tokio::task::block_in_place`], so the worker's other tasks move to
//!   another thread while the fsync blocks this one; on any other runtime
//!   the caller never blocks and leaves the commit to the thread.
//! - **The writer thread**, for everything else: batches only queued
//!   ([`Writer::queue`]), callers that wait while others do (a map's calls,
//!   concurrent executions), and the lazy window's durable commits.
//!
//! Lazy batches ([`Sync::Lazy`](crate::journal::Sync::Lazy), `eventual` durability) commit without
//! fsync, but never stay off the disk for long: a durable commit follows at
//! least every [`LazyWindow::interval`] and every [`LazyWindow::records`]
//! lazily committed records, whichever comes first, so a crash loses at most
//! that window. A batch holding an execution record (an execution starts,
//! resumes or ends) is always committed durably: a resume starts from it,
//! and it costs one fsync per change of status (shared with whatever else
//! is committed then).
//!
//! When commits are waited for (`immediate` durability), a batch that is
//! only queued is usually the start of an attempt whose end follows within
//! microseconds: the thread leaves it queued for up to [`LINGER`], so that
//! the end's commit takes it along (one fsync per call, not two).
//!
//! A failed commit breaks the writer: a lazy batch may have been lost, so
//! nothing is acknowledged on top of it. Every later write, waited for or
//! only queued, fails with the first error (a full disk is
//! [`JournalError::DiskFull`]), whichever committer meets it.
//!
//! A lone waiter whose commit another committer has (the pen was taken)
//! polls for its acknowledgement briefly before it parks: waking a parked
//! thread costs more than the rest of a commit.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{Database, Durability};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::oneshot;

use super::components::Chunked;
use super::envelope::{RecordKey, encode};
use super::schema::{
    ATTEMPTS, CACHE, CALLS, CHILDREN, COMPONENTS, EXECUTIONS, PARENTS, TIMERS, TIMES, UPGRADES,
    WAITS,
};
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
    /// A call's retry timer.
    Timer {
        exec: u64,
        seq: u32,
        record: Vec<u8>,
    },
    /// The removal of a call's retry timer.
    TimerDone { exec: u64, seq: u32 },
    /// An execution's move to another build.
    Upgrade { exec: u64, n: u32, record: Vec<u8> },
    /// A child execution's link to its parent's step, both ways.
    Child { parent: u64, seq: u32, child: u64 },
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
            Entry::Timer { exec, seq, record } => Put::Timer {
                exec: exec.0,
                seq,
                record: encode(RecordKey::Timer(exec.0, seq), record),
            },
            Entry::TimerDone { exec, seq } => Put::TimerDone { exec: exec.0, seq },
            Entry::Upgrade { exec, n, record } => Put::Upgrade {
                exec: exec.0,
                n,
                record: encode(RecordKey::Upgrade(exec.0, n), record),
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
    /// Whether a caller waits for its acknowledgement ([`Writer::write`]),
    /// or only queued it ([`Writer::queue`]).
    waited: bool,
    /// When it was queued.
    queued_at: Instant,
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

/// How long the writer thread leaves batches that were only queued, while
/// commits are being waited for, so that the next waited-for commit takes
/// them along: an attempt's start then shares the commit (and the fsync) of
/// its end when the attempt is shorter than this. A longer attempt's start
/// is committed on its own, at most twice this late (it is lazy: it would
/// not be durable before its end's commit anyway).
const LINGER: Duration = Duration::from_millis(1);

/// For how long after a waited-for commit the writer thread keeps looking
/// at the queue every [`LINGER`] instead of sleeping until it is woken:
/// meanwhile a batch that is only queued needs no wake-up call (a system
/// call on the caller's side, a thread woken on the other).
const TICKING_FOR: Duration = Duration::from_millis(100);

/// How many times a lone writer of a waited-for batch that another
/// committer has taken polls for its acknowledgement, yielding to other
/// tasks in between, before it parks. A commit with fsync takes a few
/// hundred µs; waking a parked tokio worker from the writer thread costs
/// tens to a hundred more on a busy machine. The polls are bounded (well
/// under a millisecond) and give way to any other task, so a slow disk only
/// costs that much CPU.
const ACK_SPINS: u32 = 2000;

/// The handle through which everything writes to the journal.
pub(crate) struct Writer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// What the writer thread and the callers share.
struct Shared {
    state: Mutex<State>,
    /// Wakes the writer thread when it sleeps (see [`State::sleep`]).
    wake: Condvar,
    /// How many callers are waiting for an acknowledgement.
    waiting: AtomicUsize,
    db: Arc<Database>,
    /// The journal file, for errors (`:memory:` for an in-memory one).
    path: PathBuf,
    window: LazyWindow,
    commits: AtomicU64,
    /// How many of them a caller made on its own thread.
    inline_commits: AtomicU64,
    /// The first failed commit's error, once one failed.
    broken: OnceLock<JournalError>,
}

/// The queue and the pen, under one lock that is never held during a
/// commit.
struct State {
    /// Batches no committer has taken yet, in the order they were queued.
    queue: Vec<Batch>,
    /// Whether a committer (the thread or a caller) is committing a group:
    /// only one at a time, and it takes the whole queue, so batches commit
    /// in the order they were queued.
    committing: bool,
    /// Lazy commits not yet made durable.
    undurable: Option<Undurable>,
    /// When the last commit that had a durable batch in it ended, if the
    /// last commit had one: a sequential flow writes again within
    /// microseconds, and the thread lingers and ticks (see [`LINGER`],
    /// [`TICKING_FOR`]). With `eventual` durability nobody waits for a
    /// commit, and the thread commits each batch as it comes.
    waited_for: Option<Instant>,
    /// How the writer thread sleeps, if it does.
    sleep: Sleep,
    /// Set when the [`Writer`] is dropped: the thread commits what is
    /// queued and stops.
    closed: bool,
}

/// How the writer thread sleeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sleep {
    /// It does not: it looks at the queue before it sleeps again.
    Awake,
    /// It wakes up by itself within [`LINGER`] (or when lazy commits are
    /// due): a batch that is only queued need not wake it.
    Ticking,
    /// Until it is woken (or lazy commits are due).
    Deep,
}

/// A committer's turn: the group it took and how to commit it.
struct Turn {
    group: Vec<Batch>,
    durable: bool,
    /// The lazily committed records not yet durable, with this group's.
    lazy_records: usize,
}

/// Lazy commits not yet made durable.
struct Undurable {
    /// When the oldest of them was committed.
    since: Instant,
    /// How many records they hold.
    records: usize,
}

impl Writer {
    /// Starts the writer thread for `db`, the journal at `path`, keeping
    /// lazy commits within `window`.
    pub(crate) fn start(
        db: Arc<Database>,
        path: PathBuf,
        window: LazyWindow,
    ) -> Result<Writer, JournalError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: Vec::new(),
                committing: false,
                undurable: None,
                waited_for: None,
                sleep: Sleep::Awake,
                closed: false,
            }),
            wake: Condvar::new(),
            waiting: AtomicUsize::new(0),
            db,
            path,
            window,
            commits: AtomicU64::new(0),
            inline_commits: AtomicU64::new(0),
            broken: OnceLock::new(),
        });
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("cairn-journal-writer".to_owned())
                .spawn(move || shared.run())
                .map_err(|e| JournalError::storage("starting the journal writer", e))?
        };
        Ok(Writer {
            shared,
            thread: Some(thread),
        })
    }

    /// Makes everything committed so far durable, and reports whether it
    /// is: the error of any commit that failed since the journal opened
    /// (lazy ones included), or of this one.
    pub(crate) async fn sync(&self) -> Result<(), JournalError> {
        self.write(Vec::new(), Sync::Durable).await
    }

    /// Writes `puts` in one atomic step and waits until they are committed
    /// (and, for [`Sync::Durable`], on disk): on this thread if nobody else
    /// waits and nothing is being committed (see the module docs), else by
    /// whoever commits next.
    pub(crate) async fn write(&self, puts: Vec<Put>, sync: Sync) -> Result<(), JournalError> {
        self.shared.check()?;
        let (ack, mut acked) = oneshot::channel();
        let waiters = Waiting::enter(&self.shared.waiting);
        let batch = Batch {
            puts,
            sync,
            waited: true,
            queued_at: Instant::now(),
            ack,
        };
        let inline = waiters.alone && may_block();
        if let Some(turn) = self.shared.push(batch, inline)? {
            tokio::task::block_in_place(|| self.shared.commit_turn(turn, true));
            return acked.try_recv().map_err(|_| JournalError::Closed)?;
        }
        // Only a lone waiter spins (a sequential flow's call, when the pen
        // was taken): when many wait at once (a map), they share a commit
        // anyway, and spinning would take the cores their attempts need.
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
        self.shared.check()?;
        let (ack, _) = oneshot::channel();
        let batch = Batch {
            puts,
            sync: Sync::Lazy,
            waited: false,
            queued_at: Instant::now(),
            ack,
        };
        self.shared.push(batch, false).map(drop)
    }

    /// How many transactions the writer has committed.
    pub(crate) fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    /// How many of them callers committed on their own threads.
    #[cfg(test)]
    fn inline_commits(&self) -> u64 {
        self.shared.inline_commits.load(Ordering::Relaxed)
    }
}

/// Whether a caller may block its thread for a commit: on a worker of
/// tokio's multi-thread runtime (or in its `block_on`), where
/// [`tokio::task::block_in_place`] first moves the worker's other tasks to
/// another thread. Never on a current-thread runtime (it would stop every
/// other task) nor under another executor.
fn may_block() -> bool {
    Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
}

impl Drop for Writer {
    fn drop(&mut self) {
        // The thread commits what is queued and exits; joining it releases
        // its handle on the database file.
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
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

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The error of the commit that broke the writer, if one did.
    fn check(&self) -> Result<(), JournalError> {
        match self.broken.get() {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// Queues `batch`. With `inline`, and the pen free, the caller takes
    /// the pen and the queue, and must commit the returned turn itself;
    /// otherwise the thread is woken if it has to be.
    fn push(&self, batch: Batch, inline: bool) -> Result<Option<Turn>, JournalError> {
        let mut state = self.lock();
        if state.closed {
            return Err(JournalError::Closed);
        }
        let waited = batch.waited;
        state.queue.push(batch);
        if inline && !state.committing {
            return Ok(Some(self.take(&mut state)));
        }
        // A sleeping thread is woken for a batch someone waits for; for one
        // that is only queued, only if it would not look by itself soon.
        let wake = match state.sleep {
            Sleep::Awake => false,
            Sleep::Ticking => waited,
            Sleep::Deep => true,
        };
        if wake {
            state.sleep = Sleep::Awake;
        }
        drop(state);
        if wake {
            self.wake.notify_one();
        }
        Ok(None)
    }

    /// Takes the pen and everything queued: the group to commit next, and
    /// whether durably. The pen must be free.
    fn take(&self, state: &mut State) -> Turn {
        debug_assert!(!state.committing, "one committer at a time");
        state.committing = true;
        let group = std::mem::take(&mut state.queue);
        let records: usize = group.iter().map(|b| b.puts.len()).sum();
        let lazy_records = state.undurable.as_ref().map_or(0, |u| u.records) + records;
        let durable = group.iter().any(must_be_durable)
            || lazy_records >= self.window.records
            || state
                .undurable
                .as_ref()
                .is_some_and(|u| u.since.elapsed() >= self.window.interval);
        Turn {
            group,
            durable,
            lazy_records,
        }
    }

    /// Commits a turn's group, gives the pen back, and acknowledges every
    /// batch in the group. A caller (`by_caller`) wakes the thread if what
    /// was queued meanwhile, or lazy commits to make durable later, need
    /// it.
    fn commit_turn(&self, turn: Turn, by_caller: bool) {
        let Turn {
            group,
            durable,
            lazy_records,
        } = turn;
        if by_caller {
            self.inline_commits.fetch_add(1, Ordering::Relaxed);
        }
        let result = self.commit_group(&group, durable);
        let mut state = self.lock();
        if result.is_ok() {
            state.undurable = if durable {
                None
            } else {
                Some(Undurable {
                    since: state
                        .undurable
                        .take()
                        .map_or_else(Instant::now, |u| u.since),
                    records: lazy_records,
                })
            };
        }
        state.waited_for = group
            .iter()
            .any(|b| b.sync == Sync::Durable)
            .then(Instant::now);
        state.committing = false;
        let wake = by_caller
            && match state.sleep {
                Sleep::Awake => false,
                Sleep::Ticking => state.queue.iter().any(|b| b.waited),
                Sleep::Deep => !state.queue.is_empty() || state.undurable.is_some(),
            };
        if wake {
            state.sleep = Sleep::Awake;
        }
        drop(state);
        if wake {
            self.wake.notify_one();
        }
        for batch in group {
            let _ = batch.ack.send(result.clone());
        }
    }

    /// The writer thread: commits what callers leave to it, and makes lazy
    /// commits durable in time.
    fn run(&self) {
        let mut state = self.lock();
        loop {
            let ticking = state
                .waited_for
                .is_some_and(|at| at.elapsed() < TICKING_FOR);
            // Lazy commits are off the disk: sleep no longer than until
            // they are due.
            let due = state
                .undurable
                .as_ref()
                .map(|u| self.window.interval.saturating_sub(u.since.elapsed()));
            if state.committing {
                // A caller commits; it wakes the thread if it leaves work
                // for it.
                state = if ticking {
                    self.sleep(state, Sleep::Ticking, Some(LINGER))
                } else {
                    self.sleep(state, Sleep::Deep, None)
                };
                continue;
            }
            if let Some(first) = state.queue.first() {
                // Batches that are only queued wait a little for a commit
                // someone waits for to take them along.
                let young = LINGER.saturating_sub(first.queued_at.elapsed());
                let linger = ticking
                    && !state.closed
                    && !young.is_zero()
                    && !due.is_some_and(|d| d.is_zero())
                    && !state.queue.iter().any(|b| b.waited || must_be_durable(b));
                if linger {
                    state = self.sleep(state, Sleep::Ticking, Some(young));
                    continue;
                }
            } else if state.closed {
                break;
            } else if !due.is_some_and(|d| d.is_zero()) {
                state = match (ticking, due) {
                    (true, due) => self.sleep(
                        state,
                        Sleep::Ticking,
                        Some(due.map_or(LINGER, |d| d.min(LINGER))),
                    ),
                    (false, due) => self.sleep(state, Sleep::Deep, due),
                };
                continue;
            }
            // Something is queued, or lazy commits are due (an empty
            // group then commits durably).
            let turn = self.take(&mut state);
            drop(state);
            self.commit_turn(turn, false);
            state = self.lock();
        }
        // On an orderly close, make lazy commits durable too: `eventual`
        // durability only gives up what a crash interrupts. Nobody is left
        // to tell if this fails: `Journal::sync` (`Host::close`) is how a
        // caller learns it.
        if state.undurable.is_some() {
            drop(state);
            let _ = self.commit_group(&[], true);
        }
    }

    /// Sleeps until woken, or for `timeout`.
    fn sleep<'a>(
        &self,
        mut state: MutexGuard<'a, State>,
        sleep: Sleep,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, State> {
        state.sleep = sleep;
        let mut state = match timeout {
            None => self
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner),
            Some(timeout) => {
                self.wake
                    .wait_timeout(state, timeout)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
        state.sleep = Sleep::Awake;
        state
    }

    /// Commits `group` unless the writer is broken; a failure breaks it.
    fn commit_group(&self, group: &[Batch], durable: bool) -> Result<(), JournalError> {
        self.check()?;
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
        let components = txn.open_table(COMPONENTS).map_err(|e| failed(e.into()))?;
        let mut executions = txn.open_table(EXECUTIONS).map_err(|e| failed(e.into()))?;
        let mut calls = txn.open_table(CALLS).map_err(|e| failed(e.into()))?;
        let mut attempts = txn.open_table(ATTEMPTS).map_err(|e| failed(e.into()))?;
        let mut cache = txn.open_table(CACHE).map_err(|e| failed(e.into()))?;
        let mut waits = txn.open_table(WAITS).map_err(|e| failed(e.into()))?;
        let mut times = txn.open_table(TIMES).map_err(|e| failed(e.into()))?;
        // Made here when a journal older than the table gets its first write.
        let mut timers = txn.open_table(TIMERS).map_err(|e| failed(e.into()))?;
        // Rare: opened (and made, in an older journal) only by a commit
        // that holds a move.
        let mut upgrades = None;
        // The same for a commit that starts a child flow.
        let mut links = None;
        // Opened only by a commit that holds a component.
        let mut chunked = None;
        for put in group.iter().flat_map(|b| &b.puts) {
            let inserted = match put {
                // Content-addressed: bytes already there are the same; new
                // ones are stored as chunks (`components.rs`).
                Put::Component { hash, bytes } => {
                    if chunked.is_none() {
                        chunked = Some(Chunked::open(&txn).map_err(|e| failed(e.into()))?);
                    }
                    match chunked.as_mut() {
                        Some(tables) => tables.put(&components, hash, bytes),
                        None => Ok(()),
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
                Put::Timer { exec, seq, record } => {
                    timers.insert((*exec, *seq), &record[..]).map(drop)
                }
                Put::TimerDone { exec, seq } => timers.remove((*exec, *seq)).map(drop),
                Put::Upgrade { exec, n, record } => {
                    if upgrades.is_none() {
                        upgrades = Some(txn.open_table(UPGRADES).map_err(|e| failed(e.into()))?);
                    }
                    match upgrades.as_mut() {
                        Some(table) => table.insert((*exec, *n), &record[..]).map(drop),
                        None => Ok(()),
                    }
                }
                Put::Child { parent, seq, child } => {
                    if links.is_none() {
                        let children = txn.open_table(CHILDREN).map_err(|e| failed(e.into()))?;
                        let parents = txn.open_table(PARENTS).map_err(|e| failed(e.into()))?;
                        links = Some((children, parents));
                    }
                    match links.as_mut() {
                        Some((children, parents)) => children
                            .insert((*parent, *seq), *child)
                            .and_then(|_| parents.insert(*child, (*parent, *seq)))
                            .map(drop),
                        None => Ok(()),
                    }
                }
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

    /// A caller waiting alone on tokio's multi-thread runtime commits on
    /// its own thread, and takes along what was queued before it (an
    /// attempt's start): one commit per write, in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lone_waiter_commits_on_its_own_thread_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, journal) = open(&dir, LazyWindow::default());
        let writer = journal.writer().expect("writable");
        let (commits, inline) = (writer.commits(), writer.inline_commits());
        for seq in 0..20 {
            let (_, mut queued) = call(seq);
            queued.output = Some("queued".to_owned());
            journal.queue(&entries(&[(seq, queued)])).expect("queued");
            write(&journal, &[call(seq)], Sync::Durable)
                .await
                .expect("written");
        }
        assert_eq!(
            writer.inline_commits() - inline,
            20,
            "on the caller's thread"
        );
        assert_eq!(
            writer.commits() - commits,
            20,
            "a start shares its end's commit"
        );
        let image = crash_image(&path, 0).expect("the crash image opens");
        for seq in 0..20 {
            let found = image.call(ExecutionId(1), seq).expect("readable");
            assert_eq!(
                found.and_then(|c| c.output).as_deref(),
                Some("1"),
                "the later write wins, and is durable"
            );
        }
    }

    /// On a current-thread runtime a caller never blocks on a commit: the
    /// writer thread commits for it.
    #[tokio::test]
    async fn a_current_thread_runtime_leaves_commits_to_the_thread() {
        let journal = RedbJournal::in_memory().expect("opens");
        let writer = journal.writer().expect("writable");
        for seq in 0..5 {
            write(&journal, &[call(seq)], Sync::Durable)
                .await
                .expect("written");
        }
        assert_eq!(writer.inline_commits(), 0);
        assert_eq!(calls_in(&journal, 5), 5);
    }

    /// A disk that fills up, under redb: an in-memory backend whose writes
    /// and syncs fail with ENOSPC while `full` is set.
    #[derive(Debug)]
    struct FillingDisk {
        bytes: ::redb::backends::InMemoryBackend,
        full: Arc<std::sync::atomic::AtomicBool>,
    }

    impl FillingDisk {
        fn check(&self) -> std::io::Result<()> {
            if self.full.load(Ordering::Relaxed) {
                Err(std::io::ErrorKind::StorageFull.into())
            } else {
                Ok(())
            }
        }
    }

    impl ::redb::StorageBackend for FillingDisk {
        fn len(&self) -> std::io::Result<u64> {
            self.bytes.len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
            self.bytes.read(offset, out)
        }
        fn set_len(&self, len: u64) -> std::io::Result<()> {
            self.check()?;
            self.bytes.set_len(len)
        }
        fn sync_data(&self) -> std::io::Result<()> {
            self.check()?;
            self.bytes.sync_data()
        }
        fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
            self.check()?;
            self.bytes.write(offset, data)
        }
    }

    /// A writer on a disk that can fill up, and the switch that fills it.
    fn filling_writer() -> (Arc<std::sync::atomic::AtomicBool>, Writer) {
        let full = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let disk = FillingDisk {
            bytes: ::redb::backends::InMemoryBackend::new(),
            full: full.clone(),
        };
        let db = Database::builder()
            .create_with_backend(disk)
            .expect("created");
        super::super::file::initialize(&db, Path::new(":memory:")).expect("initialized");
        let writer = Writer::start(
            Arc::new(db),
            PathBuf::from(":memory:"),
            LazyWindow::default(),
        )
        .expect("started");
        (full, writer)
    }

    fn puts(seq: u32) -> Vec<Put> {
        let (seq, record) = call(seq);
        vec![Put::encode(&Entry::Call {
            exec: ExecutionId(1),
            seq,
            record: &record,
        })]
    }

    /// After a failed commit, every later write fails with its error, even
    /// once the disk has room again: whichever committer meets it (`inline`:
    /// the caller on its own thread, else the writer thread).
    async fn a_failed_commit_breaks_the_writer(inline: bool) {
        let (full, writer) = filling_writer();
        let inline_before = writer.inline_commits();
        writer.write(puts(0), Sync::Durable).await.expect("room");
        full.store(true, Ordering::Relaxed);
        let failed = writer.write(puts(1), Sync::Durable).await;
        assert!(
            matches!(failed, Err(JournalError::DiskFull { .. })),
            "{failed:?}"
        );
        assert_eq!(writer.inline_commits() > inline_before, inline);
        full.store(false, Ordering::Relaxed);
        let queued = writer.queue(puts(2));
        assert!(
            matches!(queued, Err(JournalError::DiskFull { .. })),
            "{queued:?}"
        );
        for sync in [Sync::Lazy, Sync::Durable] {
            let later = writer.write(puts(3), sync).await;
            assert!(
                matches!(later, Err(JournalError::DiskFull { .. })),
                "{later:?}"
            );
        }
        let synced = writer.sync().await;
        assert!(
            matches!(synced, Err(JournalError::DiskFull { .. })),
            "{synced:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_inline_commit_breaks_the_writer() {
        a_failed_commit_breaks_the_writer(true).await;
    }

    #[tokio::test]
    async fn a_failed_commit_on_the_thread_breaks_the_writer() {
        a_failed_commit_breaks_the_writer(false).await;
    }

    /// A lazy commit that fails is seen by the next write that is waited
    /// for, though nobody waited for the lazy one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_lazy_commit_fails_the_next_waited_write() {
        let (full, writer) = filling_writer();
        writer.write(puts(0), Sync::Durable).await.expect("room");
        full.store(true, Ordering::Relaxed);
        writer.queue(puts(1)).expect("queued before anyone knows");
        // Past the linger: the writer thread commits it on its own.
        let deadline = Instant::now() + Duration::from_secs(10);
        while writer.shared.broken.get().is_none() {
            assert!(
                Instant::now() < deadline,
                "the lazy batch was never committed"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        full.store(false, Ordering::Relaxed);
        let later = writer.write(puts(2), Sync::Durable).await;
        assert!(
            matches!(later, Err(JournalError::DiskFull { .. })),
            "{later:?}"
        );
    }

    /// Concurrent durable writes, some committed by callers on their own
    /// threads and some by the writer thread, all end up durable, in far
    /// fewer commits than writes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inline_and_thread_commits_together_lose_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, journal) = open(&dir, LazyWindow::default());
        let journal = Arc::new(journal);
        let tasks = (0..8u32).map(|task| {
            let journal = journal.clone();
            tokio::spawn(async move {
                for i in 0..50 {
                    let seq = task * 50 + i;
                    journal.queue(&entries(&[call(seq)])).expect("queued");
                    write(&journal, &[call(seq)], Sync::Durable)
                        .await
                        .expect("written");
                }
            })
        });
        for task in tasks.collect::<Vec<_>>() {
            task.await.expect("joined");
        }
        let image = crash_image(&path, 0).expect("the crash image opens");
        assert_eq!(calls_in(&image, 400), 400);
    }
}
