//! Claims of executions in this process. The journal file is locked to one
//! process while open, so a set in memory is enough to keep an execution
//! from running twice at once.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::JournalError;
use crate::journal::ExecutionLease;
use crate::model::ExecutionId;

/// The executions claimed in this process.
#[derive(Default)]
pub(super) struct Claims {
    held: Arc<Mutex<BTreeSet<ExecutionId>>>,
}

impl Claims {
    /// Claims `exec`, or [`JournalError::Claimed`] if it is claimed.
    pub(super) fn claim(&self, exec: ExecutionId) -> Result<ExecutionLease, JournalError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if !held.insert(exec) {
            return Err(JournalError::Claimed { exec });
        }
        let set = self.held.clone();
        // One process, one claim at a time: the epoch has nothing to fence.
        Ok(ExecutionLease::new(exec, 0, move || {
            set.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&exec);
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A claimed execution cannot be claimed again until its lease is
    /// dropped; others can.
    #[test]
    fn a_claim_excludes_a_second_until_released() {
        let claims = Claims::default();
        let lease = claims.claim(ExecutionId(1)).expect("claimed");
        assert!(matches!(
            claims.claim(ExecutionId(1)),
            Err(JournalError::Claimed {
                exec: ExecutionId(1)
            })
        ));
        let other = claims.claim(ExecutionId(2)).expect("another is free");
        drop(lease);
        claims.claim(ExecutionId(1)).expect("released");
        drop(other);
    }
}
