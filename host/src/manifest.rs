//! What a component contains, as its `describe` export reports it.

use serde::Serialize;

use crate::model::Runtime;
use crate::names;
use crate::policy::CheckpointLimits;

/// A component's flows and checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// The guest SDK version that built it.
    pub sdk_version: String,
    /// Its flows, by name.
    pub flows: Vec<FlowInfo>,
    /// Its checkpoints, by name.
    pub checkpoints: Vec<CheckpointInfo>,
}

/// A flow and its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowInfo {
    /// Its name.
    pub name: String,
    /// Its parameter names: the keys of its JSON input.
    pub params: Vec<String>,
    /// Whole-flow retries.
    pub retries: u32,
    /// Whether its calls may use cached outputs by default.
    pub cache: bool,
}

/// A checkpoint and its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointInfo {
    /// Its name.
    pub name: String,
    /// Its parameter names: the keys of its JSON input.
    pub params: Vec<String>,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// Its cache option; `None` defers to the flow.
    pub cache: Option<bool>,
    /// Its kind label.
    pub kind: Option<String>,
    /// Where it runs.
    pub runtime: Runtime,
    /// Limits it sets for itself (they only tighten the policy).
    pub limits: CheckpointLimits,
}

impl Manifest {
    /// The flow called `name`.
    pub fn flow(&self, name: &str) -> Option<&FlowInfo> {
        self.flows.iter().find(|f| f.name == name)
    }

    /// The checkpoint called `name`.
    pub fn checkpoint(&self, name: &str) -> Option<&CheckpointInfo> {
        self.checkpoints.iter().find(|c| c.name == name)
    }

    /// The flow names, in the component's order.
    pub fn flow_names(&self) -> Vec<String> {
        self.flows.iter().map(|f| f.name.clone()).collect()
    }

    /// The checkpoint names, in the component's order.
    pub fn checkpoint_names(&self) -> Vec<String> {
        self.checkpoints.iter().map(|c| c.name.clone()).collect()
    }

    /// Checks what the SDK cannot check at compile time: unique names,
    /// unique parameters, sane options.
    pub(crate) fn validate(&self) -> Result<(), String> {
        self.validate_text()?;
        let mut names: Vec<&str> = self.flows.iter().map(|f| f.name.as_str()).collect();
        names.extend(self.checkpoints.iter().map(|c| c.name.as_str()));
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("the name `{}` is declared twice", pair[0]));
        }
        if let Some(empty) = names.iter().find(|n| n.is_empty()) {
            return Err(format!("an empty name `{empty}` is declared"));
        }
        let params = self
            .flows
            .iter()
            .map(|f| (&f.name, &f.params))
            .chain(self.checkpoints.iter().map(|c| (&c.name, &c.params)));
        for (name, params) in params {
            let mut sorted: Vec<&String> = params.iter().collect();
            sorted.sort_unstable();
            if sorted.windows(2).any(|w| w[0] == w[1]) {
                return Err(format!("`{name}` has a repeated parameter name"));
            }
        }
        let retries = self
            .flows
            .iter()
            .map(|f| (&f.name, f.retries))
            .chain(self.checkpoints.iter().map(|c| (&c.name, c.retries)));
        for (name, retries) in retries {
            if retries > MAX_RETRIES {
                return Err(format!(
                    "`{name}` asks for {retries} retries; at most {MAX_RETRIES} are allowed"
                ));
            }
        }
        Ok(())
    }
}

impl Manifest {
    /// Every name and label keeps to the character set and length of
    /// [`crate::names`], and there are not absurdly many of them: the
    /// manifest is guest text that reaches terminals, the journal and
    /// command lines.
    fn validate_text(&self) -> Result<(), String> {
        let entries = self.flows.len() + self.checkpoints.len();
        if entries > MAX_ENTRIES {
            return Err(format!(
                "the component declares {entries} flows and checkpoints; at most {MAX_ENTRIES} are allowed"
            ));
        }
        if self.sdk_version.is_empty()
            || self.sdk_version.len() > 64
            || !self
                .sdk_version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
        {
            return Err(format!(
                "the SDK version {} is not a version",
                names::shown(&self.sdk_version)
            ));
        }
        let entries = self
            .flows
            .iter()
            .map(|f| ("flow", &f.name, &f.params, None))
            .chain(
                self.checkpoints
                    .iter()
                    .map(|c| ("checkpoint", &c.name, &c.params, c.kind.as_ref())),
            );
        for (what, name, params, kind) in entries {
            names::check(what, name)?;
            if params.len() > MAX_PARAMS {
                return Err(format!(
                    "{what} `{name}` has {} parameters; at most {MAX_PARAMS} are allowed",
                    params.len()
                ));
            }
            for param in params {
                names::check(&format!("parameter of `{name}`"), param)?;
            }
            if let Some(kind) = kind {
                names::check(&format!("kind label of `{name}`"), kind)?;
            }
        }
        Ok(())
    }
}

/// The most flows and checkpoints one component may declare.
const MAX_ENTRIES: usize = 10_000;

/// The most parameters one flow or checkpoint may take.
const MAX_PARAMS: usize = 256;

/// The most retries an option may ask for (the SDK enforces the same bound).
pub(crate) const MAX_RETRIES: u32 = 100;
