//! What a check finds, per execution and over all of them; what an upgrade
//! did.

use serde::{Deserialize, Serialize};

use crate::model::{Divergence, ExecutionId, ExecutionStatus, Failure};

/// How a new build's flow fares against one execution's journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// It makes the same calls with the same inputs as far as the record
    /// goes; `ends_at` says where that is.
    Compatible {
        /// Where the record stopped answering the flow.
        ends_at: RecordEnd,
    },
    /// It makes another call than the journal records, at `seq`.
    Diverges {
        /// The seq, the recorded call and the new one, as a resume's
        /// non-determinism error shows them.
        divergence: Divergence,
    },
    /// It fails or traps on the recorded data (or goes past a limit of the
    /// policy).
    Fails {
        /// How, as the execution's failure would say it.
        failure: Failure,
    },
}

impl Verdict {
    /// Whether the new build may take the execution over.
    pub fn is_compatible(&self) -> bool {
        matches!(self, Verdict::Compatible { .. })
    }

    /// The verdict's name: `compatible`, `diverges` or `fails`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Compatible { .. } => "compatible",
            Verdict::Diverges { .. } => "diverges",
            Verdict::Fails { .. } => "fails",
        }
    }
}

/// Where a compatible check stopped: how far the record answered the flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecordEnd {
    /// The flow completed on recorded data alone.
    Completed,
    /// The flow asked for the outcome of a call the journal does not
    /// answer: one it never made, or one not completed (a resume runs it).
    Call {
        /// The call's seq.
        seq: u32,
        /// Its call id.
        call_id: String,
    },
    /// The flow waits for a value the journal does not hold.
    Wait {
        /// The wait's name.
        name: String,
    },
}

impl std::fmt::Display for RecordEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordEnd::Completed => write!(f, "the flow completed"),
            RecordEnd::Call { seq, call_id } => {
                write!(
                    f,
                    "call `{call_id}` (seq {seq}), not answered by the journal"
                )
            }
            RecordEnd::Wait { name } => write!(f, "wait `{name}`, not answered yet"),
        }
    }
}

/// One execution's check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExecutionCheck {
    /// The execution.
    pub id: ExecutionId,
    /// Its flow.
    pub flow: String,
    /// Its status.
    pub status: ExecutionStatus,
    /// The build it runs now (hex), `None` for a host-side flow.
    pub component: Option<String>,
    /// The calls the new flow made before the check ended (answered from
    /// the journal or not).
    pub calls: u32,
    /// What the check found.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// A check of every selected execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckReport {
    /// The new build (hex); `None` when a host-side flow was checked.
    pub component: Option<String>,
    /// The flows checked.
    pub flows: Vec<String>,
    /// How many executions are compatible.
    pub compatible: usize,
    /// How many diverge.
    pub diverges: usize,
    /// How many fail.
    pub fails: usize,
    /// Each execution, by id.
    pub executions: Vec<ExecutionCheck>,
}

impl CheckReport {
    /// Whether every execution checked is compatible (none diverges or
    /// fails).
    pub fn all_compatible(&self) -> bool {
        self.diverges == 0 && self.fails == 0
    }

    pub(crate) fn new(
        component: Option<String>,
        flows: Vec<String>,
        executions: Vec<ExecutionCheck>,
    ) -> CheckReport {
        let count = |name: &str| {
            executions
                .iter()
                .filter(|e| e.verdict.name() == name)
                .count()
        };
        CheckReport {
            component,
            flows,
            compatible: count("compatible"),
            diverges: count("diverges"),
            fails: count("fails"),
            executions,
        }
    }
}

/// An execution moved to another build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Upgraded {
    /// The execution.
    pub id: ExecutionId,
    /// The build it ran (hex).
    pub from: String,
    /// The build it runs now (hex).
    pub to: String,
    /// When it moved (µs since the Unix epoch).
    pub at_us: u64,
    /// Its check against the new build.
    pub check: ExecutionCheck,
    /// It was running in the process that moved it, and went on with the
    /// new build at once (no resume needed).
    #[serde(default)]
    pub running: bool,
}

/// A move of an execution to another build, as `executions show` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UpgradeView {
    /// The build it ran before (hex).
    pub from: String,
    /// The build it ran from then on (hex).
    pub to: String,
    /// When (RFC 3339).
    pub at: String,
    /// When, in microseconds since the Unix epoch.
    pub at_us: u64,
    /// Who asked (the command, or the embedder's note).
    pub by: String,
}

impl UpgradeView {
    pub(crate) fn of(record: crate::journal::record::UpgradeRecord) -> UpgradeView {
        UpgradeView {
            from: record.from.to_hex(),
            to: record.to.to_hex(),
            at: crate::timefmt::rfc3339(record.at_us),
            at_us: record.at_us,
            by: record.by,
        }
    }
}
