//! Which executions a listing returns, and in which order and pages; a
//! journal may apply it where it reads (a database's `WHERE … ORDER BY …
//! LIMIT`).

use super::record::ExecutionRecord;
use crate::model::{ExecutionId, ExecutionStatus};

/// Which executions to list. The default lists every execution, oldest
/// first.
///
/// Pages are cut by id, not by offset, so a page stays right while new
/// executions are created: newest first, the next page is
/// `before: Some(last id of this page)`; oldest first, `after`.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    /// Only those with this status.
    pub status: Option<ExecutionStatus>,
    /// Only those of this flow.
    pub flow: Option<String>,
    /// Only those created at or after this time (µs since the Unix epoch).
    pub created_since_us: Option<u64>,
    /// Only ids above this one.
    pub after: Option<ExecutionId>,
    /// Only ids below this one.
    pub before: Option<ExecutionId>,
    /// At most this many.
    pub limit: Option<usize>,
    /// Newest (highest id) first instead of oldest first.
    pub newest_first: bool,
}

impl ExecutionFilter {
    /// Whether `record` passes the filter's conditions on the record (the
    /// id range, order and limit are the reader's to apply).
    pub fn matches(&self, record: &ExecutionRecord) -> bool {
        self.status.is_none_or(|s| s == record.status)
            && self.flow.as_ref().is_none_or(|f| *f == record.flow)
            && self
                .created_since_us
                .is_none_or(|t| record.created_at_us >= t)
    }

    /// The ids to read, as an inclusive range (empty when `after` and
    /// `before` leave nothing between them).
    pub(crate) fn id_range(&self) -> Option<std::ops::RangeInclusive<u64>> {
        let low = match self.after {
            Some(ExecutionId(id)) => id.checked_add(1)?,
            None => 0,
        };
        let high = match self.before {
            Some(ExecutionId(id)) => id.checked_sub(1)?,
            None => u64::MAX,
        };
        (low <= high).then_some(low..=high)
    }
}
