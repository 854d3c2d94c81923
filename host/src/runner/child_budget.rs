//! How many child flows a tree of them may run: a root execution's run
//! (its flow's retries included) and every child run in this process under
//! it (theirs included) share one budget of the policy's `max_children`
//! (see `execution::child`). Every start that runs a child counts, a new
//! one or one an earlier run left open; a start the journal completed is
//! replayed and runs nothing. So one run of a root makes at most
//! `max_children` child runs, however they nest and however often they
//! retry: the flows one root keeps in memory at once are bounded by it.

use std::sync::atomic::{AtomicU32, Ordering};

/// The child starts left to a tree of executions.
#[derive(Debug)]
pub(crate) struct ChildBudget {
    left: AtomicU32,
}

impl ChildBudget {
    pub(crate) fn new(max: u32) -> ChildBudget {
        ChildBudget {
            left: AtomicU32::new(max),
        }
    }

    /// Takes one start; `false` when none is left.
    pub(crate) fn take(&self) -> bool {
        self.left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }
}
