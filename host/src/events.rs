//! Progress events, for a CLI's progress lines or an embedder's UI.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{AttemptOutcome, CallSource, ExecutionId, ExecutionStatus, Runtime};

/// Something that happened in an execution.
///
/// As JSON (what `cairn serve` streams), an object whose `type` is the
/// variant's name in snake case beside its fields:
/// `{"type": "call_completed", "exec": 7, "seq": 2, ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
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
    /// A call completed: it ran, or its output came from the cache or from
    /// a replay's source (see `source`).
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
    /// On resume, a call that had completed returned its journaled output
    /// without running.
    CallReplayed {
        /// The execution.
        exec: ExecutionId,
        /// The call's seq.
        seq: u32,
        /// The call's id.
        call_id: String,
    },
    /// An execution is being resumed.
    ExecutionResumed {
        /// The execution.
        exec: ExecutionId,
    },
    /// A replay made a call its source did not make at that seq (after a
    /// code change, say); from there on every call runs live.
    ReplayDiverged {
        /// The replay.
        exec: ExecutionId,
        /// Where it diverged.
        seq: u32,
        /// What the source called there.
        source: String,
        /// What the replay called.
        now: String,
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

impl Event {
    /// The execution it happened in.
    pub fn exec(&self) -> ExecutionId {
        match self {
            Event::ExecutionStarted { exec, .. }
            | Event::CallSubmitted { exec, .. }
            | Event::AttemptStarted { exec, .. }
            | Event::AttemptFailed { exec, .. }
            | Event::CallCompleted { exec, .. }
            | Event::CallReplayed { exec, .. }
            | Event::ExecutionResumed { exec }
            | Event::ReplayDiverged { exec, .. }
            | Event::FlowRetrying { exec, .. }
            | Event::ExecutionFinished { exec, .. } => *exec,
        }
    }
}

/// Receives events; called on the runner's task, so it should be quick.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;
