//! An execution as the journal holds it: its record, its calls and their
//! attempts, checked for completeness.

use super::record::{AttemptRecord, CallRecord, ExecutionRecord};
use crate::error::JournalError;
use crate::model::{ExecutionId, ExecutionStatus};

/// An execution with its calls (in seq order) and each call's attempts (in
/// order), as the journal holds them.
#[derive(Debug, Clone)]
pub(crate) struct History {
    /// The execution.
    pub execution: ExecutionRecord,
    /// Its calls, in seq order.
    pub calls: Vec<CallHistory>,
}

/// A call and its attempts.
#[derive(Debug, Clone)]
pub(crate) struct CallHistory {
    /// Its seq.
    pub seq: u32,
    /// Its record.
    pub call: CallRecord,
    /// Its attempts, by number (see [`Journal::history_for_resume`](super::Journal::history_for_resume)
    /// for when some are only counted).
    pub attempts: Vec<(u32, AttemptRecord)>,
    /// How many attempts the journal holds for it, numbered 1, 2, ...
    pub held: u32,
}

impl History {
    /// Damage can remove a record without a trace in the others' checksums,
    /// so the counts kept in the parents are checked: each call has exactly
    /// the attempts it counts, numbered from 1, and once the execution has
    /// ended its seqs run from 0 without a gap, as many as it counts. (While
    /// it runs, or after its process died, gaps are normal: calls are
    /// journaled when their first attempt starts, and parallel calls start
    /// out of order.)
    pub(crate) fn check(&self, id: ExecutionId) -> Result<(), JournalError> {
        let ended = matches!(
            self.execution.status,
            ExecutionStatus::Completed | ExecutionStatus::Failed
        );
        for (
            i,
            CallHistory {
                seq, call, held, ..
            },
        ) in self.calls.iter().enumerate()
        {
            if ended && *seq as usize != i {
                return Err(incomplete(id, format!("the call at seq {i} is missing")));
            }
            if *held != call.attempts {
                return Err(incomplete(
                    id,
                    format!(
                        "seq {seq} counts {} attempts, the journal holds {held}",
                        call.attempts
                    ),
                ));
            }
        }
        if ended && self.calls.len() != self.execution.calls as usize {
            return Err(incomplete(
                id,
                format!(
                    "the execution counts {} calls, the journal holds {}",
                    self.execution.calls,
                    self.calls.len()
                ),
            ));
        }
        Ok(())
    }
}

pub(crate) fn incomplete(id: ExecutionId, reason: String) -> JournalError {
    JournalError::Corrupt {
        what: format!("execution {id}"),
        reason,
    }
}
