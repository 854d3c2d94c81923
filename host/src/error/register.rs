//! Registering a host-side flow failed.

/// Registering a host-side flow ([`crate::Host::register`]) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// A host-side flow of this name is already registered.
    #[error("a host-side flow `{0}` is already registered")]
    AlreadyRegistered(String),
    /// The name is not a valid name (see [`crate::MAX_NAME_LEN`] and the
    /// character set in the README).
    #[error("invalid host-side flow name: {0}")]
    BadName(String),
}
