//! The PostgreSQL journal's writer: one task that commits groups of
//! batches in the order they were queued, each group as one statement
//! (see [`group`](super::group)), so a durable call is one round trip to
//! the server and concurrent completions share it.
//!
//! Durability maps onto PostgreSQL's own: a group with a durable batch (or
//! an execution record, as redb's writer has it) commits with
//! `synchronous_commit = on`, which returns once the commit is flushed
//! (and, where the server is configured so, replicated); a group of lazy
//! batches only commits with it `off`, which PostgreSQL's WAL writer
//! flushes within three `wal_writer_delay`s (600 ms by default): that,
//! not [`LazyWindow`](crate::journal::redb::writer::LazyWindow), bounds
//! what a crash of the server can lose. A crash of Cairn loses nothing
//! committed.
//!
//! A group holding only batches nobody waits for (an attempt's start)
//! lingers for [`LINGER`], so that the attempt's end, written a moment
//! later, shares its round trip.
//!
//! A commit that fails breaks the writer, as redb's does: every later
//! write fails with the first error. Except a fence: a group one of whose
//! executions was taken over by another worker is committed again batch by
//! batch, and only the batches of that execution fail, with
//! [`JournalError::Claimed`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use super::group::{Params, Row, WRITE};
use super::schema::FENCE_SQLSTATE;
use crate::error::JournalError;
use crate::model::ExecutionId;

/// How long a group of batches nobody waits for waits for a batch that is.
const LINGER: Duration = Duration::from_millis(1);

/// One write: its rows, the leases they are written under, and who waits.
pub(super) struct Batch {
    pub(super) rows: Vec<Row>,
    /// (execution, epoch) of each lease the batch is written under.
    pub(super) fence: Vec<(i64, i64)>,
    pub(super) durable: bool,
    pub(super) ack: Option<oneshot::Sender<Result<(), JournalError>>>,
}

impl Batch {
    /// An execution record must be durable whatever its caller asked: a
    /// resume starts from it.
    fn must_be_durable(&self) -> bool {
        self.durable || self.rows.iter().any(|r| matches!(r, Row::Execution { .. }))
    }
}

/// The handle through which everything writes.
pub(super) struct Writer {
    queue: Option<mpsc::UnboundedSender<Batch>>,
    shared: Arc<Shared>,
    /// Signalled when the task has committed what was queued and stopped.
    stopped: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

struct Shared {
    pool: Pool,
    owner: String,
    commits: AtomicU64,
    broken: OnceLock<JournalError>,
}

impl Writer {
    /// Starts the writer task on `runtime`.
    pub(super) fn start(pool: Pool, owner: String, runtime: &tokio::runtime::Handle) -> Writer {
        let (queue, receiver) = mpsc::unbounded_channel();
        let (stop, stopped) = std::sync::mpsc::channel();
        let shared = Arc::new(Shared {
            pool,
            owner,
            commits: AtomicU64::new(0),
            broken: OnceLock::new(),
        });
        let task = shared.clone();
        runtime.spawn(async move {
            task.run(receiver).await;
            let _ = stop.send(());
        });
        Writer {
            queue: Some(queue),
            shared,
            stopped: std::sync::Mutex::new(stopped),
        }
    }

    /// Queues `batch`, failing at once if the writer is broken or stopped.
    pub(super) fn push(&self, batch: Batch) -> Result<(), JournalError> {
        if let Some(error) = self.shared.broken.get() {
            return Err(error.clone());
        }
        self.queue
            .as_ref()
            .ok_or(JournalError::Closed)?
            .send(batch)
            .map_err(|_| JournalError::Closed)
    }

    /// How many statements have committed.
    pub(super) fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // The task commits what is queued, then stops; a server that does
        // not answer cannot hold the process for long.
        self.queue = None;
        if let Ok(stopped) = self.stopped.lock() {
            let _ = stopped.recv_timeout(Duration::from_secs(10));
        }
    }
}

impl Shared {
    async fn run(&self, mut receiver: mpsc::UnboundedReceiver<Batch>) {
        while let Some(first) = receiver.recv().await {
            let mut group = vec![first];
            while let Ok(batch) = receiver.try_recv() {
                group.push(batch);
            }
            if group.iter().all(|b| b.ack.is_none())
                && let Ok(Some(batch)) = tokio::time::timeout(LINGER, receiver.recv()).await
            {
                group.push(batch);
                while let Ok(batch) = receiver.try_recv() {
                    group.push(batch);
                }
            }
            self.commit_group(group).await;
        }
    }

    /// Commits `group` and acknowledges each batch.
    async fn commit_group(&self, group: Vec<Batch>) {
        if let Some(error) = self.broken.get() {
            return acknowledge(group, &Err(error.clone()));
        }
        match self.commit(&group).await {
            Ok(()) => acknowledge(group, &Ok(())),
            Err(Failure::Fenced(_)) if group.len() > 1 => {
                // One execution was taken over: commit the others alone.
                for batch in group {
                    let result = match self.commit(std::slice::from_ref(&batch)).await {
                        Ok(()) => Ok(()),
                        Err(Failure::Fenced(exec)) => Err(taken_over(exec, &batch.fence)),
                        Err(Failure::Other(error)) => Err(self.break_with(error)),
                    };
                    acknowledge(vec![batch], &result);
                }
            }
            Err(Failure::Fenced(exec)) => {
                let fence: Vec<(i64, i64)> = group.iter().flat_map(|b| b.fence.clone()).collect();
                let error = taken_over(exec, &fence);
                acknowledge(group, &Err(error));
            }
            Err(Failure::Other(error)) => {
                let error = self.break_with(error);
                acknowledge(group, &Err(error));
            }
        }
    }

    /// Records the first failure; returns the one recorded.
    fn break_with(&self, error: JournalError) -> JournalError {
        let _ = self.broken.set(error);
        self.broken.get().cloned().unwrap_or(JournalError::Closed)
    }

    /// One statement for `group`.
    async fn commit(&self, group: &[Batch]) -> Result<(), Failure> {
        let durable = group.iter().any(Batch::must_be_durable);
        let mut params = Params::default();
        for batch in group {
            params.add(&batch.rows);
            for &(exec, epoch) in &batch.fence {
                params.fence(exec, epoch);
            }
        }
        let client = self.pool.get().await.map_err(|e| {
            Failure::Other(JournalError::storage("connecting to write the journal", e))
        })?;
        if params.len() == 0 {
            // Nothing to write: a sync makes what was committed before
            // durable (an id makes the commit a record PostgreSQL flushes).
            if durable {
                client
                    .simple_query("SELECT txid_current()")
                    .await
                    .map_err(|e| classify(e, "making the journal durable"))?;
            }
            return Ok(());
        }
        let statement = client
            .prepare_cached(WRITE)
            .await
            .map_err(|e| classify(e, "preparing the journal's write"))?;
        let arrays = params.into_arrays(&self.owner, durable);
        let mut tries = 0;
        loop {
            match client.query(&statement, &arrays.params()).await {
                Ok(_) => break,
                // The statement is its own transaction: one the server
                // chose as a deadlock's victim, or failed to serialise,
                // was rolled back whole, and is tried again.
                Err(e) if tries < RETRIES && is_transient(&e) => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(tries))).await;
                }
                Err(e) => return Err(classify(e, "writing to the journal")),
            }
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// How often a write rolled back by the server (a deadlock's victim) is
/// tried again before the writer gives up.
const RETRIES: u32 = 5;

/// Whether the server rolled the statement back for a reason that trying
/// again resolves: a deadlock (`40P01`) or a serialisation failure
/// (`40001`).
fn is_transient(error: &tokio_postgres::Error) -> bool {
    error.as_db_error().is_some_and(|db| {
        let code = db.code().code();
        code == "40P01" || code == "40001"
    })
}

/// Why a commit failed.
enum Failure {
    /// The lease of this execution was taken over.
    Fenced(ExecutionId),
    Other(JournalError),
}

/// A driver error: a fence, or a storage failure while doing `context`.
fn classify(error: tokio_postgres::Error, context: &str) -> Failure {
    if let Some(db) = error.as_db_error()
        && db.code().code() == FENCE_SQLSTATE
    {
        let exec = db.detail().and_then(|d| d.parse().ok()).unwrap_or(0);
        return Failure::Fenced(ExecutionId(exec));
    }
    Failure::Other(JournalError::storage(context, error))
}

/// The error of a write fenced out of `exec`, naming the epoch it was
/// written under (found among the batch's leases).
fn taken_over(exec: ExecutionId, fence: &[(i64, i64)]) -> JournalError {
    let epoch = fence
        .iter()
        .find(|(e, _)| e.unsigned_abs() == exec.0)
        .map_or(0, |(_, epoch)| epoch.unsigned_abs());
    JournalError::TakenOver { exec, epoch }
}

fn acknowledge(group: Vec<Batch>, result: &Result<(), JournalError>) {
    for batch in group {
        if let Some(ack) = batch.ack {
            let _ = ack.send(result.clone());
        }
    }
}
