//! The static bounds a guest's schema must keep before `jsonschema` sees
//! it: a walk over its subschemas that counts them and their patterns and
//! records which apply to the same value (`$ref`, `allOf`, `anyOf`, ...),
//! so that [`super::chains`] can refuse cycles and fan-out. Keyword values
//! of the wrong shape are skipped here: the validator's meta-schema check
//! refuses them afterwards, with its own message.

use std::collections::{BTreeMap, HashMap};

use jsonschema::Draft;
use serde_json::{Map, Value};

use super::pointer::child;
use super::{MAX_PATTERNS, MAX_POINTER_BYTES, MAX_SUBSCHEMAS, SchemaError};

/// Keywords whose value is one subschema applied to the same value.
const IN_PLACE_ONE: [&str; 4] = ["not", "if", "then", "else"];
/// Keywords whose value is a list of subschemas applied to the same value.
const IN_PLACE_LIST: [&str; 3] = ["allOf", "anyOf", "oneOf"];
/// Keywords that make the validator try subschemas before reporting on
/// them, so they may be walked twice.
const SPECULATIVE: [&str; 4] = ["anyOf", "oneOf", "not", "if"];
/// Keywords that walk the in-place subschemas again, to learn what they
/// evaluated.
const UNEVALUATED: [&str; 2] = ["unevaluatedProperties", "unevaluatedItems"];
/// Keywords whose one subschema may apply to every property value.
const EVERY_PROPERTY: [&str; 2] = ["additionalProperties", "unevaluatedProperties"];
/// Keywords whose one subschema may apply to every item.
const EVERY_ITEM: [&str; 3] = ["additionalItems", "unevaluatedItems", "contains"];

/// The subschemas of one document and what applies in place of what.
#[derive(Default)]
pub(super) struct Graph {
    /// Every subschema, the root first.
    pub(super) nodes: Vec<Node>,
    /// JSON pointer of each subschema, `""` for the root.
    pub(super) pointers: Vec<String>,
    pub(super) by_pointer: HashMap<String, usize>,
    /// `$anchor` and `$dynamicAnchor` names, with the subschemas carrying them.
    pub(super) anchors: HashMap<String, Vec<usize>>,
    /// References to resolve once every subschema exists.
    pub(super) refs: Vec<Reference>,
    patterns: usize,
    /// The bytes of every pointer kept: a long key above many subschemas
    /// repeats in each of their pointers.
    pointer_bytes: usize,
}

/// What one subschema applies where, as far as cost goes: which subschemas
/// apply to the same value, and which to which parts of it. Over-counted
/// where that is simpler (every pattern property applies to every key).
#[derive(Debug, Default)]
pub(super) struct Node {
    /// Subschemas applying to the same value, references included.
    pub(super) in_place: Vec<usize>,
    /// How often the in-place subschemas may be walked per visit: 2 with
    /// `anyOf`, `oneOf`, `not` or `if`, twice that with `unevaluated*`.
    pub(super) repeats: u64,
    pub(super) properties: BTreeMap<String, usize>,
    /// Applying to every property value.
    pub(super) every_property: Vec<usize>,
    pub(super) property_names: Option<usize>,
    /// Applying to the item at the same index.
    pub(super) by_index: Vec<usize>,
    /// Applying to every item.
    pub(super) every_item: Vec<usize>,
}

/// A reference keyword found in subschema `from`.
pub(super) struct Reference {
    pub(super) from: usize,
    pub(super) keyword: &'static str,
    pub(super) target: String,
}

impl Graph {
    /// Walks `root` and checks the counting limits; the references are
    /// resolved and the chains checked by the caller.
    pub(super) fn of(root: &Value, draft: Draft) -> Result<Self, SchemaError> {
        let mut graph = Graph::default();
        graph.subschema(root, String::new(), draft)?;
        Ok(graph)
    }

    /// Walks the subschema `value` found at JSON pointer `at`. Recursion
    /// follows the document, so it is bounded by [`super::MAX_NESTING`].
    fn subschema(&mut self, value: &Value, at: String, draft: Draft) -> Result<(), SchemaError> {
        let Value::Object(map) = value else {
            // `true`, `false`, or a malformed subschema the validator refuses.
            return self.node(at).map(drop);
        };
        let index = self.node(at.clone())?;
        if index != 0 {
            let id = if draft == Draft::Draft4 { "id" } else { "$id" };
            if map.get(id).is_some_and(Value::is_string) {
                return Err(SchemaError::Unsupported {
                    at: format!("#{at}"),
                    keyword: if draft == Draft::Draft4 { "id" } else { "$id" },
                });
            }
        }
        for keyword in ["$ref", "$dynamicRef", "$recursiveRef"] {
            match map.get(keyword) {
                None => {}
                Some(Value::String(target)) => self.refs.push(Reference {
                    from: index,
                    keyword,
                    target: target.clone(),
                }),
                Some(_) => {
                    return Err(SchemaError::NotAReference {
                        at: format!("#{at}"),
                        keyword,
                    });
                }
            }
        }
        for keyword in ["$anchor", "$dynamicAnchor"] {
            if let Some(Value::String(name)) = map.get(keyword) {
                self.anchors.entry(name.clone()).or_default().push(index);
            }
        }
        if map.get("pattern").is_some_and(Value::is_string) {
            self.count_pattern()?;
        }
        if let Some(Value::Object(patterns)) = map.get("patternProperties") {
            for _ in patterns {
                self.count_pattern()?;
            }
        }

        let speculative = SPECULATIVE.iter().any(|k| map.contains_key(*k));
        let unevaluated = UNEVALUATED.iter().any(|k| map.contains_key(*k));
        self.nodes[index].repeats = match (speculative, unevaluated) {
            (false, false) => 1,
            (true, true) => 4,
            _ => 2,
        };
        for keyword in IN_PLACE_ONE {
            if let Some(sub) = self.one(map, &at, keyword, draft)? {
                self.nodes[index].in_place.push(sub);
            }
        }
        for keyword in IN_PLACE_LIST {
            for sub in self.list(map, &at, keyword, draft)? {
                self.nodes[index].in_place.push(sub);
            }
        }
        for keyword in ["dependentSchemas", "dependencies"] {
            let Some(Value::Object(deps)) = map.get(keyword) else {
                continue;
            };
            let deps_at = child(&at, keyword);
            for (name, dep) in deps {
                // Draft 7's `dependencies` also takes lists of names.
                if !dep.is_array() {
                    let sub = self.walk(dep, child(&deps_at, name), draft)?;
                    self.nodes[index].in_place.push(sub);
                }
            }
        }
        for keyword in EVERY_PROPERTY {
            if let Some(sub) = self.one(map, &at, keyword, draft)? {
                self.nodes[index].every_property.push(sub);
            }
        }
        self.nodes[index].property_names = self.one(map, &at, "propertyNames", draft)?;
        for (name, sub) in self.named(map, &at, "properties", draft)? {
            self.nodes[index].properties.insert(name, sub);
        }
        for (_, sub) in self.named(map, &at, "patternProperties", draft)? {
            self.nodes[index].every_property.push(sub);
        }
        for keyword in EVERY_ITEM {
            if let Some(sub) = self.one(map, &at, keyword, draft)? {
                self.nodes[index].every_item.push(sub);
            }
        }
        if map.get("items").is_some_and(Value::is_array) {
            // Drafts 4 to 2019-09: `items` lists the leading items' schemas.
            self.nodes[index].by_index = self.list(map, &at, "items", draft)?;
        } else {
            if let Some(sub) = self.one(map, &at, "items", draft)? {
                self.nodes[index].every_item.push(sub);
            }
            self.nodes[index].by_index = self.list(map, &at, "prefixItems", draft)?;
        }
        // Walked to be counted and to be found by `$ref`s, applying to
        // nothing by themselves (`contentSchema` is an annotation).
        self.one(map, &at, "contentSchema", draft)?;
        for keyword in ["$defs", "definitions"] {
            self.named(map, &at, keyword, draft)?;
        }
        Ok(())
    }

    /// Walks a subschema and returns its index.
    fn walk(&mut self, value: &Value, at: String, draft: Draft) -> Result<usize, SchemaError> {
        let index = self.nodes.len();
        self.subschema(value, at, draft)?;
        Ok(index)
    }

    /// Walks `map[keyword]` if it is a subschema.
    fn one(
        &mut self,
        map: &Map<String, Value>,
        at: &str,
        keyword: &str,
        draft: Draft,
    ) -> Result<Option<usize>, SchemaError> {
        match map.get(keyword) {
            Some(sub @ (Value::Object(_) | Value::Bool(_))) => {
                Ok(Some(self.walk(sub, child(at, keyword), draft)?))
            }
            _ => Ok(None),
        }
    }

    /// Walks the subschemas `map[keyword]` names, with their names.
    fn named(
        &mut self,
        map: &Map<String, Value>,
        at: &str,
        keyword: &str,
        draft: Draft,
    ) -> Result<Vec<(String, usize)>, SchemaError> {
        let Some(Value::Object(subs)) = map.get(keyword) else {
            return Ok(Vec::new());
        };
        let at = child(at, keyword);
        subs.iter()
            .map(|(name, sub)| Ok((name.clone(), self.walk(sub, child(&at, name), draft)?)))
            .collect()
    }

    fn list(
        &mut self,
        map: &Map<String, Value>,
        at: &str,
        keyword: &str,
        draft: Draft,
    ) -> Result<Vec<usize>, SchemaError> {
        let Some(Value::Array(subs)) = map.get(keyword) else {
            return Ok(Vec::new());
        };
        let at = child(at, keyword);
        subs.iter()
            .enumerate()
            .map(|(i, sub)| self.walk(sub, child(&at, &i.to_string()), draft))
            .collect()
    }

    /// Registers a subschema at `at`, within the counting limits.
    fn node(&mut self, at: String) -> Result<usize, SchemaError> {
        if self.nodes.len() >= MAX_SUBSCHEMAS {
            return Err(SchemaError::TooManySubschemas {
                limit: MAX_SUBSCHEMAS,
            });
        }
        self.pointer_bytes = self.pointer_bytes.saturating_add(at.len());
        if self.pointer_bytes > MAX_POINTER_BYTES {
            return Err(SchemaError::PathsTooLong {
                limit: MAX_POINTER_BYTES,
            });
        }
        let index = self.nodes.len();
        self.nodes.push(Node {
            repeats: 1,
            ..Node::default()
        });
        self.by_pointer.insert(at.clone(), index);
        self.pointers.push(at);
        Ok(index)
    }

    fn count_pattern(&mut self) -> Result<(), SchemaError> {
        self.patterns += 1;
        if self.patterns > MAX_PATTERNS {
            return Err(SchemaError::TooManyPatterns {
                limit: MAX_PATTERNS,
            });
        }
        Ok(())
    }
}
