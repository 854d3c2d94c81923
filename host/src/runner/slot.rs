//! A submitted call's place for its outcome. The flow's handle, the
//! execution's list of calls and the task running the call share it: the
//! task fills it once, and anyone may wait for it.
//!
//! Each slot charges the bytes it keeps in the host to the execution's
//! [`HeldBytes`]: its input while the call runs, then its output until the
//! flow has read it and let go of it (or the slot is dropped).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::watch;

use super::execution::Abort;
use crate::bindings::types::CallError;

/// How a call ended.
#[derive(Debug, Clone)]
pub(crate) enum CallOutcome {
    /// Its output, or why it failed after all its attempts.
    Finished(Result<String, CallError>),
    /// The host could not run or journal it; the flow must stop.
    Aborted(Abort),
}

/// The bytes of inputs and outputs an execution's calls keep in the host,
/// against the policy's `max_held_bytes`.
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
struct Charge {
    held: Arc<HeldBytes>,
    amount: AtomicU64,
}

impl Charge {
    fn new(held: Arc<HeldBytes>, amount: u64) -> Arc<Charge> {
        held.bytes.fetch_add(amount, Ordering::Relaxed);
        Arc::new(Charge {
            held,
            amount: AtomicU64::new(amount),
        })
    }

    /// Gives back everything charged so far.
    fn refund(&self) {
        let amount = self.amount.swap(0, Ordering::Relaxed);
        self.held.bytes.fetch_sub(amount, Ordering::Relaxed);
    }

    /// Charges an output in place of the input (which the finished call no
    /// longer holds); an output that takes the execution past its limit
    /// stops the flow instead of being handed to it.
    fn output(&self, outcome: CallOutcome) -> CallOutcome {
        self.refund();
        let CallOutcome::Finished(Ok(output)) = &outcome else {
            return outcome;
        };
        let bytes = output.len() as u64;
        self.amount.fetch_add(bytes, Ordering::Relaxed);
        let held = self.held.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if held > self.held.limit {
            return CallOutcome::Aborted(Abort::Limit(over_limit(held, self.held.limit)));
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

pub(crate) struct CallSlot {
    pub(crate) call_id: String,
    /// Shared with the filler; the slot keeps a sender too, so that it can
    /// drop an output the flow has let go of.
    outcome: Arc<watch::Sender<Option<CallOutcome>>>,
    awaited: AtomicBool,
    charge: Arc<Charge>,
}

/// The task's side of a slot.
pub(crate) struct Filler {
    outcome: Option<Arc<watch::Sender<Option<CallOutcome>>>>,
    charge: Arc<Charge>,
}

impl Filler {
    /// Hands the call's outcome to everyone waiting for it.
    pub(crate) fn fill(mut self, outcome: CallOutcome) {
        if let Some(sender) = self.outcome.take() {
            sender.send_replace(Some(self.charge.output(outcome)));
        }
    }
}

impl Drop for Filler {
    /// A task that ends without an outcome (it panicked) must not leave
    /// the flow waiting forever.
    fn drop(&mut self) {
        if let Some(sender) = self.outcome.take() {
            sender.send_replace(Some(stopped()));
        }
    }
}

impl CallSlot {
    /// A slot whose outcome is already known (a call replayed from the
    /// journal): its output is charged at once.
    pub(crate) fn ready(
        call_id: String,
        outcome: CallOutcome,
        held: &Arc<HeldBytes>,
    ) -> Arc<CallSlot> {
        let charge = Charge::new(held.clone(), 0);
        let (outcome, _) = watch::channel(Some(charge.output(outcome)));
        Arc::new(CallSlot {
            call_id,
            outcome: Arc::new(outcome),
            awaited: AtomicBool::new(false),
            charge,
        })
    }

    /// An empty slot and the filler that will fill it; `input_bytes` are
    /// charged until the slot is let go of.
    pub(crate) fn empty(
        call_id: String,
        held: &Arc<HeldBytes>,
        input_bytes: u64,
    ) -> (Arc<CallSlot>, Filler) {
        let (outcome, _) = watch::channel(None);
        let outcome = Arc::new(outcome);
        let charge = Charge::new(held.clone(), input_bytes);
        let slot = Arc::new(CallSlot {
            call_id,
            outcome: outcome.clone(),
            awaited: AtomicBool::new(false),
            charge: charge.clone(),
        });
        let filler = Filler {
            outcome: Some(outcome),
            charge,
        };
        (slot, filler)
    }

    /// The flow has read the outcome and let go of it (a direct call
    /// returned, a handle was dropped): its bytes no longer count.
    pub(crate) fn release(&self) {
        // The output itself goes too: the slot may stay in the execution's
        // list a while (it is pruned now and then), and must not keep bytes
        // it no longer counts.
        let released = self.outcome.send_if_modified(|outcome| {
            if let Some(CallOutcome::Finished(Ok(output))) = outcome {
                *output = String::new();
                return true;
            }
            false
        });
        if released || self.is_finished() {
            self.charge.refund();
        }
    }

    /// Waits for the outcome, as the flow does: the call counts as awaited.
    pub(crate) async fn result(&self) -> CallOutcome {
        self.awaited.store(true, Ordering::Relaxed);
        self.wait().await
    }

    /// Whether the call still holds host resources for the flow: it runs,
    /// or someone besides the execution's list (the flow's handle, a
    /// waiting caller) still holds the slot and with it the output.
    pub(crate) fn pending(slot: &Arc<CallSlot>) -> bool {
        !slot.is_finished() || Arc::strong_count(slot) > 1
    }

    /// Whether the call failed and the flow never asked for the failure
    /// (the execution then fails when the flow ends).
    pub(crate) fn failed_unread(&self) -> bool {
        let failed = !matches!(&*self.outcome.borrow(), Some(CallOutcome::Finished(Ok(_))));
        self.is_finished() && failed && !self.awaited()
    }

    fn is_finished(&self) -> bool {
        self.outcome.borrow().is_some()
    }

    /// Whether the flow ever asked for the outcome.
    pub(crate) fn awaited(&self) -> bool {
        self.awaited.load(Ordering::Relaxed)
    }

    /// Waits for the outcome without counting as the flow's await.
    pub(crate) async fn wait(&self) -> CallOutcome {
        let mut outcome = self.outcome.subscribe();
        match outcome.wait_for(Option::is_some).await {
            Ok(value) => value.clone().unwrap_or_else(stopped),
            Err(_) => stopped(),
        }
    }
}

/// The task dropped its filler without an outcome: it panicked.
fn stopped() -> CallOutcome {
    CallOutcome::Aborted(Abort::Host(
        "the task running a call stopped unexpectedly".to_owned(),
    ))
}
