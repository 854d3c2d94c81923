//! Checks a wait's value against its JSON schema before it is stored.
//!
//! This covers what the guest SDK's schemas use (the JSON Schema that
//! `schemars` derives from Rust types): `type` (one or several), `enum`,
//! `const`, `properties`, `required`, `additionalProperties: false`,
//! `items`, `anyOf`/`oneOf`/`allOf`, `$ref` into `$defs`/`definitions`,
//! numeric and length bounds. Keywords it does not know are ignored, as the
//! specification asks.

use serde_json::{Map, Value};

/// `Ok` if `value` matches `schema`, else the first mismatch, with its path.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, schema, value, "$")
}

fn check(root: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(format!("{at}: no value is allowed here")),
        Value::Object(schema) => schema,
        _ => return Ok(()),
    };
    if let Some(Value::String(reference)) = schema.get("$ref") {
        let target = resolve(root, reference)
            .ok_or_else(|| format!("{at}: unknown schema reference {reference}"))?;
        check(root, target, value, at)?;
    }
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !allowed.is_empty() && !allowed.iter().any(|t| is_type(value, t)) {
            return Err(format!(
                "{at}: expected {}, got {}",
                allowed.join(" or "),
                type_of(value)
            ));
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum")
        && !options.contains(value)
    {
        return Err(format!(
            "{at}: {value} is not one of {}",
            Value::Array(options.clone())
        ));
    }
    if let Some(expected) = schema.get("const")
        && expected != value
    {
        return Err(format!("{at}: expected {expected}, got {value}"));
    }
    combinators(root, schema, value, at)?;
    match value {
        Value::Object(object) => check_object(root, schema, object, at)?,
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(root, item_schema, item, &format!("{at}[{i}]"))?;
                }
            }
            bound(
                schema,
                "minItems",
                "maxItems",
                items.len() as f64,
                at,
                "items",
            )?;
        }
        Value::Number(n) => {
            let n = n.as_f64().unwrap_or(0.0);
            bound(schema, "minimum", "maximum", n, at, "value")?;
        }
        Value::String(s) => bound(
            schema,
            "minLength",
            "maxLength",
            s.chars().count() as f64,
            at,
            "length",
        )?,
        _ => {}
    }
    Ok(())
}

fn combinators(
    root: &Value,
    schema: &Map<String, Value>,
    value: &Value,
    at: &str,
) -> Result<(), String> {
    if let Some(Value::Array(all)) = schema.get("allOf") {
        for sub in all {
            check(root, sub, value, at)?;
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = schema.get(key) {
            let matching = options
                .iter()
                .filter(|sub| check(root, sub, value, at).is_ok())
                .count();
            let ok = if key == "anyOf" {
                matching >= 1
            } else {
                matching == 1
            };
            if !ok {
                return Err(format!(
                    "{at}: {value} matches {matching} of the {} options of {key}",
                    options.len()
                ));
            }
        }
    }
    Ok(())
}

fn check_object(
    root: &Value,
    schema: &Map<String, Value>,
    object: &Map<String, Value>,
    at: &str,
) -> Result<(), String> {
    if let Some(Value::Array(required)) = schema.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !object.contains_key(name) {
                return Err(format!("{at}: missing field `{name}`"));
            }
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (name, field) in object {
        let path = format!("{at}.{name}");
        match properties.and_then(|p| p.get(name)) {
            Some(field_schema) => check(root, field_schema, field, &path)?,
            None => match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => return Err(format!("{at}: unknown field `{name}`")),
                Some(extra) => check(root, extra, field, &path)?,
                None => {}
            },
        }
    }
    Ok(())
}

fn bound(
    schema: &Map<String, Value>,
    min: &str,
    max: &str,
    n: f64,
    at: &str,
    what: &str,
) -> Result<(), String> {
    if let Some(low) = schema.get(min).and_then(Value::as_f64)
        && n < low
    {
        return Err(format!("{at}: {what} {n} is below the minimum {low}"));
    }
    if let Some(high) = schema.get(max).and_then(Value::as_f64)
        && n > high
    {
        return Err(format!("{at}: {what} {n} is above the maximum {high}"));
    }
    Ok(())
}

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    root.pointer(pointer)
}

fn is_type(value: &Value, t: &str) -> bool {
    match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        _ => true,
    }
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
    use super::validate;
    use serde_json::json;

    #[test]
    fn a_struct_schema_obeyed_and_violated() {
        let schema = json!({
            "type": "object",
            "properties": {
                "approved": {"type": "boolean"},
                "reviewer": {"type": "string", "minLength": 1},
                "score": {"type": ["integer", "null"], "minimum": 0, "maximum": 10},
                "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}}
            },
            "required": ["approved", "reviewer"],
            "additionalProperties": false,
            "$defs": {"Tag": {"enum": ["urgent", "later"]}}
        });
        let ok = json!({"approved": true, "reviewer": "ada", "score": 7, "tags": ["later"]});
        assert_eq!(validate(&schema, &ok), Ok(()));
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
            assert_eq!(validate(&schema, &bad), Err(why.to_owned()));
        }
    }

    #[test]
    fn any_of_and_one_of() {
        let schema = json!({"anyOf": [{"type": "string"}, {"type": "null"}]});
        assert!(validate(&schema, &json!(null)).is_ok());
        assert!(validate(&schema, &json!(3)).is_err());
        let schema = json!({"oneOf": [{"type": "integer"}, {"type": "number"}]});
        assert!(validate(&schema, &json!(1.5)).is_ok());
        assert!(
            validate(&schema, &json!(1)).is_err(),
            "an integer is also a number: two matches"
        );
    }
}
