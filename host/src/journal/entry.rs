//! What is written to a journal: typed entries, borrowed from the caller,
//! and how soon a write must be durable.
//!
//! An implementation turns entries into its own form (redb: checksummed
//! envelopes) when the write is called, on the caller's thread, so the
//! entries need not outlive the call; only the I/O waits.

use std::sync::Arc;

use super::record::{
    AttemptRecord, CallRecord, ExecutionRecord, TimerRecord, UpgradeRecord, WaitRecord,
};
use crate::model::{ComponentHash, ExecutionId};

/// One entry of a write. An entry replaces what the journal holds under the
/// same key, except a component, which is content-addressed: it is put only
/// if the journal does not hold it yet (so nobody has to read first), and
/// [`Entry::TimerDone`], which removes.
#[derive(Debug, Clone)]
pub(crate) enum Entry<'a> {
    /// A component's bytes under their hash, if not there yet.
    Component {
        /// The hash of `bytes`.
        hash: ComponentHash,
        /// The component.
        bytes: Arc<[u8]>,
    },
    /// An execution's record.
    Execution {
        /// The execution.
        id: ExecutionId,
        /// Its record.
        record: &'a ExecutionRecord,
    },
    /// A call's record.
    Call {
        /// Its execution.
        exec: ExecutionId,
        /// Its seq.
        seq: u32,
        /// Its record.
        record: &'a CallRecord,
    },
    /// An attempt's record.
    Attempt {
        /// Its execution.
        exec: ExecutionId,
        /// Its call's seq.
        seq: u32,
        /// Its number, from 1.
        n: u32,
        /// Its record.
        record: &'a AttemptRecord,
    },
    /// A cache entry pointing at a completed call.
    Cache {
        /// The cache key (see `runner::cache::key`).
        key: [u8; 32],
        /// The call's execution.
        exec: ExecutionId,
        /// The call's seq.
        seq: u32,
    },
    /// A durable wait's record.
    Wait {
        /// Its execution.
        exec: ExecutionId,
        /// Its name.
        name: &'a str,
        /// Its record.
        record: &'a WaitRecord,
    },
    /// The n-th reading of a flow's clock.
    Time {
        /// The execution.
        exec: ExecutionId,
        /// Which reading, from 0.
        n: u32,
        /// What it read, µs since the Unix epoch.
        us: u64,
    },
    /// A call's retry timer (one per call at most).
    Timer {
        /// Its execution.
        exec: ExecutionId,
        /// Its call's seq.
        seq: u32,
        /// Its record.
        record: &'a TimerRecord,
    },
    /// Removes a call's retry timer, if it has one (its retry started).
    TimerDone {
        /// Its execution.
        exec: ExecutionId,
        /// Its call's seq.
        seq: u32,
    },
    /// The n-th move of an execution to another build (from 0); written
    /// with the execution's record that names the new build.
    Upgrade {
        /// The execution.
        exec: ExecutionId,
        /// Which move, from 0.
        n: u32,
        /// Its record.
        record: &'a UpgradeRecord,
    },
}

/// Whether a write must be durable before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sync {
    /// Durable before acknowledged (redb: fsync).
    Durable,
    /// Visible to readers at once, durable with a later durable commit
    /// within the journal's window (redb: see `LazyWindow`).
    Lazy,
}
