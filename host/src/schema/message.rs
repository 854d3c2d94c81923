//! Messages about guest and operator text, kept short: a value or a
//! reference is shown cut at [`SHOW_BYTES`], a whole reason at
//! [`MAX_REASON_BYTES`], and a mismatch names where in the value it is.

use std::fmt::Write as _;
use std::io;

use serde_json::Value;

use super::{MAX_REASON_BYTES, SHOW_BYTES};

/// `text`, cut at [`SHOW_BYTES`] on a character boundary.
pub(super) fn cut(text: &str) -> String {
    if text.len() <= SHOW_BYTES {
        return text.to_owned();
    }
    let mut end = SHOW_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A reason, cut at [`MAX_REASON_BYTES`] with a note of how much was cut.
pub(super) fn reason(text: String) -> String {
    crate::guest_text::bounded(text, MAX_REASON_BYTES)
}

/// `value` as JSON, cut at [`SHOW_BYTES`] without printing the rest.
pub(super) fn show(value: &Value) -> String {
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

/// The place the JSON pointer `pointer` names in `value`, as a path from
/// `$`: `$.tags[0]`, `$["a b"]`. The value tells an index from a key that
/// looks like one.
pub(super) fn path(value: &Value, pointer: &str) -> String {
    let mut at = "$".to_owned();
    let mut here = Some(value);
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        match here {
            Some(Value::Array(items)) => {
                let _ = write!(at, "[{token}]");
                here = token.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            other => {
                let simple = !token.is_empty()
                    && !token.starts_with(|c: char| c.is_ascii_digit())
                    && token.chars().all(|c| c.is_alphanumeric() || c == '_');
                if simple {
                    at.push('.');
                    at.push_str(&token);
                } else {
                    let _ = write!(at, "[{}]", Value::String(token.clone()));
                }
                here = other.and_then(|v| v.get(&token));
            }
        }
    }
    reason(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_name_keys_and_indexes() {
        let value = json!({"tags": ["a", {"x y": 1}], "0": {"a/b": 2}});
        assert_eq!(path(&value, ""), "$");
        assert_eq!(path(&value, "/tags/1/x y"), r#"$.tags[1]["x y"]"#);
        assert_eq!(path(&value, "/0/a~1b"), r#"$["0"]["a/b"]"#);
    }

    #[test]
    fn long_text_is_cut() {
        assert_eq!(cut("short"), "short");
        assert!(cut(&"é".repeat(1_000)).len() <= SHOW_BYTES + "…".len());
        assert!(show(&json!("x".repeat(100_000))).len() <= SHOW_BYTES + "…".len());
    }
}
