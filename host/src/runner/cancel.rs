//! Cancelling an execution that is running in this host: a flag the flow's
//! next request to the runner sees, and a wake-up for a flow that is waiting
//! on a call.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct CancelToken {
    flag: AtomicBool,
    notify: Notify,
}

impl CancelToken {
    pub(crate) fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Completes once the execution is cancelled.
    pub(crate) async fn cancelled(&self) {
        loop {
            // Register for the wake-up before looking at the flag, so a
            // cancel between the two is not missed.
            let notified = self.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}
