//! The `type` keyword, with `integer` meaning a JSON integer (`1`, not
//! `1.0`). The specification counts `1.0` as an integer, but the guest reads
//! the value with serde, which refuses `1.0` for an `i64`: a wait would
//! accept a value its flow cannot read, and an accepted value is never
//! replaced. Everything else is as the specification says.

use jsonschema::paths::Location;
use jsonschema::{Keyword, ValidationError};
use serde_json::{Map, Value};

use super::message::show;

/// Builds the keyword for `type`'s value `names` (the meta-schema has
/// checked its shape; a name it does not know is refused again here).
pub(super) fn keyword<'a>(
    _schema: &'a Map<String, Value>,
    names: &'a Value,
    _at: Location,
) -> Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    let names = match names {
        Value::Array(names) => names.iter().collect(),
        name => vec![name],
    };
    let types = names
        .into_iter()
        .map(|name| {
            name.as_str().and_then(JsonType::parse).ok_or_else(|| {
                ValidationError::schema(format!("{} is not a JSON type", show(name)))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Box::new(Types(types)))
}

struct Types(Vec<JsonType>);

impl<'i> Keyword<'i> for Types {
    fn validate(&self, value: &'i Value) -> Result<(), ValidationError<'i>> {
        if self.is_valid(value) {
            return Ok(());
        }
        let names: Vec<&str> = self.0.iter().map(|t| t.name()).collect();
        let expected = match names.as_slice() {
            [one] => format!("{one:?}"),
            many => format!("one of {many:?}"),
        };
        Err(ValidationError::custom(format!(
            "{} is not of type {expected}",
            show(value)
        )))
    }

    fn is_valid(&self, value: &'i Value) -> bool {
        self.0.iter().any(|t| t.admits(value))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonType {
    Null,
    Boolean,
    Object,
    Array,
    Number,
    Integer,
    String,
}

impl JsonType {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "null" => Self::Null,
            "boolean" => Self::Boolean,
            "object" => Self::Object,
            "array" => Self::Array,
            "number" => Self::Number,
            "integer" => Self::Integer,
            "string" => Self::String,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Boolean => "boolean",
            Self::Object => "object",
            Self::Array => "array",
            Self::Number => "number",
            Self::Integer => "integer",
            Self::String => "string",
        }
    }

    fn admits(self, value: &Value) -> bool {
        match self {
            Self::Null => value.is_null(),
            Self::Boolean => value.is_boolean(),
            Self::Object => value.is_object(),
            Self::Array => value.is_array(),
            Self::Number => value.is_number(),
            Self::Integer => value.is_i64() || value.is_u64(),
            Self::String => value.is_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::schema::testing::check;
    use serde_json::json;

    #[test]
    fn an_integer_is_written_without_a_fraction() {
        let schema = json!({"type": "integer"});
        assert_eq!(check(&schema, &json!(3)), Ok(()));
        assert_eq!(check(&schema, &json!(u64::MAX)), Ok(()));
        for not_one in [json!(3.0), json!(3.5), json!("3")] {
            let why = check(&schema, &not_one).expect_err("not an integer");
            assert!(why.contains(r#"is not of type "integer""#), "{why}");
        }
        let schema = json!({"type": ["integer", "null"]});
        assert_eq!(check(&schema, &json!(null)), Ok(()));
        let why = check(&schema, &json!(1.5)).expect_err("neither");
        assert!(why.contains(r#"one of ["integer", "null"]"#), "{why}");
        // In arrays too, where the validator would otherwise fuse `type`
        // with `items`.
        let schema = json!({"type": "array", "items": {"type": "integer"}, "maxItems": 3});
        assert!(check(&schema, &json!([1, 2.0])).is_err());
        assert!(check(&schema, &json!([1, 2, 3, 4])).is_err());
        assert_eq!(check(&schema, &json!([1, 2])), Ok(()));
    }
}
