//! The records a journal stores: an execution, its calls, their attempts
//! and its waits. They cross the [`Journal`](super::Journal) trait typed;
//! how they are laid out on disk is each implementation's business (redb's
//! is a checksummed postcard envelope, see `redb::envelope`, for which the
//! field order below is part of the format: fields are only added at the
//! end, with a format version bump).

use serde::{Deserialize, Serialize};

use crate::model::{
    AnswerSource, AttemptOutcome, CallSource, CallStatus, ComponentHash, ExecutionStatus, Failure,
    Runtime,
};
use crate::policy::PolicyRecord;

/// One execution of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// The flow's name.
    pub flow: String,
    /// The component that holds it; `None` for a host-side flow, which
    /// the host registered under `flow`.
    pub component: Option<ComponentHash>,
    /// The input JSON object.
    pub input: String,
    /// Where it stands.
    pub status: ExecutionStatus,
    /// The output JSON, once completed.
    pub output: Option<String>,
    /// Why it failed, once failed.
    pub failure: Option<Failure>,
    /// The execution this one replays.
    pub original_exec_id: Option<u64>,
    /// When it was created (µs since the Unix epoch).
    pub created_at_us: u64,
    /// When it last changed status (µs since the Unix epoch).
    pub updated_at_us: u64,
    /// Seeds the flow's random numbers, so a resumed flow draws the same ones.
    pub seed: u64,
    /// How many calls the flow had made when it last stopped (the journal
    /// must hold exactly these once the execution has ended).
    pub calls: u32,
    /// For a replay: what to run live and what to override.
    pub replay: Option<ReplayPlan>,
    /// The flow's own stdout, stderr and `log` lines over all its runs (capped).
    pub flow_log: Vec<u8>,
}

/// How a replay treats the source execution's calls (by the source's seq).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayPlan {
    /// The call that runs live; calls before it reuse the source's outputs.
    pub root: Option<u32>,
    /// Outputs that replace the source's, by seq.
    pub overrides: Vec<(u32, String)>,
    /// Values given for waits, by name (sorted): the flow gets them instead
    /// of asking, wherever it waits.
    pub answers: Vec<(String, String)>,
}

/// A durable wait of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WaitRecord {
    /// What a person is asked.
    pub question: String,
    /// The JSON schema the value must match.
    pub schema: String,
    /// The value, once supplied.
    pub value: Option<String>,
    /// When the flow first waited (µs since the Unix epoch).
    pub asked_at_us: u64,
    /// When the value was supplied.
    pub answered_at_us: Option<u64>,
    /// Where the value came from, once supplied.
    pub source: Option<AnswerSource>,
    /// For a value carried over from a replay's source: that execution.
    pub carried_from: Option<u64>,
}

/// One checkpoint call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CallRecord {
    /// `name`, `name_2`, ... or `name[i]`.
    pub call_id: String,
    /// The checkpoint's name.
    pub name: String,
    /// The component it ran in (a host-side flow may call several).
    pub component: ComponentHash,
    /// The checkpoint's kind label.
    pub kind: Option<String>,
    /// Where it runs.
    pub runtime: Runtime,
    /// The input JSON object.
    pub input: String,
    /// Where it stands.
    pub status: CallStatus,
    /// Where its output came from.
    pub source: CallSource,
    /// The output JSON, once completed.
    pub output: Option<String>,
    /// How many attempts the journal holds for this call.
    pub attempts: u32,
}

/// One attempt of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AttemptRecord {
    /// When it started (µs since the Unix epoch).
    pub started_at_us: u64,
    /// When it ended; `None` while running or if its process died.
    pub ended_at_us: Option<u64>,
    /// How it ended.
    pub outcome: Option<AttemptOutcome>,
    /// Fuel it consumed.
    pub fuel_used: u64,
    /// Its captured stdout (capped).
    pub stdout: Vec<u8>,
    /// Its captured stderr (capped).
    pub stderr: Vec<u8>,
    /// The policy it ran under (the host's, tightened by the checkpoint).
    pub policy: Option<PolicyRecord>,
}

/// A retry of a call, due at a time: the call's last attempt failed, a retry
/// is left, and its delay was long enough to park the execution rather than
/// hold its flow while it passes (see `runner::call`). Written in the same
/// commit as the failed attempt and removed when the retry starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TimerRecord {
    /// The call's id, for views that list timers without the calls.
    pub call_id: String,
    /// The number of the attempt the retry makes.
    pub attempt: u32,
    /// Which retry of the call it is (from 1), so that the retries left and
    /// the doubling of the delay go on from it after the park.
    pub retry: u32,
    /// When the retry is due (µs since the Unix epoch, host wall clock).
    pub due_at_us: u64,
}

/// An execution moved to another build of its component (`cairn executions
/// upgrade`, `Host::upgrade`), after a dry check of the new build against
/// its journal found them compatible. From then on the execution runs `to`,
/// and its calls recorded under `from` count as calls of `to` (see
/// `runner::execution`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UpgradeRecord {
    /// The build the execution ran before.
    pub from: ComponentHash,
    /// The build it runs from now on.
    pub to: ComponentHash,
    /// When (µs since the Unix epoch).
    pub at_us: u64,
    /// Who moved it: the command or the caller that asked.
    pub by: String,
}

/// A schedule (`cairn schedules add`): starts an execution of `flow` of
/// `component` with `input` each time its cron expression is due (see
/// `crate::schedule`). Stored whole under its name; a run is started in the
/// same transaction that moves `next_due_us` on, only if it still holds the
/// due time the starter saw (so that of several workers one starts it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ScheduleRecord {
    /// The build whose flow it starts.
    pub component: ComponentHash,
    /// The flow.
    pub flow: String,
    /// The flow's input, a JSON object in canonical form.
    pub input: String,
    /// The cron expression (5 fields, or 6 with seconds first), in UTC.
    pub cron: String,
    /// What a start after runs were missed does (see `schedule::CatchUp`).
    pub catch_up: crate::schedule::CatchUp,
    /// Paused: no run starts until it is resumed.
    pub paused: bool,
    /// When the next run is due (µs since the Unix epoch, UTC).
    pub next_due_us: u64,
    /// When it was added (µs since the Unix epoch).
    pub created_at_us: u64,
    /// Runs started.
    pub runs: u64,
    /// Due times passed over without a run (missed and skipped).
    pub skipped: u64,
    /// The last run: its due time and its execution.
    pub last_run: Option<(u64, u64)>,
}
