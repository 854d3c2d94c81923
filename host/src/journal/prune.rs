//! What a journal removes when ended executions are pruned, and how each
//! backend finds the cache entries that point at the calls it removes.
//!
//! A prune is made of bounded steps, each one transaction: a step removes a
//! few executions with everything they own (calls, attempts, waits, flow
//! clock readings, retry timers, moves to other builds, and the cache
//! entries that point at their calls), so that no commit holds the journal
//! for long and a crash between steps leaves whole executions, never part
//! of one. The caller (`Host::prune`) claims the executions and works out
//! their calls' cache keys (how keys are made is the runner's business); a
//! journal removes an entry only if it still points at the call. A last
//! sweep, also in bounded steps, removes any cache entry whose call is gone
//! (one whose key could not be worked out again).

use serde::{Deserialize, Serialize};

use crate::model::ExecutionId;

/// What one step of a prune removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pruned {
    /// Executions.
    pub executions: u64,
    /// Calls.
    pub calls: u64,
    /// Attempts.
    pub attempts: u64,
    /// Durable waits.
    pub waits: u64,
    /// Readings of flows' clocks.
    pub times: u64,
    /// Calls' retry timers.
    pub timers: u64,
    /// Moves to other builds.
    pub upgrades: u64,
    /// Cache entries that pointed at the removed calls.
    pub cache_entries: u64,
    /// The bytes of the removed records (keys and storage overhead not
    /// counted).
    pub bytes: u64,
}

impl Pruned {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Pruned) {
        self.executions += other.executions;
        self.calls += other.calls;
        self.attempts += other.attempts;
        self.waits += other.waits;
        self.times += other.times;
        self.timers += other.timers;
        self.upgrades += other.upgrades;
        self.cache_entries += other.cache_entries;
        self.bytes += other.bytes;
    }
}

/// One step of the sweep of cache entries whose call is gone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CacheSweep {
    /// Entries looked at.
    pub scanned: u64,
    /// Entries removed (or, in a dry run, that would be).
    pub removed: u64,
    /// The last key looked at: the next step starts after it. `None` once
    /// the table has been swept to its end.
    pub next: Option<Vec<u8>>,
}

/// A cache entry the prune of `exec` removes if it still points at call
/// `seq`: another call may have taken the key over since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CacheEntry {
    /// The key.
    pub key: [u8; 32],
    /// The call's execution.
    pub exec: ExecutionId,
    /// The call's seq.
    pub seq: u32,
}
