//! The journal: executions, calls, attempts, waits, the flows' clock
//! readings, calls' retry timers, the cache index and the component bytes
//! they ran.
//!
//! The runner, the [`Client`](crate::Client) and the CLI see a journal only
//! through the [`Journal`] trait, held as `Arc<dyn Journal>`; which
//! implementation a host opens is decided in one place, `HostBuilder::open`.
//! [`redb`] (one file, one process) is the first; [`postgres`] (one
//! database, shared by several processes) the second.
//!
//! The trait is shaped for a journal behind a network as well:
//! - reads and acknowledged writes return futures; a write takes typed
//!   [`Entry`]s and turns them into its own form before it returns the
//!   future, on the caller's thread, so the future borrows nothing of them;
//! - [`Journal::queue`] hands entries over without waiting; they are
//!   ordered before any later write, and a failure shows at a later write;
//! - an execution runs only under its [`ExecutionLease`]
//!   ([`Journal::claim`], or [`Journal::create_execution`] for a new one);
//! - what cannot wait (a flow deciding a wait inside a std mutex) is read
//!   up front by the runner, so every read can be a network round trip.
//!   (redb's reads are local and quick: its implementation answers them
//!   inside the call, on the caller's thread, as before the trait.)

mod entry;
mod filter;
mod history;
mod lease;
pub(crate) mod postgres;
pub(crate) mod record;
pub(crate) mod redb;

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

pub(crate) use self::entry::{Entry, Sync};
pub use self::filter::ExecutionFilter;
pub(crate) use self::history::{CallHistory, History};
pub(crate) use self::lease::ExecutionLease;
use self::record::{CallRecord, ExecutionRecord, TimerRecord, UpgradeRecord, WaitRecord};
use crate::error::JournalError;
use crate::model::{ComponentHash, ExecutionId};

/// What a journal operation returns: a boxed future, so that the trait is
/// object-safe.
pub(crate) type JournalFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, JournalError>> + Send + 'a>>;

/// Makes the record of a new execution once its id is known (its seed is
/// derived from the id).
pub(crate) type NewRecord<'a> = Box<dyn FnOnce(ExecutionId) -> ExecutionRecord + Send + 'a>;

/// A new execution, written and claimed.
#[derive(Debug)]
pub(crate) struct Created {
    /// Its id.
    pub id: ExecutionId,
    /// Its record, as written.
    pub record: ExecutionRecord,
    /// Its claim, held by whoever created it.
    pub lease: ExecutionLease,
}

/// A journal: where executions and everything they did are kept.
pub(crate) trait Journal: Send + std::marker::Sync {
    /// The file the journal lives in, if it lives in one: no checkpoint may
    /// be granted it.
    fn path(&self) -> Option<&Path>;

    /// Whether the journal was opened read-only: every write is refused
    /// with [`JournalError::ReadOnly`].
    fn is_read_only(&self) -> bool;

    /// How many transactions have been committed since the journal opened.
    fn commits(&self) -> u64;

    /// Creates an execution: gives it the next id, makes its record with
    /// `record`, and writes it (with its flow's component, unless the
    /// journal holds that already) durably. The new execution is claimed
    /// by the caller.
    fn create_execution<'a>(
        &'a self,
        component: Option<(ComponentHash, Arc<[u8]>)>,
        record: NewRecord<'a>,
    ) -> JournalFuture<'a, Created>;

    /// Claims an execution to run it: [`JournalError::Claimed`] if another
    /// run holds it. It stays claimed until the lease is dropped.
    fn claim(&self, exec: ExecutionId) -> JournalFuture<'_, ExecutionLease>;

    /// Hands `entries` over to be written lazily (see [`Sync::Lazy`])
    /// without waiting. They are written in one atomic step, before
    /// anything written later; if that fails, every later write fails too,
    /// and the failure shows there, or at the next `queue`.
    fn queue(&self, entries: &[Entry<'_>]) -> Result<(), JournalError>;

    /// Writes `entries` in one atomic step, after everything queued or
    /// written before, and resolves once they are committed (and, for
    /// [`Sync::Durable`], durable).
    fn write(&self, entries: &[Entry<'_>], sync: Sync) -> JournalFuture<'_, ()>;

    /// Makes everything written so far durable, and reports the first
    /// commit that failed since the journal opened, if one did (lazy ones
    /// included). A read-only journal has nothing to make durable.
    fn sync(&self) -> JournalFuture<'_, ()>;

    /// One execution's record.
    fn execution(&self, id: ExecutionId) -> JournalFuture<'_, Option<ExecutionRecord>>;

    /// The executions `filter` lets through, in id order, each with how
    /// many calls it has made (counted without reading them).
    fn executions<'a>(
        &'a self,
        filter: &'a ExecutionFilter,
    ) -> JournalFuture<'a, Vec<(ExecutionId, ExecutionRecord, u32)>>;

    /// One execution's record with how many calls it has made.
    fn counted_execution(
        &self,
        id: ExecutionId,
    ) -> JournalFuture<'_, Option<(ExecutionRecord, u32)>>;

    /// An execution with all its calls and attempts, read at one point in
    /// time and checked for completeness (see [`History`]).
    fn history(&self, id: ExecutionId) -> JournalFuture<'_, Option<History>>;

    /// The same, for a resume: the attempts of completed calls, which a
    /// resume never looks at, may be counted without being read.
    fn history_for_resume(&self, id: ExecutionId) -> JournalFuture<'_, Option<History>>;

    /// An execution's waits, by name.
    fn waits(&self, exec: ExecutionId) -> JournalFuture<'_, Vec<(String, WaitRecord)>>;

    /// The values an execution's flow clock read, in order.
    fn times(&self, exec: ExecutionId) -> JournalFuture<'_, Vec<u64>>;

    /// Calls' retry timers by (execution, seq): those of `exec`, or of
    /// every execution when it is `None` (a server scheduling them on start).
    fn timers(
        &self,
        exec: Option<ExecutionId>,
    ) -> JournalFuture<'_, Vec<(ExecutionId, u32, TimerRecord)>>;

    /// An execution's moves to other builds of its component, in order;
    /// none for one that never moved (and in a journal made before moves
    /// existed).
    fn upgrades(&self, exec: ExecutionId) -> JournalFuture<'_, Vec<UpgradeRecord>>;

    /// The call a cache key points at, with where it is, if there is one.
    /// The caller checks that it is the call it looks for.
    fn cached_call(
        &self,
        key: [u8; 32],
    ) -> JournalFuture<'_, Option<(ExecutionId, u32, CallRecord)>>;

    /// A component's bytes, checked against their hash.
    fn component(&self, hash: ComponentHash) -> JournalFuture<'_, Option<Vec<u8>>>;

    /// The hashes of every component the journal holds, without their bytes.
    fn component_hashes(&self) -> JournalFuture<'_, Vec<ComponentHash>>;
}
