//! A replay's call selector named no call, or several.

/// A call selector named no call, or several.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectorError {
    /// No call matches.
    #[error("no call matches `{selector}`; the calls are: {candidates}")]
    Unknown {
        /// The selector.
        selector: String,
        /// Every call, as `call_id (seq n)`.
        candidates: String,
    },
    /// Several calls match (a checkpoint name called more than once).
    #[error("`{selector}` matches several calls: {candidates}; name one by its call id or seq")]
    Ambiguous {
        /// The selector.
        selector: String,
        /// The matching calls, as `call_id (seq n)`.
        candidates: String,
    },
}
