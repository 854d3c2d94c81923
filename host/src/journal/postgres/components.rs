//! Component bytes in the PostgreSQL journal, as in redb's
//! (`redb/components.rs`): each component a row of `cairn_components`
//! holding its manifest (`chunks`: length and chunk hashes, see
//! `journal/chunks.rs`), each chunk once in `cairn_component_chunks`. A row
//! written by schema version 1 holds the whole bytes (`bytes`) instead, and
//! is read as before.
//!
//! Writes go with the group's statement (`group.rs`): the manifest and the
//! chunks are inserted if absent. A prune runs in one transaction that
//! first locks both tables against writes (`SHARE ROW EXCLUSIVE`: every
//! journal write waits for it, and it waits for those under way), so no
//! component or chunk it removes can be taken up by a write it did not see.

use std::collections::BTreeSet;

use deadpool_postgres::{GenericClient, Pool};

use super::leases::storage;
use crate::error::JournalError;
use crate::journal::PrunedComponents;
use crate::journal::chunks::{self, Manifest};
use crate::journal::record::{CallRecord, ExecutionRecord, ScheduleRecord, UpgradeRecord};
use crate::journal::redb::envelope::{RecordKey, decode};
use crate::model::ComponentHash;

/// How many records a prune reads per statement.
const PAGE: i64 = 5_000;

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

fn hash_of(key: &[u8], what: &str) -> Result<[u8; 32], JournalError> {
    <[u8; 32]>::try_from(key).map_err(|_| JournalError::Corrupt {
        what: what.to_owned(),
        reason: format!("a key of {} bytes is not a hash", key.len()),
    })
}

/// A component's bytes, reassembled from its chunks (or read whole from a
/// row of schema version 1) and checked against their hash.
pub(super) async fn read(pool: Pool, hash: ComponentHash) -> Result<Option<Vec<u8>>, JournalError> {
    let client = pool
        .get()
        .await
        .map_err(storage("connecting to read the journal"))?;
    let row = client
        .query_opt(
            "SELECT bytes, chunks FROM cairn_components WHERE hash = $1",
            &[&&hash.0[..]],
        )
        .await
        .map_err(storage("reading a component"))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let whole: Option<Vec<u8>> = get(&row, 0, "cairn_components")?;
    let listed: Option<Vec<u8>> = get(&row, 1, "cairn_components")?;
    if let Some(bytes) = whole {
        if ComponentHash::of(&bytes) != hash {
            return Err(JournalError::Corrupt {
                what: format!("components/{hash}"),
                reason: "the bytes do not match their hash".to_owned(),
            });
        }
        return Ok(Some(bytes));
    }
    let Some(listed) = listed else {
        return Err(JournalError::Corrupt {
            what: format!("components/{hash}"),
            reason: "it has neither bytes nor chunks".to_owned(),
        });
    };
    let manifest = Manifest::decode(hash, &listed)?;
    // One statement for every chunk; a chunk listed twice is read once.
    let wanted: Vec<&[u8]> = manifest
        .chunks
        .iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|h| &h[..])
        .collect();
    let rows = client
        .query(
            "SELECT hash, bytes FROM cairn_component_chunks WHERE hash = ANY($1)",
            &[&wanted],
        )
        .await
        .map_err(storage("reading a component's chunks"))?;
    let mut found = std::collections::BTreeMap::new();
    for row in &rows {
        let key: Vec<u8> = get(row, 0, "cairn_component_chunks")?;
        let bytes: Vec<u8> = get(row, 1, "cairn_component_chunks")?;
        found.insert(hash_of(&key, "cairn_component_chunks")?, bytes);
    }
    manifest
        .assemble(hash, |chunk, out| match found.get(chunk) {
            Some(piece) => {
                // A chunk past the bound is damage: not copied whole.
                out.extend_from_slice(&piece[..piece.len().min(chunks::MAX_CHUNK + 1)]);
                Ok(true)
            }
            None => Ok(false),
        })
        .map(Some)
}

/// The hashes of every component, in hash order; the bytes stay unread.
pub(super) async fn hashes(pool: Pool) -> Result<Vec<ComponentHash>, JournalError> {
    let client = pool
        .get()
        .await
        .map_err(storage("connecting to read the journal"))?;
    let rows = client
        .query("SELECT hash FROM cairn_components ORDER BY hash", &[])
        .await
        .map_err(storage("reading the components"))?;
    rows.iter()
        .map(|row| {
            let key: Vec<u8> = get(row, 0, "cairn_components")?;
            Ok(ComponentHash(hash_of(&key, "cairn_components")?))
        })
        .collect()
}

/// Removes the components no execution, call or upgrade names, then the
/// chunks no remaining component lists, in one transaction.
pub(super) async fn prune(pool: Pool) -> Result<PrunedComponents, JournalError> {
    let mut client = pool
        .get()
        .await
        .map_err(storage("connecting to prune components"))?;
    let txn = client
        .transaction()
        .await
        .map_err(storage("starting a prune of components"))?;
    txn.batch_execute(
        "LOCK TABLE cairn_components, cairn_component_chunks IN SHARE ROW EXCLUSIVE MODE",
    )
    .await
    .map_err(storage("locking the components"))?;
    let named = named_components(&txn).await?;
    let mut pruned = PrunedComponents::default();
    let rows = txn
        .query(
            "SELECT hash, coalesce(length(bytes), 0) FROM cairn_components",
            &[],
        )
        .await
        .map_err(storage("reading the components"))?;
    let mut unnamed = Vec::new();
    for row in &rows {
        let key: Vec<u8> = get(row, 0, "cairn_components")?;
        if !named.contains(&hash_of(&key, "cairn_components")?) {
            let whole: i32 = get(row, 1, "cairn_components")?;
            pruned.components += 1;
            pruned.bytes += u64::try_from(whole).unwrap_or(0);
            unnamed.push(key);
        }
    }
    txn.execute(
        "DELETE FROM cairn_components WHERE hash = ANY($1)",
        &[&unnamed],
    )
    .await
    .map_err(storage("removing components"))?;
    // The chunks the remaining components list; a list that does not
    // decode keeps every chunk (it may list any).
    let rows = txn
        .query(
            "SELECT hash, chunks FROM cairn_components WHERE chunks IS NOT NULL",
            &[],
        )
        .await
        .map_err(storage("reading the components' chunk lists"))?;
    let mut listed = BTreeSet::new();
    let mut readable = true;
    for row in &rows {
        let key: Vec<u8> = get(row, 0, "cairn_components")?;
        let list: Vec<u8> = get(row, 1, "cairn_components")?;
        let hash = ComponentHash(hash_of(&key, "cairn_components")?);
        match Manifest::decode(hash, &list) {
            Ok(manifest) => listed.extend(manifest.chunks),
            Err(_) => readable = false,
        }
    }
    if readable {
        let listed: Vec<&[u8]> = listed.iter().map(|h| &h[..]).collect();
        let gone = txn
            .query_one(
                "WITH gone AS (DELETE FROM cairn_component_chunks WHERE NOT (hash = ANY($1))
                    RETURNING length(bytes) AS len)
                SELECT count(*), coalesce(sum(len), 0)::BIGINT FROM gone",
                &[&listed],
            )
            .await
            .map_err(storage("removing chunks"))?;
        let (count, bytes): (i64, i64) = (gone.get(0), gone.get(1));
        pruned.chunks = count.unsigned_abs();
        pruned.bytes += bytes.unsigned_abs();
    }
    txn.commit()
        .await
        .map_err(storage("committing a prune of components"))?;
    Ok(pruned)
}

/// Every component hash a record names (an execution's flow component,
/// each call's, both builds of each move), read a page at a time. A record
/// that does not decode stops the prune: nothing is removed on a guess.
async fn named_components(client: &impl GenericClient) -> Result<BTreeSet<[u8; 32]>, JournalError> {
    let mut named = BTreeSet::new();
    let mut after = -1i64;
    loop {
        let rows = client
            .query(
                "SELECT id, record FROM cairn_executions WHERE id > $1 ORDER BY id LIMIT $2",
                &[&after, &PAGE],
            )
            .await
            .map_err(storage("reading executions"))?;
        for row in &rows {
            let id: i64 = get(row, 0, "cairn_executions")?;
            let bytes: Vec<u8> = get(row, 1, "cairn_executions")?;
            let record: ExecutionRecord = decode(RecordKey::Execution(id as u64), &bytes)?;
            named.extend(record.component.map(|c| c.0));
            after = id;
        }
        if (rows.len() as i64) < PAGE {
            break;
        }
    }
    for (table, what) in [("cairn_calls", "calls"), ("cairn_upgrades", "upgrades")] {
        let sql = format!(
            "SELECT exec, {key}, record FROM {table} WHERE (exec, {key}) > ($1, $2)
             ORDER BY exec, {key} LIMIT $3",
            key = if what == "calls" { "seq" } else { "n" }
        );
        let mut after = (-1i64, -1i64);
        loop {
            let rows = client
                .query(&sql, &[&after.0, &after.1, &PAGE])
                .await
                .map_err(storage("reading calls and moves"))?;
            for row in &rows {
                let exec: i64 = get(row, 0, table)?;
                let n: i64 = get(row, 1, table)?;
                let bytes: Vec<u8> = get(row, 2, table)?;
                let (e, n32) = (exec as u64, u32::try_from(n).unwrap_or(u32::MAX));
                if what == "calls" {
                    let record: CallRecord = decode(RecordKey::Call(e, n32), &bytes)?;
                    named.insert(record.component.0);
                } else {
                    let record: UpgradeRecord = decode(RecordKey::Upgrade(e, n32), &bytes)?;
                    named.insert(record.from.0);
                    named.insert(record.to.0);
                }
                after = (exec, n);
            }
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
    }
    // A schedule's build may have started no execution yet.
    let rows = client
        .query("SELECT name, record FROM cairn_schedules", &[])
        .await
        .map_err(storage("reading schedules"))?;
    for row in &rows {
        let name: String = get(row, 0, "cairn_schedules")?;
        let bytes: Vec<u8> = get(row, 1, "cairn_schedules")?;
        let record: ScheduleRecord = decode(RecordKey::Schedule(&name), &bytes)?;
        named.insert(record.component.0);
    }
    Ok(named)
}
