//! References resolved inside the document, the way the validator will
//! resolve them, so that [`super::chains`] sees every edge it will follow:
//! `#/json/pointer`, `#name` for an `$anchor` or `$dynamicAnchor`, the same
//! with the root's `$id` in front. Nothing is ever fetched, and a place that
//! is no subschema is refused rather than guessed at.

use super::SchemaError;
use super::bounds::{Graph, Reference};
use super::message::cut;

pub(super) fn child(at: &str, token: &str) -> String {
    format!("{at}/{}", token.replace('~', "~0").replace('/', "~1"))
}

impl Graph {
    /// Adds each reference as an in-place edge; `root_id` is the root's
    /// `$id` (`id` in draft 4), if any.
    pub(super) fn resolve_refs(&mut self, root_id: Option<&str>) -> Result<(), SchemaError> {
        for Reference {
            from,
            keyword,
            target,
        } in std::mem::take(&mut self.refs)
        {
            let at = format!("#{}", self.pointers[from]);
            let remote = || SchemaError::RemoteRef {
                at: at.clone(),
                reference: cut(&target),
            };
            let unresolved = || SchemaError::UnresolvedRef {
                at: at.clone(),
                reference: cut(&target),
            };
            let (document, fragment) = match target.split_once('#') {
                Some((document, fragment)) => (document, fragment),
                None => (target.as_str(), ""),
            };
            let root_document = root_id.map(|id| id.trim_end_matches('#'));
            if !document.is_empty() && Some(document) != root_document {
                return Err(remote());
            }
            let fragment = percent_decode(fragment).ok_or_else(unresolved)?;
            let targets = if keyword == "$recursiveRef" || fragment.is_empty() {
                // `$recursiveRef` may only be `#`; in one resource, its
                // dynamic target is the root too.
                if !fragment.is_empty() {
                    return Err(unresolved());
                }
                vec![0]
            } else if fragment.starts_with('/') {
                // A JSON pointer names one place in one way (`~0`, `~1`), so
                // the text finds the subschema; a place that is no subschema
                // (`#/required`) is refused.
                vec![*self.by_pointer.get(&fragment).ok_or_else(unresolved)?]
            } else {
                // An anchor; for `$dynamicRef`, any subschema that declares
                // the name may be the one the dynamic scope picks.
                self.anchors
                    .get(&fragment)
                    .cloned()
                    .ok_or_else(unresolved)?
            };
            self.nodes[from].in_place.extend(targets);
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
            "file:///etc/passwd",
        ] {
            let schema = json!({"$ref": reference}).to_string();
            assert!(
                matches!(refused(&schema), SchemaError::RemoteRef { .. }),
                "{reference}"
            );
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
        // Anchors, and the root's own `$id`, stay inside the document.
        let schema = json!({"$id": "https://example.com/root.json",
            "properties": {"a": {"$ref": "#name"},
                           "b": {"$ref": "https://example.com/root.json#/$defs/n"}},
            "$defs": {"n": {"$anchor": "name", "type": "integer"}}});
        assert_eq!(check(&schema, &json!({"a": 1, "b": 2})), Ok(()));
        assert!(check(&schema, &json!({"a": "x"})).is_err());
        assert!(check(&schema, &json!({"b": "x"})).is_err());
    }

    #[test]
    fn a_nested_id_is_refused() {
        let schema = json!({"properties": {"a": {"$id": "https://example.com/a", "$ref": "#"}}});
        assert!(matches!(
            refused(&schema.to_string()),
            SchemaError::Unsupported { keyword: "$id", .. }
        ));
    }
}
