//! Reading executions → calls → attempts, through the host's journal, so
//! every read is a future (a journal may be behind a network). The views
//! serialize to the JSON the CLI prints with `--json` (DESIGN §3.4).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{JournalError, SelectorError};
pub use crate::journal::ExecutionFilter;
use crate::journal::record::{AttemptRecord, CallRecord, ExecutionRecord, TimerRecord, WaitRecord};
use crate::journal::{Journal, PrunedComponents};
use crate::model::{
    AnswerSource, AttemptOutcome, CallSource, CallStatus, ComponentHash, ExecutionId,
    ExecutionStatus, Failure, Runtime, TrapKind,
};
use crate::policy::PolicyRecord;
use crate::runner::execution::timed_step::TimerKind;
use crate::timefmt::rfc3339;

/// Reads a journal; cheap to clone.
#[derive(Clone)]
pub struct Client {
    journal: Arc<dyn Journal>,
}

/// An execution without its calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionSummary {
    /// Its id.
    pub id: ExecutionId,
    /// Its flow.
    pub flow: String,
    /// Its status.
    pub status: ExecutionStatus,
    /// Its input object.
    pub input: Value,
    /// Its output, once completed.
    pub output: Option<Value>,
    /// Why it failed, once failed.
    pub failure: Option<Failure>,
    /// The execution it replays.
    pub original_exec_id: Option<ExecutionId>,
    /// The blake3 hash (hex) of the component holding the flow; `None`
    /// for a host-side flow.
    pub component: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed status (RFC 3339).
    pub updated_at: String,
    /// How many calls it has made so far (counted without reading them,
    /// so a page of executions costs no read of their calls).
    #[serde(default)]
    pub call_count: u32,
    /// When it was created, in microseconds since the Unix epoch (the
    /// value the flow's clock starts from).
    #[serde(skip)]
    pub created_at_us: u64,
    /// For a `waiting` execution whose flow sleeps (`cairn_guest::sleep`):
    /// until when (RFC 3339); a server resumes it then. Left out of the
    /// JSON otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleeping_until: Option<String>,
}

/// An execution with its calls and their attempts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionDetail {
    /// The execution itself.
    #[serde(flatten)]
    pub execution: ExecutionSummary,
    /// Its calls in seq order.
    pub calls: Vec<CallView>,
    /// Its durable waits, by name.
    pub waits: Vec<WaitView>,
    /// Retries due later that it is parked on (`waiting` for their time),
    /// by seq; left out of the JSON when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retries: Vec<RetryView>,
    /// Its moves to other builds (`executions upgrade`), oldest first;
    /// left out of the JSON when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upgrades: Vec<crate::check::UpgradeView>,
    /// The execution whose flow started this one as a child flow, if
    /// one did; left out of the JSON otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ChildLinkView>,
    /// The child flows this one started, by the seq of the step that
    /// started each; left out of the JSON when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildLinkView>,
    /// The flow's own stdout, stderr and `log` lines over all its runs
    /// (lossy UTF-8, capped).
    pub flow_log: String,
}

/// One end of a child flow's link: the other execution, and the seq of the
/// parent's step that started the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildLinkView {
    /// The other execution (the parent, or the child).
    pub id: ExecutionId,
    /// The seq of the parent's `@child` step.
    pub seq: u32,
}

impl ExecutionDetail {
    /// The one call `selector` names: a call id (`name`, `name_2`,
    /// `name[3]`), a checkpoint name called once, or a seq number.
    pub fn call(&self, selector: &str) -> Result<&CallView, SelectorError> {
        let calls = self
            .calls
            .iter()
            .map(|c| (c.seq, c.call_id.as_str(), c.name.as_str()));
        let seq = crate::selector::resolve(calls, selector)?;
        let found = self.calls.iter().find(|c| c.seq == seq);
        found.ok_or_else(|| unreachable_selector(selector))
    }
}

/// `resolve` only returns seqs it was given; this error cannot happen, but
/// is reported rather than panicking.
fn unreachable_selector(selector: &str) -> SelectorError {
    SelectorError::Unknown {
        selector: selector.to_owned(),
        candidates: Vec::new(),
    }
}

/// A durable wait.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaitView {
    /// Its name.
    pub name: String,
    /// What a person is asked.
    pub question: String,
    /// The JSON schema of the value.
    pub schema: Value,
    /// The value, once supplied.
    pub value: Option<Value>,
    /// When the flow first waited (RFC 3339).
    pub asked_at: String,
    /// When the value was supplied (RFC 3339).
    pub answered_at: Option<String>,
    /// Where the value came from, once supplied: `answered` (given to
    /// this execution), `replayed` (carried over from the source of this
    /// replay) or `overridden` (given with the replay request).
    pub source: Option<AnswerSource>,
    /// For a `replayed` value: the execution it was carried from.
    pub carried_from: Option<ExecutionId>,
}

/// A call's retry due later: its last attempt failed with retries left,
/// and the execution is parked until the retry's time (it holds no flow
/// instance meanwhile; a server resumes it then, and so does a resume).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryView {
    /// The call's seq.
    pub seq: u32,
    /// The call's id.
    pub call_id: String,
    /// The number of the attempt the retry makes.
    pub attempt: u32,
    /// When it is due (RFC 3339).
    pub due_at: String,
    /// When it is due, in microseconds since the Unix epoch.
    pub due_at_us: u64,
    /// What it is for: a call's `retry` (the default, for a server that
    /// predates the others), a `sleep` of the flow until then, or a wait's
    /// deadline (`wait_deadline`: the execution waits for a value, and
    /// times out then if none came).
    #[serde(default)]
    pub kind: TimerKind,
}

/// One call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallView {
    /// `name`, `name_2`, ... or `name[i]`.
    pub call_id: String,
    /// Its seq in the execution.
    pub seq: u32,
    /// The checkpoint.
    pub name: String,
    /// The blake3 hash (hex) of the component it ran in.
    pub component: String,
    /// The checkpoint's kind label.
    pub kind: Option<String>,
    /// Where it ran.
    pub runtime: Runtime,
    /// Where it stands.
    pub status: CallStatus,
    /// Where its output came from.
    pub source: CallSource,
    /// Its input object.
    pub input: Value,
    /// Its output.
    pub output: Option<Value>,
    /// Its attempts, in order.
    pub attempts: Vec<AttemptView>,
}

/// One attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptView {
    /// The attempt number, from 1.
    pub n: u32,
    /// `running`, `ok`, `failed` or `trapped`.
    pub status: String,
    /// What stopped it, for `trapped`.
    pub trap: Option<TrapKind>,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it ended (RFC 3339).
    pub ended_at: Option<String>,
    /// Its error or trap message.
    pub error: Option<String>,
    /// Fuel it consumed.
    pub fuel_used: u64,
    /// Its captured stdout (lossy UTF-8).
    pub stdout: String,
    /// Its captured stderr (lossy UTF-8).
    pub stderr: String,
    /// The policy it ran under.
    pub policy: Option<PolicyRecord>,
}

impl Client {
    pub(crate) fn new(journal: Arc<dyn Journal>) -> Client {
        Client { journal }
    }

    /// The journal it reads (for `cairn_host::bench`).
    #[cfg(feature = "bench")]
    pub(crate) fn journal(&self) -> &Arc<dyn Journal> {
        &self.journal
    }

    /// The executions that match `filter`, in id order.
    pub async fn executions(
        &self,
        filter: &ExecutionFilter,
    ) -> Result<Vec<ExecutionSummary>, JournalError> {
        let mut executions: Vec<ExecutionSummary> = self
            .journal
            .executions(filter)
            .await?
            .into_iter()
            .map(|(id, r, calls)| summary(id, r, calls))
            .collect();
        // One read of the open timers (a small table) tells which of the
        // waiting ones sleep.
        if executions
            .iter()
            .any(|e| e.status == ExecutionStatus::Waiting)
        {
            let timers = self.journal.timers(None).await?;
            for e in &mut executions {
                if e.status == ExecutionStatus::Waiting {
                    let own = timers.iter().filter(|(x, _, _)| *x == e.id);
                    e.sleeping_until = sleep_end(own.map(|(_, _, t)| t));
                }
            }
        }
        Ok(executions)
    }

    /// The exact bytes of a component the journal holds (every execution's
    /// component is there), checked against its hash.
    pub async fn component(&self, hash: ComponentHash) -> Result<Option<Vec<u8>>, JournalError> {
        self.journal.component(hash).await
    }

    /// Every component the journal holds, by hash (without their bytes).
    pub async fn component_hashes(&self) -> Result<Vec<ComponentHash>, JournalError> {
        self.journal.component_hashes().await
    }

    /// Removes the components (old builds) that no execution in the
    /// journal refers to any more, and the chunks of their bytes that no
    /// other component shares; says what it removed. Executions, calls and
    /// moves to other builds keep theirs: only builds whose executions were
    /// all removed (`cairn executions prune`) go. A build stored but never
    /// run (uploaded by `cairn check --server`) goes too; it is stored again
    /// when it runs.
    pub async fn prune_components(&self) -> Result<PrunedComponents, JournalError> {
        self.journal.prune_components().await
    }

    /// One execution without its calls.
    pub async fn summary(&self, id: ExecutionId) -> Result<Option<ExecutionSummary>, JournalError> {
        let counted = self.journal.counted_execution(id).await?;
        let Some(mut summary) = counted.map(|(r, calls)| summary(id, r, calls)) else {
            return Ok(None);
        };
        if summary.status == ExecutionStatus::Waiting {
            let timers = self.journal.timers(Some(id)).await?;
            summary.sleeping_until = sleep_end(timers.iter().map(|(_, _, t)| t));
        }
        Ok(Some(summary))
    }

    /// The execution whose flow started `id` as a child flow, with the seq
    /// of its step, if one did (without reading any calls).
    pub async fn parent_of(&self, id: ExecutionId) -> Result<Option<ChildLinkView>, JournalError> {
        let links = self.journal.links(id).await?;
        Ok((links.parent).map(|(id, seq)| ChildLinkView { id, seq }))
    }

    /// The children `id`'s flow still waits for that have ended (completed,
    /// failed or cancelled): the child of each of its open `@child` steps
    /// that is no longer running or waiting. A server resumes a waiting
    /// parent that has one: its child ended in another process while the
    /// parent was still stopping, so no one else will. Reads the calls only
    /// of an execution that started children.
    pub async fn ended_children_awaited(
        &self,
        id: ExecutionId,
    ) -> Result<Vec<ExecutionId>, JournalError> {
        let links = self.journal.links(id).await?;
        if links.children.is_empty() {
            return Ok(Vec::new());
        }
        let Some(history) = self.journal.history_for_resume(id).await? else {
            return Ok(Vec::new());
        };
        let open = |seq: u32| {
            (history.calls.iter()).any(|c| c.seq == seq && c.call.status == CallStatus::Running)
        };
        let mut ended = Vec::new();
        for (_, child) in links.children.into_iter().filter(|(seq, _)| open(*seq)) {
            let record = self.journal.execution(child).await?;
            if record.is_some_and(|r| r.status.has_ended()) {
                ended.push(child);
            }
        }
        Ok(ended)
    }

    /// An execution's durable waits, without reading its calls.
    pub async fn waits(&self, id: ExecutionId) -> Result<Vec<WaitView>, JournalError> {
        Ok(self
            .journal
            .waits(id)
            .await?
            .into_iter()
            .map(|(name, w)| wait_view(name, w))
            .collect())
    }

    /// Retries due later: those of execution `id`, or of every execution
    /// when it is `None` (what a server schedules on start), by execution
    /// and seq.
    pub async fn retries(
        &self,
        id: Option<ExecutionId>,
    ) -> Result<Vec<(ExecutionId, RetryView)>, JournalError> {
        Ok(self
            .journal
            .timers(id)
            .await?
            .into_iter()
            .map(|(exec, seq, timer)| (exec, retry_view(seq, timer)))
            .collect())
    }

    /// One execution with its calls and attempts.
    pub async fn execution(
        &self,
        id: ExecutionId,
    ) -> Result<Option<ExecutionDetail>, JournalError> {
        let Some(history) = self.journal.history(id).await? else {
            return Ok(None);
        };
        let calls: Vec<CallView> = history
            .calls
            .into_iter()
            .map(|c| call_view(c.seq, c.call, c.attempts))
            .collect();
        let call_count = u32::try_from(calls.len()).unwrap_or(u32::MAX);
        let waits = self.waits(id).await?;
        let retries = self.retries(Some(id)).await?;
        let retries: Vec<RetryView> = retries.into_iter().map(|(_, r)| r).collect();
        let flow_log = String::from_utf8_lossy(&history.execution.flow_log).into_owned();
        let upgrades = self.journal.upgrades(id).await?;
        let links = self.journal.links(id).await?;
        let mut execution = summary(id, history.execution, call_count);
        if execution.status == ExecutionStatus::Waiting {
            execution.sleeping_until = (retries.iter())
                .filter(|r| r.kind == TimerKind::Sleep)
                .map(|r| r.due_at_us)
                .min()
                .map(rfc3339);
        }
        Ok(Some(ExecutionDetail {
            execution,
            calls,
            waits,
            retries,
            upgrades: upgrades
                .into_iter()
                .map(crate::check::UpgradeView::of)
                .collect(),
            parent: (links.parent).map(|(id, seq)| ChildLinkView { id, seq }),
            children: (links.children.into_iter())
                .map(|(seq, id)| ChildLinkView { id, seq })
                .collect(),
            flow_log,
        }))
    }
}

fn wait_view(name: String, w: WaitRecord) -> WaitView {
    WaitView {
        name,
        question: w.question,
        schema: json(&w.schema),
        value: w.value.as_deref().map(json),
        asked_at: rfc3339(w.asked_at_us),
        answered_at: w.answered_at_us.map(rfc3339),
        source: w.source,
        carried_from: w.carried_from.map(ExecutionId),
    }
}

fn retry_view(seq: u32, t: TimerRecord) -> RetryView {
    let kind = TimerKind::of(&t);
    RetryView {
        seq,
        call_id: t.call_id,
        attempt: t.attempt,
        due_at: rfc3339(t.due_at_us),
        due_at_us: t.due_at_us,
        kind,
    }
}

fn summary(id: ExecutionId, r: ExecutionRecord, call_count: u32) -> ExecutionSummary {
    ExecutionSummary {
        id,
        flow: r.flow,
        status: r.status,
        input: json(&r.input),
        output: r.output.as_deref().map(json),
        failure: r.failure,
        original_exec_id: r.original_exec_id.map(ExecutionId),
        component: r.component.map(|c| c.to_hex()),
        created_at: rfc3339(r.created_at_us),
        updated_at: rfc3339(r.updated_at_us),
        call_count,
        created_at_us: r.created_at_us,
        sleeping_until: None,
    }
}

/// When the sleep among `timers` ends, if one is there.
fn sleep_end<'a>(timers: impl IntoIterator<Item = &'a TimerRecord>) -> Option<String> {
    timers
        .into_iter()
        .filter(|t| TimerKind::of(t) == TimerKind::Sleep)
        .map(|t| t.due_at_us)
        .min()
        .map(rfc3339)
}

fn call_view(seq: u32, c: CallRecord, attempts: Vec<(u32, AttemptRecord)>) -> CallView {
    CallView {
        call_id: c.call_id,
        seq,
        name: c.name,
        component: c.component.to_hex(),
        kind: c.kind,
        runtime: c.runtime,
        status: c.status,
        source: c.source,
        input: json(&c.input),
        output: c.output.as_deref().map(json),
        attempts: attempts
            .into_iter()
            .map(|(n, a)| attempt_view(n, a))
            .collect(),
    }
}

fn attempt_view(n: u32, a: AttemptRecord) -> AttemptView {
    let (status, trap, error) = match a.outcome {
        None => ("running", None, None),
        Some(AttemptOutcome::Ok) => ("ok", None, None),
        Some(AttemptOutcome::Failed { message }) => ("failed", None, Some(message)),
        Some(AttemptOutcome::Trapped { kind, message }) => ("trapped", Some(kind), Some(message)),
    };
    AttemptView {
        n,
        status: status.to_owned(),
        trap,
        started_at: rfc3339(a.started_at_us),
        ended_at: a.ended_at_us.map(rfc3339),
        error,
        fuel_used: a.fuel_used,
        stdout: String::from_utf8_lossy(&a.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&a.stderr).into_owned(),
        policy: a.policy,
    }
}

/// Stored JSON back to a value; a record that is not JSON shows as a string.
fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}
