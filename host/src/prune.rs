//! Retention: [`Host::prune`] removes ended executions older than a given
//! age, with everything they own, in bounded steps, while the host (a
//! `cairn serve`) goes on running others.
//!
//! - **What goes.** Executions that are completed, failed or cancelled (a
//!   running, waiting or parked one never goes) and ended before the
//!   cut-off, with their calls, attempts, waits, clock readings, retry
//!   timers, moves, and the cache entries that point at their calls; then
//!   every cache entry whose call is gone; then the components no execution
//!   references (`Journal::prune_components`: on redb its scan of every
//!   call reads a snapshot, and only the removal holds the writer).
//! - **What stays.** The source of a replay that stays (its resume reads
//!   the source's calls), and an execution someone holds a claim on (a run
//!   that started between the listing and the step): both are counted in
//!   the report.
//! - **Steps.** Each step claims at most [`PruneRequest::step_executions`]
//!   executions holding at most [`PruneRequest::step_calls`] calls (an
//!   execution is never split), checks each again under its claim, and
//!   removes them in one transaction: a crash between steps leaves whole
//!   executions, and running the prune again finishes the job.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::JournalError;
use crate::host::Host;
use crate::journal::record::{AttemptRecord, CallRecord, ExecutionRecord};
use crate::journal::{CacheEntry, ExecutionFilter, ExecutionLease, Journal, Pruned};
use crate::model::{CallSource, CallStatus, ExecutionId, ExecutionStatus};
use crate::policy::PolicyRecord;

/// The default [`PruneRequest::step_executions`].
pub const PRUNE_STEP_EXECUTIONS: usize = 64;

/// The default [`PruneRequest::step_calls`]: a step of 10,000 calls (and
/// as many attempts) commits in tens of milliseconds, the longest a
/// server's commits wait for it.
pub const PRUNE_STEP_CALLS: u64 = 10_000;

/// How many executions one listing page reads while selecting.
const PAGE: usize = 1_000;

/// How many cache entries one step of the sweep looks at.
const SWEEP_STEP: usize = 10_000;

/// What to prune: ended executions older than an age, of some statuses.
#[derive(Debug, Clone)]
pub struct PruneRequest {
    older_than: Duration,
    statuses: Vec<ExecutionStatus>,
    dry_run: bool,
    step_executions: usize,
    step_calls: u64,
    on_step: Option<OnStep>,
}

/// What is called after each step of a prune, with the report so far.
#[derive(Clone)]
struct OnStep(Arc<dyn Fn(&PruneReport) + Send + std::marker::Sync>);

impl std::fmt::Debug for OnStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnStep(..)")
    }
}

impl PruneRequest {
    /// Ended executions that ended more than `age` ago (by the host's
    /// clock); `Duration::ZERO` selects every ended execution.
    pub fn older_than(age: Duration) -> PruneRequest {
        PruneRequest {
            older_than: age,
            statuses: Vec::new(),
            dry_run: false,
            step_executions: PRUNE_STEP_EXECUTIONS,
            step_calls: PRUNE_STEP_CALLS,
            on_step: None,
        }
    }

    /// Calls `f` after each step that removed executions, with the report
    /// so far (a CLI shows progress with it).
    pub fn on_step(
        mut self,
        f: impl Fn(&PruneReport) + Send + std::marker::Sync + 'static,
    ) -> PruneRequest {
        self.on_step = Some(OnStep(Arc::new(f)));
        self
    }

    /// Only executions with this status (call again for several; default:
    /// completed, failed and cancelled). A status of executions that have
    /// not ended is refused by [`Host::prune`].
    pub fn status(mut self, status: ExecutionStatus) -> PruneRequest {
        if !self.statuses.contains(&status) {
            self.statuses.push(status);
        }
        self
    }

    /// Count what would go, and remove nothing.
    pub fn dry_run(mut self, dry_run: bool) -> PruneRequest {
        self.dry_run = dry_run;
        self
    }

    /// At most this many executions per step (at least 1). Default:
    /// [`PRUNE_STEP_EXECUTIONS`].
    pub fn step_executions(mut self, n: usize) -> PruneRequest {
        self.step_executions = n.max(1);
        self
    }

    /// At most this many calls per step, unless one execution holds more
    /// (it is never split). Default: [`PRUNE_STEP_CALLS`].
    pub fn step_calls(mut self, n: u64) -> PruneRequest {
        self.step_calls = n.max(1);
        self
    }

    fn selects(&self, record: &ExecutionRecord, cutoff_us: u64) -> bool {
        record.status.has_ended()
            && (self.statuses.is_empty() || self.statuses.contains(&record.status))
            && record.updated_at_us < cutoff_us
    }
}

/// What a prune removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneReport {
    /// Whether nothing was removed (the counts say what would have been).
    pub dry_run: bool,
    /// Executions that ended before this time (µs since the Unix epoch)
    /// were selected.
    pub cutoff_us: u64,
    /// The same time, RFC 3339 (UTC).
    pub cutoff: String,
    /// What the steps removed, by kind, with the bytes of the records.
    pub removed: Pruned,
    /// Cache entries whose call was gone already, removed by the sweep.
    pub dangling_cache_entries: u64,
    /// Components no execution references any more, removed (none in a
    /// dry run, which does not look).
    pub components: u64,
    /// The stored bytes of those components.
    pub component_bytes: u64,
    /// Selected executions kept because a replay that stays is linked to
    /// them (its resume reads their calls).
    pub kept_as_replay_sources: u64,
    /// Selected executions kept because a run held them (or they changed
    /// since they were listed).
    pub kept_busy: u64,
    /// How many transactions the prune made (steps and sweep).
    pub steps: u64,
}

/// Why a prune did not run or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PruneError {
    /// The request named the status of executions that have not ended.
    #[error(
        "{0} executions are never pruned: only completed, failed and cancelled ones (an execution that has not ended may still resume)"
    )]
    NotEnded(ExecutionStatus),
    /// The journal failed (the steps committed before stay done; running
    /// the prune again finishes the job).
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A selected execution.
struct Selected {
    id: ExecutionId,
    calls: u32,
    original: Option<u64>,
}

impl Host {
    /// Removes the ended executions `request` selects, with everything they
    /// own, in bounded steps (see the module docs); runs beside executions
    /// this host (or another process sharing the journal) is running.
    pub async fn prune(&self, request: &PruneRequest) -> Result<PruneReport, PruneError> {
        if let Some(&status) = request.statuses.iter().find(|s| !s.has_ended()) {
            return Err(PruneError::NotEnded(status));
        }
        let runner = self.runner();
        let journal: &dyn Journal = &*runner.journal;
        let age_us = u64::try_from(request.older_than.as_micros()).unwrap_or(u64::MAX);
        let cutoff_us = runner.clock.now_us().saturating_sub(age_us);
        let mut report = PruneReport {
            dry_run: request.dry_run,
            cutoff_us,
            cutoff: crate::timefmt::rfc3339(cutoff_us),
            ..PruneReport::default()
        };
        let selected = select(journal, request, cutoff_us, &mut report).await?;
        let mut at = 0;
        while at < selected.len() {
            let mut end = at;
            let mut calls = 0u64;
            while end < selected.len()
                && end - at < request.step_executions
                && (end == at || calls + u64::from(selected[end].calls) <= request.step_calls)
            {
                calls += u64::from(selected[end].calls);
                end += 1;
            }
            step(journal, request, cutoff_us, &selected[at..end], &mut report).await?;
            at = end;
        }
        let mut after = None;
        loop {
            let sweep = journal
                .sweep_cache(after, SWEEP_STEP, request.dry_run)
                .await?;
            report.steps += 1;
            report.dangling_cache_entries += sweep.removed;
            match sweep.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        // Components no execution references any more (a dry run cannot
        // tell without removing them: it counts none).
        if !request.dry_run {
            let freed = journal.prune_components().await?;
            report.components = freed.components;
            report.component_bytes = freed.bytes;
            report.steps += 1;
        }
        Ok(report)
    }
}

/// The executions to prune, in id order: those `request` selects, less the
/// sources of replays that stay (counted in `report`).
async fn select(
    journal: &dyn Journal,
    request: &PruneRequest,
    cutoff_us: u64,
    report: &mut PruneReport,
) -> Result<Vec<Selected>, JournalError> {
    let mut selected = Vec::new();
    // Sources of replays that stay.
    let mut needed: BTreeSet<u64> = BTreeSet::new();
    let mut after = None;
    loop {
        let filter = ExecutionFilter {
            after,
            limit: Some(PAGE),
            ..ExecutionFilter::default()
        };
        let page = journal.executions(&filter).await?;
        let Some((last, _, _)) = page.last() else {
            break;
        };
        after = Some(*last);
        for (id, record, calls) in page {
            if request.selects(&record, cutoff_us) {
                selected.push(Selected {
                    id,
                    calls,
                    original: record.original_exec_id,
                });
            } else if let Some(source) = record.original_exec_id {
                needed.insert(source);
            }
        }
    }
    // A selected source that stays keeps its own source too: newest first,
    // since a replay's source is older than the replay.
    let mut kept: BTreeSet<u64> = BTreeSet::new();
    for one in selected.iter().rev() {
        if needed.contains(&one.id.0) {
            kept.insert(one.id.0);
            if let Some(source) = one.original {
                needed.insert(source);
            }
        }
    }
    report.kept_as_replay_sources = kept.len() as u64;
    selected.retain(|one| !kept.contains(&one.id.0));
    Ok(selected)
}

/// One step: claims `batch`, checks each again under its claim, and
/// removes those still selected in one transaction.
async fn step(
    journal: &dyn Journal,
    request: &PruneRequest,
    cutoff_us: u64,
    batch: &[Selected],
    report: &mut PruneReport,
) -> Result<(), JournalError> {
    let mut leases: Vec<ExecutionLease> = Vec::with_capacity(batch.len());
    let mut ids = Vec::with_capacity(batch.len());
    let mut cache = Vec::new();
    for one in batch {
        let lease = match journal.claim(one.id).await {
            Ok(lease) => lease,
            Err(JournalError::Claimed { .. }) => {
                report.kept_busy += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        match journal.history(one.id).await {
            Ok(Some(history)) => {
                if !request.selects(&history.execution, cutoff_us) {
                    report.kept_busy += 1;
                    continue;
                }
                for call in &history.calls {
                    if let Some((_, last)) = call.attempts.last()
                        && let Some(key) = cache_key(&call.call, last)
                    {
                        cache.push(CacheEntry {
                            key,
                            exec: one.id,
                            seq: call.seq,
                        });
                    }
                }
            }
            // Gone since it was listed (another prune).
            Ok(None) => continue,
            // A damaged history still goes: its record says it ended, and
            // the sweep removes cache entries left pointing at its calls.
            Err(JournalError::Corrupt { .. }) => match journal.execution(one.id).await? {
                Some(record) if request.selects(&record, cutoff_us) => {}
                _ => {
                    report.kept_busy += 1;
                    continue;
                }
            },
            Err(e) => return Err(e),
        }
        ids.push(one.id);
        leases.push(lease);
    }
    if ids.is_empty() {
        return Ok(());
    }
    let pruned = journal
        .prune_executions(&ids, &cache, request.dry_run)
        .await?;
    report.removed.add(&pruned);
    report.steps += 1;
    drop(leases);
    if let Some(OnStep(f)) = &request.on_step {
        f(report);
    }
    Ok(())
}

/// The cache key a completed call was entered under, worked out from its
/// record and its last attempt, which ran under the policy whose grants
/// are part of the key. `None` for a call that made no entry: not
/// completed, not executed (its output was cached, replayed or
/// overridden), or whose attempt recorded no policy.
fn cache_key(call: &CallRecord, last_attempt: &AttemptRecord) -> Option<[u8; 32]> {
    if call.status != CallStatus::Completed || call.source != CallSource::Executed {
        return None;
    }
    let policy = last_attempt.policy.as_ref()?;
    Some(crate::runner::cache::key(
        call.component,
        &grants_of(policy),
        &call.name,
        &call.input,
    ))
}

/// What a recorded policy grants, as the cache key holds it: the same text
/// as `Policy::grants` (a test below keeps the two together).
fn grants_of(record: &PolicyRecord) -> String {
    format!(
        "dirs={:?};env={:?};http={:?}",
        record.dirs, record.env, record.http
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    /// The grants a key is made of are read back from the attempt's
    /// recorded policy exactly as the runner made them.
    #[test]
    fn recorded_grants_are_the_policys_grants() {
        let dir = tempfile::tempdir().expect("temp dir");
        let policy = Policy::default()
            .allow_dir(dir.path(), "/data", true)
            .allow_env("HOME")
            .allow_http("example.com");
        assert_eq!(grants_of(&policy.record()), policy.grants());
        assert_eq!(
            grants_of(&Policy::default().record()),
            Policy::default().grants()
        );
    }
}
