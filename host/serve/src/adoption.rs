//! How often a worker tries again to adopt the same execution: an
//! execution of a stopped worker is adopted at the first look, but one
//! whose resume keeps failing (its run stops at once and lets go of it, so
//! it is an orphan again at the next look) is tried again later and later,
//! up to [`LONGEST`] apart, so that every worker does not try it — and
//! log the failure — every second.
//!
//! What counts as failing needs no report from the run: an execution tried
//! here and found orphaned at a later look did not keep running here. One
//! that is not an orphan at some look (it runs somewhere, or ended) is
//! forgotten, so if it is orphaned again later it is adopted at once.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use cairn_host::ExecutionId;

/// The wait after the first try: the look's own period, so that one retry
/// comes as soon as it always did.
const FIRST: Duration = Duration::from_secs(1);

/// The longest wait between two tries of one execution.
pub(crate) const LONGEST: Duration = Duration::from_secs(60);

/// The tries of orphans this worker has made, by execution.
#[derive(Debug, Default)]
pub(crate) struct Adoptions {
    tries: HashMap<ExecutionId, Tries>,
}

#[derive(Debug, Clone, Copy)]
struct Tries {
    /// Tries in a row, each one found orphaned again after it.
    count: u32,
    /// When the next one may be made.
    next: Instant,
}

impl Adoptions {
    /// Forgets every execution that is not among `orphans`, the ones a look
    /// found: one not found runs somewhere, or ended.
    pub(crate) fn keep_only(&mut self, orphans: &BTreeSet<ExecutionId>) {
        self.tries.retain(|id, _| orphans.contains(id));
    }

    /// Whether `id` may be tried at `now`.
    pub(crate) fn due(&self, id: ExecutionId, now: Instant) -> bool {
        self.tries.get(&id).is_none_or(|t| now >= t.next)
    }

    /// Notes a try of `id` at `now` (a resume started, or refused for a
    /// reason of its own); returns how many tries in a row it has had, and
    /// the wait before the next.
    pub(crate) fn tried(&mut self, id: ExecutionId, now: Instant) -> (u32, Duration) {
        let tries = self.tries.entry(id).or_insert(Tries {
            count: 0,
            next: now,
        });
        tries.count = tries.count.saturating_add(1);
        let wait = wait_after(tries.count);
        tries.next = now + wait;
        (tries.count, wait)
    }
}

/// The wait after `tries` tries in a row: 1 s, 2 s, 4 s… up to [`LONGEST`].
fn wait_after(tries: u32) -> Duration {
    let doublings = tries.saturating_sub(1).min(16);
    FIRST.saturating_mul(1 << doublings).min(LONGEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u64]) -> BTreeSet<ExecutionId> {
        ids.iter().copied().map(ExecutionId).collect()
    }

    #[test]
    fn an_orphan_whose_resume_keeps_failing_is_tried_later_and_later_up_to_a_cap() {
        let start = Instant::now();
        let id = ExecutionId(1);
        let mut adoptions = Adoptions::default();
        // Looks once a second for ten minutes; it is an orphan at each.
        let mut tried_at = Vec::new();
        for s in 0..600 {
            let now = start + Duration::from_secs(s);
            adoptions.keep_only(&set(&[1]));
            if adoptions.due(id, now) {
                adoptions.tried(id, now);
                tried_at.push(s);
            }
        }
        assert_eq!(&tried_at[..8], [0, 1, 3, 7, 15, 31, 63, 123]);
        let gaps: Vec<u64> = tried_at.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|&g| g <= LONGEST.as_secs()), "{gaps:?}");
        assert!(tried_at.len() < 20, "{} tries in 600 s", tried_at.len());
    }

    #[test]
    fn an_orphan_adopted_for_good_is_forgotten_and_adopted_at_once_next_time() {
        let start = Instant::now();
        let id = ExecutionId(2);
        let mut adoptions = Adoptions::default();
        for s in 0..5 {
            let now = start + Duration::from_secs(s);
            if adoptions.due(id, now) {
                adoptions.tried(id, now);
            }
        }
        let later = start + Duration::from_secs(5);
        assert!(!adoptions.due(id, later), "backing off");
        // A look where it is not an orphan: it runs somewhere now.
        adoptions.keep_only(&set(&[7]));
        assert!(adoptions.due(id, later));
        assert_eq!(adoptions.tried(id, later), (1, FIRST));
        // Others are not held up by it.
        assert!(adoptions.due(ExecutionId(3), later));
    }
}
