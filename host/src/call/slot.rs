//! A submitted call's place for its outcome. The flow's handle, the
//! execution's list of calls and the task running the call share it: the
//! task fills it once, and anyone may wait for it.
//!
//! Each slot charges the bytes it keeps in the host to the execution's
//! [`HeldBytes`]: its input while the call runs, then its output until the
//! flow has read it and let go of it (or the slot is dropped).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

use super::held::Charge;
use super::{CallOutcome, HeldBytes, Stop};

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
            sender.send_replace(Some(task_gone()));
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
            Ok(value) => value.clone().unwrap_or_else(task_gone),
            Err(_) => task_gone(),
        }
    }
}

/// The task dropped its filler without an outcome: it panicked.
fn task_gone() -> CallOutcome {
    CallOutcome::Stopped(Stop::Host(
        "the task running a call stopped unexpectedly".to_owned(),
    ))
}
