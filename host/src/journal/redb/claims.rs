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
    watched: Arc<Mutex<Watched>>,
}

/// The executions claimed while at least one [`ClaimWatch`] is on.
#[derive(Default)]
struct Watched {
    watches: usize,
    ids: BTreeSet<ExecutionId>,
}

/// Every execution held when the watch began or claimed since: what a
/// scan of the journal that does not hold the writer rechecks, since only
/// a run holding its execution's claim writes records that name
/// components (`components::prune`).
pub(super) struct ClaimWatch {
    watched: Arc<Mutex<Watched>>,
}

impl ClaimWatch {
    /// The executions held or claimed since the watch began (and perhaps a
    /// few more, claimed while another watch was on).
    pub(super) fn ids(&self) -> BTreeSet<ExecutionId> {
        let watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        watched.ids.clone()
    }
}

impl Drop for ClaimWatch {
    fn drop(&mut self) {
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        watched.watches -= 1;
        if watched.watches == 0 {
            watched.ids.clear();
        }
    }
}

impl Claims {
    /// Claims `exec`, or [`JournalError::Claimed`] if it is claimed.
    pub(super) fn claim(&self, exec: ExecutionId) -> Result<ExecutionLease, JournalError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if !held.insert(exec) {
            return Err(JournalError::Claimed { exec });
        }
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        if watched.watches > 0 {
            watched.ids.insert(exec);
        }
        drop(watched);
        let set = self.held.clone();
        // One process, one claim at a time: the epoch has nothing to fence.
        Ok(ExecutionLease::new(exec, 0, move || {
            set.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&exec);
        }))
    }

    /// Starts a watch of the executions held now and claimed from now on.
    pub(super) fn watch(&self) -> ClaimWatch {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        watched.watches += 1;
        watched.ids.extend(held.iter().copied());
        ClaimWatch {
            watched: self.watched.clone(),
        }
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

    /// A watch sees the executions held when it began and those claimed
    /// while it is on, even if let go of since; not those claimed before
    /// it, or after the last watch ended.
    #[test]
    fn a_watch_sees_every_execution_claimed_while_it_is_on() {
        let claims = Claims::default();
        drop(claims.claim(ExecutionId(1)).expect("claimed"));
        let held = claims.claim(ExecutionId(2)).expect("claimed");
        let watch = claims.watch();
        drop(claims.claim(ExecutionId(3)).expect("claimed"));
        let ids: Vec<u64> = watch.ids().iter().map(|id| id.0).collect();
        assert_eq!(ids, [2, 3]);
        drop(watch);
        drop(claims.claim(ExecutionId(4)).expect("claimed"));
        let watch = claims.watch();
        let ids: Vec<u64> = watch.ids().iter().map(|id| id.0).collect();
        assert_eq!(ids, [2], "only what is held when a new watch begins");
        drop(held);
    }
}
