//! Schedules: a named cron expression that starts an execution of a flow
//! of a component the journal holds, with a fixed input, each time it is
//! due. They live in the journal (so they survive restarts, and every
//! worker of a shared journal sees them); `cairn serve` starts their runs
//! (its scheduler), nothing else does.
//!
//! A run is started in the same journal transaction that moves the
//! schedule's next due time on, and only if the schedule still holds the
//! due time the starter saw and is not paused: of several workers that see
//! a run due, exactly one starts it, and a run is never started twice after
//! a crash (the execution and the moved due time are committed together).
//!
//! Missed runs — due while no server ran, or while it was too busy to
//! start them — follow the schedule's [`CatchUp`]: `skip` starts none of
//! them and waits for the next due time; `once` starts one run for all of
//! them at once, then goes on with the next due time. A run is missed when
//! it could not start within [`LATE_AFTER_US`] (5 s) of its due time, or a
//! later due time has passed too (a server is down, or so busy that a
//! start waits that long). Resuming a paused schedule skips what came due
//! while it was paused.

pub(crate) mod cron;
mod host_api;

pub use self::host_api::Due;

use serde::{Deserialize, Serialize};

use crate::error::{JournalError, LoadError, RunError};
use crate::journal::record::ScheduleRecord;

/// How late (µs) a due run may start before it counts as missed.
pub const LATE_AFTER_US: u64 = 5_000_000;

/// What a schedule does with the runs it missed while no server ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Starts none of them; the next run is the next due time from now.
    #[default]
    Skip,
    /// Starts one run for all of them at once, then goes on.
    Once,
}

impl CatchUp {
    /// Its name: `skip` or `once`.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::Skip => "skip",
            CatchUp::Once => "once",
        }
    }
}

impl std::fmt::Display for CatchUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CatchUp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "skip" => Ok(CatchUp::Skip),
            "once" => Ok(CatchUp::Once),
            other => Err(format!(
                "unknown catch-up policy `{}`; expected skip or once",
                crate::names::shown(other)
            )),
        }
    }
}

/// What a new schedule is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScheduleSpec {
    /// Its name (the rules of flow and checkpoint names).
    pub name: String,
    /// The flow it starts.
    pub flow: String,
    /// The flow's input, a JSON object of its parameters.
    pub input: String,
    /// The cron expression, in UTC.
    pub cron: String,
    /// What it does with missed runs.
    pub catch_up: CatchUp,
}

impl ScheduleSpec {
    /// A schedule `name` that starts `flow` with `input` when `cron` is due,
    /// skipping missed runs.
    pub fn new(name: &str, flow: &str, input: &str, cron: &str) -> ScheduleSpec {
        ScheduleSpec {
            name: name.to_owned(),
            flow: flow.to_owned(),
            input: input.to_owned(),
            cron: cron.to_owned(),
            catch_up: CatchUp::Skip,
        }
    }

    /// With `catch_up` for missed runs.
    pub fn catch_up(mut self, catch_up: CatchUp) -> ScheduleSpec {
        self.catch_up = catch_up;
        self
    }
}

/// A schedule as `cairn schedules list` and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScheduleView {
    /// Its name.
    pub name: String,
    /// The build whose flow it starts (hex).
    pub component: String,
    /// The flow.
    pub flow: String,
    /// The flow's input.
    pub input: serde_json::Value,
    /// The cron expression (UTC).
    pub cron: String,
    /// What it does with missed runs.
    pub catch_up: CatchUp,
    /// Whether it is paused.
    pub paused: bool,
    /// When the next run is due (RFC 3339).
    pub next_due: String,
    /// The same, in µs since the Unix epoch.
    pub next_due_us: u64,
    /// When it was added (RFC 3339).
    pub created_at: String,
    /// Runs started.
    pub runs: u64,
    /// Due times passed over without a run (missed and skipped).
    pub skipped: u64,
    /// The execution of the last run, if one started.
    pub last_execution: Option<crate::model::ExecutionId>,
    /// When the last run was due (RFC 3339).
    pub last_due: Option<String>,
}

impl ScheduleView {
    pub(crate) fn of(name: String, record: ScheduleRecord) -> ScheduleView {
        ScheduleView {
            name,
            component: record.component.to_hex(),
            flow: record.flow,
            input: serde_json::from_str(&record.input).unwrap_or(serde_json::Value::Null),
            cron: record.cron,
            catch_up: record.catch_up,
            paused: record.paused,
            next_due: crate::timefmt::rfc3339(record.next_due_us),
            next_due_us: record.next_due_us,
            created_at: crate::timefmt::rfc3339(record.created_at_us),
            runs: record.runs,
            skipped: record.skipped,
            last_execution: record.last_run.map(|(_, id)| crate::model::ExecutionId(id)),
            last_due: record.last_run.map(|(due, _)| crate::timefmt::rfc3339(due)),
        }
    }
}

/// A schedule could not be added or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The name breaks the rules of names.
    #[error("bad schedule name: {0}")]
    BadName(String),
    /// The cron expression does not parse, or is never due (the
    /// expression and the names below are shown quoted and escaped).
    #[error("bad cron expression {cron}: {reason}")]
    BadCron {
        /// The expression (cut short, escaped).
        cron: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The flow or its input is refused as a run would refuse it.
    #[error(transparent)]
    Run(RunError),
    /// The component is not in the journal (upload it first).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A schedule of that name exists.
    #[error("a schedule {0} exists already")]
    Exists(String),
    /// No schedule of that name.
    #[error("no schedule {0}")]
    Unknown(String),
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
}
