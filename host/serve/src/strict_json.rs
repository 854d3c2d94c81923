//! JSON as the API reads it: one value per key. serde keeps the last of
//! two values for one key, and other readers of the same text keep the
//! first, so a body with `{"value": 1, "value": 2}` (at any depth: in an
//! input, a wait's value, an override) would be one thing to a check and
//! another to what runs. Such a body is refused.
//!
//! Nesting is bounded by `serde_json`'s own limit (128 levels), which this
//! pass and the typed parse after it both keep.

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

/// `Ok` when `bytes` is one JSON value whose objects have no key twice;
/// the parse error, or the duplicate key, otherwise.
pub(crate) fn check_unique_keys(bytes: &[u8]) -> Result<(), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    Unique.deserialize(&mut deserializer)?;
    deserializer.end()
}

/// Walks one value, refusing an object with a key twice.
struct Unique;

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(Unique)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        Ok(())
    }
    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        Unique.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Unique)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(A::Error::custom(format!(
                    "the key `{}` appears twice in one object",
                    crate::routes::cut(&key)
                )));
            }
            seen.insert(key);
            map.next_value_seed(Unique)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::check_unique_keys;

    #[test]
    fn a_key_twice_at_any_depth_is_refused() {
        for good in [
            r#"{"a": 1, "b": {"a": 2, "c": [{"a": 3}, {"a": 4}]}}"#,
            "[1, 2, 3]",
            "\"text\"",
            r#"{"a": null, "b": [], "c": {}}"#,
        ] {
            assert!(check_unique_keys(good.as_bytes()).is_ok(), "{good}");
        }
        for bad in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"input": {"x": 1, "x": 1}}"#,
            r#"{"overrides": {"c": [{"k": 1, "k": 2}]}}"#,
            // The same key, escaped differently.
            r#"{"a": 1, "\u0061": 2}"#,
            r#"{"a": 1} trailing"#,
        ] {
            assert!(check_unique_keys(bad.as_bytes()).is_err(), "{bad}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(
            check_unique_keys(deep.as_bytes()).is_err(),
            "nesting is bounded"
        );
    }
}
