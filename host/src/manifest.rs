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
    /// Its parameters' types as the author wrote them (`Vec<String>`), one
    /// per name in `params`: for people to read, never interpreted.
    pub param_types: Vec<String>,
    /// The parameters its input may leave out (an `Option` is `None`
    /// then); every other one must be there.
    pub optional_params: Vec<String>,
    /// Whole-flow retries.
    pub retries: u32,
    /// Whether its calls may use cached outputs by default.
    pub cache: bool,
    /// Its doc comment, if it has one.
    pub doc: Option<String>,
}

/// A checkpoint and its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointInfo {
    /// Its name.
    pub name: String,
    /// Its parameter names: the keys of its JSON input.
    pub params: Vec<String>,
    /// Its parameters' types as the author wrote them, one per name in
    /// `params`: for people to read, never interpreted.
    pub param_types: Vec<String>,
    /// The parameters its input may leave out.
    pub optional_params: Vec<String>,
    /// Its doc comment, if it has one.
    pub doc: Option<String>,
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

impl FlowInfo {
    /// Its parameters as `name: Type, ...`.
    pub fn signature(&self) -> String {
        signature(&self.params, &self.param_types)
    }
}

impl CheckpointInfo {
    /// Its parameters as `name: Type, ...`.
    pub fn signature(&self) -> String {
        signature(&self.params, &self.param_types)
    }
}

/// Parameters as `name: Type, ...` (the first 20, then how many in all).
fn signature(params: &[String], types: &[String]) -> String {
    let typed: Vec<String> = params
        .iter()
        .enumerate()
        .map(|(i, name)| match types.get(i) {
            Some(ty) => format!("{name}: {ty}"),
            None => name.clone(),
        })
        .collect();
    names::listed(&typed)
}

impl Manifest {
    /// Every name and label keeps to the character set and length of
    /// [`crate::names`], type names and doc comments hold no control
    /// characters (but a doc's line breaks and tabs) and keep to their
    /// lengths, and there is not absurdly much of any of it: the manifest
    /// is guest text that reaches terminals, the journal and command lines.
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
            .map(|f| Entry {
                what: "flow",
                name: &f.name,
                params: &f.params,
                types: &f.param_types,
                optional: &f.optional_params,
                doc: f.doc.as_deref(),
                kind: None,
            })
            .chain(self.checkpoints.iter().map(|c| Entry {
                what: "checkpoint",
                name: &c.name,
                params: &c.params,
                types: &c.param_types,
                optional: &c.optional_params,
                doc: c.doc.as_deref(),
                kind: c.kind.as_deref(),
            }));
        let mut text = self.sdk_version.len();
        for entry in entries {
            text = text.saturating_add(entry.validate()?);
        }
        if text > MAX_TEXT {
            return Err(format!(
                "the manifest holds {text} bytes of names, types and docs; at most {MAX_TEXT} are allowed"
            ));
        }
        Ok(())
    }
}

/// One flow or checkpoint of a manifest, for [`Manifest::validate_text`].
struct Entry<'a> {
    what: &'static str,
    name: &'a str,
    params: &'a [String],
    types: &'a [String],
    optional: &'a [String],
    doc: Option<&'a str>,
    kind: Option<&'a str>,
}

impl Entry<'_> {
    /// Checks the entry's text and returns how many bytes of it there are.
    fn validate(&self) -> Result<usize, String> {
        let Entry {
            what,
            name,
            params,
            types,
            optional,
            doc,
            kind,
        } = *self;
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
        // The component describes each parameter once, with its type and
        // whether it is optional, so these cannot disagree; checked all
        // the same for a manifest made some other way.
        if types.len() != params.len() || optional.len() > params.len() {
            return Err(format!(
                "{what} `{name}` describes other parameters than it names"
            ));
        }
        for (param, ty) in params.iter().zip(types) {
            if ty.is_empty() || ty.len() > MAX_TYPE_NAME_LEN || ty.chars().any(char::is_control) {
                return Err(format!(
                    "the type of parameter `{param}` of `{name}` ({}) is empty, longer than {MAX_TYPE_NAME_LEN} bytes or holds a control character",
                    names::shown(ty)
                ));
            }
        }
        if let Some(kind) = kind {
            names::check(&format!("kind label of `{name}`"), kind)?;
        }
        if let Some(doc) = doc {
            if doc.len() > MAX_DOC_LEN {
                return Err(format!(
                    "the doc comment of `{name}` is {} bytes; at most {MAX_DOC_LEN} are allowed",
                    doc.len()
                ));
            }
            if let Some(bad) = doc
                .chars()
                .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
            {
                return Err(format!(
                    "the doc comment of `{name}` holds the control character U+{:04X}",
                    u32::from(bad)
                ));
            }
        }
        let text = name.len()
            + params.iter().map(String::len).sum::<usize>()
            + types.iter().map(String::len).sum::<usize>()
            + doc.map_or(0, str::len)
            + kind.map_or(0, str::len);
        Ok(text)
    }
}

/// The longest type name of a parameter, in bytes (the SDK cuts longer
/// ones to fit).
const MAX_TYPE_NAME_LEN: usize = 256;

/// The longest doc comment, in bytes (the SDK cuts longer ones to fit).
const MAX_DOC_LEN: usize = 4096;

/// The most bytes of names, types and docs one manifest may hold in all:
/// each is bounded, but a component may declare thousands of entries.
const MAX_TEXT: usize = 8 << 20;

/// The most flows and checkpoints one component may declare.
const MAX_ENTRIES: usize = 10_000;

/// The most parameters one flow or checkpoint may take.
const MAX_PARAMS: usize = 256;

/// The most retries an option may ask for (the SDK enforces the same bound).
pub(crate) const MAX_RETRIES: u32 = 100;
