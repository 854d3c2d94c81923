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
    /// A keyword's value is malformed (`"minimum": "x"`, `"type": "foo"`).
    #[error("{at}: {reason}")]
    Invalid {
        /// JSON pointer to the subschema, `#/properties/a`.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// A keyword that would change the answer but is not implemented.
    #[error("{at}: `{keyword}` is not supported")]
    Unsupported {
        /// JSON pointer to the subschema.
        at: String,
        /// The keyword.
        keyword: &'static str,
    },
    /// A regular expression that does not compile here.
    #[error("{at}: the pattern {pattern:?} is not supported: {reason}")]
    Pattern {
        /// JSON pointer to the subschema.
        at: String,
        /// The expression.
        pattern: String,
        /// The regex engine's complaint.
        reason: String,
    },
    /// A `$ref` outside the document; nothing is ever fetched.
    #[error(
        "{at}: `$ref` {reference:?} is outside this schema; only references inside it (`#/...`) are allowed"
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
        /// What is wrong with it.
        reason: String,
    },
    /// Checking took more than [`MAX_STEPS`](super::MAX_STEPS); the value was
    /// not accepted.
    #[error("the schema is too costly to check against this value (more than {limit} steps)")]
    TooCostly {
        /// [`MAX_STEPS`](super::MAX_STEPS).
        limit: u64,
    },
    /// Checking recursed more than [`MAX_RECURSION`](super::MAX_RECURSION) levels.
    #[error(
        "{at}: the schema is too costly to check against this value (more than {limit} levels deep)"
    )]
    TooDeep {
        /// Where the value was when checking gave up.
        at: String,
        /// [`MAX_RECURSION`](super::MAX_RECURSION).
        limit: usize,
    },
}
