//! Why a call gave no output, as the runner and host-side flows speak of
//! it. The WIT's generated `call-error` is converted to and from this only
//! at the guest flow's import.

use crate::model::TrapKind;

/// Why a call (or a wait) gave the flow no value. The flow decides what to
/// do with it; unhandled, it fails the execution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CallFailure {
    /// The checkpoint returned its own error on its last attempt.
    #[error("{0}")]
    Failed(String),
    /// The request was refused before anything was journaled: an unknown
    /// checkpoint, an input that is not a JSON object, a wait refused.
    #[error("{0}")]
    Context(String),
    /// The checkpoint trapped on its last attempt: a panic, or a limit of
    /// the policy.
    #[error("trapped: {message}")]
    Trapped {
        /// Which limit or fault.
        kind: TrapKind,
        /// What happened.
        message: String,
    },
}
