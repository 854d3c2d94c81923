//! Component bytes in the redb journal: each component as a manifest (its
//! length and chunk hashes, `component_manifests`), each chunk once
//! (`component_chunks`); see `journal/chunks.rs`. Components a format-4
//! journal kept whole (`components`) are read as before and never
//! rewritten.
//!
//! A component is put only if absent (content-addressed: bytes already
//! there are the same), and cut into chunks only then, on the committing
//! thread, so storing a build the journal holds costs one lookup. A prune
//! removes what no record names: it finds the candidates in a snapshot,
//! beside the writer's commits, and holds the writer only to recheck what
//! was written since and remove them (see [`prune`]).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use ::redb::{
    Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable, StorageError, Table,
    TableDefinition, TableError, WriteTransaction,
};

use super::claims::ClaimWatch;
use super::envelope::{RecordKey, decode};
use super::file::Db;
use super::schema::{
    CALLS, COMPONENT_CHUNKS, COMPONENT_MANIFESTS, COMPONENTS, EXECUTIONS, SCHEDULES, UPGRADES,
};
use super::writer::failure;
use super::{guard, storage};
use crate::error::JournalError;
use crate::journal::PrunedComponents;
use crate::journal::chunks::{self, Manifest};
use crate::journal::record::{CallRecord, ExecutionRecord, ScheduleRecord, UpgradeRecord};
use crate::model::{ComponentHash, ExecutionId};

/// The chunked component tables of a write transaction.
pub(super) struct Chunked<'t> {
    manifests: Table<'t, &'static [u8], &'static [u8]>,
    chunks: Table<'t, &'static [u8], &'static [u8]>,
}

impl<'t> Chunked<'t> {
    /// Opens (and in an older journal, makes) the tables.
    pub(super) fn open(txn: &'t WriteTransaction) -> Result<Chunked<'t>, TableError> {
        Ok(Chunked {
            manifests: txn.open_table(COMPONENT_MANIFESTS)?,
            chunks: txn.open_table(COMPONENT_CHUNKS)?,
        })
    }

    /// Puts the component `hash` unless it is held already, chunked or
    /// whole (in `whole`), storing only the chunks not held yet.
    pub(super) fn put(
        &mut self,
        whole: &Table<'_, &'static [u8], &'static [u8]>,
        hash: &[u8; 32],
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        if self.manifests.get(&hash[..])?.is_some() || whole.get(&hash[..])?.is_some() {
            return Ok(());
        }
        let chunks = chunks::split(bytes);
        for chunk in &chunks {
            if self.chunks.get(&chunk.hash[..])?.is_none() {
                self.chunks.insert(&chunk.hash[..], chunk.of(bytes))?;
            }
        }
        self.manifests
            .insert(&hash[..], &Manifest::of(&chunks).encode()[..])?;
        Ok(())
    }
}

/// A component's bytes, reassembled from its chunks (or read whole from a
/// format-4 journal) and checked against their hash.
pub(super) fn read(db: &Db, hash: ComponentHash) -> Result<Option<Vec<u8>>, JournalError> {
    guard(|| {
        let txn = db.begin_read().map_err(storage)?;
        if let Some(manifests) = open(&txn, COMPONENT_MANIFESTS)?
            && let Some(stored) = manifests.get(&hash.0[..]).map_err(storage)?
        {
            let manifest = Manifest::decode(hash, stored.value())?;
            let pieces = open(&txn, COMPONENT_CHUNKS)?;
            let bytes = manifest.assemble(hash, |chunk, out| {
                let Some(table) = &pieces else {
                    return Ok(false);
                };
                match table.get(&chunk[..]).map_err(storage)? {
                    Some(piece) => {
                        // A chunk past the bound is damage: not copied.
                        let piece = piece.value();
                        out.extend_from_slice(&piece[..piece.len().min(chunks::MAX_CHUNK + 1)]);
                        Ok(true)
                    }
                    None => Ok(false),
                }
            })?;
            return Ok(Some(bytes));
        }
        let Some(whole) = open(&txn, COMPONENTS)? else {
            return Ok(None);
        };
        let Some(bytes) = whole.get(&hash.0[..]).map_err(storage)? else {
            return Ok(None);
        };
        let bytes = bytes.value().to_vec();
        if ComponentHash::of(&bytes) != hash {
            return Err(JournalError::Corrupt {
                what: format!("components/{hash}"),
                reason: "the bytes do not match their hash".to_owned(),
            });
        }
        Ok(Some(bytes))
    })?
}

/// The hashes of every component, chunked or whole, in hash order; the
/// bytes stay unread.
pub(super) fn hashes(db: &Db) -> Result<Vec<ComponentHash>, JournalError> {
    guard(|| {
        let txn = db.begin_read().map_err(storage)?;
        let mut hashes = BTreeSet::new();
        let tables = [
            (COMPONENTS, "components"),
            (COMPONENT_MANIFESTS, "component_manifests"),
        ];
        for (table, name) in tables {
            let Some(table) = open(&txn, table)? else {
                continue;
            };
            for entry in table.iter().map_err(storage)? {
                let (key, _) = entry.map_err(storage)?;
                hashes.insert(ComponentHash(key_hash(key.value(), name)?));
            }
        }
        Ok(hashes.into_iter().collect())
    })?
}

/// Removes the components no execution, call, upgrade or schedule names,
/// then the chunks no remaining component lists, without holding the
/// writer for a scan of every call:
///
/// 1. Every record is read in a snapshot (a read transaction: the writer
///    goes on committing), which gives the candidates, the components no
///    record names.
/// 2. One durable write transaction reads again only what can have named
///    a candidate since: the records of the executions `watch` saw claimed
///    (a record naming a component is written only under its execution's
///    claim: a new execution, a run's calls, a move), every move and every
///    schedule (both few); it removes the candidates still unnamed, then
///    the chunks no remaining component lists.
///
/// The caller starts `watch`, then has every queued write committed, and
/// only then calls this: a write that names a candidate is then either in
/// the snapshot or made under a watched claim.
pub(super) fn prune(
    db: &Arc<Database>,
    path: &Path,
    watch: &ClaimWatch,
) -> Result<PrunedComponents, JournalError> {
    let candidates = candidates(db, path)?;
    if candidates.is_empty() {
        return Ok(PrunedComponents::default());
    }
    remove_unnamed(db, path, watch, candidates)
}

/// Step 1 of [`prune`]: the components no record of a snapshot names.
fn candidates(db: &Arc<Database>, path: &Path) -> Result<BTreeSet<[u8; 32]>, JournalError> {
    guard(|| {
        let snapshot = db.begin_read().map_err(|e| failure(path, e))?;
        unnamed_in(&snapshot).map_err(|e| named_error(path, e))
    })?
}

/// Step 2 of [`prune`]: removes the `candidates` that nothing written
/// since names, in one durable write transaction.
fn remove_unnamed(
    db: &Arc<Database>,
    path: &Path,
    watch: &ClaimWatch,
    mut candidates: BTreeSet<[u8; 32]>,
) -> Result<PrunedComponents, JournalError> {
    let failed = |e: ::redb::Error| failure(path, e);
    guard(|| {
        let txn = db.begin_write().map_err(|e| failed(e.into()))?;
        let pruned = {
            named_since(&txn, watch, &mut candidates).map_err(|e| named_error(path, e))?;
            sweep(&txn, &candidates).map_err(failed)?
        };
        txn.commit().map_err(|e| failed(e.into()))?;
        Ok(pruned)
    })?
}

fn named_error(path: &Path, error: Named) -> JournalError {
    match error {
        Named::Journal(e) => e,
        Named::Redb(e) => failure(path, e),
    }
}

/// Why the names could not be read.
enum Named {
    Journal(JournalError),
    Redb(::redb::Error),
}

impl From<TableError> for Named {
    fn from(e: TableError) -> Named {
        Named::Redb(e.into())
    }
}

impl From<StorageError> for Named {
    fn from(e: StorageError) -> Named {
        Named::Redb(e.into())
    }
}

/// A table of the snapshot, or none in a journal made before it.
fn snapshot_table<K: ::redb::Key + 'static, V: ::redb::Value + 'static>(
    txn: &ReadTransaction,
    table: TableDefinition<K, V>,
) -> Result<Option<ReadOnlyTable<K, V>>, Named> {
    match txn.open_table(table) {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The components (chunked or whole) that no record of `snapshot` names:
/// an execution's flow component, each call's component, both builds of
/// each move, and each schedule's build (which may have started no
/// execution yet). A record that does not decode stops the prune (nothing
/// is removed on a guess).
fn unnamed_in(snapshot: &ReadTransaction) -> Result<BTreeSet<[u8; 32]>, Named> {
    let mut named = BTreeSet::new();
    if let Some(executions) = snapshot_table(snapshot, EXECUTIONS)? {
        for entry in executions.iter()? {
            let (id, bytes) = entry?;
            name_execution(&mut named, id.value(), bytes.value())?;
        }
    }
    if let Some(calls) = snapshot_table(snapshot, CALLS)? {
        for entry in calls.iter()? {
            let (key, bytes) = entry?;
            name_call(&mut named, key.value(), bytes.value())?;
        }
    }
    if let Some(upgrades) = snapshot_table(snapshot, UPGRADES)? {
        name_upgrades(&mut named, &upgrades)?;
    }
    if let Some(schedules) = snapshot_table(snapshot, SCHEDULES)? {
        name_schedules(&mut named, &schedules)?;
    }
    let mut unnamed = BTreeSet::new();
    for table in [COMPONENTS, COMPONENT_MANIFESTS] {
        let Some(table) = snapshot_table(snapshot, table)? else {
            continue;
        };
        for entry in table.iter()? {
            let (key, _) = entry?;
            let key = key.value();
            if !named.contains(key) {
                // A key that is not a hash is left alone.
                if let Ok(hash) = <[u8; 32]>::try_from(key) {
                    unnamed.insert(hash);
                }
            }
        }
    }
    Ok(unnamed)
}

/// Takes out of `candidates` what a record written since the snapshot
/// names: the records of the executions `watch` saw, every move and every
/// schedule.
fn named_since(
    txn: &WriteTransaction,
    watch: &ClaimWatch,
    candidates: &mut BTreeSet<[u8; 32]>,
) -> Result<(), Named> {
    let mut named = BTreeSet::new();
    let executions = txn.open_table(EXECUTIONS)?;
    let calls = txn.open_table(CALLS)?;
    for ExecutionId(exec) in watch.ids() {
        if let Some(bytes) = executions.get(exec)? {
            name_execution(&mut named, exec, bytes.value())?;
        }
        for entry in calls.range((exec, 0)..=(exec, u32::MAX))? {
            let (key, bytes) = entry?;
            name_call(&mut named, key.value(), bytes.value())?;
        }
    }
    name_upgrades(&mut named, &txn.open_table(UPGRADES)?)?;
    name_schedules(&mut named, &txn.open_table(SCHEDULES)?)?;
    candidates.retain(|hash| !named.contains(hash));
    Ok(())
}

fn name_execution(named: &mut BTreeSet<[u8; 32]>, id: u64, bytes: &[u8]) -> Result<(), Named> {
    let record: ExecutionRecord =
        decode(RecordKey::Execution(id), bytes).map_err(Named::Journal)?;
    named.extend(record.component.map(|c| c.0));
    Ok(())
}

fn name_call(
    named: &mut BTreeSet<[u8; 32]>,
    (exec, seq): (u64, u32),
    bytes: &[u8],
) -> Result<(), Named> {
    let record: CallRecord = decode(RecordKey::Call(exec, seq), bytes).map_err(Named::Journal)?;
    named.insert(record.component.0);
    Ok(())
}

fn name_upgrades(
    named: &mut BTreeSet<[u8; 32]>,
    upgrades: &impl ReadableTable<(u64, u32), &'static [u8]>,
) -> Result<(), Named> {
    for entry in upgrades.iter()? {
        let (key, bytes) = entry?;
        let (exec, n) = key.value();
        let record: UpgradeRecord =
            decode(RecordKey::Upgrade(exec, n), bytes.value()).map_err(Named::Journal)?;
        named.insert(record.from.0);
        named.insert(record.to.0);
    }
    Ok(())
}

fn name_schedules(
    named: &mut BTreeSet<[u8; 32]>,
    schedules: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<(), Named> {
    for entry in schedules.iter()? {
        let (name, bytes) = entry?;
        let record: ScheduleRecord =
            decode(RecordKey::Schedule(name.value()), bytes.value()).map_err(Named::Journal)?;
        named.insert(record.component.0);
    }
    Ok(())
}

/// Removes the components `gone` names, then the chunks left unlisted
/// (a look at every manifest and every chunk's key: as many as the
/// journal holds builds, not calls).
fn sweep(
    txn: &WriteTransaction,
    gone: &BTreeSet<[u8; 32]>,
) -> Result<PrunedComponents, ::redb::Error> {
    let mut pruned = PrunedComponents::default();
    let mut whole = txn.open_table(COMPONENTS)?;
    let mut manifests = txn.open_table(COMPONENT_MANIFESTS)?;
    let mut chunks = txn.open_table(COMPONENT_CHUNKS)?;
    for key in gone {
        if let Some(bytes) = whole.remove(&key[..])? {
            pruned.components += 1;
            pruned.bytes += bytes.value().len() as u64;
        }
        if manifests.remove(&key[..])?.is_some() {
            pruned.components += 1;
        }
    }
    // The chunks the remaining components list. A manifest that does not
    // decode keeps every chunk (it may list any).
    let mut listed = BTreeSet::new();
    for entry in manifests.iter()? {
        let (key, bytes) = entry?;
        let hash = ComponentHash(key_hash(key.value(), "component_manifests").unwrap_or([0; 32]));
        match Manifest::decode(hash, bytes.value()) {
            Ok(manifest) => listed.extend(manifest.chunks),
            Err(_) => return Ok(pruned),
        }
    }
    let mut gone = Vec::new();
    for entry in chunks.iter()? {
        let (key, _) = entry?;
        if !listed.contains(key.value()) {
            gone.push(key.value().to_vec());
        }
    }
    for key in gone {
        if let Some(bytes) = chunks.remove(&key[..])? {
            pruned.chunks += 1;
            pruned.bytes += bytes.value().len() as u64;
        }
    }
    Ok(pruned)
}

fn key_hash(key: &[u8], table: &str) -> Result<[u8; 32], JournalError> {
    <[u8; 32]>::try_from(key).map_err(|_| JournalError::Corrupt {
        what: table.to_owned(),
        reason: format!("a key of {} bytes is not a hash", key.len()),
    })
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

#[cfg(test)]
mod tests {
    use ::redb::ReadableDatabase;

    use super::*;
    use crate::journal::chunks::noise;
    use crate::journal::record::UpgradeRecord;
    use crate::journal::redb::RedbJournal;
    use crate::journal::redb::schema::{FORMAT_VERSION, FORMAT_VERSION_KEY, META};
    use crate::journal::redb::writer::LazyWindow;
    use crate::journal::{Entry, Journal, Sync};
    use crate::model::{ExecutionId, ExecutionStatus};

    /// `bytes` with 1,000 other bytes inserted in the middle: an edit.
    fn edited(bytes: &[u8], seed: u64) -> Vec<u8> {
        let middle = bytes.len() / 2;
        [&bytes[..middle], &noise(1_000, seed), &bytes[middle..]].concat()
    }

    async fn put(journal: &RedbJournal, bytes: &[u8]) -> ComponentHash {
        let hash = ComponentHash::of(bytes);
        let entry = Entry::Component {
            hash,
            bytes: Arc::from(bytes),
        };
        journal
            .write(&[entry], Sync::Durable)
            .await
            .expect("written");
        hash
    }

    fn database(journal: &RedbJournal) -> &Arc<Database> {
        match &journal.db {
            Db::Database(db) => db,
            Db::ReadOnly(_) => panic!("a writable journal"),
        }
    }

    /// (entries, bytes of their values) in `table`.
    fn size(db: &Database, table: ::redb::TableDefinition<&[u8], &[u8]>) -> (usize, usize) {
        let txn = db.begin_read().expect("reads");
        let Ok(table) = txn.open_table(table) else {
            return (0, 0);
        };
        let mut size = (0, 0);
        for entry in table.iter().expect("iterates") {
            let (_, value) = entry.expect("entry");
            size.0 += 1;
            size.1 += value.value().len();
        }
        size
    }

    fn execution(component: ComponentHash) -> ExecutionRecord {
        ExecutionRecord {
            flow: "f".to_owned(),
            component: Some(component),
            input: "{}".to_owned(),
            status: ExecutionStatus::Completed,
            output: Some("1".to_owned()),
            failure: None,
            original_exec_id: None,
            created_at_us: 1,
            updated_at_us: 1,
            seed: 1,
            calls: 0,
            replay: None,
            flow_log: Vec::new(),
        }
    }

    /// Two builds that differ by an edit share all but a few chunks: the
    /// second costs those chunks, not its size; storing one again costs
    /// nothing; both read back exactly.
    #[tokio::test]
    async fn a_rebuilt_component_stores_only_the_chunks_that_changed() {
        let journal = RedbJournal::in_memory().expect("opens");
        let first = noise(4 << 20, 1);
        let second = edited(&first, 2);
        let a = put(&journal, &first).await;
        let (_, after_first) = size(database(&journal), COMPONENT_CHUNKS);
        assert_eq!(after_first, first.len(), "every byte once");
        let b = put(&journal, &second).await;
        put(&journal, &first).await;
        let (_, after_both) = size(database(&journal), COMPONENT_CHUNKS);
        let added = after_both - after_first;
        assert!(
            added <= 3 * chunks::MAX_CHUNK,
            "the edited build added {added} bytes of chunks"
        );
        assert_eq!(size(database(&journal), COMPONENT_MANIFESTS).0, 2);
        assert_eq!(size(database(&journal), COMPONENTS).0, 0, "none whole");
        assert_eq!(journal.component(a).await.expect("reads"), Some(first));
        assert_eq!(journal.component(b).await.expect("reads"), Some(second));
        let mut both = vec![a, b];
        both.sort_by_key(|h| h.0);
        assert_eq!(journal.component_hashes().await.expect("reads"), both);
        assert_eq!(
            journal
                .component(ComponentHash([9; 32]))
                .await
                .expect("reads"),
            None
        );
    }

    /// A chunk damaged, or gone, is reported by the component's read,
    /// naming the chunk; never returned as the component.
    #[tokio::test]
    async fn a_damaged_or_missing_chunk_is_corruption() {
        let journal = RedbJournal::in_memory().expect("opens");
        let bytes = noise(1 << 20, 3);
        let hash = put(&journal, &bytes).await;
        let first = chunks::split(&bytes)[0].clone();
        let db = database(&journal);
        let rewrite = |value: Option<Vec<u8>>| {
            let txn = db.begin_write().expect("writes");
            {
                let mut table = txn.open_table(COMPONENT_CHUNKS).expect("table");
                match &value {
                    Some(v) => drop(table.insert(&first.hash[..], &v[..]).expect("put")),
                    None => drop(table.remove(&first.hash[..]).expect("removed")),
                }
            }
            txn.commit().expect("commits");
        };
        let mut damaged = first.of(&bytes).to_vec();
        damaged[10] ^= 1;
        rewrite(Some(damaged));
        let read = journal.component(hash).await;
        assert!(
            matches!(&read, Err(JournalError::Corrupt { reason, .. }) if reason.contains("chunk 0")),
            "{read:?}"
        );
        rewrite(None);
        let read = journal.component(hash).await;
        assert!(
            matches!(&read, Err(JournalError::Corrupt { reason, .. }) if reason.contains("missing")),
            "{read:?}"
        );
    }

    /// A journal of format 4 keeps its components whole: they still read
    /// (and list); opened for writing, it is marked format 5 and new
    /// components go in as chunks. Opened read-only, it is left at 4.
    #[tokio::test]
    async fn a_format_4_journal_reads_its_whole_components_and_is_marked_5() {
        let old = noise(300_000, 4);
        let old_hash = ComponentHash::of(&old);
        let format_4 = || {
            let db = Database::builder()
                .create_with_backend(::redb::backends::InMemoryBackend::new())
                .expect("creates");
            let txn = db.begin_write().expect("writes");
            {
                let mut meta = txn.open_table(META).expect("meta");
                meta.insert(FORMAT_VERSION_KEY, 4).expect("version");
                let mut whole = txn.open_table(COMPONENTS).expect("table");
                whole.insert(&old_hash.0[..], &old[..]).expect("put");
                txn.open_table(EXECUTIONS).expect("table");
            }
            txn.commit().expect("commits");
            Arc::new(db)
        };
        fn version(db: &Database) -> Option<u64> {
            let txn = db.begin_read().expect("reads");
            let meta = txn.open_table(META).expect("meta");
            meta.get(FORMAT_VERSION_KEY)
                .expect("reads")
                .map(|v| v.value())
        }
        let read_only = format_4();
        let journal = RedbJournal::start(Db::Database(read_only.clone()), None, None)
            .expect("a format-4 journal opens to be read");
        assert_eq!(
            journal.component(old_hash).await.expect("reads"),
            Some(old.clone())
        );
        drop(journal);
        assert_eq!(version(&read_only), Some(4), "reading changes nothing");

        let db = format_4();
        let journal =
            RedbJournal::start(Db::Database(db.clone()), None, Some(LazyWindow::default()))
                .expect("a format-4 journal opens to be written");
        assert_eq!(version(&db), Some(FORMAT_VERSION));
        assert_eq!(
            journal.component(old_hash).await.expect("reads"),
            Some(old.clone())
        );
        let new = edited(&old, 5);
        let new_hash = put(&journal, &new).await;
        // The old one is there whole: putting it again keeps it so.
        put(&journal, &old).await;
        assert_eq!(size(&db, COMPONENTS).0, 1);
        assert_eq!(size(&db, COMPONENT_MANIFESTS).0, 1);
        assert_eq!(journal.component(new_hash).await.expect("reads"), Some(new));
        let mut both = vec![old_hash, new_hash];
        both.sort_by_key(|h| h.0);
        assert_eq!(journal.component_hashes().await.expect("reads"), both);
    }

    /// A prune removes the builds no record names (chunked or whole) and
    /// the chunks only they listed; a build an execution runs, and both of
    /// a move, stay whole and readable; a second prune removes nothing.
    #[tokio::test]
    async fn a_prune_removes_unnamed_components_and_their_chunks_only() {
        let journal = RedbJournal::in_memory().expect("opens");
        let base = noise(2 << 20, 6);
        let (kept, dropped) = (put(&journal, &base).await, edited(&base, 7));
        let dropped_hash = put(&journal, &dropped).await;
        let moved_to = edited(&base, 8);
        let moved_to_hash = put(&journal, &moved_to).await;
        let lone = noise(500_000, 9);
        let lone_hash = put(&journal, &lone).await;
        let record = execution(kept);
        let upgrade = UpgradeRecord {
            from: kept,
            to: moved_to_hash,
            at_us: 2,
            by: "test".to_owned(),
        };
        let entries = [
            Entry::Execution {
                id: ExecutionId(1),
                record: &record,
            },
            Entry::Upgrade {
                exec: ExecutionId(1),
                n: 0,
                record: &upgrade,
            },
        ];
        journal
            .write(&entries, Sync::Durable)
            .await
            .expect("written");
        let (_, chunk_bytes) = size(database(&journal), COMPONENT_CHUNKS);

        let pruned = journal.prune_components().await.expect("prunes");
        assert_eq!(pruned.components, 2, "{pruned:?}");
        // The lone build's chunks, and the few of the dropped one's edit.
        let (_, left) = size(database(&journal), COMPONENT_CHUNKS);
        assert_eq!(pruned.bytes, (chunk_bytes - left) as u64);
        assert!(
            pruned.bytes >= lone.len() as u64
                && pruned.bytes <= (lone.len() + 3 * chunks::MAX_CHUNK) as u64,
            "{pruned:?}"
        );
        assert_eq!(journal.component(kept).await.expect("reads"), Some(base));
        assert_eq!(
            journal.component(moved_to_hash).await.expect("reads"),
            Some(moved_to)
        );
        for gone in [dropped_hash, lone_hash] {
            assert_eq!(journal.component(gone).await.expect("reads"), None);
        }
        assert_eq!(
            journal.prune_components().await.expect("prunes"),
            PrunedComponents::default()
        );
    }

    /// A schedule's build is named by the schedule, before it has started
    /// any execution: a prune keeps it (its runs would fail to load).
    #[tokio::test]
    async fn a_prune_keeps_the_build_a_schedule_starts() {
        let journal = RedbJournal::in_memory().expect("opens");
        let scheduled = noise(300_000, 10);
        let hash = put(&journal, &scheduled).await;
        let record = crate::journal::record::ScheduleRecord {
            component: hash,
            flow: "tick".to_owned(),
            input: "{}".to_owned(),
            cron: "* * * * *".to_owned(),
            catch_up: crate::schedule::CatchUp::Skip,
            paused: true,
            next_due_us: 1,
            created_at_us: 1,
            runs: 0,
            skipped: 0,
            last_run: None,
        };
        journal
            .change_schedule(
                "nightly",
                Box::new(move |_| crate::journal::ScheduleWrite::Put(record)),
            )
            .await
            .expect("added");
        assert_eq!(
            journal.prune_components().await.expect("prunes"),
            PrunedComponents::default()
        );
        assert_eq!(
            journal.component(hash).await.expect("reads"),
            Some(scheduled)
        );
    }

    /// A build no record names when the prune reads its snapshot, but that
    /// an execution written under its claim names before the prune's write
    /// transaction, stays; a build still unnamed then goes.
    #[tokio::test]
    async fn a_build_named_after_the_snapshot_under_a_claim_stays() {
        let journal = RedbJournal::in_memory().expect("opens");
        let named_late = put(&journal, &noise(300_000, 11)).await;
        let unnamed = put(&journal, &noise(300_000, 12)).await;
        let watch = journal.claims.watch();
        let db = database(&journal);
        let candidates = candidates(db, Path::new("memory")).expect("reads");
        assert_eq!(candidates.len(), 2);
        let (id, lease) = journal.next_claimed();
        let record = execution(named_late);
        journal
            .write(
                &[Entry::Execution {
                    id,
                    record: &record,
                }],
                Sync::Durable,
            )
            .await
            .expect("written");
        drop(lease);
        let pruned = remove_unnamed(db, Path::new("memory"), &watch, candidates).expect("removes");
        assert_eq!(pruned.components, 1, "{pruned:?}");
        assert!(
            journal
                .component(named_late)
                .await
                .expect("reads")
                .is_some()
        );
        assert_eq!(journal.component(unnamed).await.expect("reads"), None);
    }

    /// A read-only journal refuses a prune.
    #[tokio::test]
    async fn a_read_only_journal_refuses_a_prune() {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("journal.redb");
        drop(RedbJournal::open(&path, LazyWindow::default()).expect("created"));
        let journal = RedbJournal::open_read_only(&path).expect("opens");
        assert!(matches!(
            journal.prune_components().await,
            Err(JournalError::ReadOnly { .. })
        ));
    }
}
