//! A cancelled parent cancels its children: once its own cancel is
//! journaled, every child that has not ended is cancelled (and its own
//! children after it, the same way). The children are cancelled many at a
//! time: one running in another worker answers only once that worker has
//! stopped it, and a parent may have a thousand.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use super::Runner;
use crate::error::CancelError;
use crate::model::ExecutionId;

/// How many children's cancels are under way at once.
const AT_ONCE: usize = 64;

impl Runner {
    /// Cancels the children of `parent`, which was just cancelled. A child
    /// that ended meanwhile is left as it is; a failure is logged, not
    /// returned: the parent's cancel stands either way.
    pub(super) async fn cancel_children(&self, parent: ExecutionId) {
        let children = match self.journal.links(parent).await {
            Ok(links) => links.children,
            Err(e) => {
                tracing::warn!(exec = %parent, error = %e, "cannot read the children of a cancelled execution");
                return;
            }
        };
        let cancel_one = |child: ExecutionId| async move {
            // Boxed: a child's cancel cancels its own children.
            match Box::pin(self.cancel(child)).await {
                Ok(())
                | Err(CancelError::NotCancellable { .. } | CancelError::UnknownExecution(_)) => {}
                Err(e) => {
                    tracing::warn!(exec = %child, parent = %parent, error = %e, "cannot cancel a child of a cancelled execution");
                }
            }
        };
        for some in children.chunks(AT_ONCE) {
            all(some.iter().map(|(_, child)| cancel_one(*child))).await;
        }
    }
}

/// Runs `futures` together until every one has ended.
async fn all<F: Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut left: Vec<Pin<Box<F>>> = futures.map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        left.retain_mut(|future| future.as_mut().poll(cx).is_pending());
        if left.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}
