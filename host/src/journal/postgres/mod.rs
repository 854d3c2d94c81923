//! The PostgreSQL journal: the same records as redb's, in a database that
//! several Cairn processes (say, `cairn serve` workers on several machines)
//! share.
//!
//! Its connections live on a small runtime of its own (one thread), so the
//! journal opens from synchronous code ([`HostBuilder::open`]
//! (crate::HostBuilder::open)), serves callers on any executor, and is not
//! tied to the lifetime of the caller's runtime. Every operation is a task
//! there; the caller awaits its result.
//!
//! - [`schema`]: the tables, made and versioned by Cairn.
//! - [`writer`]: group commit, one statement ([`group`]) per commit.
//! - [`leases`]: claims of executions with an epoch that every write is
//!   fenced by.
//! - [`reads`]: one statement per read (a history: one snapshot).
//! - [`stops`]: requests to stop the run of an execution wherever it runs.

mod children;
mod components;
mod group;
mod leases;
mod prune;
mod reads;
mod schedules;
pub(crate) mod schema;
mod stops;
mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::oneshot;

use self::group::Row;
use self::leases::Leases;
use self::writer::{Batch, Writer};
use super::record::ScheduleRecord;
use super::record::{CallRecord, ExecutionRecord, TimerRecord, UpgradeRecord, WaitRecord};
use super::{Advance, ScheduleChange};
use super::{
    CacheEntry, CacheSweep, ChildOf, Created, Entry, ExecutionFilter, ExecutionLease, History,
    Journal, JournalFuture, Links, NewRecord, Pruned, PrunedComponents, Sync,
};
use super::{StopAsk, StopHandler, StopReply};
use crate::error::JournalError;
use crate::model::{ComponentHash, ExecutionId};

/// How long a claim lasts without a heartbeat, by default.
pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// The most connections one process opens.
const POOL_SIZE: usize = 16;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `journal` names a PostgreSQL database rather than a file.
pub(crate) fn is_url(journal: &str) -> bool {
    journal.starts_with("postgres://") || journal.starts_with("postgresql://")
}

/// How to open a PostgreSQL journal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Refuse every write, and make no tables.
    pub read_only: bool,
    /// How long a claim lasts without a heartbeat.
    pub lease: Duration,
}

/// A journal in a PostgreSQL database.
pub(crate) struct PostgresJournal {
    /// `None` when read-only; dropped first (it commits what is queued).
    writer: Option<Writer>,
    leases: Leases,
    pool: Pool,
    /// The URL without its password, for errors.
    shown: PathBuf,
    handle: Handle,
    /// `None` once dropped.
    runtime: Option<Runtime>,
}

impl PostgresJournal {
    /// Connects to the database at `url`, makes the journal's tables if it
    /// has none (unless read-only: then [`JournalError::Missing`]), and
    /// checks their version.
    pub(crate) fn open(url: &str, options: Options) -> Result<PostgresJournal, JournalError> {
        let shown = shown(url);
        let (runtime, pool) = connect(url)?;
        let handle = runtime.handle().clone();
        let check = {
            let (pool, shown) = (pool.clone(), shown.clone());
            async move {
                let mut client = pool.get().await.map_err(|e| {
                    JournalError::storage(format!("connecting to {}", shown.display()), e)
                })?;
                if options.read_only {
                    match schema::found(&client).await? {
                        schema::Found::Nothing => Err(JournalError::Missing { path: shown }),
                        schema::Found::Version(v) => schema::check(v, &shown),
                    }
                } else {
                    schema::migrate(&mut client, &shown).await.map(drop)
                }
            }
        };
        if let Err(e) = block_on(&handle, check) {
            // Dropping a runtime blocks, which an async caller may not do.
            runtime.shutdown_background();
            return Err(e);
        }
        let owner = owner_name();
        let writer =
            (!options.read_only).then(|| Writer::start(pool.clone(), owner.clone(), &handle));
        let leases = Leases::start(pool.clone(), handle.clone(), owner, options.lease);
        Ok(PostgresJournal {
            writer,
            leases,
            pool,
            shown,
            handle,
            runtime: Some(runtime),
        })
    }

    /// Makes the journal's tables in the database at `url`, or brings them
    /// to this build's version; returns the version found before, if any.
    pub(crate) fn migrate(url: &str) -> Result<Option<i64>, JournalError> {
        let shown = shown(url);
        let (runtime, pool) = connect(url)?;
        let result = block_on(runtime.handle(), async move {
            let mut client = pool.get().await.map_err(|e| {
                JournalError::storage(format!("connecting to {}", shown.display()), e)
            })?;
            schema::migrate(&mut client, &shown).await
        });
        runtime.shutdown_background();
        result
    }

    fn writer(&self) -> Result<&Writer, JournalError> {
        self.writer.as_ref().ok_or_else(|| JournalError::ReadOnly {
            path: self.shown.clone(),
        })
    }

    /// `entries` as a batch: their rows, and the leases held here for the
    /// executions they belong to.
    fn batch(
        &self,
        entries: &[Entry<'_>],
        durable: bool,
        ack: Option<oneshot::Sender<Result<(), JournalError>>>,
    ) -> Batch {
        let rows: Vec<Row> = entries.iter().map(Row::encode).collect();
        let mut fence: Vec<(i64, i64)> = Vec::new();
        for exec in rows.iter().filter_map(Row::exec) {
            if fence.iter().all(|(e, _)| *e != exec)
                && let Some(epoch) = self.leases.epoch(exec)
            {
                fence.push((exec, epoch));
            }
        }
        Batch {
            rows,
            fence,
            durable,
            ack,
        }
    }

    /// Hands `batch` to the writer and waits for its commit.
    fn submit(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), JournalError>>) -> Batch,
    ) -> JournalFuture<'_, ()> {
        let (ack, acked) = oneshot::channel();
        let pushed = self.writer().and_then(|w| w.push(make(ack)));
        Box::pin(async move {
            pushed?;
            acked.await.map_err(|_| JournalError::Closed)?
        })
    }

    /// Runs a read on the journal's runtime.
    fn read<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, JournalError>> + Send + 'static,
    ) -> JournalFuture<'_, T> {
        let task = self.handle.spawn(work);
        Box::pin(async move { task.await.map_err(|_| JournalError::Closed)? })
    }
}

impl Drop for PostgresJournal {
    fn drop(&mut self) {
        // The writer commits what is queued and stops, then the runtime
        // goes without waiting for anything else (it may be dropped inside
        // another runtime, where blocking on it is not allowed).
        self.writer = None;
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Journal for PostgresJournal {
    fn path(&self) -> Option<&Path> {
        None
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
        Box::pin(async move {
            self.writer()?;
            let (id, lease) = self.leases.create().await?;
            let record = record(id);
            let mut entries = Vec::with_capacity(2);
            if let Some((hash, bytes)) = component {
                entries.push(Entry::Component { hash, bytes });
            }
            entries.push(Entry::Execution {
                id,
                record: &record,
            });
            // Durable whatever the host's durability, as on redb.
            self.submit(|ack| self.batch(&entries, true, Some(ack)))
                .await?;
            Ok(Created { id, record, lease })
        })
    }

    fn create_child<'a>(
        &'a self,
        child_of: ChildOf<'a>,
        component: Option<(ComponentHash, Arc<[u8]>)>,
        record: NewRecord<'a>,
    ) -> JournalFuture<'a, Created> {
        Box::pin(self.create_child_here(child_of, component, record))
    }

    fn links(&self, exec: ExecutionId) -> JournalFuture<'_, Links> {
        self.read(children::links(self.pool.clone(), exec))
    }

    fn claim(&self, exec: ExecutionId) -> JournalFuture<'_, ExecutionLease> {
        Box::pin(self.leases.claim(exec))
    }

    fn queue(&self, entries: &[Entry<'_>]) -> Result<(), JournalError> {
        self.writer()?.push(self.batch(entries, false, None))
    }

    fn write(&self, entries: &[Entry<'_>], sync: Sync) -> JournalFuture<'_, ()> {
        self.submit(|ack| self.batch(entries, sync == Sync::Durable, Some(ack)))
    }

    fn sync(&self) -> JournalFuture<'_, ()> {
        if self.writer.is_none() {
            return Box::pin(std::future::ready(Ok(())));
        }
        self.submit(|ack| self.batch(&[], true, Some(ack)))
    }

    fn execution(&self, id: ExecutionId) -> JournalFuture<'_, Option<ExecutionRecord>> {
        self.read(reads::execution(self.pool.clone(), id))
    }

    fn executions<'a>(
        &'a self,
        filter: &'a ExecutionFilter,
    ) -> JournalFuture<'a, Vec<(ExecutionId, ExecutionRecord, u32)>> {
        self.read(reads::executions(self.pool.clone(), filter.clone()))
    }

    fn counted_execution(
        &self,
        id: ExecutionId,
    ) -> JournalFuture<'_, Option<(ExecutionRecord, u32)>> {
        self.read(reads::counted_execution(self.pool.clone(), id))
    }

    fn history(&self, id: ExecutionId) -> JournalFuture<'_, Option<History>> {
        self.read(reads::history(self.pool.clone(), id, true))
    }

    fn history_for_resume(&self, id: ExecutionId) -> JournalFuture<'_, Option<History>> {
        self.read(reads::history(self.pool.clone(), id, false))
    }

    fn waits(&self, exec: ExecutionId) -> JournalFuture<'_, Vec<(String, WaitRecord)>> {
        self.read(reads::waits(self.pool.clone(), exec))
    }

    fn times(&self, exec: ExecutionId) -> JournalFuture<'_, Vec<u64>> {
        self.read(reads::times(self.pool.clone(), exec))
    }

    fn timers(
        &self,
        exec: Option<ExecutionId>,
    ) -> JournalFuture<'_, Vec<(ExecutionId, u32, TimerRecord)>> {
        self.read(reads::timers(self.pool.clone(), exec))
    }

    fn upgrades(&self, exec: ExecutionId) -> JournalFuture<'_, Vec<UpgradeRecord>> {
        self.read(reads::upgrades(self.pool.clone(), exec))
    }

    fn cached_call(
        &self,
        key: [u8; 32],
    ) -> JournalFuture<'_, Option<(ExecutionId, u32, CallRecord)>> {
        self.read(reads::cached_call(self.pool.clone(), key))
    }

    fn component(&self, hash: ComponentHash) -> JournalFuture<'_, Option<Vec<u8>>> {
        self.read(components::read(self.pool.clone(), hash))
    }

    fn component_hashes(&self) -> JournalFuture<'_, Vec<ComponentHash>> {
        self.read(components::hashes(self.pool.clone()))
    }

    fn prune_components(&self) -> JournalFuture<'_, PrunedComponents> {
        if let Err(e) = self.writer() {
            return Box::pin(std::future::ready(Err(e)));
        }
        self.read(components::prune(self.pool.clone()))
    }

    fn prune_executions<'a>(
        &'a self,
        ids: &'a [ExecutionId],
        cache: &'a [CacheEntry],
        dry_run: bool,
    ) -> JournalFuture<'a, Pruned> {
        if let Err(e) = self.writer() {
            return Box::pin(std::future::ready(Err(e)));
        }
        let work =
            prune::prune_executions(self.pool.clone(), ids.to_vec(), cache.to_vec(), dry_run);
        self.read(work)
    }

    fn sweep_cache(
        &self,
        after: Option<Vec<u8>>,
        limit: usize,
        dry_run: bool,
    ) -> JournalFuture<'_, CacheSweep> {
        if let Err(e) = self.writer() {
            return Box::pin(std::future::ready(Err(e)));
        }
        self.read(prune::sweep_cache(self.pool.clone(), after, limit, dry_run))
    }

    fn orphans(&self, limit: usize) -> JournalFuture<'_, Vec<ExecutionId>> {
        self.read(leases::orphans(self.pool.clone(), limit))
    }

    fn schedules(&self) -> JournalFuture<'_, Vec<(String, ScheduleRecord)>> {
        self.read(schedules::all(self.pool.clone()))
    }

    fn ask_stop<'a>(
        &'a self,
        exec: ExecutionId,
        ask: &'a StopAsk,
        lasts: Duration,
    ) -> JournalFuture<'a, Option<u64>> {
        if let Err(e) = self.writer() {
            return Box::pin(std::future::ready(Err(e)));
        }
        let asker = self.leases.owner().to_owned();
        let work = stops::ask(self.pool.clone(), exec, ask.clone(), asker, lasts);
        Box::pin(async move { self.read(work).await.map(Some) })
    }

    fn stop_reply(&self, ticket: u64) -> JournalFuture<'_, Option<StopReply>> {
        self.read(stops::reply(self.pool.clone(), ticket))
    }

    fn withdraw_stop(&self, ticket: u64) -> JournalFuture<'_, ()> {
        self.read(stops::withdraw(self.pool.clone(), ticket))
    }

    fn on_stop_asked(&self, handler: StopHandler) {
        // Only a process that writes runs executions, and is asked.
        if self.writer.is_some() {
            stops::watch(
                self.pool.clone(),
                &self.handle,
                self.leases.held_now(),
                handler,
            );
        }
    }

    fn change_schedule<'a>(
        &'a self,
        name: &'a str,
        change: ScheduleChange,
    ) -> JournalFuture<'a, Option<ScheduleRecord>> {
        if let Err(e) = self.writer() {
            return Box::pin(std::future::ready(Err(e)));
        }
        self.read(schedules::change(
            self.pool.clone(),
            name.to_owned(),
            change,
        ))
    }

    fn create_scheduled<'a>(
        &'a self,
        name: &'a str,
        advance: Advance,
        record: NewRecord<'a>,
    ) -> JournalFuture<'a, Option<Created>> {
        Box::pin(async move {
            self.writer()?;
            // Claimed first, as `create_execution` does; an id the run does
            // not get (it is not due) is left unused.
            let (id, lease) = self.leases.create().await?;
            let record = record(id);
            let pool = self.pool.clone();
            let written = self
                .read(schedules::create_run(
                    pool,
                    name.to_owned(),
                    id,
                    advance,
                    record.clone(),
                ))
                .await?;
            Ok(written.then_some(Created { id, record, lease }))
        })
    }
}

/// The journal's runtime and a pool of connections to `url`.
fn connect(url: &str) -> Result<(Runtime, Pool), JournalError> {
    let mut config =
        tokio_postgres::Config::from_str(url).map_err(|e| JournalError::NotAJournal {
            path: shown(url),
            reason: "not a PostgreSQL URL".to_owned(),
            source: Some(Arc::new(e)),
        })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("cairn");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("cairn-postgres")
        .enable_all()
        .build()
        .map_err(|e| JournalError::storage("starting the journal's connections", e))?;
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    // Built inside the runtime: the pool's timeouts use its timer.
    let inside = runtime.enter();
    let pool = Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .create_timeout(Some(CONNECT_TIMEOUT))
        .build();
    drop(inside);
    match pool {
        Ok(pool) => Ok((runtime, pool)),
        Err(e) => {
            // Dropping a runtime blocks, which an async caller may not do.
            runtime.shutdown_background();
            Err(JournalError::storage(
                "making the journal's connection pool",
                e,
            ))
        }
    }
}

/// Runs `work` on `runtime` and waits for it on this thread (which may be
/// inside another runtime: it only blocks, it does not drive anything).
fn block_on<T: Send + 'static>(
    runtime: &Handle,
    work: impl Future<Output = Result<T, JournalError>> + Send + 'static,
) -> Result<T, JournalError> {
    let (done, result) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        let _ = done.send(work.await);
    });
    result.recv().map_err(|_| JournalError::Closed)?
}

/// `url` without its password, as errors show it.
fn shown(url: &str) -> PathBuf {
    let Some((scheme, rest)) = url.split_once("://") else {
        return PathBuf::from(url);
    };
    let shown = match rest.split_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    };
    PathBuf::from(shown)
}

/// This journal's name in the leases it takes: the machine, the process
/// and a nonce, so two journals never share one.
fn owner_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned());
    // Random per process (std's hasher keys are), and per journal.
    static OPENED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nth = OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut hasher =
        std::hash::BuildHasher::build_hasher(&std::collections::hash_map::RandomState::new());
    std::hash::Hasher::write_u64(&mut hasher, nth);
    std::hash::Hasher::write_u32(&mut hasher, std::process::id());
    let nonce = format!("{:016x}", std::hash::Hasher::finish(&hasher));
    format!("{host}/{}/{}", std::process::id(), &nonce[..12])
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn a_password_is_not_shown() {
        assert_eq!(
            shown("postgres://cairn:secret@db:5432/j"),
            PathBuf::from("postgres://cairn:***@db:5432/j")
        );
        assert_eq!(
            shown("postgres://cairn@db/j"),
            PathBuf::from("postgres://cairn@db/j")
        );
    }
}
