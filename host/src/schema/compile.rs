//! Parsing a schema into nodes, refusing on the way what is malformed, what
//! is not implemented and what is past the size limits. Links and chains
//! between the nodes are checked once all exist, in [`super::pointer`] and
//! [`super::chains`].

use std::collections::HashMap;

use regex_lite::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use super::node::{JsonType, Keywords, Node};
use super::pointer::child;
use super::{
    MAX_NESTING, MAX_PATTERN_BYTES, MAX_PATTERNS, MAX_POINTER_BYTES, MAX_SCHEMA_BYTES,
    MAX_SUBSCHEMAS, Schema, SchemaError,
};

/// Parses `schema_json` and checks it against the limits in [`super`].
pub(crate) fn compile(schema_json: &str) -> Result<Schema, SchemaError> {
    if schema_json.len() > MAX_SCHEMA_BYTES {
        return Err(SchemaError::TooLarge {
            bytes: schema_json.len(),
            limit: MAX_SCHEMA_BYTES,
        });
    }
    // Measured without parsing (and so without recursing).
    if crate::guest_text::nesting(schema_json) > MAX_NESTING {
        return Err(SchemaError::TooDeep { limit: MAX_NESTING });
    }
    let root: Value = serde_json::from_str(schema_json).map_err(SchemaError::NotJson)?;
    let mut builder = Builder::default();
    builder.subschema(&root, String::new())?;
    builder.resolve_refs()?;
    builder.check_chains()?;
    Ok(Schema {
        nodes: builder.nodes,
    })
}

#[derive(Default)]
pub(super) struct Builder {
    pub(super) nodes: Vec<Node>,
    /// JSON pointer of each node, `""` for the root.
    pub(super) pointers: Vec<String>,
    pub(super) by_pointer: HashMap<String, usize>,
    /// `$ref`s to resolve once every node exists: (node, reference).
    pub(super) refs: Vec<(usize, String)>,
    patterns: usize,
    /// The bytes of every pointer kept: a long key above many subschemas
    /// repeats in each of their pointers.
    pointer_bytes: usize,
}

fn invalid(at: &str, reason: impl Into<String>) -> SchemaError {
    SchemaError::Invalid {
        at: format!("#{at}"),
        reason: reason.into(),
    }
}

impl Builder {
    /// Compiles the subschema `value` found at JSON pointer `at`. Recursion
    /// follows the document, so it is bounded by [`MAX_NESTING`].
    fn subschema(&mut self, value: &Value, at: String) -> Result<usize, SchemaError> {
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
        self.nodes.push(Node::Any);
        self.pointers.push(at.clone());
        self.by_pointer.insert(at.clone(), index);
        self.nodes[index] = match value {
            Value::Bool(true) => Node::Any,
            Value::Bool(false) => Node::Never,
            Value::Object(map) => Node::Keywords(Box::new(self.keywords(index, map, &at)?)),
            _ => return Err(invalid(&at, "a schema must be an object or a boolean")),
        };
        Ok(index)
    }

    fn one(
        &mut self,
        map: &Map<String, Value>,
        at: &str,
        key: &str,
    ) -> Result<Option<usize>, SchemaError> {
        map.get(key)
            .map(|sub| self.subschema(sub, child(at, key)))
            .transpose()
    }

    fn list(
        &mut self,
        map: &Map<String, Value>,
        at: &str,
        key: &str,
    ) -> Result<Vec<usize>, SchemaError> {
        let Some(value) = map.get(key) else {
            return Ok(Vec::new());
        };
        let Value::Array(subs) = value else {
            return Err(invalid(at, format!("`{key}` must be an array of schemas")));
        };
        if subs.is_empty() && matches!(key, "anyOf" | "oneOf") {
            return Err(invalid(at, format!("`{key}` must not be empty")));
        }
        let at = child(at, key);
        subs.iter()
            .enumerate()
            .map(|(i, sub)| self.subschema(sub, child(&at, &i.to_string())))
            .collect()
    }

    fn named(
        &mut self,
        map: &Map<String, Value>,
        at: &str,
        key: &str,
    ) -> Result<Vec<(String, usize)>, SchemaError> {
        let Some(value) = map.get(key) else {
            return Ok(Vec::new());
        };
        let Value::Object(subs) = value else {
            return Err(invalid(at, format!("`{key}` must be an object of schemas")));
        };
        let at = child(at, key);
        subs.iter()
            .map(|(name, sub)| Ok((name.clone(), self.subschema(sub, child(&at, name))?)))
            .collect()
    }

    fn regex(&mut self, source: &str, at: &str) -> Result<Regex, SchemaError> {
        self.patterns += 1;
        if self.patterns > MAX_PATTERNS {
            return Err(SchemaError::TooManyPatterns {
                limit: MAX_PATTERNS,
            });
        }
        RegexBuilder::new(source)
            .size_limit(MAX_PATTERN_BYTES)
            .nest_limit(MAX_NESTING as u32)
            .build()
            .map_err(|e| SchemaError::Pattern {
                at: format!("#{at}"),
                pattern: source.to_owned(),
                reason: e.to_string(),
            })
    }

    fn keywords(
        &mut self,
        index: usize,
        map: &Map<String, Value>,
        at: &str,
    ) -> Result<Keywords, SchemaError> {
        for keyword in ["unevaluatedItems", "$dynamicRef", "$recursiveRef"] {
            if map.contains_key(keyword) {
                return Err(SchemaError::Unsupported {
                    at: format!("#{at}"),
                    keyword,
                });
            }
        }
        if index != 0 && map.contains_key("$id") {
            // It would change what the `$ref`s below it mean.
            return Err(SchemaError::Unsupported {
                at: format!("#{at}"),
                keyword: "$id",
            });
        }
        let mut k = Keywords::default();
        match map.get("$ref") {
            Some(Value::String(reference)) => self.refs.push((index, reference.clone())),
            Some(_) => return Err(invalid(at, "`$ref` must be a string")),
            None => {}
        }
        k.types = match map.get("type") {
            None => Vec::new(),
            Some(Value::String(name)) => vec![type_named(name, at)?],
            Some(Value::Array(names)) if !names.is_empty() => names
                .iter()
                .map(|name| match name {
                    Value::String(name) => type_named(name, at),
                    _ => Err(invalid(at, "`type` must name types")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid(at, "`type` must be a type name or a list of them")),
        };
        k.enumeration = match map.get("enum") {
            None => None,
            Some(Value::Array(options)) => Some(options.clone()),
            Some(_) => return Err(invalid(at, "`enum` must be an array")),
        };
        k.constant = map.get("const").cloned();

        k.all_of = self.list(map, at, "allOf")?;
        k.any_of = self.list(map, at, "anyOf")?;
        k.one_of = self.list(map, at, "oneOf")?;
        k.not = self.one(map, at, "not")?;
        k.condition = self.one(map, at, "if")?;
        k.then = self.one(map, at, "then")?;
        k.otherwise = self.one(map, at, "else")?;

        k.minimum = number(map, at, "minimum")?;
        k.maximum = number(map, at, "maximum")?;
        match map.get("exclusiveMinimum") {
            // Draft 4: a flag that makes `minimum` exclusive.
            Some(Value::Bool(exclusive)) => {
                if *exclusive {
                    k.exclusive_minimum = k.minimum.take();
                }
            }
            _ => k.exclusive_minimum = number(map, at, "exclusiveMinimum")?,
        }
        match map.get("exclusiveMaximum") {
            Some(Value::Bool(exclusive)) => {
                if *exclusive {
                    k.exclusive_maximum = k.maximum.take();
                }
            }
            _ => k.exclusive_maximum = number(map, at, "exclusiveMaximum")?,
        }
        k.multiple_of = number(map, at, "multipleOf")?;
        if k.multiple_of.is_some_and(|m| m <= 0.0) {
            return Err(invalid(at, "`multipleOf` must be above 0"));
        }
        k.min_length = count(map, at, "minLength")?;
        k.max_length = count(map, at, "maxLength")?;
        k.pattern = match map.get("pattern") {
            None => None,
            Some(Value::String(source)) => Some(self.regex(source, &child(at, "pattern"))?),
            Some(_) => return Err(invalid(at, "`pattern` must be a string")),
        };

        if let Some(Value::Array(_)) = map.get("items") {
            // Draft 7: `items` lists the leading items' schemas and
            // `additionalItems` is for the rest.
            k.prefix_items = self.list(map, at, "items")?;
            k.items = self.one(map, at, "additionalItems")?;
        } else {
            k.prefix_items = self.list(map, at, "prefixItems")?;
            k.items = self.one(map, at, "items")?;
        }
        k.contains = self.one(map, at, "contains")?;
        k.min_contains = count(map, at, "minContains")?;
        k.max_contains = count(map, at, "maxContains")?;
        k.min_items = count(map, at, "minItems")?;
        k.max_items = count(map, at, "maxItems")?;
        k.unique_items = match map.get("uniqueItems") {
            None => false,
            Some(Value::Bool(unique)) => *unique,
            Some(_) => return Err(invalid(at, "`uniqueItems` must be a boolean")),
        };

        k.properties = self.named(map, at, "properties")?.into_iter().collect();
        let pattern_at = child(at, "patternProperties");
        for (source, sub) in self.named(map, at, "patternProperties")? {
            let regex = self.regex(&source, &child(&pattern_at, &source))?;
            k.pattern_properties.push((regex, sub));
        }
        k.additional_properties = self.one(map, at, "additionalProperties")?;
        k.unevaluated_properties = self.one(map, at, "unevaluatedProperties")?;
        k.property_names = self.one(map, at, "propertyNames")?;
        k.required = match map.get("required") {
            None => Vec::new(),
            Some(names) => strings(names, at, "required")?,
        };
        k.min_properties = count(map, at, "minProperties")?;
        k.max_properties = count(map, at, "maxProperties")?;
        match map.get("dependentRequired") {
            None => {}
            Some(Value::Object(deps)) => {
                for (name, needs) in deps {
                    let needs = strings(needs, at, "dependentRequired")?;
                    k.dependent_required.push((name.clone(), needs));
                }
            }
            Some(_) => return Err(invalid(at, "`dependentRequired` must be an object")),
        }
        k.dependent_schemas = self.named(map, at, "dependentSchemas")?;
        match map.get("dependencies") {
            // Draft 7: lists are `dependentRequired`, schemas are
            // `dependentSchemas`.
            None => {}
            Some(Value::Object(deps)) => {
                let deps_at = child(at, "dependencies");
                for (name, dep) in deps {
                    if dep.is_array() {
                        let needs = strings(dep, at, "dependencies")?;
                        k.dependent_required.push((name.clone(), needs));
                    } else {
                        let sub = self.subschema(dep, child(&deps_at, name))?;
                        k.dependent_schemas.push((name.clone(), sub));
                    }
                }
            }
            Some(_) => return Err(invalid(at, "`dependencies` must be an object")),
        }
        for key in ["$defs", "definitions"] {
            self.named(map, at, key)?;
        }

        let lists = k.enumeration.as_ref().map_or(0, Vec::len)
            + k.required.len()
            + k.dependent_required
                .iter()
                .map(|(_, n)| 1 + n.len())
                .sum::<usize>()
            + k.dependent_schemas.len();
        k.weight = 1 + lists as u64;
        Ok(k)
    }
}

fn type_named(name: &str, at: &str) -> Result<JsonType, SchemaError> {
    JsonType::parse(name).ok_or_else(|| invalid(at, format!("unknown type `{name}`")))
}

fn number(map: &Map<String, Value>, at: &str, key: &str) -> Result<Option<f64>, SchemaError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(invalid(at, format!("`{key}` must be a number"))),
    }
}

fn count(map: &Map<String, Value>, at: &str, key: &str) -> Result<Option<u64>, SchemaError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(n), _) => Ok(Some(n)),
            (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 => Ok(Some(f as u64)),
            _ => Err(invalid(at, format!("`{key}` must be a whole number"))),
        },
        Some(_) => Err(invalid(at, format!("`{key}` must be a whole number"))),
    }
}

fn strings(value: &Value, at: &str, key: &str) -> Result<Vec<String>, SchemaError> {
    let wrong = || invalid(at, format!("`{key}` must list property names"));
    let Value::Array(names) = value else {
        return Err(wrong());
    };
    names
        .iter()
        .map(|name| name.as_str().map(str::to_owned).ok_or_else(wrong))
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::schema::testing::{check, refused};
    use crate::schema::{SchemaError, compile};
    use serde_json::json;

    #[test]
    fn a_schema_nested_ten_thousand_deep_is_refused() {
        for (open, close) in [(r#"{"a":"#, "}"), ("[", "]")] {
            let deep = format!("{}1{}", open.repeat(10_000), close.repeat(10_000));
            assert!(deep.len() < 64 * 1024, "not refused for its size");
            assert!(matches!(refused(&deep), SchemaError::TooDeep { .. }));
        }
        // Past our limit but within serde_json's own.
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(matches!(refused(&deep), SchemaError::TooDeep { .. }));
        // Brackets in strings do not count.
        let shallow = json!({"description": "[".repeat(1_000)}).to_string();
        assert!(compile(&shallow).is_ok());
    }

    #[test]
    fn a_schema_of_a_megabyte_is_refused() {
        let big = json!({"description": "x".repeat(1 << 20)}).to_string();
        assert!(matches!(refused(&big), SchemaError::TooLarge { .. }));
    }

    #[test]
    fn a_long_key_above_many_subschemas_is_refused_not_copied_into_each() {
        let options: Vec<serde_json::Value> = (0..990).map(|_| json!({})).collect();
        let key = "k".repeat(60_000);
        let schema = json!({"properties": {key: {"anyOf": options}}}).to_string();
        assert!(schema.len() < 64 * 1024, "within the size limit");
        assert!(matches!(refused(&schema), SchemaError::PathsTooLong { .. }));
    }

    #[test]
    fn unknown_keywords_and_format_are_ignored() {
        let schema = json!({"type": "string", "format": "email", "x-ui": {"widget": "text"},
                            "description": "who", "examples": ["a@b"], "default": ""});
        assert_eq!(check(&schema, &json!("not an email")), Ok(()));
    }

    #[test]
    fn malformed_or_unsupported_keywords_are_refused_not_ignored() {
        for schema in [
            json!({"minimum": "1"}),
            json!({"type": "text"}),
            json!({"type": []}),
            json!({"required": "a"}),
            json!({"anyOf": []}),
            json!({"multipleOf": 0}),
            json!({"maxLength": -1}),
            json!({"properties": {"a": 3}}),
        ] {
            let error = refused(&schema.to_string());
            assert!(
                matches!(error, SchemaError::Invalid { .. }),
                "{schema}: {error}"
            );
        }
        for schema in [
            json!({"unevaluatedItems": false}),
            json!({"$dynamicRef": "#meta"}),
            json!({"properties": {"a": {"$id": "https://example.com/a"}}}),
        ] {
            let error = refused(&schema.to_string());
            assert!(
                matches!(error, SchemaError::Unsupported { .. }),
                "{schema}: {error}"
            );
        }
        // Look-around and back-references have no linear-time engine.
        for pattern in ["(?=a)b", "(a)\\1", "("] {
            let schema = json!({"pattern": pattern}).to_string();
            assert!(
                matches!(refused(&schema), SchemaError::Pattern { .. }),
                "{pattern}"
            );
        }
        let many = json!({"anyOf": vec![json!({"pattern": "a"}); 65]}).to_string();
        assert!(matches!(
            refused(&many),
            SchemaError::TooManyPatterns { .. }
        ));
    }
}
