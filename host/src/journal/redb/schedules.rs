//! Schedules in the redb journal (the `schedules` table). A change, and a
//! scheduled run's creation, is one write transaction of its own beside the
//! [`writer`](super::writer)'s, as a prune step is: redb runs one write
//! transaction at a time, so reading the schedule, deciding and writing is
//! atomic, and a run's execution is written in the same durable commit as
//! the schedule's next due time. Nothing the writer commits touches either
//! table's rows written here but for the execution's later records, which
//! come after this commit.

use std::path::Path;

use redb::{Database, Durability, ReadableTable, TableError, WriteTransaction};

use super::envelope::{RecordKey, decode, encode};
use super::file::Db;
use super::schema::{EXECUTIONS, SCHEDULES};
use super::writer::failure;
use crate::error::JournalError;
use crate::journal::record::{ExecutionRecord, ScheduleRecord};
use crate::journal::{Advance, ScheduleChange, ScheduleWrite};
use crate::model::ExecutionId;

fn storage(e: impl std::error::Error + Send + Sync + 'static) -> JournalError {
    JournalError::storage("reading the journal's schedules", e)
}

/// Every schedule, by name (none in a journal made before schedules).
pub(super) fn all(db: &Db) -> Result<Vec<(String, ScheduleRecord)>, JournalError> {
    let txn = db.begin_read().map_err(storage)?;
    let table = match txn.open_table(SCHEDULES) {
        Ok(table) => table,
        Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(storage(e)),
    };
    let mut out = Vec::new();
    for entry in table.iter().map_err(storage)? {
        let (name, bytes) = entry.map_err(storage)?;
        let name = name.value().to_owned();
        let record = decode(RecordKey::Schedule(&name), bytes.value())?;
        out.push((name, record));
    }
    Ok(out)
}

/// The record of schedule `name` in a write transaction.
fn current(txn: &WriteTransaction, name: &str) -> Result<Option<ScheduleRecord>, redb::Error> {
    let table = txn.open_table(SCHEDULES)?;
    let Some(bytes) = table.get(name)? else {
        return Ok(None);
    };
    // A damaged record reads as a storage failure of the change.
    decode(RecordKey::Schedule(name), bytes.value())
        .map(Some)
        .map_err(|e| redb::Error::Corrupted(e.to_string()))
}

fn put(txn: &WriteTransaction, name: &str, record: &ScheduleRecord) -> Result<(), redb::Error> {
    txn.open_table(SCHEDULES)?
        .insert(name, encode(RecordKey::Schedule(name), record).as_slice())?;
    Ok(())
}

fn remove(txn: &WriteTransaction, name: &str) -> Result<(), redb::Error> {
    txn.open_table(SCHEDULES)?.remove(name)?;
    Ok(())
}

fn durable(db: &Database) -> Result<WriteTransaction, redb::Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    Ok(txn)
}

/// Changes schedule `name` as `change` decides; returns the record it saw.
pub(super) fn change(
    db: &Database,
    path: &Path,
    name: &str,
    change: ScheduleChange,
) -> Result<Option<ScheduleRecord>, JournalError> {
    let failed = |e: redb::Error| failure(path, e);
    let txn = durable(db).map_err(failed)?;
    let before = current(&txn, name).map_err(failed)?;
    match change(before.as_ref()) {
        ScheduleWrite::Put(record) => put(&txn, name, &record).map_err(failed)?,
        ScheduleWrite::Delete => remove(&txn, name).map_err(failed)?,
        ScheduleWrite::Keep => {
            txn.abort().map_err(|e| failed(e.into()))?;
            return Ok(before);
        }
    }
    txn.commit().map_err(|e| failed(e.into()))?;
    Ok(before)
}

/// Writes execution `id`'s `record` and the schedule's record `advance`
/// makes, in one durable commit; nothing (`false`) when `advance` says the
/// run is not due or the schedule is gone.
pub(super) fn create_run(
    db: &Database,
    path: &Path,
    name: &str,
    id: ExecutionId,
    advance: Advance,
    record: &ExecutionRecord,
) -> Result<bool, JournalError> {
    let failed = |e: redb::Error| failure(path, e);
    let txn = durable(db).map_err(failed)?;
    let advanced = match current(&txn, name).map_err(failed)? {
        Some(schedule) => advance(&schedule, id),
        None => None,
    };
    let Some(advanced) = advanced else {
        txn.abort().map_err(|e| failed(e.into()))?;
        return Ok(false);
    };
    {
        let mut executions = txn.open_table(EXECUTIONS).map_err(|e| failed(e.into()))?;
        executions
            .insert(id.0, encode(RecordKey::Execution(id.0), record).as_slice())
            .map_err(|e| failed(e.into()))?;
    }
    put(&txn, name, &advanced).map_err(failed)?;
    txn.commit().map_err(|e| failed(e.into()))?;
    Ok(true)
}
