//! Which executions a listing returns; a journal may apply it where it
//! reads (a database's `WHERE`).

use super::record::ExecutionRecord;
use crate::model::ExecutionStatus;

/// Which executions to list.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    /// Only those with this status.
    pub status: Option<ExecutionStatus>,
    /// Only those of this flow.
    pub flow: Option<String>,
}

impl ExecutionFilter {
    /// Whether `record` passes the filter.
    pub fn matches(&self, record: &ExecutionRecord) -> bool {
        self.status.is_none_or(|s| s == record.status)
            && self.flow.as_ref().is_none_or(|f| *f == record.flow)
    }
}
