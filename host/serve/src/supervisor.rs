//! Which executions run: at most `max_executions` at once (more wait for a
//! slot, a bounded number of them), those a crashed server left `running`
//! resumed on start, those parked on a retry timer resumed when it is due,
//! and all of them given a grace period on shutdown.
//!
//! An execution holds a slot while its flow runs; one that waits for input
//! holds none (its flow is unloaded), and answering it takes a slot again.
//! One parked on a call's retry timer holds none either: a wake-up, a plain
//! sleep until the journaled due time, resumes it then. The timers are in
//! the journal, so a shutdown just drops the wake-ups and the next start
//! schedules them again (an overdue one at once).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cairn_host::{
    Clock, Component, ExecutionFilter, ExecutionId, ExecutionStatus, Host, JournalError, Outcome,
    ReplayError, ReplayRequest, ResumeError, RunError, Started, SystemClock,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::adoption::Adoptions;
use crate::api::Accepted;
use crate::error::ApiError;

pub(crate) struct Supervisor {
    host: Host,
    slots: Arc<Semaphore>,
    max_executions: usize,
    max_queued: usize,
    queued: AtomicUsize,
    running: Arc<AtomicUsize>,
    draining: AtomicBool,
    tasks: TaskTracker,
    /// This server's runs, by execution: each is cancelled when its run
    /// has let go of the execution.
    runs: std::sync::Mutex<RunsById>,
    /// Cancelled on shutdown: wake-ups of parked executions are dropped
    /// (their timers stay in the journal), not waited for.
    wakes: CancellationToken,
}

/// How long a wake-up that found the server busy waits before it tries
/// again.
const BUSY_RETRY: Duration = Duration::from_secs(1);

/// Gives a queued request's place back, however its wait ends.
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a running execution while alive.
struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Supervisor {
    pub(crate) fn new(host: Host, max_executions: usize, max_queued: usize) -> Supervisor {
        let max_executions = max_executions.max(1);
        Supervisor {
            host,
            slots: Arc::new(Semaphore::new(max_executions)),
            max_executions,
            max_queued,
            queued: AtomicUsize::new(0),
            running: Arc::new(AtomicUsize::new(0)),
            draining: AtomicBool::new(false),
            tasks: TaskTracker::new(),
            runs: std::sync::Mutex::new(RunsById::default()),
            wakes: CancellationToken::new(),
        }
    }

    /// Executions running now.
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Whether the server is shutting down.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Starts `flow` of `component` as a new execution, once a slot is free.
    pub(crate) async fn start(
        self: &Arc<Self>,
        component: &Component,
        flow: &str,
        input: &str,
    ) -> Result<Accepted, ApiError> {
        let slot = self.slot().await?;
        let supervisor = self.clone();
        let (component, flow, input) = (component.clone(), flow.to_owned(), input.to_owned());
        self.detached(async move {
            let started = supervisor.host.start(&component, &flow, &input).await?;
            Ok(supervisor.track(started, slot))
        })
        .await
    }

    /// Starts the run of schedule `name` due at `due_us` as a new
    /// execution, once a slot is free; `409 not_due` when the schedule has
    /// moved on (another worker started the run, or it was paused).
    pub(crate) async fn start_scheduled(
        self: &Arc<Self>,
        name: &str,
        due_us: u64,
    ) -> Result<Accepted, ApiError> {
        let slot = self.slot().await?;
        let supervisor = self.clone();
        let name = name.to_owned();
        self.detached(async move {
            let started = (supervisor.host.start_scheduled(&name, due_us).await).map_err(|e| {
                if crate::scheduler::is_not_due(&e) {
                    ApiError::new(axum::http::StatusCode::CONFLICT, "not_due", e.to_string())
                } else {
                    ApiError::from(e)
                }
            })?;
            Ok(supervisor.track(started, slot))
        })
        .await
    }

    /// Resumes execution `id` in the background, once a slot is free.
    pub(crate) async fn resume(self: &Arc<Self>, id: ExecutionId) -> Result<Accepted, ApiError> {
        let slot = self.slot().await?;
        let supervisor = self.clone();
        self.detached(async move {
            let started = match supervisor.host.start_resume(id).await {
                // A run of ours has reported where it stopped (a wait, say)
                // and is letting go of the execution: a client that answers
                // at once is not refused for being quick.
                Err(ResumeError::AlreadyRunning(_)) if let Some(ended) = supervisor.run_of(id) => {
                    let _ = tokio::time::timeout(LETTING_GO, ended.cancelled()).await;
                    supervisor.host.start_resume(id).await?
                }
                started => started?,
            };
            Ok(supervisor.track(started, slot))
        })
        .await
    }

    /// Replays `source` as a new execution, once a slot is free.
    pub(crate) async fn replay(
        self: &Arc<Self>,
        source: ExecutionId,
        request: ReplayRequest,
    ) -> Result<Accepted, ApiError> {
        let slot = self.slot().await?;
        let supervisor = self.clone();
        self.detached(async move {
            let started = supervisor.host.start_replay(source, request).await?;
            Ok(supervisor.track(started, slot))
        })
        .await
    }

    /// Whether this server runs `id` now (a run it started or resumed).
    pub(crate) fn runs_here(&self, id: ExecutionId) -> bool {
        self.run_of(id).is_some()
    }

    /// The token of this server's run of `id`, if one is going on.
    fn run_of(&self, id: ExecutionId) -> Option<CancellationToken> {
        self.runs_lock().of(id)
    }

    fn runs_lock(&self) -> std::sync::MutexGuard<'_, RunsById> {
        // The map stays whole whatever a holder did: take it even if poisoned.
        self.runs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `begin` (a journal write that makes or claims an execution, then
    /// its hand-over to [`Supervisor::track`]) as a task of its own. A
    /// request's future is dropped when its client goes away; dropped
    /// between the write and the hand-over, it would leave an execution
    /// `running` that nobody runs until the next start. A task is not
    /// dropped with the request: the client only stops waiting for it.
    async fn detached(
        &self,
        begin: impl Future<Output = Result<Accepted, ApiError>> + Send + 'static,
    ) -> Result<Accepted, ApiError> {
        self.tasks
            .spawn(begin)
            .await
            .map_err(|e| ApiError::internal(format!("starting the execution failed: {e}")))?
    }

    /// Resumes, in the background, every execution a previous server left
    /// `running` (it was killed, or its grace period ran out): completed
    /// calls are reused, the rest run again. Call before serving requests,
    /// so that only those are found.
    pub(crate) async fn recover(self: &Arc<Self>) -> Result<usize, ApiError> {
        let left = self.left_running().await?;
        let count = left.len();
        for id in left {
            let supervisor = self.clone();
            self.tasks.spawn(async move {
                if let Err(e) = supervisor.resume(id).await {
                    // On a shared journal, another live worker runs it.
                    if supervisor.host.journal_is_shared() && e.kind == "already_running" {
                        tracing::debug!(exec = %id, "running in another worker");
                        return;
                    }
                    tracing::warn!(exec = %id, error = %e.message, "cannot resume");
                    eprintln!("cairn serve: cannot resume execution {id}: {}", e.message);
                }
            });
        }
        Ok(count)
    }

    /// The executions to resume on start: on a journal of one process,
    /// every one left `running`; on a shared one, those no live worker
    /// holds a claim on (the rest are theirs).
    async fn left_running(&self) -> Result<Vec<ExecutionId>, ApiError> {
        if self.host.journal_is_shared() {
            return Ok(self.host.orphaned_executions(ADOPT_AT_ONCE).await?);
        }
        let filter = ExecutionFilter {
            status: Some(ExecutionStatus::Running),
            ..ExecutionFilter::default()
        };
        let left = self.host.client().executions(&filter).await?;
        Ok(left.into_iter().map(|e| e.id).collect())
    }

    /// With a journal other workers share (PostgreSQL), looks every
    /// `every` for the work of workers that died, and takes it on:
    /// - executions left `running` whose claim lapsed (their worker died,
    ///   or stopped mid-run), resumed here;
    /// - executions parked on a retry timer that is due: the worker that
    ///   parked them holds their wake-up in memory only, and may be gone.
    ///   (Executions waiting for input hold no claim: an answer through
    ///   any worker resumes them there.)
    ///
    /// A resume claims first, so what another live worker took meanwhile
    /// is refused at once and left be. One whose runs keep stopping is
    /// tried again later and later (see [`Adoptions`]). Stops when the
    /// server stops.
    pub(crate) fn adopt_every(self: &Arc<Self>, every: Duration) {
        let supervisor = self.clone();
        tokio::spawn(async move {
            let mut adoptions = Adoptions::default();
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = supervisor.wakes.cancelled() => return,
                }
                if supervisor.is_draining() {
                    return;
                }
                let orphans = supervisor
                    .host
                    .orphaned_executions(ADOPT_AT_ONCE)
                    .await
                    .unwrap_or_default();
                let due = supervisor.due_parked().await;
                let found: BTreeSet<ExecutionId> = orphans.iter().chain(&due).copied().collect();
                adoptions.keep_only(&found);
                for id in orphans.into_iter().chain(due) {
                    if supervisor.run_of(id).is_some() || !adoptions.due(id, Instant::now()) {
                        continue;
                    }
                    match supervisor.resume(id).await {
                        Ok(_) => {
                            let (tries, wait) = adoptions.tried(id, Instant::now());
                            if tries == 1 {
                                tracing::info!(exec = %id, "adopted an execution whose worker stopped");
                            } else {
                                tracing::info!(
                                    exec = %id,
                                    tries,
                                    next_in_s = wait.as_secs(),
                                    "adopted again an execution whose runs keep stopping"
                                );
                            }
                        }
                        // Taken by a live worker meanwhile, or no slot
                        // free: looked at again next time.
                        Err(e)
                            if e.kind == "already_running"
                                || e.status == axum::http::StatusCode::SERVICE_UNAVAILABLE =>
                        {
                            tracing::debug!(exec = %id, error = %e.message, "not adopted");
                        }
                        // Refused for a reason of its own: tried again
                        // later and later.
                        Err(e) => {
                            let (tries, wait) = adoptions.tried(id, Instant::now());
                            tracing::debug!(
                                exec = %id,
                                tries,
                                next_in_s = wait.as_secs(),
                                error = %e.message,
                                "not adopted"
                            );
                        }
                    }
                }
            }
        });
    }

    /// Executions parked on a retry timer that is due now and that are
    /// still parked (`waiting`): none of this server's runs holds them.
    async fn due_parked(&self) -> Vec<ExecutionId> {
        let client = self.host.client();
        let Ok(retries) = client.retries(None).await else {
            return Vec::new();
        };
        let now = SystemClock.now_us();
        let due: std::collections::BTreeSet<ExecutionId> = retries
            .iter()
            .filter(|(_, retry)| retry.due_at_us <= now)
            .map(|(id, _)| *id)
            .collect();
        let mut parked = Vec::new();
        for id in due {
            let waiting = client
                .summary(id)
                .await
                .ok()
                .flatten()
                .is_some_and(|e| e.status == ExecutionStatus::Waiting);
            if waiting {
                parked.push(id);
            }
        }
        parked
    }

    /// Schedules a wake-up for every execution parked on a retry timer
    /// (overdue ones at once), and returns how many. Executions left
    /// `running` are not among them: [`Supervisor::recover`] resumes those,
    /// and their resume waits for the timer itself.
    pub(crate) async fn schedule_parked(self: &Arc<Self>) -> Result<usize, ApiError> {
        let client = self.host.client();
        let mut earliest: BTreeMap<ExecutionId, u64> = BTreeMap::new();
        for (id, retry) in client.retries(None).await? {
            let due = earliest.entry(id).or_insert(retry.due_at_us);
            *due = (*due).min(retry.due_at_us);
        }
        let mut scheduled = 0;
        for (id, due_at_us) in earliest {
            let parked = client
                .summary(id)
                .await?
                .is_some_and(|e| e.status == ExecutionStatus::Waiting);
            if parked {
                self.wake_at(id, due_at_us);
                scheduled += 1;
            }
        }
        Ok(scheduled)
    }

    /// Resumes `id` at `due_at_us` (µs since the Unix epoch), unless the
    /// server stops first. A resume that finds the execution running
    /// already (someone resumed it by hand: it waits for its timer itself)
    /// or ended leaves it be; one that finds every slot taken and the queue
    /// full tries again shortly.
    pub(crate) fn wake_at(self: &Arc<Self>, id: ExecutionId, due_at_us: u64) {
        let supervisor = self.clone();
        tokio::spawn(async move {
            let mut left = until(due_at_us);
            loop {
                tokio::select! {
                    () = tokio::time::sleep(left) => {}
                    () = supervisor.wakes.cancelled() => return,
                }
                let error = match supervisor.resume(id).await {
                    Ok(_) => return,
                    Err(error) => error,
                };
                if supervisor.is_draining() {
                    return;
                }
                if error.status != axum::http::StatusCode::SERVICE_UNAVAILABLE {
                    tracing::info!(exec = %id, error = %error.message, "parked execution not resumed");
                    return;
                }
                left = BUSY_RETRY;
            }
        });
    }

    /// After a run: an execution that parked on a retry timer gets its
    /// wake-up; one that stopped to wait for a child that has ended since
    /// is resumed (see `children`).
    async fn after_run(self: &Arc<Self>, outcome: &Outcome) {
        if outcome.status == ExecutionStatus::Waiting {
            self.wake_when_due(outcome.id).await;
            crate::children::resume_if_a_child_ended(&self.host, self, outcome.id).await;
        }
    }

    /// Gives a waiting execution a wake-up for its earliest timer (a
    /// parked retry, a sleep, a wait's deadline), if it has one.
    pub(crate) async fn wake_when_due(self: &Arc<Self>, id: ExecutionId) {
        match self.host.client().retries(Some(id)).await {
            Ok(retries) => {
                if let Some(due) = retries.iter().map(|(_, r)| r.due_at_us).min() {
                    self.wake_at(id, due);
                }
            }
            Err(e) => {
                let message = crate::error::chain(&e);
                tracing::warn!(exec = %id, error = %message, "cannot read retry timers");
                eprintln!(
                    "cairn serve: execution {id}: cannot read its retry timers ({message}); it is resumed by the next start"
                );
            }
        }
    }

    /// Refuses new work from now on; requests waiting for a slot get `503`,
    /// and wake-ups of parked executions are dropped.
    pub(crate) fn stop_taking_work(&self) {
        self.draining.store(true, Ordering::Relaxed);
        self.slots.close();
        self.wakes.cancel();
    }

    /// Stops taking work and gives running executions `grace` to finish.
    /// Returns how many were still running when it ran out; they stay
    /// `running` in the journal and are resumed on the next start.
    pub(crate) async fn drain(&self, grace: Duration) -> usize {
        self.stop_taking_work();
        self.tasks.close();
        let _ = tokio::time::timeout(grace, self.tasks.wait()).await;
        self.running()
    }

    /// A slot for one running execution: at once when one is free, after a
    /// wait when `max_queued` requests are not waiting already, else `503`.
    async fn slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if self.is_draining() {
            return Err(ApiError::unavailable("the server is shutting down"));
        }
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.queued.fetch_add(1, Ordering::Relaxed) >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(ApiError::unavailable(format!(
                "the server is busy: {} executions running and {} waiting to start",
                self.max_executions, self.max_queued
            )));
        }
        let _queued = Queued(&self.queued);
        self.slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::unavailable("the server is shutting down"))
    }

    /// Runs a started execution to its end (or to where it stops) in a
    /// tracked task that holds `slot` until then.
    fn track<E>(self: &Arc<Self>, started: Started<E>, slot: OwnedSemaphorePermit) -> Accepted
    where
        E: std::error::Error + Send + 'static,
    {
        let id = started.id();
        self.running.fetch_add(1, Ordering::Relaxed);
        let running = Running(self.running.clone());
        let supervisor = self.clone();
        let ended = self.runs_lock().begin(id);
        self.tasks.spawn(async move {
            let result = started.outcome().await;
            // The slot and the count go first: whoever the end wakes (an
            // answer waiting for the run) sees the server without it.
            drop(slot);
            drop(running);
            supervisor.runs_lock().end(id, &ended);
            if let Ok(outcome) = &result {
                supervisor.after_run(outcome).await;
            }
            report(id, result);
        });
        Accepted {
            id,
            status: ExecutionStatus::Running,
        }
    }
}

/// The most executions of stopped workers one look adopts; the rest wait
/// for the next look (each adoption waits for a slot of this server).
const ADOPT_AT_ONCE: usize = 256;

/// How long a resume waits for a run of this server that is ending to let
/// go of the execution before it is refused as already running.
const LETTING_GO: Duration = Duration::from_secs(5);

/// This server's runs by execution, each with a token cancelled when it
/// ends; a run is told from a later run of the same execution by its token.
#[derive(Default)]
struct RunsById(std::collections::HashMap<ExecutionId, CancellationToken>);

impl RunsById {
    /// Notes a run of `id` starting; returns its token.
    fn begin(&mut self, id: ExecutionId) -> CancellationToken {
        let token = CancellationToken::new();
        self.0.insert(id, token.clone());
        token
    }

    /// Notes the run with `token` ended: cancels the token and forgets the
    /// run, unless a later run of `id` has taken its place.
    fn end(&mut self, id: ExecutionId, token: &CancellationToken) {
        token.cancel();
        if self.0.get(&id).is_some_and(CancellationToken::is_cancelled) {
            self.0.remove(&id);
        }
    }

    fn of(&self, id: ExecutionId) -> Option<CancellationToken> {
        self.0.get(&id).cloned()
    }
}

/// How long until `due_at_us` (µs since the Unix epoch) on the wall clock
/// (the server's host runs on the system clock); zero once it has passed.
/// A wake-up a little early costs nothing: the resume waits for the
/// journaled due time itself.
fn until(due_at_us: u64) -> Duration {
    Duration::from_micros(due_at_us.saturating_sub(SystemClock.now_us()))
}

/// Logs how a background execution ended when it could not run; its
/// outcome is in the journal and in the event stream.
fn report<E: std::error::Error + 'static>(id: ExecutionId, result: Result<Outcome, E>) {
    if let Err(e) = result {
        // Another worker carries it on: this one only lets go of it.
        if let Some(taken) = taken_over(&e) {
            tracing::info!(exec = %id, error = %taken, "execution taken over by another worker");
            eprintln!("cairn serve: {taken}");
            return;
        }
        let message = crate::error::chain(&e);
        tracing::warn!(exec = %id, error = %message, "execution stopped");
        eprintln!("cairn serve: execution {id}: {message}");
    }
}

/// The takeover, if a run stopped because another worker sharing the
/// journal took its execution over (its writes were fenced).
fn taken_over<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a JournalError> {
    let journal = if let Some(e) = error.downcast_ref::<RunError>() {
        match e {
            RunError::Journal(j) => Some(j),
            _ => None,
        }
    } else if let Some(e) = error.downcast_ref::<ResumeError>() {
        match e {
            ResumeError::Journal(j) => Some(j),
            _ => None,
        }
    } else if let Some(e) = error.downcast_ref::<ReplayError>() {
        match e {
            ReplayError::Journal(j) => Some(j),
            _ => None,
        }
    } else {
        error.downcast_ref::<JournalError>()
    };
    journal.filter(|j| matches!(j, JournalError::TakenOver { .. }))
}
