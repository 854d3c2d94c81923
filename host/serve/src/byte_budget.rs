//! [`ByteBudget`]: a number of bytes the whole server may hold for one
//! purpose (request bodies being received, answers not yet taken by their
//! clients), taken without waiting: a request that would pass it is
//! refused at once, never queued (a queue would hold what the budget is
//! there to bound).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes the server may hold at once for one purpose.
#[derive(Clone)]
pub(crate) struct ByteBudget {
    bytes: Arc<Semaphore>,
    total: usize,
}

/// Bytes taken from a [`ByteBudget`], given back when dropped.
pub(crate) struct Held {
    permits: Option<OwnedSemaphorePermit>,
}

impl ByteBudget {
    /// A budget of `total` bytes (capped at what a semaphore counts).
    pub(crate) fn new(total: usize) -> ByteBudget {
        let total = total.min(Semaphore::MAX_PERMITS);
        ByteBudget {
            bytes: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// The whole budget.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    /// Takes `bytes` if that many are free now; `None` if not (or if
    /// `bytes` is more than the whole budget).
    pub(crate) fn try_take(&self, bytes: usize) -> Option<Held> {
        if bytes == 0 {
            return Some(Held { permits: None });
        }
        let n = u32::try_from(bytes).ok()?;
        let permits = self.bytes.clone().try_acquire_many_owned(n).ok()?;
        Some(Held {
            permits: Some(permits),
        })
    }
}

impl Held {
    /// Nothing held.
    pub(crate) fn none() -> Held {
        Held { permits: None }
    }

    /// Adds `other` to this.
    pub(crate) fn merge(&mut self, other: Held) {
        match (&mut self.permits, other.permits) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (mine @ None, theirs) => *mine = theirs,
            (Some(_), None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_what_is_free_and_gives_it_back() {
        let budget = ByteBudget::new(100);
        let mut first = budget.try_take(60).expect("free");
        assert!(budget.try_take(50).is_none(), "only 40 left");
        let second = budget.try_take(40).expect("the rest");
        first.merge(second);
        assert!(budget.try_take(1).is_none(), "all of it is held");
        drop(first);
        assert!(budget.try_take(100).is_some());
        assert!(budget.try_take(101).is_none(), "more than the whole budget");
        let mut nothing = Held::none();
        nothing.merge(budget.try_take(10).expect("free"));
        assert!(
            budget.try_take(91).is_none(),
            "merged into nothing, still held"
        );
    }
}
