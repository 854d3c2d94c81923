//! Checking a value: the walk through the subschemas within its step budget
//! and recursion cap, the path it reports a mismatch at, and the
//! applicators (`allOf`, `anyOf`, ...) that send one value to several
//! subschemas.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;

use serde_json::Value;

use super::node::{Keywords, Node};
use super::{MAX_RECURSION, MAX_STEPS, SHOW_BYTES, Schema, ValueError};

impl Schema {
    /// `Ok` if `value` matches, else the first mismatch with its path, or
    /// why checking gave up (the value is not accepted then either).
    pub(crate) fn validate(&self, value: &Value) -> Result<(), ValueError> {
        Check {
            nodes: &self.nodes,
            steps: 0,
            path: Vec::new(),
            speculative: 0,
            matched: HashMap::new(),
        }
        .check(0, value, 0)
    }
}

/// One check of one value: the budget spent and where in the value it is.
pub(super) struct Check<'s, 'v> {
    pub(super) nodes: &'s [Node],
    steps: u64,
    pub(super) path: Vec<Step<'v>>,
    /// Above 0 inside `anyOf`, `oneOf`, `not`, `if` and `contains`, whose
    /// mismatches are counted, not reported: no message is built for them.
    speculative: u32,
    /// Whether a subschema matched a part of the value, by the part's
    /// address: `unevaluatedProperties` asks again which `anyOf` options
    /// matched, and without this, nested, that doubles at every level.
    matched: HashMap<(usize, *const Value), bool>,
}

pub(super) enum Step<'v> {
    Key(&'v str),
    Index(usize),
}

impl<'s, 'v> Check<'s, 'v> {
    pub(super) fn at(&self) -> String {
        let mut at = "$".to_owned();
        for step in &self.path {
            match step {
                Step::Key(key) => {
                    at.push('.');
                    at.push_str(key);
                }
                Step::Index(i) => {
                    let _ = write!(at, "[{i}]");
                }
            }
        }
        at
    }

    pub(super) fn fail(&self, reason: impl FnOnce() -> String) -> ValueError {
        if self.speculative > 0 {
            ValueError::Mismatch {
                at: String::new(),
                reason: String::new(),
            }
        } else {
            ValueError::Mismatch {
                at: self.at(),
                reason: reason(),
            }
        }
    }

    pub(super) fn charge(&mut self, steps: u64) -> Result<(), ValueError> {
        self.steps = self.steps.saturating_add(steps);
        if self.steps > MAX_STEPS {
            return Err(ValueError::TooCostly { limit: MAX_STEPS });
        }
        Ok(())
    }

    fn check(&mut self, node: usize, value: &'v Value, depth: usize) -> Result<(), ValueError> {
        if depth >= MAX_RECURSION {
            return Err(ValueError::TooDeep {
                at: self.at(),
                limit: MAX_RECURSION,
            });
        }
        let nodes = self.nodes;
        let k = match &nodes[node] {
            Node::Any => return self.charge(1),
            Node::Never => {
                self.charge(1)?;
                return Err(self.fail(|| "no value is allowed here".to_owned()));
            }
            Node::Keywords(k) => k,
        };
        self.charge(k.weight)?;
        let depth = depth + 1;
        if let Some(target) = k.reference {
            self.check(target, value, depth)?;
        }
        self.assertions(k, value)?;
        self.applicators(k, value, depth)?;
        match value {
            Value::Array(items) => self.array(k, items, depth),
            Value::Object(object) => self.object(k, value, object, depth),
            _ => Ok(()),
        }
    }

    /// Checks `value` against `node` and says whether it matched; only giving
    /// up is an error.
    pub(super) fn matches(
        &mut self,
        node: usize,
        value: &'v Value,
        depth: usize,
    ) -> Result<bool, ValueError> {
        let key = (node, std::ptr::from_ref(value));
        if let Some(&matched) = self.matched.get(&key) {
            return Ok(matched);
        }
        self.speculative += 1;
        let checked = self.check(node, value, depth);
        self.speculative -= 1;
        let matched = match checked {
            Ok(()) => true,
            Err(ValueError::Mismatch { .. }) => false,
            Err(gave_up) => return Err(gave_up),
        };
        self.matched.insert(key, matched);
        Ok(matched)
    }

    pub(super) fn check_at(
        &mut self,
        step: Step<'v>,
        node: usize,
        value: &'v Value,
        depth: usize,
    ) -> Result<(), ValueError> {
        self.path.push(step);
        let checked = self.check(node, value, depth);
        self.path.pop();
        checked
    }

    fn applicators(
        &mut self,
        k: &Keywords,
        value: &'v Value,
        depth: usize,
    ) -> Result<(), ValueError> {
        for &sub in &k.all_of {
            self.check(sub, value, depth)?;
        }
        if !k.any_of.is_empty() {
            let mut matched = false;
            for &sub in &k.any_of {
                if self.matches(sub, value, depth)? {
                    matched = true;
                    break;
                }
            }
            if !matched {
                return Err(self.fail(|| {
                    let n = k.any_of.len();
                    format!("{} matches 0 of the {n} options of anyOf", show(value))
                }));
            }
        }
        if !k.one_of.is_empty() {
            let mut matching = 0;
            for &sub in &k.one_of {
                if self.matches(sub, value, depth)? {
                    matching += 1;
                    if matching > 1 {
                        break;
                    }
                }
            }
            if matching != 1 {
                return Err(self.fail(|| {
                    let n = k.one_of.len();
                    let matching = if matching == 0 { "0" } else { "more than 1" };
                    format!(
                        "{} matches {matching} of the {n} options of oneOf",
                        show(value)
                    )
                }));
            }
        }
        if let Some(sub) = k.not
            && self.matches(sub, value, depth)?
        {
            return Err(self.fail(|| format!("{} matches the schema of `not`", show(value))));
        }
        if let Some(condition) = k.condition
            && (k.then.is_some() || k.otherwise.is_some())
        {
            let branch = if self.matches(condition, value, depth)? {
                k.then
            } else {
                k.otherwise
            };
            if let Some(branch) = branch {
                self.check(branch, value, depth)?;
            }
        }
        if let Value::Object(object) = value {
            for (name, sub) in &k.dependent_schemas {
                if object.contains_key(name) {
                    self.check(*sub, value, depth)?;
                }
            }
        }
        Ok(())
    }

    /// Checks a field name against `propertyNames`. The name is not part of
    /// the value, so it gets a check of its own that shares the budget.
    pub(super) fn name_matches(
        &mut self,
        node: usize,
        key: &str,
        depth: usize,
    ) -> Result<bool, ValueError> {
        let name = Value::String(key.to_owned());
        let mut check = Check {
            nodes: self.nodes,
            steps: self.steps,
            path: Vec::new(),
            speculative: 1,
            matched: HashMap::new(),
        };
        let matched = check.matches(node, &name, depth);
        self.steps = check.steps;
        matched
    }
}

/// `value` as JSON, cut at [`SHOW_BYTES`] without printing the rest.
pub(super) fn show<T: serde::Serialize + ?Sized>(value: &T) -> String {
    struct Capped(Vec<u8>);
    impl io::Write for Capped {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let room = SHOW_BYTES - self.0.len();
            if room == 0 {
                return Err(io::Error::other("cut"));
            }
            let n = buf.len().min(room);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut out = Capped(Vec::new());
    let cut = serde_json::to_writer(&mut out, value).is_err();
    let mut shown = String::from_utf8_lossy(&out.0).into_owned();
    if cut {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use crate::schema::testing::{chain, check, refs, wrap};
    use crate::schema::{MAX_RECURSION, MAX_STEPS, ValueError, compile};
    use serde_json::{Value, json};
    use std::time::{Duration, Instant};

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
        let ok = json!({"approved": true, "reviewer": "ada", "score": 7, "tags": ["later"]});
        assert_eq!(check(&schema, &ok), Ok(()));
        for (bad, why) in [
            (
                json!({"approved": "yes", "reviewer": "ada"}),
                "$.approved: expected boolean, got string",
            ),
            (json!({"approved": true}), "$: missing field `reviewer`"),
            (
                json!({"approved": true, "reviewer": "ada", "extra": 1}),
                "$: unknown field `extra`",
            ),
            (
                json!({"approved": true, "reviewer": "ada", "score": 11}),
                "$.score: value 11 is above the maximum 10",
            ),
            (
                json!({"approved": true, "reviewer": "ada", "tags": ["now"]}),
                "$.tags[0]: \"now\" is not one of [\"urgent\",\"later\"]",
            ),
            (
                json!({"approved": true, "reviewer": ""}),
                "$.reviewer: length 0 is below the minimum 1",
            ),
        ] {
            assert_eq!(check(&schema, &bad), Err(why.to_owned()));
        }
    }

    #[test]
    fn any_of_and_one_of() {
        let schema = json!({"anyOf": [{"type": "string"}, {"type": "null"}]});
        assert!(check(&schema, &json!(null)).is_ok());
        assert!(check(&schema, &json!(3)).is_err());
        let schema = json!({"oneOf": [{"type": "integer"}, {"type": "number"}]});
        assert!(check(&schema, &json!(1.5)).is_ok());
        assert!(
            check(&schema, &json!(1)).is_err(),
            "an integer is also a number: two matches"
        );
    }

    #[test]
    fn checking_a_large_value_stops_at_the_step_budget() {
        // Each item costs about 8,000 visits: allowed for one value, but a
        // long array of them goes past the budget.
        let defs = chain(11, |n| refs(n, "allOf", 2), json!({"type": "integer"}));
        let schema =
            json!({"type": "array", "items": {"$ref": "#/$defs/l0"}, "$defs": defs["$defs"]});
        let schema = compile(&schema.to_string()).expect("the schema compiles");
        assert_eq!(schema.validate(&json!([1, 2, 3])), Ok(()));
        let started = Instant::now();
        assert_eq!(
            schema.validate(&json!(vec![1; 200])),
            Err(ValueError::TooCostly { limit: MAX_STEPS })
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_recursive_tree_type_is_accepted_and_checks_deep_values() {
        let schema = json!({
            "$ref": "#/$defs/Node",
            "$defs": {"Node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}
            }}
        });
        let schema = compile(&schema.to_string()).expect("recursion through items is fine");
        let tree = |depth: usize, leaf: Value| {
            (0..depth).fold(leaf, |inner, _| wrap("children", inner, true))
        };
        assert_eq!(schema.validate(&tree(100, json!({}))), Ok(()));
        let Err(ValueError::Mismatch { at, .. }) = schema.validate(&tree(3, json!(7))) else {
            panic!("a number is not a Node");
        };
        assert_eq!(at, "$.children[0].children[0].children[0]");
        // Deeper than the recursion cap: a clear refusal, no stack overflow.
        assert!(matches!(
            schema.validate(&tree(300, json!({}))),
            Err(ValueError::TooDeep {
                limit: MAX_RECURSION,
                ..
            })
        ));
    }

    #[test]
    fn the_recursion_cap_holds_on_the_costliest_path() {
        // Each level of the value goes through anyOf, properties, a $ref and
        // unevaluatedProperties: the most native frames per level.
        let schema = json!({
            "$ref": "#/$defs/N",
            "$defs": {"N": {
                "anyOf": [
                    {"type": "null"},
                    {"allOf": [{"properties": {"c": {"$ref": "#/$defs/N"}}}], "unevaluatedProperties": false}
                ]
            }}
        });
        let schema = compile(&schema.to_string()).expect("the schema compiles");
        let nested =
            |depth: usize| (0..depth).fold(json!(null), |inner, _| wrap("c", inner, false));
        assert_eq!(schema.validate(&nested(20)), Ok(()));
        assert!(matches!(
            schema.validate(&nested(400)),
            Err(ValueError::TooDeep { .. })
        ));
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let schema = json!({"const": "x"});
        let why = check(&schema, &json!("y".repeat(100_000))).expect_err("not x");
        assert!(why.len() < 400, "{why}");
    }
}
