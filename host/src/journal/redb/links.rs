//! Child flows' links in the redb journal (`children` and `parents`, see
//! `schema`): read for the views, a resumed parent and a cancel; removed
//! with the executions a prune removes.

use ::redb::{ReadableTable, WriteTransaction};

use super::file::Db;
use super::schema::{CHILDREN, PARENTS};
use super::{guard, storage};
use crate::error::JournalError;
use crate::journal::Links;
use crate::model::ExecutionId;

/// An execution's parent and children; none in a file made before child
/// flows.
pub(super) fn read(db: &Db, exec: ExecutionId) -> Result<Links, JournalError> {
    guard(|| {
        let txn = db.begin_read().map_err(storage)?;
        let mut links = Links::default();
        match txn.open_table(PARENTS) {
            Ok(parents) => {
                links.parent = parents.get(exec.0).map_err(storage)?.map(|v| {
                    let (parent, seq) = v.value();
                    (ExecutionId(parent), seq)
                });
            }
            Err(::redb::TableError::TableDoesNotExist(_)) => return Ok(links),
            Err(e) => return Err(storage(e)),
        }
        if let Ok(children) = txn.open_table(CHILDREN) {
            for entry in children
                .range((exec.0, 0)..=(exec.0, u32::MAX))
                .map_err(storage)?
            {
                let (key, child) = entry.map_err(storage)?;
                links
                    .children
                    .push((key.value().1, ExecutionId(child.value())));
            }
        }
        Ok(links)
    })?
}

/// Removes every link of execution `exec`, both ways: to its parent, and
/// to its children (which stay, as executions of their own).
pub(super) fn remove(txn: &WriteTransaction, exec: u64) -> Result<(), ::redb::Error> {
    let mut children = txn.open_table(CHILDREN)?;
    let mut parents = txn.open_table(PARENTS)?;
    if let Some((parent, seq)) = parents.remove(exec)?.map(|v| v.value()) {
        // Only the link that points at this child: a parent's step is
        // linked to one child.
        let points_here = children
            .get((parent, seq))?
            .is_some_and(|child| child.value() == exec);
        if points_here {
            children.remove((parent, seq))?;
        }
    }
    let mine: Vec<((u64, u32), u64)> = children
        .range((exec, 0)..=(exec, u32::MAX))?
        .map(|entry| entry.map(|(k, v)| (k.value(), v.value())))
        .collect::<Result<_, _>>()?;
    for (key, child) in mine {
        children.remove(key)?;
        parents.remove(child)?;
    }
    Ok(())
}
