//! How long a flow's own code has gone on since it last asked the runner
//! for something. A flow spends most of its life inside runner requests
//! (waiting for checkpoints), which are unbounded in time; outside them it
//! only computes, which fuel bounds — unless it blocks in a WASI call (a
//! sleep, a poll on a pollable that never fires), where neither fuel nor
//! epochs reach it. The driver watches this and stops such a flow.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;

use tokio::time::Instant;

/// Shared between the flow store (which marks runner requests) and the
/// driver's watchdog.
#[derive(Clone)]
pub(crate) struct FlowActivity {
    inner: Arc<Mutex<State>>,
}

struct State {
    /// Runner requests in progress.
    in_requests: u32,
    /// When the flow's own code last resumed.
    own_since: Instant,
}

/// Marks a runner request in progress until dropped.
pub(crate) struct InRequest(FlowActivity);

impl Drop for InRequest {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_requests = state.in_requests.saturating_sub(1);
        if state.in_requests == 0 {
            state.own_since = Instant::now();
        }
    }
}

impl FlowActivity {
    pub(crate) fn new() -> FlowActivity {
        FlowActivity {
            inner: Arc::new(Mutex::new(State {
                in_requests: 0,
                own_since: Instant::now(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks a runner request until the guard is dropped.
    pub(crate) fn request(&self) -> InRequest {
        self.lock().in_requests += 1;
        InRequest(self.clone())
    }

    /// Resolves when the flow's own code has gone on for `limit` at a
    /// stretch; checked a few times per limit, so it fires within about a
    /// quarter of it late.
    pub(crate) async fn overrun(&self, limit: std::time::Duration) {
        let every = (limit / 4).max(std::time::Duration::from_millis(5));
        loop {
            tokio::time::sleep(every).await;
            let state = self.lock();
            if state.in_requests == 0 && state.own_since.elapsed() >= limit {
                return;
            }
        }
    }
}
