//! Reading the PostgreSQL journal. Each read is one statement (one
//! snapshot), except a history, which reads its three tables in one
//! `REPEATABLE READ` transaction so that it sees one committed state.

use deadpool_postgres::{GenericClient, Pool};
use tokio_postgres::types::ToSql;

use super::group::big;
use super::leases::storage;
use crate::error::JournalError;
use crate::journal::ExecutionFilter;
use crate::journal::history::{CallHistory, History, incomplete};
use crate::journal::record::{CallRecord, ExecutionRecord, TimerRecord, UpgradeRecord, WaitRecord};
use crate::journal::redb::envelope::{RecordKey, decode};
use crate::model::{CallStatus, ExecutionId};

async fn client(pool: &Pool) -> Result<deadpool_postgres::Client, JournalError> {
    pool.get()
        .await
        .map_err(storage("connecting to read the journal"))
}

/// A read's rows.
async fn rows(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, JournalError> {
    let statement = client
        .prepare_cached(sql)
        .await
        .map_err(storage("preparing a read of the journal"))?;
    client
        .query(&statement, params)
        .await
        .map_err(storage("reading the journal"))
}

/// A column, or a corrupt-record error naming `what`.
fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    index: usize,
    what: &str,
) -> Result<T, JournalError> {
    row.try_get(index).map_err(|e| JournalError::Corrupt {
        what: what.to_owned(),
        reason: e.to_string(),
    })
}

/// A `BIGINT` that holds a `u32` (a seq, a number).
fn small(n: i64, what: &str) -> Result<u32, JournalError> {
    u32::try_from(n).map_err(|_| JournalError::Corrupt {
        what: what.to_owned(),
        reason: format!("{n} is out of range"),
    })
}

/// One execution.
pub(super) async fn execution(
    pool: Pool,
    id: ExecutionId,
) -> Result<Option<ExecutionRecord>, JournalError> {
    let client = client(&pool).await?;
    let found = rows(
        &client,
        "SELECT record FROM cairn_executions WHERE id = $1",
        &[&big(id.0)],
    )
    .await?;
    match found.first() {
        Some(row) => {
            let bytes: Vec<u8> = get(row, 0, "cairn_executions")?;
            decode(RecordKey::Execution(id.0), &bytes).map(Some)
        }
        None => Ok(None),
    }
}

/// Counts the calls of an execution that has not ended (an ended one's
/// record holds the count, which a history read checks).
const COUNTED: &str = "SELECT e.id, e.record, CASE WHEN e.status IN ('completed', 'failed')
    THEN NULL ELSE (SELECT count(*) FROM cairn_calls c WHERE c.exec = e.id) END
    FROM cairn_executions e";

fn counted(row: &tokio_postgres::Row) -> Result<(ExecutionId, ExecutionRecord, u32), JournalError> {
    let id = ExecutionId(get::<i64>(row, 0, "cairn_executions")? as u64);
    let bytes: Vec<u8> = get(row, 1, "cairn_executions")?;
    let record: ExecutionRecord = decode(RecordKey::Execution(id.0), &bytes)?;
    let calls = match get::<Option<i64>>(row, 2, "cairn_calls")? {
        Some(n) => small(n, "cairn_calls")?,
        None => record.calls,
    };
    Ok((id, record, calls))
}

/// One execution with how many calls it has made, read together.
pub(super) async fn counted_execution(
    pool: Pool,
    id: ExecutionId,
) -> Result<Option<(ExecutionRecord, u32)>, JournalError> {
    let client = client(&pool).await?;
    let sql = format!("{COUNTED} WHERE e.id = $1");
    let found = rows(&client, &sql, &[&big(id.0)]).await?;
    match found.first() {
        Some(row) => counted(row).map(|(_, record, calls)| Some((record, calls))),
        None => Ok(None),
    }
}

/// The executions `filter` lets through, in id order (or newest first).
pub(super) async fn executions(
    pool: Pool,
    filter: ExecutionFilter,
) -> Result<Vec<(ExecutionId, ExecutionRecord, u32)>, JournalError> {
    let Some(ids) = filter.id_range() else {
        return Ok(Vec::new());
    };
    if filter.limit == Some(0) {
        return Ok(Vec::new());
    }
    // Ids are stored as BIGINT: the range is clamped to what one holds.
    let low = big((*ids.start()).min(i64::MAX as u64));
    let high = big((*ids.end()).min(i64::MAX as u64));
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(low), Box::new(high)];
    let mut sql = format!("{COUNTED} WHERE e.id BETWEEN $1 AND $2");
    if let Some(status) = filter.status {
        params.push(Box::new(status.as_str()));
        sql.push_str(&format!(" AND e.status = ${}", params.len()));
    }
    if let Some(flow) = &filter.flow {
        params.push(Box::new(flow.clone()));
        sql.push_str(&format!(" AND e.flow = ${}", params.len()));
    }
    if let Some(since) = filter.created_since_us {
        params.push(Box::new(big(since.min(i64::MAX as u64))));
        sql.push_str(&format!(" AND e.created_at_us >= ${}", params.len()));
    }
    sql.push_str(if filter.newest_first {
        " ORDER BY e.id DESC"
    } else {
        " ORDER BY e.id ASC"
    });
    if let Some(limit) = filter.limit {
        params.push(Box::new(i64::try_from(limit).unwrap_or(i64::MAX)));
        sql.push_str(&format!(" LIMIT ${}", params.len()));
    }
    let client = client(&pool).await?;
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let found = rows(&client, &sql, &refs).await?;
    let mut out = Vec::with_capacity(found.len());
    for row in &found {
        let (id, record, calls) = counted(row)?;
        // The columns are copies of the record's fields: the record decides.
        if filter.matches(&record) {
            out.push((id, record, calls));
        }
    }
    Ok(out)
}

/// An execution with its calls and attempts, read in one snapshot and
/// checked for completeness. Without `completed_attempts`, the attempts of
/// completed calls are counted and checked but not decoded.
pub(super) async fn history(
    pool: Pool,
    id: ExecutionId,
    completed_attempts: bool,
) -> Result<Option<History>, JournalError> {
    let exec = id.0;
    let mut client = client(&pool).await?;
    let txn = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(storage("starting a read of the journal"))?;
    let key = big(exec);
    let found = rows(
        &txn,
        "SELECT record FROM cairn_executions WHERE id = $1",
        &[&key],
    )
    .await?;
    let Some(row) = found.first() else {
        return Ok(None);
    };
    let bytes: Vec<u8> = get(row, 0, "cairn_executions")?;
    let execution: ExecutionRecord = decode(RecordKey::Execution(exec), &bytes)?;
    let mut calls: Vec<CallHistory> = Vec::new();
    for row in rows(
        &txn,
        "SELECT seq, record FROM cairn_calls WHERE exec = $1 ORDER BY seq",
        &[&key],
    )
    .await?
    {
        let seq = small(get(&row, 0, "cairn_calls")?, "cairn_calls")?;
        let bytes: Vec<u8> = get(&row, 1, "cairn_calls")?;
        calls.push(CallHistory {
            seq,
            call: decode(RecordKey::Call(exec, seq), &bytes)?,
            attempts: Vec::new(),
            held: 0,
        });
    }
    let attempts = rows(
        &txn,
        "SELECT seq, n, record FROM cairn_attempts WHERE exec = $1 ORDER BY seq, n",
        &[&key],
    )
    .await?;
    txn.commit()
        .await
        .map_err(storage("ending a read of the journal"))?;
    // Both are in seq order: walk the calls alongside.
    let mut at = 0;
    for row in attempts {
        let seq = small(get(&row, 0, "cairn_attempts")?, "cairn_attempts")?;
        let n = small(get(&row, 1, "cairn_attempts")?, "cairn_attempts")?;
        while calls.get(at).is_some_and(|c| c.seq < seq) {
            at += 1;
        }
        let Some(call) = calls.get_mut(at).filter(|c| c.seq == seq) else {
            let reason = format!("attempt {n} belongs to seq {seq}, which has no call");
            return Err(incomplete(id, reason));
        };
        if n != call.held + 1 {
            let reason = format!("seq {seq} has attempt {n} after {}", call.held);
            return Err(incomplete(id, reason));
        }
        call.held = n;
        if completed_attempts || call.call.status != CallStatus::Completed {
            let bytes: Vec<u8> = get(&row, 2, "cairn_attempts")?;
            let attempt = decode(RecordKey::Attempt(exec, seq, n), &bytes)?;
            call.attempts.push((n, attempt));
        }
    }
    let history = History { execution, calls };
    history.check(id)?;
    Ok(Some(history))
}

/// An execution's waits, by name.
pub(super) async fn waits(
    pool: Pool,
    exec: ExecutionId,
) -> Result<Vec<(String, WaitRecord)>, JournalError> {
    let client = client(&pool).await?;
    let sql = "SELECT name, record FROM cairn_waits WHERE exec = $1 ORDER BY name COLLATE \"C\"";
    let mut out = Vec::new();
    for row in rows(&client, sql, &[&big(exec.0)]).await? {
        let name: String = get(&row, 0, "cairn_waits")?;
        let bytes: Vec<u8> = get(&row, 1, "cairn_waits")?;
        let record = decode(RecordKey::Wait(exec.0, &name), &bytes)?;
        out.push((name, record));
    }
    Ok(out)
}

/// Retry timers by (execution, seq): one execution's, or every one's.
pub(super) async fn timers(
    pool: Pool,
    exec: Option<ExecutionId>,
) -> Result<Vec<(ExecutionId, u32, TimerRecord)>, JournalError> {
    let client = client(&pool).await?;
    let found = match exec {
        Some(exec) => {
            let sql = "SELECT exec, seq, record FROM cairn_timers WHERE exec = $1 ORDER BY seq";
            rows(&client, sql, &[&big(exec.0)]).await?
        }
        None => {
            let sql = "SELECT exec, seq, record FROM cairn_timers ORDER BY exec, seq";
            rows(&client, sql, &[]).await?
        }
    };
    let mut out = Vec::with_capacity(found.len());
    for row in found {
        let exec = get::<i64>(&row, 0, "cairn_timers")? as u64;
        let seq = small(get(&row, 1, "cairn_timers")?, "cairn_timers")?;
        let bytes: Vec<u8> = get(&row, 2, "cairn_timers")?;
        let record = decode(RecordKey::Timer(exec, seq), &bytes)?;
        out.push((ExecutionId(exec), seq, record));
    }
    Ok(out)
}

/// An execution's moves to other builds, in order.
pub(super) async fn upgrades(
    pool: Pool,
    exec: ExecutionId,
) -> Result<Vec<UpgradeRecord>, JournalError> {
    let client = client(&pool).await?;
    let sql = "SELECT n, record FROM cairn_upgrades WHERE exec = $1 ORDER BY n";
    let mut out = Vec::new();
    for row in rows(&client, sql, &[&big(exec.0)]).await? {
        let n = small(get(&row, 0, "cairn_upgrades")?, "cairn_upgrades")?;
        let bytes: Vec<u8> = get(&row, 1, "cairn_upgrades")?;
        out.push(decode(RecordKey::Upgrade(exec.0, n), &bytes)?);
    }
    Ok(out)
}

/// The values an execution's `now()` returned, in order.
pub(super) async fn times(pool: Pool, exec: ExecutionId) -> Result<Vec<u64>, JournalError> {
    let client = client(&pool).await?;
    let sql = "SELECT n, us FROM cairn_times WHERE exec = $1 ORDER BY n";
    let mut out = Vec::new();
    for row in rows(&client, sql, &[&big(exec.0)]).await? {
        let n: i64 = get(&row, 0, "cairn_times")?;
        if n != out.len() as i64 {
            let reason = format!("the flow's time value {} is missing", out.len());
            return Err(incomplete(exec, reason));
        }
        out.push(get::<i64>(&row, 1, "cairn_times")? as u64);
    }
    Ok(out)
}

/// The call a cache key points at, if any, read in the same statement.
pub(super) async fn cached_call(
    pool: Pool,
    key: [u8; 32],
) -> Result<Option<(ExecutionId, u32, CallRecord)>, JournalError> {
    let client = client(&pool).await?;
    let sql = "SELECT k.exec, k.seq, c.record FROM cairn_cache k
        JOIN cairn_calls c ON c.exec = k.exec AND c.seq = k.seq WHERE k.key = $1";
    let found = rows(&client, sql, &[&&key[..]]).await?;
    let Some(row) = found.first() else {
        return Ok(None);
    };
    let exec = get::<i64>(row, 0, "cairn_cache")? as u64;
    let seq = small(get(row, 1, "cairn_cache")?, "cairn_cache")?;
    let bytes: Vec<u8> = get(row, 2, "cairn_calls")?;
    let call = decode(RecordKey::Call(exec, seq), &bytes)?;
    Ok(Some((ExecutionId(exec), seq, call)))
}
