//! Checks and canonicalizes JSON inputs before anything is journaled.

use serde_json::Value;

/// Parses `input` as a JSON object and returns it with its keys sorted, the
/// form the journal stores and compares.
pub(crate) fn canonical_object(input: &str) -> Result<String, String> {
    let value: Value = serde_json::from_str(input).map_err(|e| format!("not valid JSON: {e}"))?;
    if !value.is_object() {
        return Err(format!(
            "expected a JSON object of named parameters, got {}",
            kind_of(&value)
        ));
    }
    // serde_json's map is ordered by key, so this is canonical.
    Ok(value.to_string())
}

/// Parses `input` as any JSON value (a host-side flow's input) and returns
/// it in canonical form: objects' keys sorted, no whitespace.
pub(crate) fn canonical_value(input: &str) -> Result<String, String> {
    let value: Value = serde_json::from_str(input).map_err(|e| format!("not valid JSON: {e}"))?;
    Ok(value.to_string())
}

/// Checks that a flow input names only parameters the flow has. Missing or
/// mistyped ones are reported by the guest, which knows the types.
pub(crate) fn check_params(canonical: &str, params: &[String]) -> Result<(), String> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(canonical) else {
        return Err("expected a JSON object".to_owned());
    };
    match map.keys().find(|k| !params.contains(k)) {
        Some(unknown) => Err(format!(
            "unknown parameter `{unknown}`; expected: {}",
            if params.is_empty() {
                "none".to_owned()
            } else {
                params.join(", ")
            }
        )),
        None => Ok(()),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_keys_and_refuses_what_is_not_an_object() {
        assert_eq!(
            canonical_object(r#"{"b": 1, "a": [2]}"#),
            Ok(r#"{"a":[2],"b":1}"#.to_owned())
        );
        assert!(canonical_object("[1]").is_err());
        assert!(canonical_object("{").is_err());
    }

    #[test]
    fn refuses_unknown_parameters() {
        let params = vec!["n".to_owned()];
        assert!(check_params(r#"{"n":1}"#, &params).is_ok());
        assert!(check_params("{}", &params).is_ok());
        assert!(check_params(r#"{"m":1}"#, &params).is_err());
    }
}
