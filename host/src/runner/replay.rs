//! Replay: a new execution that reuses a source execution's outputs.
//!
//! For each call the new flow makes, by seq: an overridden call gets the
//! override as its output; the root (`--from`) runs live; any other call
//! whose checkpoint and input match a completed source call reuses its
//! output; the rest — descendants of a change — run live. When the flow
//! makes a call the source did not make at that seq (another checkpoint, as
//! after a code change), the replay has diverged: that is reported once, and
//! everything from there runs live.
//!
//! Waits keep their answers: a person who answered once is not asked again
//! because a later bug was fixed. Waits have no seq of their own; a wait's
//! place is between calls, given by how many calls the flow has submitted
//! when it waits (the seq its next call will take). A wait the replay's flow
//! asks for the first time gets, in this order: the value given with the
//! request for its name (`--answer`), wherever it is; else the source's
//! value for the same wait (same name, question and schema), when the wait
//! lies before the root — the flow has not submitted the root's call yet
//! (every wait, with no root) — the replay runs the source's input and it
//! has not diverged; else it is asked, as in any execution.

use crate::component::Component;
use crate::error::{JournalError, ReplayError};
use crate::journal::record::{ExecutionRecord, ReplayPlan, WaitRecord};
use crate::journal::{CallHistory, Journal};
use crate::model::{AnswerSource, CallStatus, ExecutionId};
use crate::schema::Schema;
use crate::{names, selector};

/// What to replay and what to change.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ReplayRequest {
    /// The call to run live (a selector); calls before it reuse outputs.
    pub from: Option<String>,
    /// `(selector, output JSON)`: outputs that replace the source's.
    pub overrides: Vec<(String, String)>,
    /// A new flow input (JSON object); default: the source's.
    pub input: Option<String>,
    /// Another version of the component; default: the source's exact code.
    pub component: Option<Component>,
    /// `(wait name, value JSON)`: values for waits, used instead of the
    /// source's answers or of asking.
    pub answers: Vec<(String, String)>,
}

impl ReplayRequest {
    /// Runs `selector` live.
    pub fn from(mut self, selector: impl Into<String>) -> Self {
        self.from = Some(selector.into());
        self
    }

    /// Replaces the output of the call `selector` names with `output_json`.
    pub fn override_output(
        mut self,
        selector: impl Into<String>,
        output_json: impl Into<String>,
    ) -> Self {
        self.overrides.push((selector.into(), output_json.into()));
        self
    }

    /// Gives the flow a new input.
    pub fn input(mut self, input_json: impl Into<String>) -> Self {
        self.input = Some(input_json.into());
        self
    }

    /// Runs another version of the component.
    pub fn component(mut self, component: Component) -> Self {
        self.component = Some(component);
        self
    }

    /// Answers the wait `name` with `value_json` wherever the flow waits
    /// for it: instead of the source's answer (which a wait before the root
    /// otherwise keeps) or of asking again (a wait after the root). Checked
    /// against the wait's schema: the source's, before the replay starts,
    /// when the source asked that wait; the one the flow asks with, when it
    /// does. The last value given for a name counts.
    pub fn answer(mut self, name: impl Into<String>, value_json: impl Into<String>) -> Self {
        self.answers.push((name.into(), value_json.into()));
        self
    }
}

/// The source execution of a replay, as the replay reads it.
pub(crate) struct Source {
    pub(crate) id: ExecutionId,
    /// Its input (canonical).
    pub(crate) input: String,
    /// Its calls, in seq order.
    pub(crate) calls: Vec<CallHistory>,
    /// Its waits, by name.
    pub(crate) waits: Vec<(String, WaitRecord)>,
}

impl Source {
    /// Reads execution `id` as a replay's source, with its record.
    pub(crate) async fn read(
        journal: &dyn Journal,
        id: ExecutionId,
    ) -> Result<Option<(ExecutionRecord, Source)>, JournalError> {
        let Some(history) = journal.history(id).await? else {
            return Ok(None);
        };
        let waits = journal.waits(id).await?;
        let source = Source {
            id,
            input: history.execution.input.clone(),
            calls: history.calls,
            waits,
        };
        Ok(Some((history.execution, source)))
    }
}

/// Resolves a request's selectors against the source's calls, and checks
/// its answers (against the schema of the source's wait of that name, when
/// there is one: a flow that asks a wait the source never asked, or asks it
/// with another schema, has its answer checked when it asks).
pub(crate) fn plan(source: &Source, request: &ReplayRequest) -> Result<ReplayPlan, ReplayError> {
    let calls = source
        .calls
        .iter()
        .map(|c| (c.seq, c.call.call_id.as_str(), c.call.name.as_str()));
    let root = match &request.from {
        Some(selector) => Some(selector::resolve(calls.clone(), selector)?),
        None => None,
    };
    let mut overrides = Vec::new();
    for (selector, output) in &request.overrides {
        let seq = selector::resolve(calls.clone(), selector)?;
        let value: serde_json::Value =
            serde_json::from_str(output).map_err(|source| ReplayError::OverrideNotJson {
                selector: selector.clone(),
                source,
            })?;
        overrides.retain(|(s, _)| *s != seq);
        overrides.push((seq, value.to_string()));
    }
    overrides.sort();
    let mut answers: Vec<(String, String)> = Vec::new();
    for (name, json) in &request.answers {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|source| ReplayError::AnswerNotJson {
                name: name.clone(),
                source,
            })?;
        let refused = |reason: String| ReplayError::BadAnswer {
            name: name.clone(),
            reason,
        };
        names::check("wait", name).map_err(refused)?;
        if let Some((_, wait)) = source.waits.iter().find(|(n, _)| n == name) {
            let schema = crate::schema::compile(&wait.schema)
                .map_err(|e| refused(format!("the wait's schema is refused: {e}")))?;
            schema
                .validate(&value)
                .map_err(|e| refused(e.to_string()))?;
        }
        answers.retain(|(n, _)| n != name);
        answers.push((name.clone(), value.to_string()));
    }
    answers.sort();
    Ok(ReplayPlan {
        root,
        overrides,
        answers,
    })
}

/// What a replayed call does.
pub(crate) enum Decision {
    /// Its output is the override.
    Override(String),
    /// It reuses the source's output.
    Reuse(String),
    /// It runs; `root` says it must not come from the cache either.
    Live { root: bool },
}

/// A replay in progress: the source's calls and waits, and the plan.
pub(crate) struct ReplaySource {
    source: ExecutionId,
    calls: Vec<CallHistory>,
    waits: Vec<(String, WaitRecord)>,
    plan: ReplayPlan,
    /// The replay runs another input than the source: no answer is carried
    /// over, as what was approved may be what changed.
    input_changed: bool,
    diverged: bool,
}

/// The value of a wait the replay's flow asks for the first time, when it
/// gets one without asking.
pub(crate) struct Supplied {
    /// The value JSON.
    pub(crate) value: String,
    /// Where it comes from.
    pub(crate) source: AnswerSource,
    /// For a value carried over: the source execution.
    pub(crate) carried_from: Option<u64>,
}

/// Where a replay first made a call the source did not.
pub(crate) struct Divergence {
    pub(crate) seq: u32,
    pub(crate) expected: String,
    pub(crate) found: String,
}

impl ReplaySource {
    /// A replay of `source` that runs `input` (canonical).
    pub(crate) fn new(source: Source, plan: ReplayPlan, input: &str) -> ReplaySource {
        ReplaySource {
            source: source.id,
            input_changed: source.input != input,
            calls: source.calls,
            waits: source.waits,
            plan,
            diverged: false,
        }
    }

    /// Notes the call the flow made at `seq`: a first divergence from the
    /// source is returned. A resumed replay notes the calls its journal
    /// answers too, so that it knows whether it had diverged.
    pub(crate) fn track(&mut self, seq: u32, name: &str, call_id: &str) -> Option<Divergence> {
        if self.diverged {
            return None;
        }
        let source = self.source_call(seq)?;
        if source.name == name && source.call_id == call_id {
            return None;
        }
        let divergence = Divergence {
            seq,
            expected: format!("`{}` ({})", source.name, source.call_id),
            found: format!("`{name}` ({call_id})"),
        };
        self.diverged = true;
        Some(divergence)
    }

    /// The source's call at `seq`, if it made one.
    fn source_call(&self, seq: u32) -> Option<&crate::journal::record::CallRecord> {
        // The source's calls are in seq order (with gaps if it never ended).
        let found = self.calls.binary_search_by_key(&seq, |c| c.seq).ok();
        found.map(|i| &self.calls[i].call)
    }

    /// Decides the call at `seq`; a first divergence is returned with it.
    pub(crate) fn decide(
        &mut self,
        seq: u32,
        name: &str,
        call_id: &str,
        input: &str,
    ) -> (Decision, Option<Divergence>) {
        let live = Decision::Live { root: false };
        let divergence = self.track(seq, name, call_id);
        if self.diverged {
            return (live, divergence);
        }
        let Some(source) = self.source_call(seq) else {
            return (live, None);
        };
        if let Some((_, output)) = self.plan.overrides.iter().find(|(s, _)| *s == seq) {
            return (Decision::Override(output.clone()), None);
        }
        if self.plan.root == Some(seq) {
            return (Decision::Live { root: true }, None);
        }
        match (&source.output, source.status) {
            (Some(output), CallStatus::Completed) if source.input == input => {
                (Decision::Reuse(output.clone()), None)
            }
            _ => (live, None),
        }
    }

    /// The value a wait gets without asking, if any (see the module docs),
    /// when the flow asks it for the first time with `question` and
    /// `schema` (its text, and compiled) after submitting `next_seq` calls.
    /// `Err` refuses the wait: the value given for it does not match the
    /// schema it is asked with.
    pub(crate) fn answer(
        &self,
        name: &str,
        question: &str,
        schema: (&str, &Schema),
        next_seq: u32,
    ) -> Result<Option<Supplied>, String> {
        if let Some((_, value)) = self.plan.answers.iter().find(|(n, _)| n == name) {
            // Stored as serde_json wrote it, so it parses.
            let parsed: serde_json::Value = serde_json::from_str(value)
                .map_err(|e| format!("the value given for wait `{name}` is not JSON: {e}"))?;
            schema.1.validate(&parsed).map_err(|e| {
                format!("the value the replay was given for wait `{name}` is refused: {e}")
            })?;
            return Ok(Some(Supplied {
                value: value.clone(),
                source: AnswerSource::Overridden,
                carried_from: None,
            }));
        }
        // The root's call takes seq `root`: a wait asked before the flow
        // submits it comes before it.
        let before_root = self.plan.root.is_none_or(|root| next_seq <= root);
        if !before_root || self.diverged || self.input_changed {
            return Ok(None);
        }
        let Some((_, wait)) = self.waits.iter().find(|(n, _)| n == name) else {
            return Ok(None);
        };
        if wait.question != question || wait.schema != schema.0 {
            return Ok(None);
        }
        Ok(wait.value.clone().map(|value| Supplied {
            value,
            source: AnswerSource::Replayed,
            carried_from: Some(self.source.0),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{"type": "string"}"#;

    /// A replay of execution 7, whose input was `{}` and whose wait
    /// `approval` ("Ship?") `ann` answered.
    fn replay(root: Option<u32>, answers: &[(&str, &str)], input: &str) -> ReplaySource {
        let answered = WaitRecord {
            question: "Ship?".to_owned(),
            schema: SCHEMA.to_owned(),
            value: Some(r#""ann""#.to_owned()),
            asked_at_us: 1,
            answered_at_us: Some(2),
            source: Some(AnswerSource::Answered),
            carried_from: None,
        };
        let source = Source {
            id: ExecutionId(7),
            input: "{}".to_owned(),
            calls: Vec::new(),
            waits: vec![("approval".to_owned(), answered)],
        };
        let answers = answers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let plan = ReplayPlan {
            root,
            overrides: Vec::new(),
            answers,
        };
        ReplaySource::new(source, plan, input)
    }

    /// Where the value of `approval`, asked with `question` after the flow
    /// submitted one call (so between seq 0 and seq 1), comes from.
    fn asked(
        replay: &ReplaySource,
        question: &str,
    ) -> Result<Option<(String, AnswerSource, Option<u64>)>, String> {
        let schema = crate::schema::compile(SCHEMA).expect("compiles");
        let supplied = replay.answer("approval", question, (SCHEMA, &schema), 1)?;
        Ok(supplied.map(|s| (s.value, s.source, s.carried_from)))
    }

    #[test]
    fn a_wait_keeps_its_answer_when_it_lies_before_the_root() {
        let carried = Ok(Some((
            r#""ann""#.to_owned(),
            AnswerSource::Replayed,
            Some(7),
        )));
        // No root, or the root is the call after the wait (seq 1) or later.
        assert_eq!(asked(&replay(None, &[], "{}"), "Ship?"), carried);
        assert_eq!(asked(&replay(Some(1), &[], "{}"), "Ship?"), carried);
        assert_eq!(asked(&replay(Some(5), &[], "{}"), "Ship?"), carried);
        // The root is the call before the wait: asked again.
        assert_eq!(asked(&replay(Some(0), &[], "{}"), "Ship?"), Ok(None));
        // Another question, or another input: asked again.
        assert_eq!(asked(&replay(None, &[], "{}"), "Ship now?"), Ok(None));
        assert_eq!(asked(&replay(None, &[], r#"{"n":1}"#), "Ship?"), Ok(None));
    }

    #[test]
    fn an_answer_given_with_the_replay_wins_wherever_the_wait_is() {
        let given = Ok(Some((
            r#""bob""#.to_owned(),
            AnswerSource::Overridden,
            None,
        )));
        let answers = [("approval", r#""bob""#)];
        assert_eq!(asked(&replay(None, &answers, "{}"), "Ship?"), given);
        assert_eq!(asked(&replay(Some(0), &answers, "{}"), "Ship?"), given);
        assert_eq!(
            asked(&replay(Some(0), &answers, r#"{"n":1}"#), "Ship now?"),
            given
        );
        // Checked against the schema the flow asks with.
        let refused = asked(&replay(None, &[("approval", "7")], "{}"), "Ship?");
        assert!(refused.is_err(), "{refused:?}");
    }

    #[test]
    fn a_replay_that_diverged_asks_again() {
        let mut replay = replay(None, &[], "{}");
        replay.calls.push(CallHistory {
            seq: 0,
            call: crate::journal::record::CallRecord {
                call_id: "add".to_owned(),
                name: "add".to_owned(),
                component: crate::model::ComponentHash([0; 32]),
                kind: None,
                runtime: crate::model::Runtime::Inline,
                input: "{}".to_owned(),
                status: CallStatus::Completed,
                source: crate::model::CallSource::Executed,
                output: Some("1".to_owned()),
                attempts: 1,
            },
            attempts: Vec::new(),
            held: 1,
        });
        assert!(replay.track(0, "add", "add").is_none());
        assert!(asked(&replay, "Ship?").is_ok_and(|s| s.is_some()));
        assert!(replay.track(0, "square", "square").is_some());
        assert_eq!(asked(&replay, "Ship?"), Ok(None));
    }
}
