//! What the schema tests share.

use serde_json::{Value, json};

use super::{SchemaError, compile};

/// Compiles `schema` and checks `value`; the message as the CLI shows it.
pub(super) fn check(schema: &Value, value: &Value) -> Result<(), String> {
    let schema = compile(&schema.to_string()).expect("the schema compiles");
    schema.validate(value).map_err(|e| e.to_string())
}

pub(super) fn refused(schema: &str) -> SchemaError {
    compile(schema).expect_err("the schema is refused")
}

/// `{"$defs": {"l0": .., "l1": .., ..}}`, level `n` being `level(n + 1)`
/// and the last `last`.
pub(super) fn chain(levels: usize, level: impl Fn(usize) -> Value, last: Value) -> Value {
    let mut defs = serde_json::Map::new();
    for n in 0..levels {
        defs.insert(format!("l{n}"), level(n + 1));
    }
    defs.insert(format!("l{levels}"), last);
    json!({"$ref": "#/$defs/l0", "$defs": defs})
}

/// `{key: inner}`, or `{key: [inner]}`; built by hand, as `json!` would
/// copy `inner` (quadratic for deep values).
pub(super) fn wrap(key: &str, inner: Value, in_list: bool) -> Value {
    let inner = if in_list {
        Value::Array(vec![inner])
    } else {
        inner
    };
    Value::Object([(key.to_owned(), inner)].into_iter().collect())
}

pub(super) fn refs(n: usize, key: &str, copies: usize) -> Value {
    let target = json!({"$ref": format!("#/$defs/l{n}")});
    json!({key: vec![target; copies]})
}
