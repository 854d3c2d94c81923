//! What the journal already holds for an execution being resumed: its calls
//! by seq, read once, and how far each call's attempts got.

use std::collections::HashMap;

use crate::error::JournalError;
use crate::journal::record::{AttemptRecord, CallRecord};
use crate::journal::{CallHistory, Entry, Journal};
use crate::model::{AttemptOutcome, CallStatus, ExecutionId};

/// The message given to an attempt whose process stopped while it ran.
pub(crate) const INTERRUPTED: &str =
    "interrupted: the process running this attempt stopped before it finished";

/// A journaled call and the number of its last attempt.
pub(crate) struct RecordedCall {
    pub(crate) call: CallRecord,
    pub(crate) last_attempt: u32,
}

/// An attempt left open by a process that died, closed as interrupted.
pub(crate) struct ClosedAttempt {
    seq: u32,
    n: u32,
    record: AttemptRecord,
}

impl ClosedAttempt {
    /// The entry that journals it.
    pub(crate) fn entry(&self, exec: ExecutionId) -> Entry<'_> {
        Entry::Attempt {
            exec,
            seq: self.seq,
            n: self.n,
            record: &self.record,
        }
    }
}

/// The replay cursor's source: recorded calls, handed out by seq.
#[derive(Default)]
pub(crate) struct Recorded {
    /// By seq; a running execution's journal may have gaps (calls not yet
    /// started when its process died). A hash map, not a B-tree: a resume
    /// takes every call in seq order, and taking the first entry of a B-tree
    /// shifts the rest of its node each time.
    calls: HashMap<u32, RecordedCall>,
    /// One past the largest seq.
    len: u32,
}

impl Recorded {
    /// Reads an execution's calls, and the attempts of those not completed,
    /// in one pass each. Attempts
    /// left open by a process that died are closed as interrupted, and
    /// returned for the caller to write.
    pub(crate) async fn load(
        journal: &dyn Journal,
        exec: ExecutionId,
    ) -> Result<(Recorded, Vec<ClosedAttempt>), JournalError> {
        let history =
            journal
                .history_for_resume(exec)
                .await?
                .ok_or_else(|| JournalError::Corrupt {
                    what: format!("execution {exec}"),
                    reason: "the execution record is missing".to_owned(),
                })?;
        let mut calls = HashMap::with_capacity(history.calls.len());
        let mut len = 0;
        let mut closing = Vec::new();
        for CallHistory {
            seq,
            call,
            attempts,
            held: last_attempt,
        } in history.calls
        {
            for (n, attempt) in attempts {
                if attempt.outcome.is_none() {
                    let record = AttemptRecord {
                        outcome: Some(AttemptOutcome::Failed {
                            message: INTERRUPTED.to_owned(),
                        }),
                        ..attempt
                    };
                    closing.push(ClosedAttempt { seq, n, record });
                }
            }
            len = len.max(seq.saturating_add(1));
            calls.insert(seq, RecordedCall { call, last_attempt });
        }
        Ok((Recorded { calls, len }, closing))
    }

    /// How many calls the journal holds.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// The input of the recorded call at `seq`, if the journal has one.
    pub(crate) fn input_at(&self, seq: u32) -> Option<&str> {
        self.calls.get(&seq).map(|c| c.call.input.as_str())
    }

    /// Whether the recorded call at `seq` completed (it is replayed, not
    /// run again).
    pub(crate) fn completed_at(&self, seq: u32) -> bool {
        (self.calls.get(&seq)).is_some_and(|c| c.call.status == CallStatus::Completed)
    }

    /// The recorded call with the lowest seq not taken yet, if any.
    pub(crate) fn first(&self) -> Option<(u32, &CallRecord)> {
        let (seq, call) = self.calls.iter().min_by_key(|(seq, _)| **seq)?;
        Some((*seq, &call.call))
    }

    /// The recorded call at `seq`, if the journal has one.
    pub(crate) fn take(&mut self, seq: u32) -> Option<RecordedCall> {
        self.calls.remove(&seq)
    }
}
