//! Wait schemas: bounded, compiled by the `jsonschema` crate, then checked
//! against values.
//!
//! A wait's JSON schema comes from the guest, so it is as untrusted as the
//! guest. [`compile`](fn@compile) first refuses, with a [`SchemaError`], what
//! could make compiling or checking unbounded, which the crate does not
//! limit: text past [`MAX_SCHEMA_BYTES`] or nested past [`MAX_NESTING`], more
//! than [`MAX_SUBSCHEMAS`] subschemas or [`MAX_PATTERNS`] patterns, a `$ref`
//! that leaves the document or does not resolve, an `$id` below the root
//! (it would move what the `$ref`s under it mean), a `$ref` cycle that can
//! be followed without consuming any of the value (`{"$ref": "#"}`), a chain
//! of subschemas applying to one value longer than [`MAX_CHAIN`], and a
//! fan-out (`anyOf` through `$ref`, level after level) that makes one value
//! cost more than [`MAX_FANOUT`] visits. Recursion through `properties` or
//! `items` (a tree type) is fine: it consumes the value as it goes.
//! [`Schema::validate`] then refuses a value nested past [`MAX_VALUE_DEPTH`]
//! (the validator recurses per level) or one whose check would cost more than
//! [`MAX_STEPS`] subschema visits, counted first by [`cost`], since the
//! validator has no budget and some schemas are exponential in the value's
//! depth.
//!
//! What is left goes to `jsonschema` (draft from `$schema`, 2020-12 without
//! one; every keyword of the five drafts, `$dynamicRef` and
//! `unevaluatedItems` included). It checks the schema against its
//! meta-schema, asserts `format` (`email`, `date-time`, `uuid`, ...; a format
//! it does not know, such as schemars' `uint32`, is an annotation), runs
//! patterns on the `regex` crate's linear-time engine (so look-around and
//! back-references are refused) and fetches nothing. `type` is ours
//! ([`json_type`]): `integer` means a JSON integer (`1`, not `1.0`), as the
//! guest's serde needs.

mod bounds;
mod chains;
mod compile;
mod cost;
mod error;
#[cfg(test)]
mod hostile;
mod json_type;
mod message;
mod param_type;
mod pointer;
#[cfg(test)]
mod testing;
mod validate;

pub(crate) use compile::compile;
pub(crate) use error::{SchemaError, ValueError};
pub(crate) use param_type::{ParamType, push_token};
pub(crate) use validate::Schema;

/// Largest schema text accepted, in bytes.
pub(crate) const MAX_SCHEMA_BYTES: usize = 64 * 1024;
/// Deepest nesting of arrays and objects in the schema text: about 32 levels
/// of subschemas, since each level nests in a map or list. Checked before
/// parsing, so serde_json's own limit of 128 is never what stops a schema.
pub(crate) const MAX_NESTING: usize = 64;
/// Most subschemas in one schema, `$defs` included.
pub(crate) const MAX_SUBSCHEMAS: usize = 1_000;
/// The most bytes the JSON pointers of all subschemas may add up to (each
/// subschema keeps its pointer, for `$ref`s and error messages).
pub(crate) const MAX_POINTER_BYTES: usize = 1 << 20;
/// Longest chain of subschemas applying to the same value (through `$ref`,
/// `$dynamicRef`, `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`,
/// `dependentSchemas`).
pub(crate) const MAX_CHAIN: usize = 32;
/// Most subschema visits one value may cost, counted statically over those
/// chains; past it a schema is exponential (`anyOf` of `$ref`s, nested).
pub(crate) const MAX_FANOUT: u64 = 10_000;
/// Most regular expressions (`pattern`, `patternProperties`) in one schema.
pub(crate) const MAX_PATTERNS: usize = 64;
/// Most memory one compiled regular expression, and its lazy DFA's cache,
/// may take.
const MAX_PATTERN_BYTES: usize = 256 * 1024;
/// Most subschema visits checking one value may cost, as [`cost`] counts
/// them (an over-estimate) before the validator runs.
pub(crate) const MAX_STEPS: u64 = 2_000_000;
/// Deepest nesting of arrays and objects in a value checked: one more than
/// serde_json reads, so every value parsed from text passes.
pub(crate) const MAX_VALUE_DEPTH: usize = 128;
/// Longest rendering of a value or a reference in a message.
const SHOW_BYTES: usize = 120;
/// Longest reason or path in a message.
const MAX_REASON_BYTES: usize = 400;
