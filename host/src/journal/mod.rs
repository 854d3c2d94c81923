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

pub(crate) mod chunks;
mod entry;
mod filter;
mod history;
mod lease;
mod links;
pub(crate) mod postgres;
mod prune;
pub(crate) mod record;
pub(crate) mod redb;
mod stop;

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

pub(crate) use self::entry::{Entry, Sync};
pub use self::filter::ExecutionFilter;
pub(crate) use self::history::{CallHistory, History};
pub(crate) use self::lease::ExecutionLease;
pub(crate) use self::links::{ChildOf, Links};
pub use self::prune::Pruned;
pub(crate) use self::prune::{CacheEntry, CacheSweep};
use self::record::ScheduleRecord;
use self::record::{CallRecord, ExecutionRecord, TimerRecord, UpgradeRecord, WaitRecord};
pub(crate) use self::stop::{StopAsk, StopAsked, StopHandler, StopReply};
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

/// What a prune of unused components (`cairn components prune`) removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PrunedComponents {
    /// Components no execution referred to.
    pub components: u64,
    /// Chunks no remaining component listed.
    pub chunks: u64,
    /// The stored bytes removed: the chunks', and those of components
    /// stored whole (by a journal older than chunks).
    pub bytes: u64,
}

/// What [`Journal::change_schedule`] does to a schedule, decided from the
/// record the journal holds in the change's own transaction.
#[derive(Debug, Clone)]
pub(crate) enum ScheduleWrite {
    /// Writes this record under the name.
    Put(ScheduleRecord),
    /// Removes the schedule.
    Delete,
    /// Leaves it as it is.
    Keep,
}

/// Decides a change of a schedule from its record (`None`: no such one).
pub(crate) type ScheduleChange =
    Box<dyn FnOnce(Option<&ScheduleRecord>) -> ScheduleWrite + Send + 'static>;

/// Makes a schedule's record after a run from its record and the run's
/// execution id; `None` when the run is not due any more (the schedule was
/// paused, changed, or another worker started the run).
pub(crate) type Advance =
    Box<dyn FnOnce(&ScheduleRecord, ExecutionId) -> Option<ScheduleRecord> + Send + 'static>;

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

    /// Creates an execution as [`Journal::create_execution`] does, as the
    /// child of `child_of`'s step: the parent's step record and the link
    /// both ways are written in the same transaction (fenced by the
    /// parent's claim where the journal fences writes).
    fn create_child<'a>(
        &'a self,
        child_of: ChildOf<'a>,
        component: Option<(ComponentHash, Arc<[u8]>)>,
        record: NewRecord<'a>,
    ) -> JournalFuture<'a, Created>;

    /// An execution's parent and children (see [`Links`]).
    fn links(&self, exec: ExecutionId) -> JournalFuture<'_, Links>;

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

    /// Removes every component that no execution, call or upgrade record
    /// names (old builds whose executions were removed), then every chunk
    /// that no remaining component lists, in one transaction.
    fn prune_components(&self) -> JournalFuture<'_, PrunedComponents>;

    /// Executions left `running` that no process holds a claim on (their
    /// process died, or its run stopped without ending them), oldest
    /// first, at most `limit`: what a worker sharing the journal adopts.
    /// None on a journal only one process opens, whose executions left
    /// running are resumed when it starts.
    fn orphans(&self, limit: usize) -> JournalFuture<'_, Vec<ExecutionId>> {
        let _ = limit;
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    /// Every schedule, by name.
    fn schedules(&self) -> JournalFuture<'_, Vec<(String, ScheduleRecord)>>;

    /// Changes schedule `name` in one transaction of its own, as `change`
    /// decides from the record it holds then; returns that record (`None`
    /// if there was none).
    fn change_schedule<'a>(
        &'a self,
        name: &'a str,
        change: ScheduleChange,
    ) -> JournalFuture<'a, Option<ScheduleRecord>>;

    /// Creates a run of schedule `name`, as [`Journal::create_execution`]
    /// does (the schedule's component is in the journal already), in the
    /// same transaction that writes the schedule's record `advance` makes —
    /// or nothing (`None`) when `advance` finds the run not due any more, or
    /// the schedule is gone. The schedule's record is read under a lock in
    /// that transaction, so of several processes that see a run due, one
    /// starts it.
    fn create_scheduled<'a>(
        &'a self,
        name: &'a str,
        advance: Advance,
        record: NewRecord<'a>,
    ) -> JournalFuture<'a, Option<Created>>;

    /// Removes executions `ids` with everything they own (calls, attempts,
    /// waits, clock readings, retry timers, moves), and each entry of
    /// `cache` that still points at its call, in one transaction (see
    /// `prune`). The caller holds each execution's claim and has checked
    /// that it ended; an id the journal does not hold is skipped. With
    /// `dry_run` nothing is removed: the counts say what would be.
    fn prune_executions<'a>(
        &'a self,
        ids: &'a [ExecutionId],
        cache: &'a [CacheEntry],
        dry_run: bool,
    ) -> JournalFuture<'a, Pruned>;

    /// One step of the sweep of cache entries whose call is gone: looks at
    /// up to `limit` entries after `after`, in key order, and removes
    /// those (unless `dry_run`), in one transaction.
    fn sweep_cache(
        &self,
        after: Option<Vec<u8>>,
        limit: usize,
        dry_run: bool,
    ) -> JournalFuture<'_, CacheSweep>;

    /// Leaves `ask` for whichever process holds execution `exec`'s claim
    /// (see [`stop`]), standing for `lasts` unless withdrawn sooner;
    /// returns its ticket. `None` on a journal only one process opens,
    /// whose runs the asker reaches in its own process.
    fn ask_stop<'a>(
        &'a self,
        exec: ExecutionId,
        ask: &'a StopAsk,
        lasts: std::time::Duration,
    ) -> JournalFuture<'a, Option<u64>> {
        let _ = (exec, ask, lasts);
        Box::pin(std::future::ready(Ok(None)))
    }

    /// The reply to request `ticket`, once the holder has written one.
    fn stop_reply(&self, ticket: u64) -> JournalFuture<'_, Option<StopReply>> {
        let _ = ticket;
        Box::pin(std::future::ready(Ok(None)))
    }

    /// Removes request `ticket`, answered or not.
    fn withdraw_stop(&self, ticket: u64) -> JournalFuture<'_, ()> {
        let _ = ticket;
        Box::pin(std::future::ready(Ok(())))
    }

    /// Hands every standing request for an execution this process holds
    /// to `handler` as it is found (again at each look, until answered).
    fn on_stop_asked(&self, handler: StopHandler) {
        let _ = handler;
    }
}
