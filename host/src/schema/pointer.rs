//! `$ref`s resolved as JSON pointers into the same document: nothing is
//! ever fetched, and a place that is no subschema is refused rather than
//! guessed at.

use super::SchemaError;
use super::compile::Builder;
use super::node::Node;

pub(super) fn child(at: &str, token: &str) -> String {
    format!("{at}/{}", token.replace('~', "~0").replace('/', "~1"))
}

impl Builder {
    pub(super) fn resolve_refs(&mut self) -> Result<(), SchemaError> {
        for (node, reference) in std::mem::take(&mut self.refs) {
            let at = format!("#{}", self.pointers[node]);
            let Some(fragment) = reference.strip_prefix('#') else {
                return Err(SchemaError::RemoteRef { at, reference });
            };
            let unresolved = || SchemaError::UnresolvedRef {
                at: at.clone(),
                reference: reference.clone(),
            };
            let pointer = percent_decode(fragment).ok_or_else(unresolved)?;
            // A JSON pointer names one place in one way (`~0`, `~1`), so the
            // text finds the node; a place that is no subschema (`#/required`,
            // an `$anchor`) is refused.
            let target = *self.by_pointer.get(&pointer).ok_or_else(unresolved)?;
            if let Node::Keywords(k) = &mut self.nodes[node] {
                k.reference = Some(target);
            }
        }
        Ok(())
    }
}

/// A URI fragment's `%XX` escapes decoded (schemars escapes `<` in
/// `Foo<Bar>`, for one).
fn percent_decode(fragment: &str) -> Option<String> {
    let bytes = fragment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = fragment.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use crate::schema::SchemaError;
    use crate::schema::testing::{check, refused};
    use serde_json::json;

    #[test]
    fn only_references_inside_the_schema_resolve() {
        for reference in [
            "https://example.com/schema.json",
            "other.json#/$defs/A",
            "/etc/passwd",
        ] {
            let schema = json!({"$ref": reference}).to_string();
            assert!(matches!(refused(&schema), SchemaError::RemoteRef { .. }));
        }
        for reference in ["#/$defs/Missing", "#/required", "#anchor", "#/$defs/%zz"] {
            let schema = json!({"$ref": reference, "required": [], "$defs": {}}).to_string();
            assert!(
                matches!(refused(&schema), SchemaError::UnresolvedRef { .. }),
                "{reference}"
            );
        }
        // schemars percent-encodes `<`, `>` and the like in names.
        let schema =
            json!({"$ref": "#/$defs/Page%3CItem%3E", "$defs": {"Page<Item>": {"type": "string"}}});
        assert_eq!(check(&schema, &json!("a")), Ok(()));
        assert!(check(&schema, &json!(1)).is_err());
        let schema = json!({"$ref": "#/$defs/a~1b", "$defs": {"a/b": {"type": "string"}}});
        assert!(check(&schema, &json!(1)).is_err());
    }
}
