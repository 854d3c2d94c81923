//! A compiled schema: its subschemas as nodes that refer to each other by
//! index, so a recursive `$ref` needs no shared ownership and a check can
//! remember a (subschema, value) pair by number.

use std::collections::BTreeMap;

use regex_lite::Regex;
use serde_json::Value;

/// A compiled schema within the limits in [`super`].
#[derive(Debug)]
pub(crate) struct Schema {
    /// Every subschema; the root is the first.
    pub(super) nodes: Vec<Node>,
}

#[derive(Debug)]
pub(super) enum Node {
    /// `true`: any value.
    Any,
    /// `false`: no value.
    Never,
    Keywords(Box<Keywords>),
}

#[derive(Debug, Default)]
pub(super) struct Keywords {
    /// Work done on each visit, charged against [`MAX_STEPS`](super::MAX_STEPS).
    pub(super) weight: u64,
    pub(super) reference: Option<usize>,
    pub(super) types: Vec<JsonType>,
    pub(super) enumeration: Option<Vec<Value>>,
    pub(super) constant: Option<Value>,
    pub(super) all_of: Vec<usize>,
    pub(super) any_of: Vec<usize>,
    pub(super) one_of: Vec<usize>,
    pub(super) not: Option<usize>,
    pub(super) condition: Option<usize>,
    pub(super) then: Option<usize>,
    pub(super) otherwise: Option<usize>,
    pub(super) minimum: Option<f64>,
    pub(super) exclusive_minimum: Option<f64>,
    pub(super) maximum: Option<f64>,
    pub(super) exclusive_maximum: Option<f64>,
    pub(super) multiple_of: Option<f64>,
    pub(super) min_length: Option<u64>,
    pub(super) max_length: Option<u64>,
    pub(super) pattern: Option<Regex>,
    pub(super) prefix_items: Vec<usize>,
    pub(super) items: Option<usize>,
    pub(super) contains: Option<usize>,
    pub(super) min_contains: Option<u64>,
    pub(super) max_contains: Option<u64>,
    pub(super) min_items: Option<u64>,
    pub(super) max_items: Option<u64>,
    pub(super) unique_items: bool,
    pub(super) properties: BTreeMap<String, usize>,
    pub(super) pattern_properties: Vec<(Regex, usize)>,
    pub(super) additional_properties: Option<usize>,
    pub(super) unevaluated_properties: Option<usize>,
    pub(super) property_names: Option<usize>,
    pub(super) required: Vec<String>,
    pub(super) min_properties: Option<u64>,
    pub(super) max_properties: Option<u64>,
    pub(super) dependent_required: Vec<(String, Vec<String>)>,
    pub(super) dependent_schemas: Vec<(String, usize)>,
}

impl Keywords {
    /// The subschemas that apply to the same value as this one.
    pub(super) fn in_place(&self) -> impl Iterator<Item = usize> + '_ {
        self.reference
            .iter()
            .chain(&self.all_of)
            .chain(&self.any_of)
            .chain(&self.one_of)
            .chain(&self.not)
            .chain(&self.condition)
            .chain(&self.then)
            .chain(&self.otherwise)
            .copied()
            .chain(self.dependent_schemas.iter().map(|(_, s)| *s))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JsonType {
    Null,
    Boolean,
    Object,
    Array,
    Number,
    Integer,
    String,
}

impl JsonType {
    pub(super) fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "null" => Self::Null,
            "boolean" => Self::Boolean,
            "object" => Self::Object,
            "array" => Self::Array,
            "number" => Self::Number,
            "integer" => Self::Integer,
            "string" => Self::String,
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Boolean => "boolean",
            Self::Object => "object",
            Self::Array => "array",
            Self::Number => "number",
            Self::Integer => "integer",
            Self::String => "string",
        }
    }

    pub(super) fn admits(self, value: &Value) -> bool {
        match self {
            Self::Null => value.is_null(),
            Self::Boolean => value.is_boolean(),
            Self::Object => value.is_object(),
            Self::Array => value.is_array(),
            Self::Number => value.is_number(),
            Self::Integer => value.is_i64() || value.is_u64(),
            Self::String => value.is_string(),
        }
    }
}
