//! Pruning the redb journal: each step is one write transaction of its
//! own, beside the [`writer`](super::writer)'s (redb runs one write
//! transaction at a time, so a step and a group commit take turns; a step
//! is bounded by its caller, so a commit waits at most one step). A step
//! only removes records of ended executions its caller has claimed, which
//! nothing else writes, so it cannot reorder anything the writer commits.
//!
//! redb never shrinks its file, but the pages a step frees are reused by
//! later commits: under a steady load with pruning the file stops growing.
//!
//! Ids are never handed out twice: a step keeps the highest id the journal
//! has held in `meta` ([`LAST_EXECUTION_KEY`]), which opening reads beside
//! the last id of `executions`, so removing the newest execution does not
//! give its id to the next one.

use std::ops::Bound;
use std::path::Path;

use redb::{Database, Durability, ReadableTable, WriteTransaction};

use super::schema::{ATTEMPTS, CACHE, CALLS, EXECUTIONS, META, TIMERS, TIMES, UPGRADES, WAITS};
use super::writer::failure;
use crate::error::JournalError;
use crate::journal::{CacheEntry, CacheSweep, Pruned};
use crate::model::ExecutionId;

/// The key in `META` under which the highest execution id the journal
/// ever held is kept once a prune has run (absent before: then the last
/// key of `executions` is the highest).
pub(crate) const LAST_EXECUTION_KEY: &str = "last_execution_id";

/// The highest execution id a prune has seen, or 0 (read when opening).
pub(super) fn last_execution(txn: &redb::ReadTransaction) -> Result<u64, JournalError> {
    let table = match txn.open_table(META) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(super::storage(e)),
    };
    let value = table.get(LAST_EXECUTION_KEY).map_err(super::storage)?;
    Ok(value.map_or(0, |v| v.value()))
}

/// Removes executions `ids` with everything they own, and each of `cache`
/// that still points at its call, in one durable transaction (aborted in a
/// dry run).
pub(super) fn prune_executions(
    db: &Database,
    path: &Path,
    ids: &[ExecutionId],
    cache: &[CacheEntry],
    dry_run: bool,
) -> Result<Pruned, JournalError> {
    let failed = |e: redb::Error| failure(path, e);
    let mut txn = db.begin_write().map_err(|e| failed(e.into()))?;
    txn.set_durability(Durability::Immediate)
        .map_err(|e| failed(e.into()))?;
    let pruned = remove(&txn, ids, cache).map_err(failed)?;
    finish(txn, dry_run).map_err(failed)?;
    Ok(pruned)
}

fn remove(
    txn: &WriteTransaction,
    ids: &[ExecutionId],
    cache: &[CacheEntry],
) -> Result<Pruned, redb::Error> {
    let mut pruned = Pruned::default();
    let mut executions = txn.open_table(EXECUTIONS)?;
    let highest = executions.last()?.map(|(k, _)| k.value());
    {
        let mut meta = txn.open_table(META)?;
        let kept = meta.get(LAST_EXECUTION_KEY)?.map(|v| v.value());
        if let Some(highest) = highest.max(kept) {
            meta.insert(LAST_EXECUTION_KEY, highest)?;
        }
    }
    let mut calls = txn.open_table(CALLS)?;
    let mut attempts = txn.open_table(ATTEMPTS)?;
    let mut waits = txn.open_table(WAITS)?;
    let mut times = txn.open_table(TIMES)?;
    let mut timers = txn.open_table(TIMERS)?;
    let mut upgrades = txn.open_table(UPGRADES)?;
    let mut entries = txn.open_table(CACHE)?;
    for &ExecutionId(exec) in ids {
        let Some(record) = executions.remove(exec)? else {
            continue;
        };
        pruned.executions += 1;
        pruned.bytes += record.value().len() as u64;
        drop(record);
        let Pruned {
            calls: ref mut n_calls,
            attempts: ref mut n_attempts,
            waits: ref mut n_waits,
            times: ref mut n_times,
            timers: ref mut n_timers,
            upgrades: ref mut n_upgrades,
            ref mut bytes,
            ..
        } = pruned;
        calls.retain_in((exec, 0)..=(exec, u32::MAX), |_, v| {
            count(n_calls, bytes, v.len())
        })?;
        attempts.retain_in((exec, 0, 0)..=(exec, u32::MAX, u32::MAX), |_, v| {
            count(n_attempts, bytes, v.len())
        })?;
        waits.retain_in((exec, "")..(exec + 1, ""), |_, v| {
            count(n_waits, bytes, v.len())
        })?;
        times.retain_in((exec, 0)..=(exec, u32::MAX), |_, _| {
            count(n_times, bytes, 8)
        })?;
        timers.retain_in((exec, 0)..=(exec, u32::MAX), |_, v| {
            count(n_timers, bytes, v.len())
        })?;
        upgrades.retain_in((exec, 0)..=(exec, u32::MAX), |_, v| {
            count(n_upgrades, bytes, v.len())
        })?;
        super::links::remove(txn, exec)?;
    }
    for entry in cache {
        let points_here = entries
            .get(&entry.key[..])?
            .is_some_and(|at| at.value() == (entry.exec.0, entry.seq));
        // Only if the call is gone: an id the journal did not hold kept
        // its calls.
        if points_here && calls.get((entry.exec.0, entry.seq))?.is_none() {
            entries.remove(&entry.key[..])?;
            pruned.cache_entries += 1;
        }
    }
    Ok(pruned)
}

/// Counts a record removed by `retain_in` (whose predicate keeps what it
/// says `true` to).
fn count(n: &mut u64, bytes: &mut u64, len: usize) -> bool {
    *n += 1;
    *bytes += len as u64;
    false
}

/// Commits a step, or aborts it in a dry run.
fn finish(txn: WriteTransaction, dry_run: bool) -> Result<(), redb::Error> {
    if dry_run {
        txn.abort()?;
    } else {
        txn.commit()?;
    }
    Ok(())
}

/// One step of the sweep of cache entries whose call is gone: up to
/// `limit` entries after `after`, in one transaction.
pub(super) fn sweep_cache(
    db: &Database,
    path: &Path,
    after: Option<&[u8]>,
    limit: usize,
    dry_run: bool,
) -> Result<CacheSweep, JournalError> {
    let failed = |e: redb::Error| failure(path, e);
    let mut txn = db.begin_write().map_err(|e| failed(e.into()))?;
    txn.set_durability(Durability::Immediate)
        .map_err(|e| failed(e.into()))?;
    let sweep = sweep(&txn, after, limit).map_err(failed)?;
    finish(txn, dry_run).map_err(failed)?;
    Ok(sweep)
}

fn sweep(
    txn: &WriteTransaction,
    after: Option<&[u8]>,
    limit: usize,
) -> Result<CacheSweep, redb::Error> {
    let mut entries = txn.open_table(CACHE)?;
    let calls = txn.open_table(CALLS)?;
    let mut sweep = CacheSweep::default();
    let mut dangling: Vec<Vec<u8>> = Vec::new();
    let mut last = None;
    {
        let lower = match after {
            Some(key) => Bound::Excluded(key),
            None => Bound::Unbounded,
        };
        let range = entries.range::<&[u8]>((lower, Bound::Unbounded))?;
        for entry in range {
            let (key, at) = entry?;
            sweep.scanned += 1;
            let key = key.value().to_vec();
            if calls.get(at.value())?.is_none() {
                dangling.push(key.clone());
            }
            last = Some(key);
            if sweep.scanned >= limit as u64 {
                break;
            }
        }
    }
    for key in &dangling {
        entries.remove(&key[..])?;
    }
    sweep.removed = dangling.len() as u64;
    sweep.next = if sweep.scanned >= limit as u64 {
        last
    } else {
        None
    };
    Ok(sweep)
}
