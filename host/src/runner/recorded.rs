//! What the journal already holds for an execution being resumed: its calls
//! by seq, read once, and how far each call's attempts got.

use std::collections::BTreeMap;

use crate::error::JournalError;
use crate::journal::Journal;
use crate::journal::record::{AttemptRecord, CallRecord, encode};
use crate::journal::writer::Put;
use crate::model::{AttemptOutcome, ExecutionId};

/// The message given to an attempt whose process stopped while it ran.
pub(crate) const INTERRUPTED: &str =
    "interrupted: the process running this attempt stopped before it finished";

/// A journaled call and the number of its last attempt.
pub(crate) struct RecordedCall {
    pub(crate) call: CallRecord,
    pub(crate) last_attempt: u32,
}

/// The replay cursor's source: recorded calls, handed out by seq.
#[derive(Default)]
pub(crate) struct Recorded {
    calls: BTreeMap<u32, RecordedCall>,
}

impl Recorded {
    /// Reads an execution's calls and attempts in one pass each. Attempts
    /// left open by a process that died are closed as interrupted; the puts
    /// that record this are returned for the caller to write.
    pub(crate) fn load(
        journal: &Journal,
        exec: ExecutionId,
    ) -> Result<(Recorded, Vec<Put>), JournalError> {
        let mut attempts = journal.all_attempts(exec)?;
        let mut calls = BTreeMap::new();
        let mut closing = Vec::new();
        for (seq, call) in journal.calls(exec)? {
            let tries = attempts.remove(&seq).unwrap_or_default();
            let last_attempt = tries.last().map_or(0, |(n, _)| *n);
            for (n, attempt) in tries {
                if attempt.outcome.is_none() {
                    closing.push(Put::Attempt {
                        exec: exec.0,
                        seq,
                        n,
                        record: encode(&AttemptRecord {
                            outcome: Some(AttemptOutcome::Failed {
                                message: INTERRUPTED.to_owned(),
                            }),
                            ..attempt
                        }),
                    });
                }
            }
            calls.insert(seq, RecordedCall { call, last_attempt });
        }
        Ok((Recorded { calls }, closing))
    }

    /// The recorded call at `seq`, if the journal has one.
    pub(crate) fn take(&mut self, seq: u32) -> Option<RecordedCall> {
        self.calls.remove(&seq)
    }
}
