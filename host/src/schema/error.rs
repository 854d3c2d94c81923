//! Why a schema is refused and why a value does not pass one.

/// Why a wait's schema is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum SchemaError {
    /// The text is too long.
    #[error("the schema is {bytes} bytes, more than the {limit} allowed")]
    TooLarge {
        /// Its length.
        bytes: usize,
        /// [`MAX_SCHEMA_BYTES`](super::MAX_SCHEMA_BYTES).
        limit: usize,
    },
    /// Arrays and objects nest too deeply.
    #[error("the schema nests more than {limit} levels deep")]
    TooDeep {
        /// [`MAX_NESTING`](super::MAX_NESTING).
        limit: usize,
    },
    /// The text is not JSON.
    #[error("the schema is not valid JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// `$schema` names a meta-schema other than the five drafts; it would
    /// have to be fetched, and nothing is.
    #[error(
        "`$schema` {uri:?} is not a JSON Schema draft this host knows (4, 6, 7, 2019-09, 2020-12)"
    )]
    UnknownDraft {
        /// The `$schema` value, cut short.
        uri: String,
    },
    /// Too many subschemas.
    #[error("the schema has more than {limit} subschemas")]
    TooManySubschemas {
        /// [`MAX_SUBSCHEMAS`](super::MAX_SUBSCHEMAS).
        limit: usize,
    },
    /// The paths of the subschemas add up to too much (long keys above
    /// many subschemas).
    #[error("the paths of the schema's subschemas add up to more than {limit} bytes")]
    PathsTooLong {
        /// [`MAX_POINTER_BYTES`](super::MAX_POINTER_BYTES).
        limit: usize,
    },
    /// Too many regular expressions.
    #[error("the schema has more than {limit} patterns")]
    TooManyPatterns {
        /// [`MAX_PATTERNS`](super::MAX_PATTERNS).
        limit: usize,
    },
    /// A keyword the bounds cannot follow: an `$id` below the root would
    /// change what the `$ref`s under it point at.
    #[error("{at}: `{keyword}` is not supported below the root")]
    Unsupported {
        /// JSON pointer to the subschema.
        at: String,
        /// The keyword.
        keyword: &'static str,
    },
    /// A reference keyword whose value is not a string.
    #[error("{at}: `{keyword}` must be a string")]
    NotAReference {
        /// JSON pointer to the subschema.
        at: String,
        /// `$ref`, `$dynamicRef` or `$recursiveRef`.
        keyword: &'static str,
    },
    /// A `$ref` outside the document; nothing is ever fetched.
    #[error(
        "{at}: `$ref` {reference:?} is outside this schema; only references inside it (`#/...`, `#name`) are allowed"
    )]
    RemoteRef {
        /// JSON pointer to the subschema holding the `$ref`.
        at: String,
        /// The reference.
        reference: String,
    },
    /// A `$ref` that does not lead to a subschema of the document.
    #[error("{at}: `$ref` {reference:?} does not point at a subschema of this schema")]
    UnresolvedRef {
        /// JSON pointer to the subschema holding the `$ref`.
        at: String,
        /// The reference.
        reference: String,
    },
    /// A cycle that never consumes the value, so checking would not end.
    #[error("{at}: `$ref` loops back here without consuming any of the value")]
    RefCycle {
        /// JSON pointer to a subschema on the cycle.
        at: String,
    },
    /// Too many subschemas apply in a chain to the same value.
    #[error("{at}: more than {limit} subschemas apply in a chain to the same value")]
    ChainTooLong {
        /// JSON pointer to the start of the chain.
        at: String,
        /// [`MAX_CHAIN`](super::MAX_CHAIN).
        limit: usize,
    },
    /// One value would cost too many visits.
    #[error(
        "{at}: the schema is too costly to check: more than {limit} subschemas apply to the same value"
    )]
    TooCostly {
        /// JSON pointer to the subschema.
        at: String,
        /// [`MAX_FANOUT`](super::MAX_FANOUT).
        limit: u64,
    },
    /// Within the bounds, but the validator refuses it: a keyword's value is
    /// malformed (`"minimum": "1"`), a pattern does not compile on the
    /// linear-time engine (look-around, back-references) or is too large.
    #[error("{at}: {reason}")]
    Invalid {
        /// JSON pointer into the schema, `#/properties/a/minimum`.
        at: String,
        /// What is wrong, cut short.
        reason: String,
    },
}

/// Why a value does not pass a [`Schema`](super::Schema).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ValueError {
    /// The first mismatch found.
    #[error("{at}: {reason}")]
    Mismatch {
        /// Path to the offending part of the value, `$.tags[0]`.
        at: String,
        /// The keyword that failed (`type`, `format`, `required`, ...).
        keyword: String,
        /// What is wrong with it, the value shown cut short.
        reason: String,
    },
    /// The value nests deeper than checking follows.
    #[error("the value nests more than {limit} levels deep")]
    TooDeep {
        /// [`MAX_VALUE_DEPTH`](super::MAX_VALUE_DEPTH).
        limit: usize,
    },
    /// Checking would cost more than [`MAX_STEPS`](super::MAX_STEPS)
    /// subschema visits; the value was not accepted.
    #[error("the schema is too costly to check against this value (more than {limit} steps)")]
    TooCostly {
        /// [`MAX_STEPS`](super::MAX_STEPS).
        limit: u64,
    },
}
