//! Progress events, for a CLI's progress lines or an embedder's UI.

use std::sync::Arc;

use crate::model::{AttemptOutcome, CallSource, ExecutionId, ExecutionStatus, Runtime};

/// Something that happened in an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A new execution started.
    ExecutionStarted {
        /// The execution.
        exec: ExecutionId,
        /// Its flow.
        flow: String,
    },
    /// The flow submitted a call that will run (replayed calls are not
    /// submitted again).
    CallSubmitted {
        /// The execution.
        exec: ExecutionId,
        /// The call's seq.
        seq: u32,
        /// The call's id.
        call_id: String,
    },
    /// An attempt of a call started.
    AttemptStarted {
        /// The execution.
        exec: ExecutionId,
        /// The call's seq.
        seq: u32,
        /// The call's id.
        call_id: String,
        /// The checkpoint.
        checkpoint: String,
        /// Where it runs.
        runtime: Runtime,
        /// The attempt number, from 1.
        attempt: u32,
    },
    /// An attempt failed.
    AttemptFailed {
        /// The execution.
        exec: ExecutionId,
        /// The call's seq.
        seq: u32,
        /// The call's id.
        call_id: String,
        /// The attempt number.
        attempt: u32,
        /// How it failed.
        outcome: AttemptOutcome,
        /// Whether another attempt follows.
        will_retry: bool,
    },
    /// A call completed: it ran, or its output was reused (from the cache,
    /// or from the journal when resuming).
    CallCompleted {
        /// The execution.
        exec: ExecutionId,
        /// The call's seq.
        seq: u32,
        /// The call's id.
        call_id: String,
        /// Where its output came from.
        source: CallSource,
        /// How long its last attempt took, in µs (0 when nothing ran).
        duration_us: u64,
    },
    /// An execution is being resumed.
    ExecutionResumed {
        /// The execution.
        exec: ExecutionId,
    },
    /// A failed flow runs again (its `retries` option).
    FlowRetrying {
        /// The execution.
        exec: ExecutionId,
        /// Retries left after this one.
        retries_left: u32,
    },
    /// An execution ended (or stopped).
    ExecutionFinished {
        /// The execution.
        exec: ExecutionId,
        /// Its status.
        status: ExecutionStatus,
    },
}

/// Receives events; called on the runner's task, so it should be quick.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;
