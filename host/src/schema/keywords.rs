//! The keywords that look at the value itself: its type, number, string,
//! array items and object fields.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::check::{Check, Step, show};
use super::node::{Keywords, Node};
use super::{MAX_RECURSION, ValueError};

impl<'v> Check<'_, 'v> {
    pub(super) fn assertions(&mut self, k: &Keywords, value: &Value) -> Result<(), ValueError> {
        if !k.types.is_empty() && !k.types.iter().any(|t| t.admits(value)) {
            return Err(self.fail(|| {
                let names: Vec<&str> = k.types.iter().map(|t| t.name()).collect();
                format!("expected {}, got {}", names.join(" or "), type_of(value))
            }));
        }
        if let Some(options) = &k.enumeration
            && !options.contains(value)
        {
            return Err(self.fail(|| format!("{} is not one of {}", show(value), show(options))));
        }
        if let Some(expected) = &k.constant
            && expected != value
        {
            return Err(self.fail(|| format!("expected {}, got {}", show(expected), show(value))));
        }
        match value {
            Value::Number(n) => self.number(k, n),
            Value::String(s) => {
                // Reading a string costs its length; matching it, its length
                // times the pattern's size (a linear-time matcher walks the
                // program for each byte): charged to the step budget, so a
                // schema cannot fan a long string out to many patterns.
                let bytes = s.len() as u64;
                let program = k.pattern.as_ref().map_or(0, |p| p.as_str().len() as u64);
                self.charge(bytes / 64 + bytes.saturating_mul(program.div_ceil(64)) / 64)?;
                let length = s.chars().count() as f64;
                self.bound(length, k.min_length, k.max_length, "length")?;
                if let Some(pattern) = &k.pattern
                    && !pattern.is_match(s)
                {
                    return Err(self.fail(|| {
                        format!(
                            "{} does not match the pattern {:?}",
                            show(value),
                            pattern.as_str()
                        )
                    }));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn number(&mut self, k: &Keywords, n: &serde_json::Number) -> Result<(), ValueError> {
        let x = n.as_f64().unwrap_or(f64::NAN);
        if let Some(low) = k.minimum
            && x < low
        {
            return Err(self.fail(|| format!("value {x} is below the minimum {low}")));
        }
        if let Some(high) = k.maximum
            && x > high
        {
            return Err(self.fail(|| format!("value {x} is above the maximum {high}")));
        }
        if let Some(low) = k.exclusive_minimum
            && x <= low
        {
            return Err(self.fail(|| format!("value {x} is not above the exclusive minimum {low}")));
        }
        if let Some(high) = k.exclusive_maximum
            && x >= high
        {
            return Err(
                self.fail(|| format!("value {x} is not below the exclusive maximum {high}"))
            );
        }
        if let Some(m) = k.multiple_of
            && !is_multiple(n, m)
        {
            return Err(self.fail(|| format!("value {x} is not a multiple of {m}")));
        }
        Ok(())
    }

    fn bound(
        &self,
        n: f64,
        min: Option<u64>,
        max: Option<u64>,
        what: &str,
    ) -> Result<(), ValueError> {
        if let Some(low) = min
            && n < low as f64
        {
            return Err(self.fail(|| format!("{what} {n} is below the minimum {low}")));
        }
        if let Some(high) = max
            && n > high as f64
        {
            return Err(self.fail(|| format!("{what} {n} is above the maximum {high}")));
        }
        Ok(())
    }
    pub(super) fn array(
        &mut self,
        k: &Keywords,
        items: &'v [Value],
        depth: usize,
    ) -> Result<(), ValueError> {
        self.bound(items.len() as f64, k.min_items, k.max_items, "items")?;
        if k.unique_items {
            self.charge(items.len() as u64)?;
            // Objects' keys are sorted, so equal values print the same.
            let mut seen = HashMap::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                if let Some(first) = seen.insert(item.to_string(), i) {
                    return Err(self.fail(|| format!("items [{first}] and [{i}] are equal")));
                }
            }
        }
        for (i, (item, &sub)) in items.iter().zip(&k.prefix_items).enumerate() {
            self.check_at(Step::Index(i), sub, item, depth)?;
        }
        if let Some(sub) = k.items {
            for (i, item) in items.iter().enumerate().skip(k.prefix_items.len()) {
                self.check_at(Step::Index(i), sub, item, depth)?;
            }
        }
        if let Some(sub) = k.contains {
            let mut matching = 0u64;
            for (i, item) in items.iter().enumerate() {
                self.path.push(Step::Index(i));
                let matched = self.matches(sub, item, depth);
                self.path.pop();
                matching += u64::from(matched?);
            }
            let (min, max) = (k.min_contains.unwrap_or(1), k.max_contains);
            if matching < min || max.is_some_and(|max| matching > max) {
                return Err(self.fail(|| {
                    let max = max.map_or(String::new(), |max| format!(" and at most {max}"));
                    format!("{matching} items match `contains`, expected at least {min}{max}")
                }));
            }
        }
        Ok(())
    }

    pub(super) fn object(
        &mut self,
        k: &Keywords,
        value: &'v Value,
        object: &'v Map<String, Value>,
        depth: usize,
    ) -> Result<(), ValueError> {
        for name in &k.required {
            if !object.contains_key(name) {
                return Err(self.fail(|| format!("missing field `{name}`")));
            }
        }
        let size = object.len() as f64;
        self.bound(size, k.min_properties, k.max_properties, "properties")?;
        for (name, needs) in &k.dependent_required {
            if object.contains_key(name)
                && let Some(need) = needs.iter().find(|need| !object.contains_key(*need))
            {
                return Err(self.fail(|| format!("field `{name}` requires field `{need}`")));
            }
        }
        if let Some(sub) = k.property_names {
            self.charge(object.len() as u64)?;
            for key in object.keys() {
                if !self.name_matches(sub, key, depth)? {
                    return Err(self.fail(|| format!("the field name `{key}` is not allowed")));
                }
            }
        }
        let per_key = !k.properties.is_empty()
            || !k.pattern_properties.is_empty()
            || k.additional_properties.is_some();
        if per_key {
            self.charge(object.len() as u64 * (1 + k.pattern_properties.len() as u64))?;
            for (key, field) in object {
                let mut known = false;
                if let Some(&sub) = k.properties.get(key) {
                    known = true;
                    self.check_at(Step::Key(key), sub, field, depth)?;
                }
                for (pattern, sub) in &k.pattern_properties {
                    if pattern.is_match(key) {
                        known = true;
                        self.check_at(Step::Key(key), *sub, field, depth)?;
                    }
                }
                if !known && let Some(extra) = k.additional_properties {
                    self.extra(extra, key, field, depth)?;
                }
            }
        }
        if let Some(extra) = k.unevaluated_properties {
            let mut evaluated = HashSet::new();
            self.evaluated(k, value, object, depth, true, &mut evaluated)?;
            for (key, field) in object {
                if !evaluated.contains(key.as_str()) {
                    self.extra(extra, key, field, depth)?;
                }
            }
        }
        Ok(())
    }

    /// A field no `properties` name: refused outright by `false`.
    fn extra(
        &mut self,
        node: usize,
        key: &'v str,
        field: &'v Value,
        depth: usize,
    ) -> Result<(), ValueError> {
        if let Node::Never = self.nodes[node] {
            return Err(self.fail(|| format!("unknown field `{key}`")));
        }
        self.check_at(Step::Key(key), node, field, depth)
    }

    /// Collects the fields that `k` and the subschemas applying with it to
    /// `object` evaluate (what `unevaluatedProperties` does not cover).
    /// `k` is known to match; its `anyOf`, `oneOf` and `if` are checked
    /// again to find out which of them did.
    fn evaluated(
        &mut self,
        k: &Keywords,
        value: &'v Value,
        object: &'v Map<String, Value>,
        depth: usize,
        own: bool,
        out: &mut HashSet<&'v str>,
    ) -> Result<(), ValueError> {
        if depth >= MAX_RECURSION {
            return Err(ValueError::TooDeep {
                at: self.at(),
                limit: MAX_RECURSION,
            });
        }
        self.charge(1 + object.len() as u64)?;
        if k.additional_properties.is_some() || (!own && k.unevaluated_properties.is_some()) {
            out.extend(object.keys().map(String::as_str));
            return Ok(());
        }
        for key in object.keys() {
            if k.properties.contains_key(key)
                || k.pattern_properties.iter().any(|(p, _)| p.is_match(key))
            {
                out.insert(key.as_str());
            }
        }
        let depth = depth + 1;
        let mut applied: Vec<usize> = k.reference.iter().chain(&k.all_of).copied().collect();
        for &sub in k.any_of.iter().chain(&k.one_of) {
            if self.matches(sub, value, depth)? {
                applied.push(sub);
            }
        }
        if let Some(condition) = k.condition {
            if self.matches(condition, value, depth)? {
                applied.push(condition);
                applied.extend(k.then);
            } else {
                applied.extend(k.otherwise);
            }
        }
        for (name, sub) in &k.dependent_schemas {
            if object.contains_key(name) {
                applied.push(*sub);
            }
        }
        let nodes = self.nodes;
        for sub in applied {
            if let Node::Keywords(sub) = &nodes[sub] {
                self.evaluated(sub, value, object, depth, false, out)?;
            }
        }
        Ok(())
    }
}

fn is_multiple(n: &serde_json::Number, m: f64) -> bool {
    // Whole numbers exactly; fractions within rounding (0.3 is a multiple
    // of 0.1 though 0.3 / 0.1 is 2.9999999999999996).
    if m.fract() == 0.0 && m <= u64::MAX as f64 {
        let whole = m as u64;
        if let Some(i) = n.as_i64() {
            return i.unsigned_abs().is_multiple_of(whole);
        }
        if let Some(u) = n.as_u64() {
            return u.is_multiple_of(whole);
        }
    }
    let quotient = n.as_f64().unwrap_or(f64::NAN) / m;
    quotient.is_finite() && (quotient - quotient.round()).abs() <= 1e-9 * quotient.abs().max(1.0)
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use crate::schema::testing::{check, wrap};
    use crate::schema::{ValueError, compile};
    use serde_json::json;
    use std::time::{Duration, Instant};

    #[test]
    fn unevaluated_properties_through_nested_any_of_stay_linear() {
        let schema = json!({
            "$ref": "#/$defs/N",
            "$defs": {"N": {
                "anyOf": [{"type": "null"}, {"properties": {"c": {"$ref": "#/$defs/N"}}}],
                "unevaluatedProperties": false
            }}
        });
        let schema = compile(&schema.to_string()).expect("the schema compiles");
        let nested =
            |depth: usize| (0..depth).fold(json!(null), |inner, _| wrap("c", inner, false));
        let started = Instant::now();
        assert_eq!(schema.validate(&nested(60)), Ok(()));
        assert!(started.elapsed() < Duration::from_secs(1));
        let mut extra = nested(2);
        extra["c"]["d"] = json!(1);
        // `d` is unevaluated one level down, so no option of the top anyOf
        // matches.
        assert!(matches!(
            schema.validate(&extra),
            Err(ValueError::Mismatch { at, .. }) if at == "$"
        ));
        extra["c"] = nested(1);
        extra["e"] = json!(1);
        assert_eq!(
            schema.validate(&extra).map_err(|e| e.to_string()),
            Err("$: unknown field `e`".to_owned())
        );
    }

    /// Each new keyword: a value it accepts and one it refuses.
    #[test]
    fn keywords_obeyed_and_violated() {
        let cases = [
            (
                json!({"pattern": "^[a-z]+-\\d+$"}),
                json!("inv-42"),
                json!("INV-42"),
            ),
            (json!({"minimum": 1}), json!(1), json!(0.5)),
            (json!({"maximum": 1}), json!(1), json!(2)),
            (json!({"exclusiveMinimum": 1}), json!(1.5), json!(1)),
            (json!({"exclusiveMaximum": 1}), json!(0), json!(1)),
            (
                json!({"minimum": 1, "exclusiveMinimum": true}),
                json!(2),
                json!(1),
            ),
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
            (json!({"minProperties": 1}), json!({"a": 1}), json!({})),
            (
                json!({"maxProperties": 1}),
                json!({"a": 1}),
                json!({"a": 1, "b": 2}),
            ),
            (
                json!({"uniqueItems": true}),
                json!([1, "1", [1]]),
                json!([{"a": 1}, {"a": 1}]),
            ),
            (
                json!({"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false}),
                json!(["a", 1]),
                json!(["a", 1, true]),
            ),
            (
                json!({"prefixItems": [{"type": "string"}, {"type": "integer"}]}),
                json!(["a", 1, true]),
                json!([1, "a"]),
            ),
            (
                json!({"items": [{"type": "string"}], "additionalItems": {"type": "integer"}}),
                json!(["a", 1, 2]),
                json!(["a", "b"]),
            ),
            (
                json!({"dependentRequired": {"card": ["cvc"]}}),
                json!({"card": 1, "cvc": 2}),
                json!({"card": 1}),
            ),
            (
                json!({"dependencies": {"card": ["cvc"]}}),
                json!({"name": "x"}),
                json!({"card": 1}),
            ),
            (
                json!({"dependentSchemas": {"card": {"required": ["cvc"]}}}),
                json!({"cvc": 1}),
                json!({"card": 1}),
            ),
            (
                json!({"propertyNames": {"pattern": "^[a-z_]+$"}}),
                json!({"ok_name": 1}),
                json!({"Bad Name": 1}),
            ),
            (
                json!({"propertyNames": {"maxLength": 3}}),
                json!({"abc": 1}),
                json!({"abcd": 1}),
            ),
            (
                json!({"patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": false}),
                json!({"x-a": "s"}),
                json!({"x-a": 1}),
            ),
            (
                json!({"patternProperties": {"^x-": true}, "additionalProperties": false}),
                json!({"x-a": 1}),
                json!({"y": 1}),
            ),
            (
                json!({"contains": {"const": 3}}),
                json!([1, 3]),
                json!([1, 2]),
            ),
            (
                json!({"contains": {"const": 3}, "maxContains": 1}),
                json!([3]),
                json!([3, 3]),
            ),
            (
                json!({"contains": {"const": 3}, "minContains": 2}),
                json!([3, 3]),
                json!([3]),
            ),
            (
                json!({"type": "object", "allOf": [{"properties": {"a": true}}],
                       "properties": {"b": true}, "unevaluatedProperties": false}),
                json!({"a": 1, "b": 2}),
                json!({"a": 1, "c": 3}),
            ),
            (
                json!({"anyOf": [{"properties": {"a": true}, "required": ["a"]},
                                 {"properties": {"b": true}, "required": ["b"]}],
                       "unevaluatedProperties": {"type": "integer"}}),
                json!({"b": "s", "n": 1}),
                json!({"b": "s", "a": "t", "n": "u"}),
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
}
