//! A submitted call's place for its outcome. The flow's handle, the
//! execution's list of calls and the task running the call share it: the
//! task fills it once, and anyone may wait for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

pub(crate) struct CallSlot {
    pub(crate) call_id: String,
    outcome: watch::Receiver<Option<CallOutcome>>,
    awaited: AtomicBool,
}

/// The task's side of a slot.
pub(crate) type Filler = watch::Sender<Option<CallOutcome>>;

impl CallSlot {
    /// A slot whose outcome is already known (a call replayed from the journal).
    pub(crate) fn ready(call_id: String, outcome: CallOutcome) -> Arc<CallSlot> {
        let (_, outcome) = watch::channel(Some(outcome));
        Arc::new(CallSlot {
            call_id,
            outcome,
            awaited: AtomicBool::new(false),
        })
    }

    /// An empty slot and the sender that will fill it.
    pub(crate) fn empty(call_id: String) -> (Arc<CallSlot>, Filler) {
        let (filler, outcome) = watch::channel(None);
        let slot = Arc::new(CallSlot {
            call_id,
            outcome,
            awaited: AtomicBool::new(false),
        });
        (slot, filler)
    }

    /// Waits for the outcome, as the flow does: the call counts as awaited.
    pub(crate) async fn result(&self) -> CallOutcome {
        self.awaited.store(true, Ordering::Relaxed);
        self.wait().await
    }

    /// Whether the flow ever asked for the outcome.
    pub(crate) fn awaited(&self) -> bool {
        self.awaited.load(Ordering::Relaxed)
    }

    /// Waits for the outcome without counting as the flow's await.
    pub(crate) async fn wait(&self) -> CallOutcome {
        let mut outcome = self.outcome.clone();
        match outcome.wait_for(Option::is_some).await {
            Ok(value) => value.clone().unwrap_or_else(stopped),
            Err(_) => stopped(),
        }
    }
}

/// The task dropped its sender without an outcome: it panicked.
fn stopped() -> CallOutcome {
    CallOutcome::Aborted(Abort::Host(
        "the task running a call stopped unexpectedly".to_owned(),
    ))
}
