//! Replay: a new execution that reuses a source execution's outputs.
//!
//! For each call the new flow makes, by seq: an overridden call gets the
//! override as its output; the root (`--from`) runs live; any other call
//! whose checkpoint and input match a completed source call reuses its
//! output; the rest — descendants of a change — run live. When the flow
//! makes a call the source did not make at that seq (another checkpoint, as
//! after a code change), the replay has diverged: that is reported once, and
//! everything from there runs live.

use crate::component::Component;
use crate::error::ReplayError;
use crate::journal::CallHistory;
use crate::journal::record::ReplayPlan;
use crate::model::CallStatus;
use crate::selector;

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
}

/// Resolves a request's selectors against the source's calls.
pub(crate) fn plan(
    source: &[CallHistory],
    request: &ReplayRequest,
) -> Result<ReplayPlan, ReplayError> {
    let calls = source
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
    Ok(ReplayPlan { root, overrides })
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

/// A replay in progress: the source's calls and the plan.
pub(crate) struct ReplaySource {
    calls: Vec<CallHistory>,
    plan: ReplayPlan,
    diverged: bool,
}

/// Where a replay first made a call the source did not.
pub(crate) struct Divergence {
    pub(crate) seq: u32,
    pub(crate) expected: String,
    pub(crate) found: String,
}

impl ReplaySource {
    pub(crate) fn new(calls: Vec<CallHistory>, plan: ReplayPlan) -> ReplaySource {
        ReplaySource {
            calls,
            plan,
            diverged: false,
        }
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
        if self.diverged {
            return (live, None);
        }
        // The source's calls are in seq order (with gaps if it never ended).
        let found = self.calls.binary_search_by_key(&seq, |c| c.seq).ok();
        let Some(source) = found.map(|i| &self.calls[i].call) else {
            return (live, None);
        };
        if source.name != name || source.call_id != call_id {
            self.diverged = true;
            let divergence = Divergence {
                seq,
                expected: format!("`{}` ({})", source.name, source.call_id),
                found: format!("`{name}` ({call_id})"),
            };
            return (live, Some(divergence));
        }
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
}
