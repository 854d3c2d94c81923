//! Checks and canonicalizes JSON inputs before anything is journaled.

use serde_json::Value;

use crate::manifest::FlowInfo;
use crate::names;

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

/// Checks a flow input (a canonical JSON object) against the flow's
/// parameters before an execution is made of it: no key the flow does not
/// take, and every parameter there unless the component says it may be
/// left out (an `Option`). A value of the wrong type is the guest's to
/// find, since only its types know: the execution then fails with a
/// `bad_input` failure.
pub(crate) fn check_params(canonical: &str, flow: &FlowInfo) -> Result<(), String> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(canonical) else {
        return Err("expected a JSON object".to_owned());
    };
    let takes = || {
        if flow.params.is_empty() {
            "the flow takes no parameters".to_owned()
        } else {
            format!("the flow takes {}", flow.signature())
        }
    };
    if let Some(unknown) = map.keys().find(|k| !flow.params.contains(k)) {
        return Err(format!(
            "unknown parameter {}; {}",
            names::shown(unknown),
            takes()
        ));
    }
    let missing: Vec<&str> = flow
        .params
        .iter()
        .filter(|p| !map.contains_key(*p) && !flow.optional_params.contains(p))
        .map(String::as_str)
        .collect();
    match missing.as_slice() {
        [] => Ok(()),
        [one] => Err(format!("missing parameter `{one}`; {}", takes())),
        more => Err(format!(
            "missing parameters {}; {}",
            names::listed(more),
            takes()
        )),
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
    fn refuses_unknown_and_missing_parameters() {
        let flow = FlowInfo {
            name: "f".to_owned(),
            params: vec!["n".to_owned(), "note".to_owned()],
            param_types: vec!["i64".to_owned(), "Option<String>".to_owned()],
            optional_params: vec!["note".to_owned()],
            retries: 0,
            cache: true,
            doc: None,
        };
        assert!(check_params(r#"{"n":1}"#, &flow).is_ok());
        assert!(check_params(r#"{"n":1,"note":null}"#, &flow).is_ok());
        let unknown = check_params(r#"{"n":1,"m":1}"#, &flow).expect_err("m");
        assert_eq!(
            unknown,
            "unknown parameter `m`; the flow takes n: i64, note: Option<String>"
        );
        let missing = check_params("{}", &flow).expect_err("n is required");
        assert!(missing.starts_with("missing parameter `n`;"), "{missing}");
        assert!(check_params("[1]", &flow).is_err());
    }
}
