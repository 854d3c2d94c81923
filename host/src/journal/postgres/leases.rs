//! Claims of executions in a database several processes share: each
//! claim is a row of `cairn_leases` with an epoch, an owner (this
//! journal's random name) and an expiry that a heartbeat pushes back while
//! the process lives.
//!
//! - A claim takes the row when nobody holds it: no row, an expired one,
//!   or one of this owner that no run in this process holds (a set in
//!   memory keeps two runs of one process apart). Each claim adds one to
//!   the epoch.
//! - Every write of an execution held here names the epoch held, and the
//!   write's statement checks it (`cairn_fence`): a process that was
//!   paused past its lease, whose execution another took over (a higher
//!   epoch), cannot commit anything for it any more.
//! - Dropping a lease expires the row at once, so that another process
//!   may take it without waiting; a process that dies leaves it to expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::runtime::Handle;

use super::group::big;
use crate::error::JournalError;
use crate::journal::ExecutionLease;
use crate::model::ExecutionId;

/// Claims a free row (or makes it); returns the new epoch, or nothing when
/// another owner holds it.
const CLAIM: &str = "INSERT INTO cairn_leases AS l (exec, epoch, owner, expires_at)
    VALUES ($1, 1, $2, clock_timestamp() + $3::BIGINT * interval '1 millisecond')
    ON CONFLICT (exec) DO UPDATE SET epoch = l.epoch + 1, owner = excluded.owner,
        expires_at = excluded.expires_at
    WHERE l.expires_at <= clock_timestamp() OR l.owner = excluded.owner
    RETURNING epoch";

/// A new execution's id and its claim, in one round trip.
const CREATE: &str = "INSERT INTO cairn_leases AS l (exec, epoch, owner, expires_at)
    VALUES (nextval('cairn_execution_ids'), 1, $1,
        clock_timestamp() + $2::BIGINT * interval '1 millisecond')
    ON CONFLICT (exec) DO UPDATE SET epoch = l.epoch + 1, owner = excluded.owner,
        expires_at = excluded.expires_at
    WHERE l.expires_at <= clock_timestamp() OR l.owner = excluded.owner
    RETURNING exec, epoch";

/// Lets others take a lease now.
const RELEASE: &str = "UPDATE cairn_leases SET expires_at = clock_timestamp()
    WHERE exec = $1 AND owner = $2 AND epoch = $3";

/// Pushes back the expiry of the leases held. Their rows are locked in
/// the order of their ids, as a write's fence locks them (`cairn_fence`
/// walks its executions in order), so that the two never deadlock.
const RENEW: &str = "UPDATE cairn_leases
    SET expires_at = clock_timestamp() + $3::BIGINT * interval '1 millisecond'
    WHERE exec IN (SELECT exec FROM cairn_leases WHERE owner = $1 AND exec = ANY($2)
        ORDER BY exec FOR UPDATE)";

/// Executions left `running` whose claim lapsed (or that never had one),
/// oldest first.
const ORPHANS: &str = "SELECT e.id FROM cairn_executions e
    WHERE e.status = 'running' AND NOT EXISTS (SELECT 1 FROM cairn_leases l
        WHERE l.exec = e.id AND l.expires_at > clock_timestamp())
    ORDER BY e.id LIMIT $1";

/// Executions left `running` that no process holds a claim on.
pub(super) async fn orphans(pool: Pool, limit: usize) -> Result<Vec<ExecutionId>, JournalError> {
    let client = pool
        .get()
        .await
        .map_err(storage("connecting to read claims"))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(ORPHANS, &[&limit])
        .await
        .map_err(storage("reading the executions nobody runs"))?;
    Ok(rows
        .iter()
        .map(|row| ExecutionId(row.get::<_, i64>(0).unsigned_abs()))
        .collect())
}

/// This process's claims.
pub(super) struct Leases {
    pool: Pool,
    runtime: Handle,
    owner: String,
    lease: Duration,
    /// Executions claimed here, with their epoch (`None` while claiming).
    held: Arc<Mutex<HashMap<ExecutionId, Option<i64>>>>,
    /// Set to stop renewing, as a paused process would (for tests).
    #[cfg(test)]
    stopped: Arc<std::sync::atomic::AtomicBool>,
}

impl Leases {
    /// Claims made as `owner`, lasting `lease` unless renewed; the
    /// heartbeat that renews them runs on `runtime` until it shuts down.
    pub(super) fn start(pool: Pool, runtime: Handle, owner: String, lease: Duration) -> Leases {
        let leases = Leases {
            pool,
            runtime,
            owner,
            lease,
            held: Arc::default(),
            #[cfg(test)]
            stopped: Arc::default(),
        };
        leases.heartbeat();
        leases
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
    }

    /// Claims `exec`: [`JournalError::Claimed`] if a run of this process
    /// or another process holds it.
    pub(super) async fn claim(&self, exec: ExecutionId) -> Result<ExecutionLease, JournalError> {
        {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            if held.contains_key(&exec) {
                return Err(JournalError::Claimed { exec });
            }
            held.insert(exec, None);
        }
        let claimed = self.claim_row(exec).await;
        match claimed {
            Ok(Some(epoch)) => Ok(self.hold(exec, epoch)),
            Ok(None) => {
                self.forget(exec);
                Err(JournalError::Claimed { exec })
            }
            Err(e) => {
                self.forget(exec);
                Err(e)
            }
        }
    }

    async fn claim_row(&self, exec: ExecutionId) -> Result<Option<i64>, JournalError> {
        let pool = self.pool.clone();
        let (owner, ms) = (self.owner.clone(), self.lease_ms());
        let id = big(exec.0);
        self.on_runtime(async move {
            let client = pool.get().await.map_err(storage("connecting to claim"))?;
            let row = client
                .query_opt(CLAIM, &[&id, &owner, &ms])
                .await
                .map_err(storage("claiming an execution"))?;
            Ok(row.map(|r| r.get::<_, i64>(0)))
        })
        .await
    }

    /// A new execution id, claimed here.
    pub(super) async fn create(&self) -> Result<(ExecutionId, ExecutionLease), JournalError> {
        loop {
            let pool = self.pool.clone();
            let (owner, ms) = (self.owner.clone(), self.lease_ms());
            let row = self
                .on_runtime(async move {
                    let client = pool.get().await.map_err(storage("connecting to create"))?;
                    let row = client
                        .query_opt(CREATE, &[&owner, &ms])
                        .await
                        .map_err(storage("creating an execution"))?;
                    Ok(row.map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1))))
                })
                .await?;
            // No row: a resume of an id not made yet holds it; take the next.
            let Some((id, epoch)) = row else { continue };
            let exec = ExecutionId(id as u64);
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            if held.contains_key(&exec) {
                continue;
            }
            held.insert(exec, Some(epoch));
            drop(held);
            return Ok((exec, self.lease(exec, epoch)));
        }
    }

    /// This process's name in the claims it takes.
    pub(super) fn owner(&self) -> &str {
        &self.owner
    }

    /// What says, whenever asked, which executions this process holds
    /// (claimed or being claimed); `None` once the leases are gone.
    pub(super) fn held_now(&self) -> super::stops::HeldNow {
        let held = Arc::downgrade(&self.held);
        Box::new(move || {
            let held = held.upgrade()?;
            let ids = held
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .keys()
                .map(|e| big(e.0))
                .collect();
            Some(ids)
        })
    }

    /// The epoch held for `exec`, if a run here holds it.
    pub(super) fn epoch(&self, exec: i64) -> Option<i64> {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(&ExecutionId(exec as u64)).copied().flatten()
    }

    fn hold(&self, exec: ExecutionId, epoch: i64) -> ExecutionLease {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(exec, Some(epoch));
        self.lease(exec, epoch)
    }

    fn lease(&self, exec: ExecutionId, epoch: i64) -> ExecutionLease {
        let held = self.held.clone();
        let pool = self.pool.clone();
        let runtime = self.runtime.clone();
        let owner = self.owner.clone();
        ExecutionLease::new(exec, epoch.unsigned_abs(), move || {
            held.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&exec);
            // Best effort: a lease not released expires by itself.
            runtime.spawn(async move {
                if let Ok(client) = pool.get().await {
                    let _ = client
                        .execute(RELEASE, &[&big(exec.0), &owner, &epoch])
                        .await;
                }
            });
        })
    }

    fn forget(&self, exec: ExecutionId) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&exec);
    }

    /// Stops renewing the leases, as a process paused by SIGSTOP would.
    #[cfg(test)]
    pub(super) fn stop_heartbeat(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Renews the leases held, three times per lease.
    fn heartbeat(&self) {
        #[cfg(test)]
        let stopped = self.stopped.clone();
        let held = Arc::downgrade(&self.held);
        let pool = self.pool.clone();
        let owner = self.owner.clone();
        let (every, ms) = (self.lease / 3, self.lease_ms());
        self.runtime.spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                #[cfg(test)]
                if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                let Some(held) = held.upgrade() else { return };
                let ids: Vec<i64> = held
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .keys()
                    .map(|e| big(e.0))
                    .collect();
                drop(held);
                if ids.is_empty() {
                    continue;
                }
                // A failed renewal is retried at the next tick; a lease
                // that expires meanwhile is fenced at its next write.
                if let Ok(client) = pool.get().await {
                    let _ = client.execute(RENEW, &[&owner, &ids, &ms]).await;
                }
            }
        });
    }

    /// Runs `work` on the journal's runtime, where its connections live.
    async fn on_runtime<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, JournalError>> + Send + 'static,
    ) -> Result<T, JournalError> {
        self.runtime
            .spawn(work)
            .await
            .map_err(|_| JournalError::Closed)?
    }
}

/// A driver error while doing `context`.
pub(super) fn storage<E: std::error::Error + Send + Sync + 'static>(
    context: &'static str,
) -> impl Fn(E) -> JournalError {
    move |e| JournalError::storage(context, e)
}
