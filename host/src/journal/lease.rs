//! The exclusive claim of an execution: whoever holds its lease is the only
//! one running it, until the lease is dropped.

use std::fmt;

use crate::model::ExecutionId;

/// The claim of one execution, released when dropped.
///
/// The epoch tells claims of the same execution apart, later ones larger:
/// a journal shared by several processes can fence the writes of a holder
/// whose lease expired behind a newer one. A journal of one process (redb,
/// whose file lock keeps others out) never needs to.
pub(crate) struct ExecutionLease {
    exec: ExecutionId,
    epoch: u64,
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl ExecutionLease {
    /// A lease on `exec` of `epoch`; `release` runs once, when it is
    /// dropped.
    pub(crate) fn new(
        exec: ExecutionId,
        epoch: u64,
        release: impl FnOnce() + Send + Sync + 'static,
    ) -> ExecutionLease {
        ExecutionLease {
            exec,
            epoch,
            release: Some(Box::new(release)),
        }
    }

    /// The execution it claims.
    pub(crate) fn exec(&self) -> ExecutionId {
        self.exec
    }

    /// Which claim of the execution this is.
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "the journals fence writes by the epoch they hold; tests read it here"
        )
    )]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }
}

impl Drop for ExecutionLease {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

impl fmt::Debug for ExecutionLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionLease")
            .field("exec", &self.exec)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}
