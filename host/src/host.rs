//! The host: an engine, a journal, a policy and a clock, and the operations
//! on executions.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::client::Client;
use crate::clock::{SharedClock, SystemClock};
use crate::component::Component;
use crate::engine::Engine;
use crate::error::{
    AnswerError, CancelError, JournalError, LoadError, RegisterError, ReplayError, ResumeError,
    RunError,
};
use crate::events::{Event, EventSink};
use crate::host_flow::HostFlow;
use crate::journal::Journal;
use crate::journal::postgres::{self, PostgresJournal};
use crate::journal::redb::RedbJournal;
use crate::journal::redb::writer::LazyWindow;
use crate::model::ExecutionId;
use crate::policy::Policy;
use crate::runner::replay::ReplayRequest;
use crate::runner::{Durability, Outcome, Runner};

/// Opening a host failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The journal could not be opened.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The engine could not be built.
    #[error(transparent)]
    Engine(#[from] LoadError),
    /// The policy cannot be applied (a granted folder does not exist...).
    #[error("invalid policy: {0}")]
    Policy(String),
}

/// How many events a slow subscriber may fall behind before it misses some.
const EVENT_BUFFER: usize = 4096;

/// Where the journal lives (one variant per implementation; see
/// [`HostBuilder::open`]).
enum JournalAt {
    File(PathBuf),
    Postgres(String),
    Memory,
}

/// Where compiled components are cached when no engine is given.
enum ArtifactsAt {
    /// `<journal folder>/artifacts/` for a journal file opened for writing;
    /// none for an in-memory or read-only journal.
    BesideJournal,
    Dir(PathBuf),
    Off,
}

/// How to open a [`Host`].
pub struct HostBuilder {
    journal: JournalAt,
    engine: Option<Engine>,
    artifacts: ArtifactsAt,
    policy: Policy,
    clock: SharedClock,
    events: Option<EventSink>,
    durability: Durability,
    lazy_window: LazyWindow,
    read_only: bool,
    parallel: usize,
    lease: Duration,
}

impl HostBuilder {
    /// How many isolated attempts may run at once, over all executions.
    /// Default: the number of cores.
    pub fn max_parallel(mut self, n: usize) -> Self {
        self.parallel = n.max(1);
        self
    }

    /// When acknowledged records reach the disk. Default:
    /// [`Durability::Immediate`].
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// With [`Durability::Eventual`], bounds what a crash can lose: a
    /// durable commit is made at least every `interval` and after at most
    /// `records` records committed without one (a call takes about three),
    /// whichever comes first. Default: 200 ms and 10,000 records, which
    /// costs one fsync per 200 ms at most on a busy journal.
    pub fn eventual_window(mut self, interval: Duration, records: usize) -> Self {
        self.lazy_window = LazyWindow {
            interval,
            records: records.max(1),
        };
        self
    }

    /// Opens the journal file read-only: it must exist
    /// ([`JournalError::Missing`] otherwise: nothing is created), it is
    /// never written (it may be a read-only file in a read-only folder),
    /// and anything that would write to it fails with
    /// [`JournalError::ReadOnly`]. For listing and showing executions.
    /// Default: `false`. No effect on an in-memory journal.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Uses the journal file at `path` (created if missing, unless
    /// [`HostBuilder::read_only`]), or, when `path` is a
    /// `postgres://` or `postgresql://` URL, the PostgreSQL database it
    /// names (see [`HostBuilder::journal_url`]).
    pub fn journal(mut self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        self.journal = match path.to_str() {
            Some(url) if postgres::is_url(url) => JournalAt::Postgres(url.to_owned()),
            _ => JournalAt::File(path),
        };
        self
    }

    /// Uses the PostgreSQL database at `url`
    /// (`postgres://user[:password]@host[:port]/database`, with the options
    /// of `tokio_postgres::Config`; tables go in the connection's current
    /// schema, e.g. `?options=-csearch_path%3Dname`). Its tables are made
    /// if it has none (unless [`HostBuilder::read_only`], which refuses a
    /// database without them with [`JournalError::Missing`]); a database
    /// made by a newer Cairn is refused with [`JournalError::TooNew`].
    /// Several processes may share one database: each execution is run by
    /// one of them at a time, under a lease (see [`HostBuilder::lease`]).
    pub fn journal_url(mut self, url: impl Into<String>) -> Self {
        self.journal = JournalAt::Postgres(url.into());
        self
    }

    /// With a PostgreSQL journal, how long a process's claim of an
    /// execution lasts unless renewed (a heartbeat renews it three times
    /// per lease while the process lives): another process resumes the
    /// executions of one that died this long after its last renewal.
    /// Default: 10 s. No effect on a redb journal, which one process holds.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(300));
        self
    }

    /// Uses an in-memory journal (gone when the host is dropped).
    pub fn in_memory(mut self) -> Self {
        self.journal = JournalAt::Memory;
        self
    }

    /// Uses this engine (share one between hosts to share compiled code).
    /// Its own artifact cache ([`EngineBuilder::artifact_cache`], none by
    /// default) is the one used: [`HostBuilder::artifact_cache`] and
    /// [`HostBuilder::no_artifact_cache`] then have no effect. Default: a
    /// new engine with default settings and the artifact cache described
    /// at [`HostBuilder::artifact_cache`].
    ///
    /// [`EngineBuilder::artifact_cache`]: crate::EngineBuilder::artifact_cache
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Keeps compiled components in `dir` (its signing key in
    /// `<dir>.key`, beside it), so that a component is compiled once, not
    /// once per process: compiling takes from a tenth of a second to many
    /// seconds (see the crate docs on debug builds), loading a cached one
    /// a small fraction of that.
    ///
    /// Default: `artifacts/` beside a journal file opened for writing
    /// (`<journal folder>/artifacts/` and `<journal folder>/artifacts.key`,
    /// where the `cairn` CLI keeps them too); none for an in-memory
    /// journal, and none for a [read-only](HostBuilder::read_only) one,
    /// which writes nothing anywhere (it compiles what it loads in memory).
    /// Ignored when an [engine](HostBuilder::engine) is given.
    pub fn artifact_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.artifacts = ArtifactsAt::Dir(dir.into());
        self
    }

    /// Keeps no compiled components on disk: every process compiles each
    /// component it loads. Ignored when an [engine](HostBuilder::engine)
    /// is given.
    pub fn no_artifact_cache(mut self) -> Self {
        self.artifacts = ArtifactsAt::Off;
        self
    }

    /// The limits of every checkpoint attempt. Default: [`Policy::default`].
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock for timestamps and the flows' journaled time. Default: the
    /// system clock.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Receives progress events.
    pub fn events(mut self, sink: EventSink) -> Self {
        self.events = Some(sink);
        self
    }

    /// Opens the journal and builds the engine.
    pub fn open(self) -> Result<Host, OpenError> {
        self.policy.validate().map_err(OpenError::Policy)?;
        // The one place that picks the journal's implementation.
        let shared = matches!(self.journal, JournalAt::Postgres(_));
        let journal: Arc<dyn Journal> = match self.journal {
            JournalAt::File(path) if self.read_only => Arc::new(RedbJournal::open_read_only(path)?),
            JournalAt::File(path) => Arc::new(RedbJournal::open(path, self.lazy_window)?),
            JournalAt::Postgres(url) => Arc::new(PostgresJournal::open(
                &url,
                postgres::Options {
                    read_only: self.read_only,
                    lease: self.lease,
                },
            )?),
            JournalAt::Memory => Arc::new(RedbJournal::in_memory()?),
        };
        let engine = match self.engine {
            Some(engine) => engine,
            None => {
                let artifacts = match self.artifacts {
                    ArtifactsAt::Dir(dir) => Some(dir),
                    ArtifactsAt::Off => None,
                    ArtifactsAt::BesideJournal if self.read_only => None,
                    ArtifactsAt::BesideJournal => journal.path().map(artifacts_beside),
                };
                match artifacts {
                    Some(dir) => Engine::builder().artifact_cache(dir).build()?,
                    None => Engine::new()?,
                }
            }
        };
        // A checkpoint granted the journal or the artifact cache could
        // rewrite history or forge compiled code (the cache's key is beside
        // it): no grant may hold them or lie inside them.
        let mut protected: Vec<&Path> = engine.protected_paths();
        protected.extend(journal.path());
        self.policy
            .check_grants_avoid(&protected)
            .map_err(OpenError::Policy)?;
        let runner = Arc::new(Runner {
            engine,
            journal,
            policy: self.policy,
            clock: self.clock,
            events: self.events,
            durability: self.durability,
            active: Default::default(),
            components: Default::default(),
            isolated_pool: tokio::sync::Semaphore::new(self.parallel),
            host_flows: Default::default(),
            subscribers: tokio::sync::broadcast::Sender::new(EVENT_BUFFER),
            switches: Default::default(),
        });
        // Cancels and upgrades asked through other processes sharing the
        // journal reach the executions this host runs.
        runner.answer_stops();
        Ok(Host { shared, runner })
    }
}

/// Makes the journal's tables in the PostgreSQL database at `url` (see
/// [`HostBuilder::journal_url`]), or brings them to this build's schema
/// version; returns the version the database had before, `None` if it had
/// no Cairn tables. A database made by a newer Cairn is refused with
/// [`JournalError::TooNew`] and left as it is. Safe while other processes
/// use the database (the change takes a lock, in one transaction).
pub fn migrate_journal(url: &str) -> Result<Option<u64>, JournalError> {
    PostgresJournal::migrate(url).map(|v| v.map(i64::unsigned_abs))
}

/// The schema version of the PostgreSQL journal this build reads and
/// writes.
pub const POSTGRES_SCHEMA_VERSION: u64 = postgres::schema::SCHEMA_VERSION.unsigned_abs();

/// `artifacts/` in the journal's folder (the working folder for a bare
/// file name), as the `cairn` CLI has it.
fn artifacts_beside(journal: &Path) -> PathBuf {
    journal
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("artifacts"), |p| p.join("artifacts"))
}

/// Runs flows of components and journals them.
#[derive(Clone)]
pub struct Host {
    runner: Arc<Runner>,
    /// Whether other processes may share the journal.
    shared: bool,
}

impl Host {
    /// Starts configuring a host; by default its journal is in memory.
    pub fn builder() -> HostBuilder {
        HostBuilder {
            journal: JournalAt::Memory,
            engine: None,
            artifacts: ArtifactsAt::BesideJournal,
            policy: Policy::default(),
            clock: Arc::new(SystemClock),
            events: None,
            durability: Durability::default(),
            lazy_window: LazyWindow::default(),
            read_only: false,
            parallel: std::thread::available_parallelism().map_or(1, usize::from),
            lease: postgres::DEFAULT_LEASE,
        }
    }

    /// The journal file, or `None` for an in-memory or PostgreSQL journal.
    pub fn journal_path(&self) -> Option<&Path> {
        self.runner.journal.path()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.runner.engine
    }

    /// The folder where compiled components are cached, or `None` if they
    /// are not (see [`HostBuilder::artifact_cache`]).
    pub fn artifact_dir(&self) -> Option<&Path> {
        self.runner.engine.artifact_cache().map(|c| c.dir())
    }

    /// Loads a component file with this host's engine.
    pub async fn load_file(&self, path: impl AsRef<Path>) -> Result<Component, LoadError> {
        Component::from_file(&self.runner.engine, path).await
    }

    /// Loads component bytes with this host's engine.
    pub async fn load(&self, bytes: impl Into<Arc<[u8]>>) -> Result<Component, LoadError> {
        Component::from_bytes(&self.runner.engine, bytes).await
    }

    /// Runs `flow` of `component` with `input` (a JSON object of its named
    /// parameters) as a new execution, to its end.
    ///
    /// A flow that fails is an `Ok` outcome with status `failed`; `Err` means
    /// the execution could not be run (unknown flow, bad input, journal).
    pub async fn run(
        &self,
        component: &Component,
        flow: &str,
        input: &str,
    ) -> Result<Outcome, RunError> {
        self.runner.start(component, flow, input).await
    }

    /// Registers a host-side flow, so that [`Host::run_flow`] can start it
    /// and [`Host::resume`] / [`Host::replay`] can run its executions again
    /// (after a restart, register it again before resuming).
    pub fn register(&self, flow: HostFlow) -> Result<(), RegisterError> {
        self.runner.register(flow)
    }

    /// Runs the registered host-side flow `flow` with `input` (serialized
    /// to the execution's input JSON) as a new execution, to its end.
    pub async fn run_flow(
        &self,
        flow: &str,
        input: &(impl Serialize + ?Sized),
    ) -> Result<Outcome, RunError> {
        let input = serde_json::to_string(input).map_err(|e| RunError::BadInput {
            flow: flow.to_owned(),
            reason: format!("the input does not serialize: {e}"),
        })?;
        self.runner.start_host(flow, &input).await
    }

    /// Receives every event of every execution from now on. A subscriber
    /// that falls more than a few thousand events behind misses the oldest
    /// (`recv` reports how many); the runner never waits for one.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.runner.subscribers.subscribe()
    }

    /// Resumes an execution (after a failure, or after the process running it
    /// died): the flow runs again from the start, completed calls return their
    /// recorded outputs without running, and the first incomplete call gets
    /// new attempts, numbered after the earlier ones. A completed execution
    /// returns its output and runs nothing. The component comes from the
    /// journal's copy, so the exact code runs again.
    pub async fn resume(&self, id: ExecutionId) -> Result<Outcome, ResumeError> {
        self.runner.resume(id).await
    }

    /// Replays execution `source` as a new execution (linked to it by
    /// `original_exec_id`): calls reuse the source's outputs unless the
    /// request overrides them, runs them live (`from`), or changed their
    /// input. See [`ReplayRequest`].
    pub async fn replay(
        &self,
        source: ExecutionId,
        request: ReplayRequest,
    ) -> Result<Outcome, ReplayError> {
        self.runner.replay(source, request).await
    }

    /// Supplies the value of wait `name` of execution `id`, checked against
    /// the wait's schema. Resume the execution to continue it.
    pub async fn answer(
        &self,
        id: ExecutionId,
        name: &str,
        value_json: &str,
    ) -> Result<(), AnswerError> {
        self.runner.answer(id, name, value_json).await
    }

    /// Cancels an execution that is running (in this host), waiting or
    /// failed, so that it cannot be resumed. One running in this host stops
    /// at the flow's next request to the runner; calls already running finish
    /// and are journaled.
    pub async fn cancel(&self, id: ExecutionId) -> Result<(), CancelError> {
        self.runner.cancel(id).await
    }

    /// How many transactions the journal has committed since it was opened.
    /// Concurrent completions share one (group commit), so this grows more
    /// slowly than the number of acknowledged records.
    pub fn journal_commits(&self) -> u64 {
        self.runner.journal.commits()
    }

    /// Reads executions, calls and attempts.
    pub fn client(&self) -> Client {
        Client::new(self.runner.journal.clone())
    }

    /// Whether other processes may share the journal (a PostgreSQL one):
    /// an execution left `running` may then be another live process's, and
    /// one whose process died is resumed by whoever claims it once its
    /// lease lapses (see [`HostBuilder::lease`]).
    pub fn journal_is_shared(&self) -> bool {
        self.shared
    }

    /// On a journal other processes share, executions left `running` that
    /// no process holds a claim on (their process died, or its run stopped
    /// without ending them), oldest first, at most `limit`: those a worker
    /// adopts. Always none on a journal of one process.
    pub async fn orphaned_executions(
        &self,
        limit: usize,
    ) -> Result<Vec<ExecutionId>, JournalError> {
        self.runner.journal.orphans(limit).await
    }

    /// Whether the journal was opened read-only ([`HostBuilder::read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.runner.journal.is_read_only()
    }

    /// Makes everything journaled so far durable and reports whether it is:
    /// the error of any journal commit that failed since the host opened
    /// (with [`Durability::Eventual`], commits nobody waited for included),
    /// or of this last durable commit. Call it before reporting success
    /// when nothing else awaited the journal's last writes.
    ///
    /// The journal file is released once every clone of this host (and
    /// every [`Client`]) is dropped.
    pub async fn close(self) -> Result<(), JournalError> {
        self.sync().await
    }

    /// What [`Host::close`] does, keeping the host open: everything
    /// journaled so far is made durable, or the first commit error since the
    /// host opened is returned.
    pub async fn sync(&self) -> Result<(), JournalError> {
        self.runner.journal.sync().await
    }

    /// Keeps `component`'s bytes in the journal (durably), so that it can
    /// be found by hash after a restart ([`Client::component`]) before any
    /// execution has run it. Running it does this too.
    pub async fn store_component(&self, component: &Component) -> Result<(), JournalError> {
        let entry = crate::journal::Entry::Component {
            hash: component.hash(),
            bytes: component.bytes(),
        };
        self.runner
            .journal
            .write(&[entry], crate::journal::Sync::Durable)
            .await
    }

    /// The runner, for the background starts (`background.rs`).
    pub(crate) fn runner(&self) -> &Arc<Runner> {
        &self.runner
    }
}
