//! The subschemas that apply to one value without consuming any of it
//! (`$ref`, `allOf`, `anyOf`, ...) form chains. A cycle among them never
//! ends, and a long or branching one multiplies the work per value, so both
//! are refused before any value is checked.

use super::bounds::Graph;
use super::{MAX_CHAIN, MAX_FANOUT, SchemaError};

impl Graph {
    /// Refuses cycles, chains past [`MAX_CHAIN`] and fan-out past
    /// [`MAX_FANOUT`] among the subschemas that apply to the same value.
    pub(super) fn check_chains(&self) -> Result<(), SchemaError> {
        let mut marks = vec![Mark::New; self.nodes.len()];
        for node in 0..self.nodes.len() {
            self.visit(node, 0, &mut marks)?;
        }
        Ok(())
    }

    /// Depth-first; the depth is capped at [`MAX_CHAIN`], so is the recursion.
    fn visit(&self, node: usize, depth: usize, marks: &mut [Mark]) -> Result<(), SchemaError> {
        let at = || format!("#{}", self.pointers[node]);
        let too_long = || SchemaError::ChainTooLong {
            at: at(),
            limit: MAX_CHAIN,
        };
        match marks[node] {
            Mark::Open => return Err(SchemaError::RefCycle { at: at() }),
            Mark::Done { height, .. } if depth + height > MAX_CHAIN => return Err(too_long()),
            Mark::Done { .. } => return Ok(()),
            Mark::New if depth > MAX_CHAIN => return Err(too_long()),
            Mark::New => {}
        }
        marks[node] = Mark::Open;
        let (mut height, mut fanout) = (0, 1u64);
        for &next in &self.nodes[node].in_place {
            self.visit(next, depth + 1, marks)?;
            if let Mark::Done {
                height: h,
                fanout: f,
            } = marks[next]
            {
                height = height.max(h + 1);
                fanout = fanout.saturating_add(f);
            }
        }
        if fanout > MAX_FANOUT {
            return Err(SchemaError::TooCostly {
                at: at(),
                limit: MAX_FANOUT,
            });
        }
        marks[node] = Mark::Done { height, fanout };
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Mark {
    New,
    Open,
    /// `height`: the longest chain below; `fanout`: the visits one value
    /// costs here, counting every path.
    Done {
        height: usize,
        fanout: u64,
    },
}

#[cfg(test)]
mod tests {
    use crate::schema::testing::{chain, refs, refused};
    use crate::schema::{MAX_FANOUT, SchemaError, compile};
    use serde_json::json;
    use std::time::{Duration, Instant};

    #[test]
    fn a_ref_to_itself_is_refused() {
        assert!(matches!(
            refused(r##"{"$ref": "#"}"##),
            SchemaError::RefCycle { .. }
        ));
    }

    #[test]
    fn mutual_refs_are_refused() {
        let schema = r##"{"$ref": "#/$defs/A", "$defs": {
            "A": {"$ref": "#/$defs/B"}, "B": {"type": "object", "$ref": "#/$defs/A"}}}"##;
        assert!(matches!(refused(schema), SchemaError::RefCycle { .. }));
    }

    #[test]
    fn cycles_through_applicators_are_refused() {
        for schema in [
            json!({"anyOf": [{"type": "string"}, {"$ref": "#"}]}),
            json!({"allOf": [{"$ref": "#/$defs/A"}], "$defs": {"A": {"oneOf": [{"$ref": "#"}]}}}),
            json!({"not": {"$ref": "#"}}),
            json!({"if": {"$ref": "#"}, "then": true}),
            json!({"if": true, "then": {"$ref": "#"}}),
            json!({"if": true, "else": {"$ref": "#"}}),
            json!({"dependentSchemas": {"a": {"$ref": "#"}}}),
        ] {
            let error = refused(&schema.to_string());
            assert!(
                matches!(error, SchemaError::RefCycle { .. }),
                "{schema}: {error}"
            );
        }
    }

    #[test]
    fn the_exponential_any_of_chain_is_refused_fast() {
        let started = Instant::now();
        let schema = chain(27, |n| refs(n, "anyOf", 2), json!({"type": "integer"}));
        let error = refused(&schema.to_string());
        assert!(
            matches!(
                error,
                SchemaError::ChainTooLong { .. } | SchemaError::TooCostly { .. }
            ),
            "{error}"
        );
        // Shallow enough for the chain limit, still exponential.
        let schema = chain(12, |n| refs(n, "anyOf", 3), json!({"type": "integer"}));
        let error = refused(&schema.to_string());
        assert!(
            matches!(
                error,
                SchemaError::TooCostly {
                    limit: MAX_FANOUT,
                    ..
                }
            ),
            "{error}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn too_many_subschemas_or_too_long_a_chain_is_refused() {
        let many = json!({"anyOf": vec![json!({}); 1_001]}).to_string();
        assert!(matches!(
            refused(&many),
            SchemaError::TooManySubschemas { .. }
        ));
        let long = chain(
            40,
            |n| json!({"$ref": format!("#/$defs/l{n}")}),
            json!(true),
        );
        assert!(matches!(
            refused(&long.to_string()),
            SchemaError::ChainTooLong { .. }
        ));
        let short = chain(
            20,
            |n| json!({"$ref": format!("#/$defs/l{n}")}),
            json!(true),
        );
        assert!(compile(&short.to_string()).is_ok());
    }
}
