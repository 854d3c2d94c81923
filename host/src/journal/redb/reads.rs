//! Reading the redb journal. Every read is one read transaction, so it sees
//! one committed state; a table that does not exist reads as empty.

use ::redb::TableError;

use super::envelope::{RecordKey, decode};
use super::file::Db;
use super::schema::{ATTEMPTS, CACHE, CALLS, EXECUTIONS, TIMERS, TIMES, UPGRADES, WAITS};
use super::{guard, storage};
use crate::error::JournalError;
use crate::journal::ExecutionFilter;
use crate::journal::history::{CallHistory, History, incomplete};
use crate::journal::record::{CallRecord, ExecutionRecord, TimerRecord, UpgradeRecord, WaitRecord};
use crate::model::{CallStatus, ExecutionId, ExecutionStatus};

/// One execution.
pub(super) fn execution(db: &Db, id: ExecutionId) -> Result<Option<ExecutionRecord>, JournalError> {
    read(db, |txn| {
        let Some(table) = open(txn, EXECUTIONS)? else {
            return Ok(None);
        };
        match table.get(id.0).map_err(storage)? {
            Some(bytes) => decode(RecordKey::Execution(id.0), bytes.value()).map(Some),
            None => Ok(None),
        }
    })
}

/// One execution with how many calls it has made, read together.
pub(super) fn counted_execution(
    db: &Db,
    id: ExecutionId,
) -> Result<Option<(ExecutionRecord, u32)>, JournalError> {
    read(db, |txn| {
        let Some(table) = open(txn, EXECUTIONS)? else {
            return Ok(None);
        };
        let Some(bytes) = table.get(id.0).map_err(storage)? else {
            return Ok(None);
        };
        let record: ExecutionRecord = decode(RecordKey::Execution(id.0), bytes.value())?;
        let calls = call_count(open(txn, CALLS)?.as_ref(), id.0, &record)?;
        Ok(Some((record, calls)))
    })
}

/// The executions `filter` lets through, in id order, each with how many
/// calls it has made.
pub(super) fn executions(
    db: &Db,
    filter: &ExecutionFilter,
) -> Result<Vec<(ExecutionId, ExecutionRecord, u32)>, JournalError> {
    read(db, |txn| {
        let Some(table) = open(txn, EXECUTIONS)? else {
            return Ok(Vec::new());
        };
        let calls = open(txn, CALLS)?;
        let mut out = Vec::new();
        let limit = filter.limit.unwrap_or(usize::MAX);
        let Some(ids) = filter.id_range() else {
            return Ok(out);
        };
        if limit == 0 {
            return Ok(out);
        }
        let range = table.range(ids).map_err(storage)?;
        let mut keep = |entry: Result<_, redb::StorageError>| -> Result<bool, JournalError> {
            let (key, value): (redb::AccessGuard<u64>, redb::AccessGuard<&[u8]>) =
                entry.map_err(storage)?;
            let id = key.value();
            let record: ExecutionRecord = decode(RecordKey::Execution(id), value.value())?;
            if filter.matches(&record) {
                let count = call_count(calls.as_ref(), id, &record)?;
                out.push((ExecutionId(id), record, count));
            }
            Ok(out.len() < limit)
        };
        if filter.newest_first {
            for entry in range.rev() {
                if !keep(entry)? {
                    break;
                }
            }
        } else {
            for entry in range {
                if !keep(entry)? {
                    break;
                }
            }
        }
        Ok(out)
    })
}

/// How many calls execution `exec` has made, without decoding one. One
/// that completed or failed holds exactly the number its record keeps (a
/// history read checks that), so only the others, whose record counts the
/// calls of their last stop, have their keys in the calls table counted: a
/// listing of ended executions reads no call at all.
fn call_count(
    calls: Option<&::redb::ReadOnlyTable<(u64, u32), &'static [u8]>>,
    exec: u64,
    record: &ExecutionRecord,
) -> Result<u32, JournalError> {
    if matches!(
        record.status,
        ExecutionStatus::Completed | ExecutionStatus::Failed
    ) {
        return Ok(record.calls);
    }
    let Some(calls) = calls else {
        return Ok(0);
    };
    let mut count: u32 = 0;
    for entry in calls.range((exec, 0)..=(exec, u32::MAX)).map_err(storage)? {
        entry.map_err(storage)?;
        count = count.saturating_add(1);
    }
    Ok(count)
}

/// An execution with its calls and attempts, in one transaction, checked
/// for completeness. Without `completed_attempts`, the attempts of
/// completed calls are counted and checked but not decoded.
pub(super) fn history(
    db: &Db,
    id: ExecutionId,
    completed_attempts: bool,
) -> Result<Option<History>, JournalError> {
    let exec = id.0;
    read(db, |txn| {
        let Some(executions) = open(txn, EXECUTIONS)? else {
            return Ok(None);
        };
        let Some(bytes) = executions.get(exec).map_err(storage)? else {
            return Ok(None);
        };
        let execution: ExecutionRecord = decode(RecordKey::Execution(exec), bytes.value())?;
        let mut calls: Vec<CallHistory> = Vec::new();
        if let Some(table) = open(txn, CALLS)? {
            for entry in table.range((exec, 0)..=(exec, u32::MAX)).map_err(storage)? {
                let (key, value) = entry.map_err(storage)?;
                let (_, seq) = key.value();
                let call = decode(RecordKey::Call(exec, seq), value.value())?;
                calls.push(CallHistory {
                    seq,
                    call,
                    attempts: Vec::new(),
                    held: 0,
                });
            }
        }
        if let Some(table) = open(txn, ATTEMPTS)? {
            let range = (exec, 0, 0)..=(exec, u32::MAX, u32::MAX);
            // Both tables are in seq order: walk the calls alongside.
            let mut at = 0;
            for entry in table.range(range).map_err(storage)? {
                let (key, value) = entry.map_err(storage)?;
                let (_, seq, n) = key.value();
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
                    let record = value.value();
                    let attempt = decode(RecordKey::Attempt(exec, seq, n), record)?;
                    call.attempts.push((n, attempt));
                }
            }
        }
        let history = History { execution, calls };
        history.check(id)?;
        Ok(Some(history))
    })
}

/// One call.
#[cfg(test)]
pub(super) fn call(
    db: &Db,
    exec: ExecutionId,
    seq: u32,
) -> Result<Option<CallRecord>, JournalError> {
    read(db, |txn| {
        let Some(table) = open(txn, CALLS)? else {
            return Ok(None);
        };
        match table.get((exec.0, seq)).map_err(storage)? {
            Some(bytes) => decode(RecordKey::Call(exec.0, seq), bytes.value()).map(Some),
            None => Ok(None),
        }
    })
}

/// An execution's waits, by name.
pub(super) fn waits(db: &Db, exec: ExecutionId) -> Result<Vec<(String, WaitRecord)>, JournalError> {
    read(db, |txn| {
        let Some(table) = open(txn, WAITS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let range = (exec.0, "")..(exec.0 + 1, "");
        for entry in table.range(range).map_err(storage)? {
            let (key, value) = entry.map_err(storage)?;
            let (_, name) = key.value();
            let record = decode(RecordKey::Wait(exec.0, name), value.value())?;
            out.push((name.to_owned(), record));
        }
        Ok(out)
    })
}

/// Retry timers by (execution, seq): one execution's, or every one's.
pub(super) fn timers(
    db: &Db,
    exec: Option<ExecutionId>,
) -> Result<Vec<(ExecutionId, u32, TimerRecord)>, JournalError> {
    read(db, |txn| {
        let Some(table) = open(txn, TIMERS)? else {
            return Ok(Vec::new());
        };
        let range = match exec {
            Some(exec) => (exec.0, 0)..=(exec.0, u32::MAX),
            None => (0, 0)..=(u64::MAX, u32::MAX),
        };
        let mut out = Vec::new();
        for entry in table.range(range).map_err(storage)? {
            let (key, value) = entry.map_err(storage)?;
            let (exec, seq) = key.value();
            let record = decode(RecordKey::Timer(exec, seq), value.value())?;
            out.push((ExecutionId(exec), seq, record));
        }
        Ok(out)
    })
}

/// An execution's moves to other builds, in order.
pub(super) fn upgrades(db: &Db, exec: ExecutionId) -> Result<Vec<UpgradeRecord>, JournalError> {
    read(db, |txn| {
        let Some(table) = open(txn, UPGRADES)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table
            .range((exec.0, 0)..=(exec.0, u32::MAX))
            .map_err(storage)?
        {
            let (key, value) = entry.map_err(storage)?;
            let (_, n) = key.value();
            out.push(decode(RecordKey::Upgrade(exec.0, n), value.value())?);
        }
        Ok(out)
    })
}

/// The values an execution's `now()` returned, in order.
pub(super) fn times(db: &Db, exec: ExecutionId) -> Result<Vec<u64>, JournalError> {
    read(db, |txn| {
        let Some(table) = open(txn, TIMES)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table
            .range((exec.0, 0)..=(exec.0, u32::MAX))
            .map_err(storage)?
        {
            let (key, value) = entry.map_err(storage)?;
            let (_, n) = key.value();
            if n as usize != out.len() {
                return Err(incomplete(
                    exec,
                    format!("the flow's time value {} is missing", out.len()),
                ));
            }
            out.push(value.value());
        }
        Ok(out)
    })
}

/// The call a cache key points at, if any, read in the same transaction
/// as the key.
pub(super) fn cached_call(
    db: &Db,
    key: &[u8; 32],
) -> Result<Option<(ExecutionId, u32, CallRecord)>, JournalError> {
    read(db, |txn| {
        let Some(cache) = open(txn, CACHE)? else {
            return Ok(None);
        };
        let Some(entry) = cache.get(&key[..]).map_err(storage)? else {
            return Ok(None);
        };
        let (exec, seq) = entry.value();
        let Some(calls) = open(txn, CALLS)? else {
            return Ok(None);
        };
        match calls.get((exec, seq)).map_err(storage)? {
            Some(bytes) => {
                let call = decode(RecordKey::Call(exec, seq), bytes.value())?;
                Ok(Some((ExecutionId(exec), seq, call)))
            }
            None => Ok(None),
        }
    })
}

fn read<T>(
    db: &Db,
    f: impl FnOnce(&::redb::ReadTransaction) -> Result<T, JournalError>,
) -> Result<T, JournalError> {
    guard(|| {
        let txn = db.begin_read().map_err(storage)?;
        f(&txn)
    })?
}

fn open<K: ::redb::Key + 'static, V: ::redb::Value + 'static>(
    txn: &::redb::ReadTransaction,
    table: ::redb::TableDefinition<K, V>,
) -> Result<Option<::redb::ReadOnlyTable<K, V>>, JournalError> {
    match txn.open_table(table) {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(storage(e)),
    }
}
