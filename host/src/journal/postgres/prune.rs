//! Pruning the PostgreSQL journal: each step is one transaction of
//! `DELETE … WHERE exec = ANY(ids)` statements, beside the writer's
//! commits (other workers go on meanwhile; a step only removes rows of
//! ended executions its caller has claimed, whose lease rows go with them).
//! A dry run rolls its transaction back. Removed rows' space is reused by
//! PostgreSQL once (auto)vacuum has seen them.

use deadpool_postgres::{GenericClient, Pool};
use tokio_postgres::types::ToSql;

use super::group::big;
use super::leases::storage;
use crate::error::JournalError;
use crate::journal::{CacheEntry, CacheSweep, Pruned};
use crate::model::ExecutionId;

/// Each table an execution owns rows of, with the column naming the
/// execution and what a removed row counts as.
const OWNED: [(&str, &str, Owned); 7] = [
    ("cairn_executions", "id", Owned::Executions),
    ("cairn_calls", "exec", Owned::Calls),
    ("cairn_attempts", "exec", Owned::Attempts),
    ("cairn_waits", "exec", Owned::Waits),
    ("cairn_times", "exec", Owned::Times),
    ("cairn_timers", "exec", Owned::Timers),
    ("cairn_upgrades", "exec", Owned::Upgrades),
];

#[derive(Clone, Copy)]
enum Owned {
    Executions,
    Calls,
    Attempts,
    Waits,
    Times,
    Timers,
    Upgrades,
}

/// Removes executions `ids` with everything they own, and each of `cache`
/// that still points at its call (which is gone), in one transaction.
pub(super) async fn prune_executions(
    pool: Pool,
    ids: Vec<ExecutionId>,
    cache: Vec<CacheEntry>,
    dry_run: bool,
) -> Result<Pruned, JournalError> {
    let mut client = pool
        .get()
        .await
        .map_err(storage("connecting to prune the journal"))?;
    let txn = client
        .transaction()
        .await
        .map_err(storage("starting a prune step"))?;
    let ids: Vec<i64> = ids.iter().map(|id| big(id.0)).collect();
    let mut pruned = Pruned::default();
    for (table, column, owned) in OWNED {
        // A row's size: its record, or the one number of a clock reading.
        let size = if matches!(owned, Owned::Times) {
            "8"
        } else {
            "octet_length(record)"
        };
        let sql = format!(
            "WITH gone AS (DELETE FROM {table} WHERE {column} = ANY($1) RETURNING {size} AS b)
             SELECT count(*)::BIGINT, coalesce(sum(b), 0)::BIGINT FROM gone"
        );
        let row = query_one(&txn, &sql, &[&ids]).await?;
        let (rows, bytes): (i64, i64) = (row.get(0), row.get(1));
        let rows = rows.unsigned_abs();
        pruned.bytes += bytes.unsigned_abs();
        let field = match owned {
            Owned::Executions => &mut pruned.executions,
            Owned::Calls => &mut pruned.calls,
            Owned::Attempts => &mut pruned.attempts,
            Owned::Waits => &mut pruned.waits,
            Owned::Times => &mut pruned.times,
            Owned::Timers => &mut pruned.timers,
            Owned::Upgrades => &mut pruned.upgrades,
        };
        *field += rows;
    }
    let keys: Vec<&[u8]> = cache.iter().map(|e| &e.key[..]).collect();
    let execs: Vec<i64> = cache.iter().map(|e| big(e.exec.0)).collect();
    let seqs: Vec<i64> = cache.iter().map(|e| i64::from(e.seq)).collect();
    let removed = execute(
        &txn,
        "DELETE FROM cairn_cache c
         USING unnest($1::BYTEA[], $2::BIGINT[], $3::BIGINT[]) AS d(key, exec, seq)
         WHERE c.key = d.key AND c.exec = d.exec AND c.seq = d.seq
           AND NOT EXISTS (SELECT 1 FROM cairn_calls k WHERE k.exec = c.exec AND k.seq = c.seq)",
        &[&keys, &execs, &seqs],
    )
    .await?;
    pruned.cache_entries = removed;
    execute(
        &txn,
        "DELETE FROM cairn_leases WHERE exec = ANY($1)",
        &[&ids],
    )
    .await?;
    // Child flows' links, both ways: the children stay, as executions of
    // their own.
    execute(
        &txn,
        "DELETE FROM cairn_children WHERE parent = ANY($1) OR child = ANY($1)",
        &[&ids],
    )
    .await?;
    if dry_run {
        txn.rollback()
            .await
            .map_err(storage("rolling back a dry prune step"))?;
    } else {
        txn.commit()
            .await
            .map_err(storage("committing a prune step"))?;
    }
    Ok(pruned)
}

/// One step of the sweep of cache entries whose call is gone: up to
/// `limit` entries after `after`, in one transaction.
pub(super) async fn sweep_cache(
    pool: Pool,
    after: Option<Vec<u8>>,
    limit: usize,
    dry_run: bool,
) -> Result<CacheSweep, JournalError> {
    let mut client = pool
        .get()
        .await
        .map_err(storage("connecting to prune the journal"))?;
    let txn = client
        .transaction()
        .await
        .map_err(storage("starting a sweep of the cache"))?;
    let limit_rows = i64::try_from(limit).unwrap_or(i64::MAX);
    let statement = txn
        .prepare_cached(
            "SELECT c.key, EXISTS (SELECT 1 FROM cairn_calls k WHERE k.exec = c.exec AND k.seq = c.seq)
             FROM cairn_cache c WHERE ($1::BYTEA IS NULL OR c.key > $1)
             ORDER BY c.key LIMIT $2",
        )
        .await
        .map_err(storage("preparing a sweep of the cache"))?;
    let rows = txn
        .query(&statement, &[&after, &limit_rows])
        .await
        .map_err(storage("sweeping the cache"))?;
    let mut sweep = CacheSweep::default();
    let mut dangling: Vec<Vec<u8>> = Vec::new();
    let mut last = None;
    for row in &rows {
        let key: Vec<u8> = row.get(0);
        let held: bool = row.get(1);
        sweep.scanned += 1;
        if !held {
            dangling.push(key.clone());
        }
        last = Some(key);
    }
    sweep.removed = execute(
        &txn,
        "DELETE FROM cairn_cache c WHERE c.key = ANY($1)
           AND NOT EXISTS (SELECT 1 FROM cairn_calls k WHERE k.exec = c.exec AND k.seq = c.seq)",
        &[&dangling],
    )
    .await?;
    sweep.next = if rows.len() >= limit { last } else { None };
    if dry_run {
        txn.rollback()
            .await
            .map_err(storage("rolling back a dry sweep of the cache"))?;
    } else {
        txn.commit()
            .await
            .map_err(storage("committing a sweep of the cache"))?;
    }
    Ok(sweep)
}

async fn query_one(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<tokio_postgres::Row, JournalError> {
    let statement = client
        .prepare_cached(sql)
        .await
        .map_err(storage("preparing a prune step"))?;
    client
        .query_one(&statement, params)
        .await
        .map_err(storage("pruning the journal"))
}

async fn execute(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, JournalError> {
    let statement = client
        .prepare_cached(sql)
        .await
        .map_err(storage("preparing a prune step"))?;
    client
        .execute(&statement, params)
        .await
        .map_err(storage("pruning the journal"))
}
