//! Compiling a guest's schema: the bounds in [`super`] first, on the text
//! and on the graph of its subschemas, then the `jsonschema` validator,
//! configured so that it never fetches anything and never backtracks.

use jsonschema::{Draft, PatternOptions, ValidationOptions};
use serde_json::Value;

use super::bounds::Graph;
use super::message::{cut, reason, show};
use super::{MAX_NESTING, MAX_PATTERN_BYTES, MAX_SCHEMA_BYTES, Schema, SchemaError};

/// Parses `schema_json`, checks it against the bounds in [`super`] and
/// builds its validator.
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
    let draft = draft_of(&root)?;
    let mut graph = Graph::of(&root, draft)?;
    let id = if draft == Draft::Draft4 { "id" } else { "$id" };
    graph.resolve_refs(root.get(id).and_then(Value::as_str))?;
    graph.check_chains()?;
    let validator = options(draft)
        .build(&root)
        .map_err(|e| SchemaError::Invalid {
            at: cut(&format!("#{}", e.instance_path())),
            reason: reason(e.masked_with(show(e.instance())).to_string()),
        })?;
    Ok(Schema {
        validator,
        shape: graph.nodes,
    })
}

/// The draft `$schema` names, 2020-12 without one. Any other meta-schema
/// would have to be fetched to be understood, so it is refused.
fn draft_of(root: &Value) -> Result<Draft, SchemaError> {
    let Some(Value::String(uri)) = root.get("$schema") else {
        return Ok(Draft::Draft202012);
    };
    match Draft::from_schema_uri(uri) {
        Draft::Unknown => Err(SchemaError::UnknownDraft { uri: cut(uri) }),
        draft => Ok(draft),
    }
}

/// The validator's settings: `type` as [`super::json_type`] has it;
/// `format` asserted (an unknown format, such as
/// schemars' `uint32`, stays an annotation as the specification asks);
/// patterns on the `regex` crate's linear-time engine, each within
/// [`MAX_PATTERN_BYTES`]; no retrieval of anything outside the document
/// (the bounds refuse such a `$ref` first, with a clearer message).
fn options(draft: Draft) -> ValidationOptions<'static> {
    jsonschema::options()
        .with_draft(draft)
        .with_keyword("type", super::json_type::keyword)
        .should_validate_formats(true)
        .with_pattern_options(
            PatternOptions::regex()
                .size_limit(MAX_PATTERN_BYTES)
                .dfa_size_limit(MAX_PATTERN_BYTES),
        )
        .offline()
}

#[cfg(test)]
mod tests {
    use crate::schema::testing::refused;
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
    fn only_the_five_drafts_are_known() {
        for (uri, old_enough) in [
            ("http://json-schema.org/draft-04/schema#", true),
            ("http://json-schema.org/draft-07/schema#", true),
            ("https://json-schema.org/draft/2019-09/schema", true),
            ("https://json-schema.org/draft/2020-12/schema", false),
        ] {
            // `prefixItems` is 2020-12's; older drafts ignore it.
            let schema = json!({"$schema": uri, "prefixItems": [{"type": "string"}]});
            let schema = compile(&schema.to_string()).expect("a known draft");
            assert_eq!(schema.validate(&json!([1])).is_ok(), old_enough, "{uri}");
        }
        let custom = json!({"$schema": "https://example.com/my-meta", "type": "string"});
        assert!(matches!(
            refused(&custom.to_string()),
            SchemaError::UnknownDraft { .. }
        ));
    }

    #[test]
    fn malformed_keywords_and_unsupported_patterns_are_refused_not_ignored() {
        for schema in [
            json!({"minimum": "1"}),
            json!({"type": "text"}),
            json!({"type": []}),
            json!({"required": "a"}),
            json!({"anyOf": []}),
            json!({"multipleOf": 0}),
            json!({"maxLength": -1}),
            json!({"properties": {"a": 3}}),
            // Look-around and back-references have no linear-time engine.
            json!({"pattern": "(?=a)b"}),
            json!({"pattern": "(a)\\1"}),
            json!({"pattern": "("}),
            json!({"patternProperties": {"(?<!x)y": true}}),
            // Within the syntax, too large for the engine's limit.
            json!({"pattern": ".{100000}"}),
        ] {
            let Err(error) = compile(&schema.to_string()) else {
                panic!("{schema} is compiled");
            };
            assert!(
                matches!(error, SchemaError::Invalid { .. }),
                "{schema}: {error}"
            );
        }
        let many = json!({"anyOf": vec![json!({"pattern": "a"}); 65]}).to_string();
        assert!(matches!(
            refused(&many),
            SchemaError::TooManyPatterns { .. }
        ));
    }
}
