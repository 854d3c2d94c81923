//! A replay's call selector named no call, or several.

use crate::names::listed;

/// A call a selector could mean: its call id and seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRef {
    /// The call's id.
    pub call_id: String,
    /// The call's seq.
    pub seq: u32,
}

impl std::fmt::Display for CallRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (seq {})", self.call_id, self.seq)
    }
}

/// Candidates as an error message lists them (at most a few, then how many).
fn shown(candidates: &[CallRef]) -> String {
    listed(
        &candidates
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
    )
}

/// A call selector named no call, or several.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectorError {
    /// No call matches.
    #[error("no call matches `{selector}`; the calls are: {}", shown(candidates))]
    Unknown {
        /// The selector.
        selector: String,
        /// Every call.
        candidates: Vec<CallRef>,
    },
    /// Several calls match (a checkpoint name called more than once).
    #[error(
        "`{selector}` matches several calls: {}; name one by its call id or seq",
        shown(candidates)
    )]
    Ambiguous {
        /// The selector.
        selector: String,
        /// The matching calls.
        candidates: Vec<CallRef>,
    },
}
