//! A call run on the task of the flow that awaits it.
//!
//! A flow that calls a checkpoint and waits for it (`tick(i)?`, not a
//! submit or a map) would otherwise hand the call to a task of its own and
//! sleep until that task wakes it: two hand-offs between threads per call,
//! each tens of microseconds on an idle machine, more than the rest of a
//! call but its fsync. Run in place, the call's attempt and its commit
//! happen on the flow's thread, in the flow's own poll.
//!
//! The call still runs to its end whatever happens to the flow: if the
//! flow stops waiting (it was cancelled, or its future is dropped), what is
//! left of the call goes on in a task of its own, as a submitted call
//! does.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::runtime::Handle;

type CallRun = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A call's run, driven by whoever awaits it; what is left of it when it
/// is dropped runs on in a task.
pub(crate) struct InPlace {
    /// Only ever reached through `&mut` (never locked): the mutex makes an
    /// execution holding an `InPlace` shareable, which a future is not.
    run: Mutex<Option<CallRun>>,
}

impl InPlace {
    pub(crate) fn new(run: impl Future<Output = ()> + Send + 'static) -> InPlace {
        InPlace {
            run: Mutex::new(Some(Box::pin(run))),
        }
    }

    /// Runs the call in a task of its own, now.
    pub(crate) fn detach(self) {
        drop(self);
    }
}

impl Future for InPlace {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let slot = self.run.get_mut().unwrap_or_else(PoisonError::into_inner);
        let Some(run) = slot.as_mut() else {
            return Poll::Ready(());
        };
        // A spawned call that panics drops its filler, and the flow sees the
        // call stop; in place, the panic must not reach the flow's task.
        match catch_unwind(AssertUnwindSafe(|| run.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) | Err(_) => {
                *slot = None;
                Poll::Ready(())
            }
        }
    }
}

impl Drop for InPlace {
    fn drop(&mut self) {
        // Outside a runtime (it is shutting down) the call is dropped, as
        // the runtime's tasks are.
        let rest = self
            .run
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let (Some(rest), Ok(runtime)) = (rest, Handle::try_current()) {
            runtime.spawn(rest);
        }
    }
}
