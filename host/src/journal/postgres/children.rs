//! Child flows' links in the PostgreSQL journal (`cairn_children`, see
//! `schema`): a child is created in one transaction with its parent's step
//! and the link, fenced by both leases; the links are read for the views,
//! a resumed parent and a cancel.

use std::sync::Arc;

use deadpool_postgres::Pool;

use super::PostgresJournal;
use super::group::{Row, big};
use super::leases::storage;
use super::schema::FENCE_SQLSTATE;
use crate::error::JournalError;
use crate::journal::{ChildOf, Created, Entry, Journal, Links, NewRecord, Sync};
use crate::model::{ComponentHash, ExecutionId};

const INSERT_EXECUTION: &str =
    "INSERT INTO cairn_executions (id, flow, status, created_at_us, record)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (id) DO UPDATE SET flow = excluded.flow, status = excluded.status,
        created_at_us = excluded.created_at_us, record = excluded.record";
const INSERT_CALL: &str = "INSERT INTO cairn_calls (exec, seq, record) VALUES ($1, $2, $3)
    ON CONFLICT (exec, seq) DO UPDATE SET record = excluded.record";
const INSERT_LINK: &str = "INSERT INTO cairn_children (parent, seq, child) VALUES ($1, $2, $3)";
const FENCE: &str = "SELECT cairn_fence($1::BIGINT[], $2::BIGINT[], $3::TEXT)";

impl PostgresJournal {
    /// See [`Journal::create_child`](crate::journal::Journal::create_child).
    pub(super) async fn create_child_here(
        &self,
        child_of: ChildOf<'_>,
        component: Option<(ComponentHash, Arc<[u8]>)>,
        record: NewRecord<'_>,
    ) -> Result<Created, JournalError> {
        // What the parent queued before (its clock readings) is ordered
        // before the child, as every later write is; a component goes the
        // writer's way, in chunks.
        match component {
            Some((hash, bytes)) => {
                self.write(&[Entry::Component { hash, bytes }], Sync::Durable)
                    .await?;
            }
            None => self.sync().await?,
        }
        let (id, lease) = self.leases.create().await?;
        let record = record(id);
        let (parent, seq) = (child_of.parent, child_of.seq);
        let Row::Execution {
            flow,
            status,
            created_at_us,
            record: envelope,
            ..
        } = Row::encode(&Entry::Execution {
            id,
            record: &record,
        })
        else {
            unreachable!("an execution's entry is an execution's row")
        };
        let Row::Call { record: step, .. } = Row::encode(&Entry::Call {
            exec: parent,
            seq,
            record: child_of.step,
        }) else {
            unreachable!("a call's entry is a call's row")
        };
        let fenced: Vec<(i64, i64)> = [big(parent.0), big(id.0)]
            .into_iter()
            .filter_map(|exec| self.leases.epoch(exec).map(|epoch| (exec, epoch)))
            .collect();
        let (execs, epochs): (Vec<i64>, Vec<i64>) = fenced.iter().copied().unzip();
        let owner = self.leases.owner().to_owned();
        let pool = self.pool.clone();
        let (parent_id, seq) = (big(parent.0), i64::from(seq));
        // On the journal's runtime, as every statement is: a connection the
        // pool makes now lives there.
        let txn = async move {
            let mut client = pool.get().await.map_err(|e| {
                Failed::Other(JournalError::storage("connecting to start a child flow", e))
            })?;
            let txn = client.transaction().await?;
            txn.execute(FENCE, &[&execs, &epochs, &owner]).await?;
            txn.execute(
                INSERT_EXECUTION,
                &[&big(id.0), &flow, &status, &created_at_us, &envelope],
            )
            .await?;
            txn.execute(INSERT_CALL, &[&parent_id, &seq, &step]).await?;
            txn.execute(INSERT_LINK, &[&parent_id, &seq, &big(id.0)])
                .await?;
            txn.commit().await?;
            Ok::<(), Failed>(())
        };
        let outcome = self
            .handle
            .spawn(txn)
            .await
            .map_err(|_| JournalError::Closed)?;
        match outcome {
            Ok(()) => {}
            Err(Failed::Other(e)) => return Err(e),
            Err(Failed::Db(e)) => {
                let fenced_out = e
                    .as_db_error()
                    .is_some_and(|db| db.code().code() == FENCE_SQLSTATE);
                if fenced_out {
                    let epoch = fenced
                        .iter()
                        .find(|(e, _)| *e == big(parent.0))
                        .map_or(0, |(_, epoch)| epoch.unsigned_abs());
                    return Err(JournalError::TakenOver {
                        exec: parent,
                        epoch,
                    });
                }
                return Err(JournalError::storage("starting a child flow", e));
            }
        }
        Ok(Created { id, record, lease })
    }
}

/// Why the child's transaction failed.
enum Failed {
    /// A statement failed (a fence raises here).
    Db(tokio_postgres::Error),
    Other(JournalError),
}

impl From<tokio_postgres::Error> for Failed {
    fn from(e: tokio_postgres::Error) -> Failed {
        Failed::Db(e)
    }
}

/// An execution's parent and children.
pub(super) async fn links(pool: Pool, exec: ExecutionId) -> Result<Links, JournalError> {
    let client = pool
        .get()
        .await
        .map_err(storage("connecting to read the journal"))?;
    let sql = "SELECT parent, seq, child FROM cairn_children WHERE parent = $1 OR child = $1
        ORDER BY parent, seq";
    let rows = client
        .query(sql, &[&big(exec.0)])
        .await
        .map_err(storage("reading child flows"))?;
    let mut links = Links::default();
    for row in rows {
        let corrupt = |e: tokio_postgres::Error| JournalError::Corrupt {
            what: "cairn_children".to_owned(),
            reason: e.to_string(),
        };
        let parent: i64 = row.try_get(0).map_err(corrupt)?;
        let seq: i64 = row.try_get(1).map_err(corrupt)?;
        let child: i64 = row.try_get(2).map_err(corrupt)?;
        let seq = u32::try_from(seq).map_err(|_| JournalError::Corrupt {
            what: "cairn_children".to_owned(),
            reason: format!("seq {seq} is out of range"),
        })?;
        if parent == big(exec.0) {
            links
                .children
                .push((seq, ExecutionId(child.unsigned_abs())));
        } else {
            links.parent = Some((ExecutionId(parent.unsigned_abs()), seq));
        }
    }
    Ok(links)
}
