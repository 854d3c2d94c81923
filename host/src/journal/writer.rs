//! The journal's single writer: one thread owns every write transaction.
//!
//! Writes arrive as batches of puts, each with a durability wish and an
//! acknowledgement channel. The writer drains whatever has queued up into one
//! transaction (group commit), commits it once — with fsync if any batch
//! asked for it — and only then acknowledges every batch in it. A call that
//! completes is therefore acknowledged to its flow only after its record is
//! on disk, and concurrent completions share one fsync.
//!
//! Both sides spin briefly before they park (the writer for the next batch,
//! a waiting caller for its acknowledgement): a sequential flow's next write
//! is microseconds away, and waking a parked thread costs more than that.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use redb::{Database, Durability};
use tokio::sync::{mpsc, oneshot};

use super::record::{AttemptRecord, CallRecord, ExecutionRecord, RecordKey, WaitRecord, encode};
use super::schema::{ATTEMPTS, CACHE, CALLS, COMPONENTS, EXECUTIONS, TIMES, WAITS};
use crate::error::JournalError;

/// One put into a table; values are already-encoded records.
#[derive(Debug)]
pub enum Put {
    /// A component's bytes under its hash.
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
    /// An execution record, in its envelope.
    pub fn execution(id: u64, record: &ExecutionRecord) -> Put {
        Put::Execution {
            id,
            record: encode(RecordKey::Execution(id), record),
        }
    }

    /// A call record, in its envelope.
    pub fn call(exec: u64, seq: u32, record: &CallRecord) -> Put {
        Put::Call {
            exec,
            seq,
            record: encode(RecordKey::Call(exec, seq), record),
        }
    }

    /// A wait record, in its envelope.
    pub fn wait(exec: u64, name: &str, record: &WaitRecord) -> Put {
        Put::Wait {
            exec,
            name: name.to_owned(),
            record: encode(RecordKey::Wait(exec, name), record),
        }
    }

    /// An attempt record, in its envelope.
    pub fn attempt(exec: u64, seq: u32, n: u32, record: &AttemptRecord) -> Put {
        Put::Attempt {
            exec,
            seq,
            n,
            record: encode(RecordKey::Attempt(exec, seq, n), record),
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

/// Whether a batch must be on disk before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// fsync before acknowledging.
    Durable,
    /// Visible to readers at once, on disk with the next durable commit.
    Lazy,
}

struct Batch {
    puts: Vec<Put>,
    sync: Sync,
    ack: oneshot::Sender<Result<(), JournalError>>,
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
pub struct Writer {
    queue: Option<mpsc::UnboundedSender<Batch>>,
    /// How many callers are waiting for an acknowledgement.
    waiting: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
    commits: Arc<AtomicU64>,
}

impl Writer {
    /// Starts the writer thread for `db`.
    pub fn start(db: Arc<Database>) -> Result<Writer, JournalError> {
        let (queue, batches) = mpsc::unbounded_channel();
        let commits = Arc::new(AtomicU64::new(0));
        let counter = commits.clone();
        let thread = std::thread::Builder::new()
            .name("cairn-journal-writer".to_owned())
            .spawn(move || run(&db, batches, &counter))
            .map_err(|e| JournalError::Storage(format!("cannot start the journal writer: {e}")))?;
        Ok(Writer {
            queue: Some(queue),
            waiting: Arc::new(AtomicUsize::new(0)),
            thread: Some(thread),
            commits,
        })
    }

    /// Writes `puts` in one atomic step and waits until they are committed
    /// (and, for [`Sync::Durable`], on disk).
    pub async fn write(&self, puts: Vec<Put>, sync: Sync) -> Result<(), JournalError> {
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
    /// fails, every later one fails too, and the failure is seen there.
    pub fn queue(&self, puts: Vec<Put>) -> Result<(), JournalError> {
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
    pub fn commits(&self) -> u64 {
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

fn run(db: &Database, mut batches: mpsc::UnboundedReceiver<Batch>, commits: &AtomicU64) {
    let mut undurable = false;
    // After a failed commit every later batch fails too: a batch queued
    // without waiting may have been lost, and nothing may be acknowledged
    // on top of a hole.
    let mut broken: Option<JournalError> = None;
    // Whether the last commit had a waiting batch in it. Only then is the
    // writer worth keeping awake: with `eventual` durability nobody waits
    // for a commit, and spinning would only take a core from the flows.
    let mut waited_for = false;
    loop {
        // Right after a commit someone waited for, the next batch is
        // usually a few µs away (a sequential flow's next call): look for it
        // before parking, since waking a parked thread costs far more on a
        // busy machine.
        let mut first = None;
        for _ in 0..if waited_for { LINGER_YIELDS } else { 0 } {
            match batches.try_recv() {
                Ok(batch) => {
                    first = Some(batch);
                    break;
                }
                Err(mpsc::error::TryRecvError::Empty) => std::thread::yield_now(),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        }
        let Some(first) = first.or_else(|| batches.blocking_recv()) else {
            break;
        };
        let mut group = vec![first];
        while let Ok(next) = batches.try_recv() {
            group.push(next);
        }
        // When commits are waited for, a lone lazy batch is usually the
        // start of an attempt whose end follows within microseconds: yield a
        // few times to let it arrive and share this commit (and its fsync)
        // instead of taking two.
        for _ in 0..if waited_for { LINGER_YIELDS } else { 0 } {
            if group.iter().any(|b| b.sync == Sync::Durable) {
                break;
            }
            std::thread::yield_now();
            while let Ok(next) = batches.try_recv() {
                group.push(next);
            }
        }
        let durable = group.iter().any(|b| b.sync == Sync::Durable);
        waited_for = durable;
        let result = match &broken {
            Some(error) => Err(error.clone()),
            None => {
                undurable = !durable;
                commits.fetch_add(1, Ordering::Relaxed);
                catch_unwind(AssertUnwindSafe(|| commit(db, &group, durable))).unwrap_or_else(
                    |_| {
                        Err(JournalError::Storage(
                            "redb panicked during a commit".to_owned(),
                        ))
                    },
                )
            }
        };
        if let Err(error) = &result {
            broken.get_or_insert_with(|| error.clone());
        }
        for batch in group {
            let _ = batch.ack.send(result.clone());
        }
    }
    // On an orderly close, make lazy commits durable too: `eventual`
    // durability only gives up what a crash interrupts.
    if undurable && broken.is_none() {
        let _ = catch_unwind(AssertUnwindSafe(|| commit(db, &[], true)));
    }
}

fn commit(db: &Database, group: &[Batch], durable: bool) -> Result<(), JournalError> {
    let storage = |e: &dyn std::fmt::Display| JournalError::Storage(e.to_string());
    let mut txn = db.begin_write().map_err(|e| storage(&e))?;
    txn.set_durability(if durable {
        Durability::Immediate
    } else {
        Durability::None
    })
    .map_err(|e| storage(&e))?;
    {
        let mut components = txn.open_table(COMPONENTS).map_err(|e| storage(&e))?;
        let mut executions = txn.open_table(EXECUTIONS).map_err(|e| storage(&e))?;
        let mut calls = txn.open_table(CALLS).map_err(|e| storage(&e))?;
        let mut attempts = txn.open_table(ATTEMPTS).map_err(|e| storage(&e))?;
        let mut cache = txn.open_table(CACHE).map_err(|e| storage(&e))?;
        let mut waits = txn.open_table(WAITS).map_err(|e| storage(&e))?;
        let mut times = txn.open_table(TIMES).map_err(|e| storage(&e))?;
        for put in group.iter().flat_map(|b| &b.puts) {
            match put {
                Put::Component { hash, bytes } => {
                    components
                        .insert(&hash[..], &bytes[..])
                        .map_err(|e| storage(&e))?;
                }
                Put::Execution { id, record } => {
                    executions
                        .insert(*id, &record[..])
                        .map_err(|e| storage(&e))?;
                }
                Put::Call { exec, seq, record } => {
                    calls
                        .insert((*exec, *seq), &record[..])
                        .map_err(|e| storage(&e))?;
                }
                Put::Attempt {
                    exec,
                    seq,
                    n,
                    record,
                } => {
                    attempts
                        .insert((*exec, *seq, *n), &record[..])
                        .map_err(|e| storage(&e))?;
                }
                Put::Cache { key, exec, seq } => {
                    cache
                        .insert(&key[..], (*exec, *seq))
                        .map_err(|e| storage(&e))?;
                }
                Put::Wait { exec, name, record } => {
                    waits
                        .insert((*exec, name.as_str()), &record[..])
                        .map_err(|e| storage(&e))?;
                }
                Put::Time { exec, n, us } => {
                    times.insert((*exec, *n), *us).map_err(|e| storage(&e))?;
                }
            }
        }
    }
    txn.commit().map_err(|e| storage(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Journal;

    /// Concurrent durable writes share commits: many batches, few fsyncs,
    /// and every batch acknowledged only once committed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_are_group_committed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let journal = Journal::open(dir.path().join("journal.redb")).expect("opens");
        let before = journal.commits();
        let writes = (0..200u32).map(|seq| {
            let journal = journal.clone();
            tokio::spawn(async move {
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
                journal
                    .write(vec![Put::call(1, seq, &call)], Sync::Durable)
                    .await
            })
        });
        for write in writes.collect::<Vec<_>>() {
            write.await.expect("joined").expect("committed");
        }
        let commits = journal.commits() - before;
        assert!(commits < 200, "{commits} commits for 200 concurrent writes");
        assert!(
            journal
                .call(crate::model::ExecutionId(1), 199)
                .expect("readable")
                .is_some()
        );
    }
}
