//! Checks and canonicalizes JSON inputs before anything is journaled.

use serde_json::{Map, Value};

use crate::error::RunError;
use crate::manifest::FlowInfo;
use crate::names;
use crate::schema::{ParamType, push_token};

/// Why a flow input is refused before an execution is made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InputProblem {
    /// Not an object, an unknown or a missing parameter.
    Shape(String),
    /// A parameter's value is not of its type.
    Type {
        /// The parameter.
        param: String,
        /// JSON pointer into the input object.
        pointer: String,
        /// What was expected and found.
        reason: String,
    },
}

impl InputProblem {
    /// The error starting flow `flow` with this input gives.
    pub(crate) fn into_error(self, flow: &str) -> RunError {
        let flow = flow.to_owned();
        match self {
            InputProblem::Shape(reason) => RunError::BadInput { flow, reason },
            InputProblem::Type {
                param,
                pointer,
                reason,
            } => RunError::InputType {
                flow,
                param,
                pointer,
                reason,
            },
        }
    }
}

/// The longest JSON pointer a type error quotes (it holds the input's own
/// map keys).
const MAX_POINTER_BYTES: usize = 200;

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
/// take, every parameter there unless the component says it may be left
/// out (an `Option`), and each value of its parameter's type as far as the
/// host can tell it from the type's name ([`ParamType`]: the standard
/// types; the author's own types are the guest's to read, and a value they
/// refuse fails the execution with a `bad_input` failure).
pub(crate) fn check_params(canonical: &str, flow: &FlowInfo) -> Result<(), InputProblem> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(canonical) else {
        return Err(InputProblem::Shape("expected a JSON object".to_owned()));
    };
    check_names(&map, flow).map_err(InputProblem::Shape)?;
    check_types(&map, flow)
}

/// Each present parameter's value against its type.
fn check_types(map: &Map<String, Value>, flow: &FlowInfo) -> Result<(), InputProblem> {
    for (param, type_name) in flow.params.iter().zip(&flow.param_types) {
        let Some(value) = map.get(param) else {
            continue;
        };
        if let Err(mismatch) = ParamType::parse(type_name).check(value) {
            let mut pointer = String::from("/");
            push_token(&mut pointer, param);
            pointer.push_str(&mismatch.pointer);
            return Err(InputProblem::Type {
                param: param.clone(),
                pointer: crate::guest_text::bounded(pointer, MAX_POINTER_BYTES),
                reason: format!("{}; `{param}` is a {type_name}", mismatch.reason),
            });
        }
    }
    Ok(())
}

/// No key the flow does not take, every required parameter there.
fn check_names(map: &Map<String, Value>, flow: &FlowInfo) -> Result<(), String> {
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
            InputProblem::Shape(
                "unknown parameter `m`; the flow takes n: i64, note: Option<String>".to_owned()
            )
        );
        let Err(InputProblem::Shape(missing)) = check_params("{}", &flow) else {
            panic!("n is required");
        };
        assert!(missing.starts_with("missing parameter `n`;"), "{missing}");
        assert!(check_params("[1]", &flow).is_err());
    }

    #[test]
    fn refuses_values_of_the_wrong_type() {
        let flow = FlowInfo {
            name: "f".to_owned(),
            params: vec!["n".to_owned(), "tags".to_owned(), "point".to_owned()],
            param_types: vec![
                "u32".to_owned(),
                "Option<Vec<String>>".to_owned(),
                "Point".to_owned(),
            ],
            optional_params: vec!["tags".to_owned()],
            retries: 0,
            cache: true,
            doc: None,
        };
        let fine = r#"{"n":1,"point":{"x":"anything the guest reads"},"tags":["a"]}"#;
        assert_eq!(check_params(fine, &flow), Ok(()));
        assert_eq!(
            check_params(r#"{"n":"ten","point":1}"#, &flow),
            Err(InputProblem::Type {
                param: "n".to_owned(),
                pointer: "/n".to_owned(),
                reason:
                    "expected an integer from 0 to 4294967295, got the string \"ten\"; `n` is a u32"
                        .to_owned(),
            })
        );
        let Err(InputProblem::Type { param, pointer, .. }) =
            check_params(r#"{"n":1,"point":1,"tags":["a",2]}"#, &flow)
        else {
            panic!("a number is not a string");
        };
        assert_eq!((param.as_str(), pointer.as_str()), ("tags", "/tags/1"));
        let error = InputProblem::Type {
            param,
            pointer,
            reason: "r".to_owned(),
        }
        .into_error("f");
        assert!(matches!(error, RunError::InputType { .. }), "{error:?}");
    }
}
