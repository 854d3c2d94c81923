//! A group of writes as one SQL statement: every table's rows go in as
//! arrays (`unnest`), so a commit is one round trip however many records it
//! holds, and the statement is prepared once.
//!
//! A statement cannot touch a row twice (`ON CONFLICT DO UPDATE` refuses
//! to, and a `DELETE` does not see a row `INSERT`ed beside it), so the rows
//! of a group are merged first: the last put under a key wins, as it would
//! if the writes had been committed one after the other, and a timer put
//! then removed is simply absent.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::journal::Entry;
use crate::journal::redb::envelope::{RecordKey, encode};

/// One entry as a row: its record in its envelope, its numbers as
/// PostgreSQL's `BIGINT`s.
#[derive(Debug)]
pub(super) enum Row {
    Component {
        hash: [u8; 32],
        bytes: Arc<[u8]>,
    },
    Execution {
        id: i64,
        flow: String,
        status: &'static str,
        created_at_us: i64,
        record: Vec<u8>,
    },
    Call {
        exec: i64,
        seq: i64,
        record: Vec<u8>,
    },
    Attempt {
        exec: i64,
        seq: i64,
        n: i64,
        record: Vec<u8>,
    },
    Cache {
        key: [u8; 32],
        exec: i64,
        seq: i64,
    },
    Wait {
        exec: i64,
        name: String,
        record: Vec<u8>,
    },
    Time {
        exec: i64,
        n: i64,
        us: i64,
    },
    Timer {
        exec: i64,
        seq: i64,
        record: Vec<u8>,
    },
    TimerDone {
        exec: i64,
        seq: i64,
    },
    Upgrade {
        exec: i64,
        n: i64,
        record: Vec<u8>,
    },
}

/// A `u64` as a `BIGINT`: ids and times stay far below 2^63, and one above
/// it would be damage (stored as is, it reads back the same).
pub(super) fn big(n: u64) -> i64 {
    n as i64
}

impl Row {
    /// An entry as a row.
    pub(super) fn encode(entry: &Entry<'_>) -> Row {
        match *entry {
            Entry::Component { hash, ref bytes } => Row::Component {
                hash: hash.0,
                bytes: bytes.clone(),
            },
            Entry::Execution { id, record } => Row::Execution {
                id: big(id.0),
                flow: record.flow.clone(),
                status: record.status.as_str(),
                created_at_us: big(record.created_at_us),
                record: encode(RecordKey::Execution(id.0), record),
            },
            Entry::Call { exec, seq, record } => Row::Call {
                exec: big(exec.0),
                seq: i64::from(seq),
                record: encode(RecordKey::Call(exec.0, seq), record),
            },
            Entry::Attempt {
                exec,
                seq,
                n,
                record,
            } => Row::Attempt {
                exec: big(exec.0),
                seq: i64::from(seq),
                n: i64::from(n),
                record: encode(RecordKey::Attempt(exec.0, seq, n), record),
            },
            Entry::Cache { key, exec, seq } => Row::Cache {
                key,
                exec: big(exec.0),
                seq: i64::from(seq),
            },
            Entry::Wait { exec, name, record } => Row::Wait {
                exec: big(exec.0),
                name: name.to_owned(),
                record: encode(RecordKey::Wait(exec.0, name), record),
            },
            Entry::Time { exec, n, us } => Row::Time {
                exec: big(exec.0),
                n: i64::from(n),
                us: big(us),
            },
            Entry::Timer { exec, seq, record } => Row::Timer {
                exec: big(exec.0),
                seq: i64::from(seq),
                record: encode(RecordKey::Timer(exec.0, seq), record),
            },
            Entry::TimerDone { exec, seq } => Row::TimerDone {
                exec: big(exec.0),
                seq: i64::from(seq),
            },
            Entry::Upgrade { exec, n, record } => Row::Upgrade {
                exec: big(exec.0),
                n: i64::from(n),
                record: encode(RecordKey::Upgrade(exec.0, n), record),
            },
        }
    }

    /// The execution the row belongs to, if one.
    pub(super) fn exec(&self) -> Option<i64> {
        match *self {
            Row::Component { .. } | Row::Cache { .. } => None,
            Row::Execution { id, .. } => Some(id),
            Row::Call { exec, .. }
            | Row::Attempt { exec, .. }
            | Row::Wait { exec, .. }
            | Row::Time { exec, .. }
            | Row::Timer { exec, .. }
            | Row::TimerDone { exec, .. }
            | Row::Upgrade { exec, .. } => Some(exec),
        }
    }
}

/// The statement that writes a group; its parameters are [`Params`]'s
/// arrays, in order, then the fence's and `synchronous_commit`, then the
/// components' chunks (`$36`, `$37`: a component's row, `$1`/`$2`, holds
/// its chunk list; see `components.rs`).
pub(super) const WRITE: &str = r#"
WITH
components AS (
    INSERT INTO cairn_components (hash, chunks)
    SELECT * FROM unnest($1::BYTEA[], $2::BYTEA[])
    ON CONFLICT (hash) DO NOTHING),
component_chunks AS (
    INSERT INTO cairn_component_chunks (hash, bytes)
    SELECT * FROM unnest($36::BYTEA[], $37::BYTEA[])
    ON CONFLICT (hash) DO NOTHING),
executions AS (
    INSERT INTO cairn_executions (id, flow, status, created_at_us, record)
    SELECT * FROM unnest($3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[], $7::BYTEA[])
    ON CONFLICT (id) DO UPDATE SET flow = excluded.flow, status = excluded.status,
        created_at_us = excluded.created_at_us, record = excluded.record),
calls AS (
    INSERT INTO cairn_calls (exec, seq, record)
    SELECT * FROM unnest($8::BIGINT[], $9::BIGINT[], $10::BYTEA[])
    ON CONFLICT (exec, seq) DO UPDATE SET record = excluded.record),
attempts AS (
    INSERT INTO cairn_attempts (exec, seq, n, record)
    SELECT * FROM unnest($11::BIGINT[], $12::BIGINT[], $13::BIGINT[], $14::BYTEA[])
    ON CONFLICT (exec, seq, n) DO UPDATE SET record = excluded.record),
cache AS (
    INSERT INTO cairn_cache (key, exec, seq)
    SELECT * FROM unnest($15::BYTEA[], $16::BIGINT[], $17::BIGINT[])
    ON CONFLICT (key) DO UPDATE SET exec = excluded.exec, seq = excluded.seq),
waits AS (
    INSERT INTO cairn_waits (exec, name, record)
    SELECT * FROM unnest($18::BIGINT[], $19::TEXT[], $20::BYTEA[])
    ON CONFLICT (exec, name) DO UPDATE SET record = excluded.record),
times AS (
    INSERT INTO cairn_times (exec, n, us)
    SELECT * FROM unnest($21::BIGINT[], $22::BIGINT[], $23::BIGINT[])
    ON CONFLICT (exec, n) DO UPDATE SET us = excluded.us),
timers AS (
    INSERT INTO cairn_timers (exec, seq, record)
    SELECT * FROM unnest($24::BIGINT[], $25::BIGINT[], $26::BYTEA[])
    ON CONFLICT (exec, seq) DO UPDATE SET record = excluded.record),
timers_done AS (
    DELETE FROM cairn_timers t USING unnest($27::BIGINT[], $28::BIGINT[]) AS d (exec, seq)
    WHERE t.exec = d.exec AND t.seq = d.seq),
upgrades AS (
    INSERT INTO cairn_upgrades (exec, n, record)
    SELECT * FROM unnest($29::BIGINT[], $30::BIGINT[], $31::BYTEA[])
    ON CONFLICT (exec, n) DO UPDATE SET record = excluded.record)
SELECT cairn_fence($32::BIGINT[], $33::BIGINT[], $34::TEXT),
    set_config('synchronous_commit', $35::TEXT, true)
"#;

/// The arrays of one group's statement.
#[derive(Default)]
pub(super) struct Params {
    components: BTreeMap<[u8; 32], Arc<[u8]>>,
    executions: BTreeMap<i64, (String, &'static str, i64, Vec<u8>)>,
    calls: BTreeMap<(i64, i64), Vec<u8>>,
    attempts: BTreeMap<(i64, i64, i64), Vec<u8>>,
    cache: BTreeMap<[u8; 32], (i64, i64)>,
    waits: BTreeMap<(i64, String), Vec<u8>>,
    times: BTreeMap<(i64, i64), i64>,
    /// `None`: removed.
    timers: BTreeMap<(i64, i64), Option<Vec<u8>>>,
    upgrades: BTreeMap<(i64, i64), Vec<u8>>,
    /// Executions whose lease the statement checks, with the epoch held.
    fence: BTreeMap<i64, i64>,
}

impl Params {
    /// Adds `rows` after those added before (a later row under the same
    /// key replaces an earlier one).
    pub(super) fn add(&mut self, rows: &[Row]) {
        for row in rows {
            match row {
                Row::Component { hash, bytes } => {
                    self.components
                        .entry(*hash)
                        .or_insert_with(|| bytes.clone());
                }
                Row::Execution {
                    id,
                    flow,
                    status,
                    created_at_us,
                    record,
                } => {
                    let value = (flow.clone(), *status, *created_at_us, record.clone());
                    self.executions.insert(*id, value);
                }
                Row::Call { exec, seq, record } => {
                    self.calls.insert((*exec, *seq), record.clone());
                }
                Row::Attempt {
                    exec,
                    seq,
                    n,
                    record,
                } => {
                    self.attempts.insert((*exec, *seq, *n), record.clone());
                }
                Row::Cache { key, exec, seq } => {
                    self.cache.insert(*key, (*exec, *seq));
                }
                Row::Wait { exec, name, record } => {
                    self.waits.insert((*exec, name.clone()), record.clone());
                }
                Row::Time { exec, n, us } => {
                    self.times.insert((*exec, *n), *us);
                }
                Row::Timer { exec, seq, record } => {
                    self.timers.insert((*exec, *seq), Some(record.clone()));
                }
                Row::TimerDone { exec, seq } => {
                    self.timers.insert((*exec, *seq), None);
                }
                Row::Upgrade { exec, n, record } => {
                    self.upgrades.insert((*exec, *n), record.clone());
                }
            }
        }
    }

    /// Checks, in the statement, that the lease of `exec` is still held at
    /// `epoch`.
    pub(super) fn fence(&mut self, exec: i64, epoch: i64) {
        self.fence.insert(exec, epoch);
    }

    /// How many rows the statement writes.
    pub(super) fn len(&self) -> usize {
        self.components.len()
            + self.executions.len()
            + self.calls.len()
            + self.attempts.len()
            + self.cache.len()
            + self.waits.len()
            + self.times.len()
            + self.timers.len()
            + self.upgrades.len()
    }

    /// The statement's parameters, `durable` deciding `synchronous_commit`.
    pub(super) fn into_arrays(self, owner: &str, durable: bool) -> Arrays {
        let mut a = Arrays {
            owner: owner.to_owned(),
            sync: if durable { "on" } else { "off" },
            ..Arrays::default()
        };
        // Chunks shared by the group's components are sent once.
        let mut chunks = BTreeMap::new();
        for (hash, bytes) in self.components {
            let cut = crate::journal::chunks::split(&bytes);
            a.component_hash.push(hash.to_vec());
            a.component_chunks
                .push(crate::journal::chunks::Manifest::of(&cut).encode());
            for chunk in &cut {
                chunks
                    .entry(chunk.hash)
                    .or_insert_with(|| chunk.of(&bytes).to_vec());
            }
        }
        for (hash, bytes) in chunks {
            a.chunk_hash.push(hash.to_vec());
            a.chunk_bytes.push(bytes);
        }
        for (id, (flow, status, created, record)) in self.executions {
            a.exec_id.push(id);
            a.exec_flow.push(flow);
            a.exec_status.push(status.to_owned());
            a.exec_created.push(created);
            a.exec_record.push(record);
        }
        for ((exec, seq), record) in self.calls {
            a.call_exec.push(exec);
            a.call_seq.push(seq);
            a.call_record.push(record);
        }
        for ((exec, seq, n), record) in self.attempts {
            a.attempt_exec.push(exec);
            a.attempt_seq.push(seq);
            a.attempt_n.push(n);
            a.attempt_record.push(record);
        }
        for (key, (exec, seq)) in self.cache {
            a.cache_key.push(key.to_vec());
            a.cache_exec.push(exec);
            a.cache_seq.push(seq);
        }
        for ((exec, name), record) in self.waits {
            a.wait_exec.push(exec);
            a.wait_name.push(name);
            a.wait_record.push(record);
        }
        for ((exec, n), us) in self.times {
            a.time_exec.push(exec);
            a.time_n.push(n);
            a.time_us.push(us);
        }
        for ((exec, seq), record) in self.timers {
            match record {
                Some(record) => {
                    a.timer_exec.push(exec);
                    a.timer_seq.push(seq);
                    a.timer_record.push(record);
                }
                None => {
                    a.done_exec.push(exec);
                    a.done_seq.push(seq);
                }
            }
        }
        for ((exec, n), record) in self.upgrades {
            a.upgrade_exec.push(exec);
            a.upgrade_n.push(n);
            a.upgrade_record.push(record);
        }
        for (exec, epoch) in self.fence {
            a.fence_exec.push(exec);
            a.fence_epoch.push(epoch);
        }
        a
    }
}

/// [`WRITE`]'s parameters, owned.
#[derive(Default)]
pub(super) struct Arrays {
    component_hash: Vec<Vec<u8>>,
    /// Each component's manifest.
    component_chunks: Vec<Vec<u8>>,
    chunk_hash: Vec<Vec<u8>>,
    chunk_bytes: Vec<Vec<u8>>,
    exec_id: Vec<i64>,
    exec_flow: Vec<String>,
    exec_status: Vec<String>,
    exec_created: Vec<i64>,
    exec_record: Vec<Vec<u8>>,
    call_exec: Vec<i64>,
    call_seq: Vec<i64>,
    call_record: Vec<Vec<u8>>,
    attempt_exec: Vec<i64>,
    attempt_seq: Vec<i64>,
    attempt_n: Vec<i64>,
    attempt_record: Vec<Vec<u8>>,
    cache_key: Vec<Vec<u8>>,
    cache_exec: Vec<i64>,
    cache_seq: Vec<i64>,
    wait_exec: Vec<i64>,
    wait_name: Vec<String>,
    wait_record: Vec<Vec<u8>>,
    time_exec: Vec<i64>,
    time_n: Vec<i64>,
    time_us: Vec<i64>,
    timer_exec: Vec<i64>,
    timer_seq: Vec<i64>,
    timer_record: Vec<Vec<u8>>,
    done_exec: Vec<i64>,
    done_seq: Vec<i64>,
    upgrade_exec: Vec<i64>,
    upgrade_n: Vec<i64>,
    upgrade_record: Vec<Vec<u8>>,
    fence_exec: Vec<i64>,
    fence_epoch: Vec<i64>,
    owner: String,
    sync: &'static str,
}

impl Arrays {
    /// The parameters in [`WRITE`]'s order.
    pub(super) fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 37] {
        [
            &self.component_hash,
            &self.component_chunks,
            &self.exec_id,
            &self.exec_flow,
            &self.exec_status,
            &self.exec_created,
            &self.exec_record,
            &self.call_exec,
            &self.call_seq,
            &self.call_record,
            &self.attempt_exec,
            &self.attempt_seq,
            &self.attempt_n,
            &self.attempt_record,
            &self.cache_key,
            &self.cache_exec,
            &self.cache_seq,
            &self.wait_exec,
            &self.wait_name,
            &self.wait_record,
            &self.time_exec,
            &self.time_n,
            &self.time_us,
            &self.timer_exec,
            &self.timer_seq,
            &self.timer_record,
            &self.done_exec,
            &self.done_seq,
            &self.upgrade_exec,
            &self.upgrade_n,
            &self.upgrade_record,
            &self.fence_exec,
            &self.fence_epoch,
            &self.owner,
            &self.sync,
            &self.chunk_hash,
            &self.chunk_bytes,
        ]
    }
}
