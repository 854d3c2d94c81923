//! Schedules in the PostgreSQL journal (`cairn_schedules`: a name and the
//! schedule's record in its envelope). Every change, and every scheduled
//! run's creation, is one transaction that reads the schedule's row
//! `FOR UPDATE`: of several workers that see the same run due, the first
//! locks the row, writes the execution and the schedule's next due time,
//! and commits; the others then read the moved due time and start nothing.

use deadpool_postgres::Pool;

use super::group::big;
use super::leases::storage;
use crate::error::JournalError;
use crate::journal::record::{ExecutionRecord, ScheduleRecord};
use crate::journal::redb::envelope::{RecordKey, decode, encode};
use crate::journal::{Advance, ScheduleChange, ScheduleWrite};
use crate::model::ExecutionId;

const ALL: &str = "SELECT name, record FROM cairn_schedules ORDER BY name";
const LOCK: &str = "SELECT record FROM cairn_schedules WHERE name = $1 FOR UPDATE";
const INSERT: &str = "INSERT INTO cairn_schedules (name, record) VALUES ($1, $2)";
const UPDATE: &str = "UPDATE cairn_schedules SET record = $2 WHERE name = $1";
const DELETE: &str = "DELETE FROM cairn_schedules WHERE name = $1";
const EXECUTION: &str = "INSERT INTO cairn_executions (id, flow, status, created_at_us, record)
    VALUES ($1, $2, $3, $4, $5)";

/// Every schedule, by name.
pub(super) async fn all(pool: Pool) -> Result<Vec<(String, ScheduleRecord)>, JournalError> {
    let client = pool
        .get()
        .await
        .map_err(storage("connecting to read schedules"))?;
    let rows = client
        .query(ALL, &[])
        .await
        .map_err(storage("reading schedules"))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.get(0);
        let bytes: Vec<u8> = row.get(1);
        let record = decode(RecordKey::Schedule(&name), &bytes)?;
        out.push((name, record));
    }
    Ok(out)
}

/// The schedule's record, locked until the transaction ends.
async fn locked(
    txn: &deadpool_postgres::Transaction<'_>,
    name: &str,
) -> Result<Option<ScheduleRecord>, JournalError> {
    let row = txn
        .query_opt(LOCK, &[&name])
        .await
        .map_err(storage("locking a schedule"))?;
    match row {
        Some(row) => {
            let bytes: Vec<u8> = row.get(0);
            Ok(Some(decode(RecordKey::Schedule(name), &bytes)?))
        }
        None => Ok(None),
    }
}

/// Changes schedule `name` as `change` decides; returns the record it saw.
pub(super) async fn change(
    pool: Pool,
    name: String,
    change: ScheduleChange,
) -> Result<Option<ScheduleRecord>, JournalError> {
    let mut client = pool
        .get()
        .await
        .map_err(storage("connecting to change a schedule"))?;
    let txn = client
        .transaction()
        .await
        .map_err(storage("starting a schedule's change"))?;
    let before = locked(&txn, &name).await?;
    let (sql, record) = match change(before.as_ref()) {
        ScheduleWrite::Keep => return Ok(before),
        ScheduleWrite::Delete => (DELETE, None),
        ScheduleWrite::Put(record) if before.is_some() => (UPDATE, Some(record)),
        // Two processes adding one name at once: the second fails on the
        // key, as a storage error, and adds nothing.
        ScheduleWrite::Put(record) => (INSERT, Some(record)),
    };
    let written = match record {
        Some(record) => {
            let bytes = encode(RecordKey::Schedule(&name), &record);
            txn.execute(sql, &[&name, &bytes]).await
        }
        None => txn.execute(sql, &[&name]).await,
    };
    written.map_err(storage("writing a schedule"))?;
    txn.commit()
        .await
        .map_err(storage("committing a schedule's change"))?;
    Ok(before)
}

/// Writes execution `id`'s `record` and the schedule's record `advance`
/// makes in one transaction; nothing (`false`) when the run is not due.
pub(super) async fn create_run(
    pool: Pool,
    name: String,
    id: ExecutionId,
    advance: Advance,
    record: ExecutionRecord,
) -> Result<bool, JournalError> {
    let mut client = pool
        .get()
        .await
        .map_err(storage("connecting to start a scheduled run"))?;
    let txn = client
        .transaction()
        .await
        .map_err(storage("starting a scheduled run"))?;
    let Some(schedule) = locked(&txn, &name).await? else {
        return Ok(false);
    };
    let Some(advanced) = advance(&schedule, id) else {
        return Ok(false);
    };
    // The execution's lease was made a moment ago by this process: nothing
    // can have taken it over, so the write needs no fence.
    let bytes = encode(RecordKey::Execution(id.0), &record);
    txn.execute(
        EXECUTION,
        &[
            &big(id.0),
            &record.flow,
            &record.status.as_str(),
            &big(record.created_at_us),
            &bytes,
        ],
    )
    .await
    .map_err(storage("writing a scheduled run"))?;
    let schedule = encode(RecordKey::Schedule(&name), &advanced);
    txn.execute(UPDATE, &[&name, &schedule])
        .await
        .map_err(storage("moving a schedule on"))?;
    txn.commit()
        .await
        .map_err(storage("committing a scheduled run"))?;
    Ok(true)
}
