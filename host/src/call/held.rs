//! The bytes of inputs and outputs an execution's calls keep in the host,
//! counted against the policy's `max_held_bytes`: each slot charges its
//! input while the call runs, then its output until the flow has read it
//! and let go of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{CallOutcome, Stop};

/// The bytes an execution's calls keep in the host.
pub(crate) struct HeldBytes {
    bytes: AtomicU64,
    limit: u64,
}

impl HeldBytes {
    pub(crate) fn new(limit: u64) -> Arc<HeldBytes> {
        Arc::new(HeldBytes {
            bytes: AtomicU64::new(0),
            limit,
        })
    }

    /// What is held now.
    pub(crate) fn now(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Whether `more` bytes would pass the limit.
    pub(crate) fn would_pass(&self, more: u64) -> bool {
        self.now().saturating_add(more) > self.limit
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }
}

/// What one slot has charged; given back as the bytes are let go of, and
/// at the latest when slot and filler are gone.
pub(super) struct Charge {
    held: Arc<HeldBytes>,
    amount: AtomicU64,
}

impl Charge {
    pub(super) fn new(held: Arc<HeldBytes>, amount: u64) -> Arc<Charge> {
        held.bytes.fetch_add(amount, Ordering::Relaxed);
        Arc::new(Charge {
            held,
            amount: AtomicU64::new(amount),
        })
    }

    /// Gives back everything charged so far.
    pub(super) fn refund(&self) {
        let amount = self.amount.swap(0, Ordering::Relaxed);
        self.held.bytes.fetch_sub(amount, Ordering::Relaxed);
    }

    /// Charges an output in place of the input (which the finished call no
    /// longer holds); an output that takes the execution past its limit
    /// stops the flow instead of being handed to it.
    pub(super) fn output(&self, outcome: CallOutcome) -> CallOutcome {
        self.refund();
        let CallOutcome::Finished(Ok(output)) = &outcome else {
            return outcome;
        };
        let bytes = output.len() as u64;
        self.amount.fetch_add(bytes, Ordering::Relaxed);
        let held = self.held.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if held > self.held.limit {
            return CallOutcome::Stopped(Stop::Limit(over_limit(held, self.held.limit)));
        }
        outcome
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.refund();
    }
}

/// The failure of an execution whose calls hold too many bytes.
pub(crate) fn over_limit(held: u64, limit: u64) -> String {
    format!(
        "the flow's calls hold {held} bytes of inputs and outputs in the host; the policy allows {limit} (max_held_bytes)"
    )
}
