//! A clock that stands still until the test moves it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::Clock;

/// 2025-01-01T00:00:00Z, where a [`TestHost`](super::TestHost)'s clock
/// starts, in microseconds since the Unix epoch.
pub const TEST_EPOCH_US: u64 = 1_735_689_600_000_000;

/// A clock that reads the same time until [`FixedClock::set`] or
/// [`FixedClock::advance`] moves it. Clones share the time.
///
/// With it, timestamps in the journal and a flow's journaled time are the
/// same in every run, and so is each execution's random seed (derived from
/// its id and its start time; ids count from 1 in a fresh journal).
#[derive(Debug, Clone)]
pub struct FixedClock {
    now_us: Arc<AtomicU64>,
}

impl FixedClock {
    /// A clock reading `now_us` microseconds since the Unix epoch.
    pub fn new(now_us: u64) -> FixedClock {
        FixedClock {
            now_us: Arc::new(AtomicU64::new(now_us)),
        }
    }

    /// Sets the time, in microseconds since the Unix epoch.
    pub fn set(&self, now_us: u64) {
        self.now_us.store(now_us, Ordering::Relaxed);
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        let _ = self
            .now_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                Some(now.saturating_add(by))
            });
    }
}

impl Default for FixedClock {
    /// A clock at [`TEST_EPOCH_US`].
    fn default() -> FixedClock {
        FixedClock::new(TEST_EPOCH_US)
    }
}

impl Clock for FixedClock {
    fn now_us(&self) -> u64 {
        self.now_us.load(Ordering::Relaxed)
    }
}
