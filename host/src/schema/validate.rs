//! Checking a value against a compiled schema, and saying where and why it
//! does not pass.

use serde_json::Value;

use super::bounds::Node;
use super::message::{path, reason, show};
use super::{MAX_STEPS, MAX_VALUE_DEPTH, ValueError};

/// A wait's schema, within the bounds in [`super`] and compiled.
#[derive(Debug)]
pub(crate) struct Schema {
    pub(super) validator: jsonschema::Validator,
    /// What applies where, for [`super::cost`].
    pub(super) shape: Vec<Node>,
}

impl Schema {
    /// `Ok` if `value` matches, else the first mismatch with its path, or
    /// why it was not checked (the value is not accepted then either).
    pub(crate) fn validate(&self, value: &Value) -> Result<(), ValueError> {
        // The validator recurses once per level of the value (times the
        // chain of subschemas the bounds allow at each level).
        if nests_deeper_than(value, MAX_VALUE_DEPTH) {
            return Err(ValueError::TooDeep {
                limit: MAX_VALUE_DEPTH,
            });
        }
        if !super::cost::within_budget(&self.shape, value) {
            return Err(ValueError::TooCostly { limit: MAX_STEPS });
        }
        self.validator
            .validate(value)
            .map_err(|e| ValueError::Mismatch {
                at: path(value, e.instance_path().as_str()),
                keyword: e.kind().keyword().to_owned(),
                reason: reason(e.masked_with(show(e.instance())).to_string()),
            })
    }
}

/// Whether arrays and objects in `value` nest more than `limit` deep
/// (`[]` is one level); found without recursion.
fn nests_deeper_than(value: &Value, limit: usize) -> bool {
    let mut open = vec![(value, 0)];
    while let Some((value, depth)) = open.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth + 1 > limit {
            return true;
        }
        open.extend(children.map(|child| (child, depth + 1)));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::nests_deeper_than;
    use crate::schema::testing::{check, wrap};
    use crate::schema::{MAX_VALUE_DEPTH, ValueError, compile};
    use serde_json::{Value, json};

    #[test]
    fn a_struct_schema_obeyed_and_violated() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Review",
            "type": "object",
            "properties": {
                "approved": {"type": "boolean"},
                "reviewer": {"type": "string", "minLength": 1, "format": "email"},
                "score": {"type": ["integer", "null"], "minimum": 0, "maximum": 10},
                "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}}
            },
            "required": ["approved", "reviewer"],
            "additionalProperties": false,
            "$defs": {"Tag": {"enum": ["urgent", "later"]}}
        });
        let ok =
            json!({"approved": true, "reviewer": "ada@example.com", "score": 7, "tags": ["later"]});
        assert_eq!(check(&schema, &ok), Ok(()));
        for (bad, at, keyword) in [
            (
                json!({"approved": "yes", "reviewer": "a@b.c"}),
                "$.approved",
                "type",
            ),
            (json!({"approved": true}), "$", "required"),
            (
                json!({"approved": true, "reviewer": "a@b.c", "extra": 1}),
                "$",
                "additionalProperties",
            ),
            (
                json!({"approved": true, "reviewer": "a@b.c", "score": 11}),
                "$.score",
                "maximum",
            ),
            (
                json!({"approved": true, "reviewer": "a@b.c", "tags": ["now"]}),
                "$.tags[0]",
                "enum",
            ),
            (
                json!({"approved": true, "reviewer": "ada"}),
                "$.reviewer",
                "format",
            ),
        ] {
            let schema = compile(&schema.to_string()).expect("the schema compiles");
            let Err(ValueError::Mismatch {
                at: found,
                keyword: failed,
                reason,
            }) = schema.validate(&bad)
            else {
                panic!("{bad} passed");
            };
            assert_eq!((found.as_str(), failed.as_str()), (at, keyword), "{reason}");
        }
        let Err(why) = check(&schema, &json!({"approved": "yes", "reviewer": "a@b.c"})) else {
            panic!("a string is not a boolean");
        };
        assert!(
            why.starts_with("$.approved: ") && why.contains("boolean"),
            "{why}"
        );
    }

    /// Keywords the hand-written checker ignored or refused: a value each
    /// accepts and one it refuses.
    #[test]
    fn keywords_obeyed_and_violated() {
        let cases = [
            (
                json!({"format": "email"}),
                json!("ada@example.com"),
                json!("ada"),
            ),
            (
                json!({"format": "date-time"}),
                json!("2024-05-01T12:00:00Z"),
                json!("yesterday"),
            ),
            (
                json!({"format": "uuid"}),
                json!("67e55044-10b1-426f-9247-bb680e5fe0c8"),
                json!("1"),
            ),
            (
                json!({"pattern": "^[a-z]+-\\d+$"}),
                json!("inv-42"),
                json!("INV-42"),
            ),
            (json!({"minimum": 1}), json!(1), json!(0.5)),
            (json!({"exclusiveMaximum": 1}), json!(0), json!(1)),
            (json!({"multipleOf": 5}), json!(-15), json!(7)),
            (json!({"multipleOf": 0.1}), json!(0.3), json!(0.35)),
            (json!({"not": {"type": "string"}}), json!(1), json!("a")),
            (
                json!({"if": {"properties": {"kind": {"const": "card"}}},
                       "then": {"required": ["number"]}, "else": {"required": ["iban"]}}),
                json!({"kind": "card", "number": "4111"}),
                json!({"kind": "card", "iban": "DE00"}),
            ),
            (
                json!({"if": {"properties": {"kind": {"const": "card"}}},
                       "then": {"required": ["number"]}, "else": {"required": ["iban"]}}),
                json!({"kind": "bank", "iban": "DE00"}),
                json!({"kind": "bank"}),
            ),
            (
                json!({"prefixItems": [{"type": "string"}], "unevaluatedItems": false}),
                json!(["a"]),
                json!(["a", 1]),
            ),
            (
                json!({"allOf": [{"prefixItems": [true, true]}], "unevaluatedItems": {"type": "integer"}}),
                json!(["a", "b", 3]),
                json!(["a", "b", "c"]),
            ),
            (
                json!({"type": "object", "allOf": [{"properties": {"a": true}}],
                       "properties": {"b": true}, "unevaluatedProperties": false}),
                json!({"a": 1, "b": 2}),
                json!({"a": 1, "c": 3}),
            ),
            (
                // A list whose items the extension's anchor decides.
                json!({
                    "$ref": "#/$defs/list",
                    "$defs": {
                        "list": {"$dynamicAnchor": "item", "type": "array",
                                 "items": {"$dynamicRef": "#item"}},
                    },
                    "items": {"type": "array"},
                }),
                json!([[], [[]]]),
                json!([1]),
            ),
            (
                json!({"dependentRequired": {"card": ["cvc"]}}),
                json!({"card": 1, "cvc": 2}),
                json!({"card": 1}),
            ),
            (
                json!({"propertyNames": {"maxLength": 3}}),
                json!({"abc": 1}),
                json!({"abcd": 1}),
            ),
            (
                json!({"contains": {"const": 3}, "maxContains": 1}),
                json!([3]),
                json!([3, 3]),
            ),
            (
                json!({"uniqueItems": true}),
                json!([1, "1", [1]]),
                json!([{"a": 1}, {"a": 1}]),
            ),
            (json!({"type": "integer"}), json!(3), json!(3.5)),
        ];
        for (schema, good, bad) in cases {
            assert_eq!(check(&schema, &good), Ok(()), "{schema} accepts {good}");
            let Err(why) = check(&schema, &bad) else {
                panic!("{schema} refuses {bad}");
            };
            assert!(!why.is_empty());
        }
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        for (schema, value) in [
            (json!({"const": "x"}), json!("y".repeat(100_000))),
            (json!({"type": "integer"}), json!(["y".repeat(100_000)])),
            (
                json!({"additionalProperties": false}),
                json!({"k".repeat(100_000): 1}),
            ),
            (
                json!({"properties": {"k".repeat(10_000): {"type": "integer"}}}),
                json!({"k".repeat(10_000): "x"}),
            ),
        ] {
            let why = check(&schema, &value).expect_err("refused");
            assert!(why.len() < 1_000, "{} bytes: {}", why.len(), &why[..200]);
        }
    }

    #[test]
    fn values_deeper_than_the_bound_are_refused_before_checking() {
        let nested =
            |depth: usize| (0..depth).fold(json!(null), |inner, _| wrap("c", inner, false));
        assert!(!nests_deeper_than(
            &nested(MAX_VALUE_DEPTH),
            MAX_VALUE_DEPTH
        ));
        assert!(nests_deeper_than(
            &nested(MAX_VALUE_DEPTH + 1),
            MAX_VALUE_DEPTH
        ));
        let schema = compile(r#"{"type": "object"}"#).expect("compiles");
        assert_eq!(
            schema.validate(&nested(1_000)),
            Err(ValueError::TooDeep {
                limit: MAX_VALUE_DEPTH
            })
        );
        let deep_list = (0..1_000).fold(Value::Null, |inner, _| Value::Array(vec![inner]));
        assert!(matches!(
            schema.validate(&deep_list),
            Err(ValueError::TooDeep { .. })
        ));
    }
}
