//! Child flows' links: an execution started by a flow as its child (see
//! `runner::child`) is linked to the step of its parent that started it,
//! both ways. The link is written with the child's record and the parent's
//! step, in one transaction, so a parent resumed after a crash finds the
//! child it started and never starts it twice.

use crate::journal::record::CallRecord;
use crate::model::ExecutionId;

/// Where a new execution is started from: the step of its parent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChildOf<'a> {
    /// The parent execution (its run holds its claim).
    pub parent: ExecutionId,
    /// The seq of the parent's step that starts the child.
    pub seq: u32,
    /// That step's record, `running`, written with the child.
    pub step: &'a CallRecord,
}

/// An execution's links to its parent and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Links {
    /// Its parent and the seq of the parent's step that started it, if a
    /// flow started it as a child.
    pub parent: Option<(ExecutionId, u32)>,
    /// Its children, by the seq of the step that started each.
    pub children: Vec<(u32, ExecutionId)>,
}
