//! A cancelled parent cancels its children: once its own cancel is
//! journaled, each child that has not ended is cancelled in turn (and its
//! own children after it, the same way).

use super::Runner;
use crate::error::CancelError;
use crate::model::ExecutionId;

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
        for (_, child) in children {
            // Boxed: a child's cancel cancels its own children.
            match Box::pin(self.cancel(child)).await {
                Ok(())
                | Err(CancelError::NotCancellable { .. } | CancelError::UnknownExecution(_)) => {}
                Err(e) => {
                    tracing::warn!(exec = %child, parent = %parent, error = %e, "cannot cancel a child of a cancelled execution");
                }
            }
        }
    }
}
