//! How a submitted call ended, as its slot hands it to the flow.

use super::{CallFailure, Stop};

/// How a call ended.
#[derive(Debug, Clone)]
pub(crate) enum CallOutcome {
    /// Its output, or why it failed after all its attempts.
    Finished(Result<String, CallFailure>),
    /// The host could not run or journal it (or the execution was
    /// cancelled, or its calls hold too much): the flow must stop.
    Stopped(Stop),
}
