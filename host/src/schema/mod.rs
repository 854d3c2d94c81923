//! Wait schemas: compiled once with limits, then checked against values.
//!
//! A wait's JSON schema comes from the guest, so it is as untrusted as the
//! guest. [`compile`](fn@compile) parses it and refuses, with a
//! [`SchemaError`], what could make checking a value unbounded: text past
//! [`MAX_SCHEMA_BYTES`] or nested past [`MAX_NESTING`], more than
//! [`MAX_SUBSCHEMAS`] subschemas, a `$ref` that leaves the document or does not
//! resolve, a `$ref` cycle that can be followed without consuming any of the
//! value (`{"$ref": "#"}`), a chain of subschemas applying to one value longer
//! than [`MAX_CHAIN`], and a fan-out (`anyOf` through `$ref`, level after
//! level) that makes one value cost more than [`MAX_FANOUT`] visits. Recursion
//! through `properties` or `items` (a tree type) is fine: it consumes the value
//! as it goes. [`Schema::validate`] then checks a value within [`MAX_STEPS`]
//! visits and [`MAX_RECURSION`] levels, and gives up clearly rather than going
//! exponential or overflowing the stack.
//!
//! Keywords: `type`, `enum`, `const`; `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum` (draft 4's boolean form too),
//! `multipleOf`; `minLength`, `maxLength`, `pattern`; `items` (draft 7's array
//! form with `additionalItems` too), `prefixItems`, `contains` with
//! `minContains`/`maxContains`, `minItems`, `maxItems`, `uniqueItems`;
//! `properties`, `patternProperties`, `additionalProperties`,
//! `unevaluatedProperties`, `propertyNames`, `required`, `minProperties`,
//! `maxProperties`, `dependentRequired`, `dependentSchemas`, draft 7's
//! `dependencies`; `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`; `$ref`
//! into the same document, `$defs`/`definitions`. `format` and unknown
//! keywords are annotations and ignored, as the specification asks. What would
//! change the answer but is not implemented (`unevaluatedItems`,
//! `$dynamicRef`, a nested `$id`, regex syntax `regex-lite` lacks such as
//! look-around) is refused, never ignored, so a wait does not accept a value
//! its own schema forbids. `integer` means a JSON integer (`1`, not `1.0`), as
//! the guest's serde needs.

mod chains;
mod check;
mod compile;
mod error;
mod keywords;
mod node;
mod pointer;
#[cfg(test)]
mod testing;

pub(crate) use compile::compile;
pub(crate) use error::{SchemaError, ValueError};
pub(crate) use node::Schema;

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
/// `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, `dependentSchemas`).
pub(crate) const MAX_CHAIN: usize = 32;
/// Most subschema visits one value may cost, counted statically over those
/// chains; past it a schema is exponential (`anyOf` of `$ref`s, nested).
pub(crate) const MAX_FANOUT: u64 = 10_000;
/// Most regular expressions (`pattern`, `patternProperties`) in one schema.
pub(crate) const MAX_PATTERNS: usize = 64;
/// Most memory one compiled regular expression may take.
const MAX_PATTERN_BYTES: usize = 64 * 1024;
/// Most (subschema, value) visits, weighted by the work each does, that
/// checking one value may take.
pub(crate) const MAX_STEPS: u64 = 1_000_000;
/// Deepest recursion while checking: schema chains and value depth combined.
pub(crate) const MAX_RECURSION: usize = 512;
/// Longest rendering of a value in a mismatch message.
const SHOW_BYTES: usize = 120;
