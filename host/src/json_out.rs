//! JSON for sinks a person may look at (API answers, server-sent events,
//! `--json` output), written so that guest text in it cannot drive or
//! deceive the terminal or viewer that shows it.
//!
//! serde_json escapes only the C0 controls, `"` and `\`. A guest's output,
//! error, log or name can still hold DEL, C1 controls (`U+009B` is a
//! terminal's CSI), bidi overrides and isolates (`U+202E` makes
//! `txt.exe` read backwards), line separators and invisible format
//! characters: raw in JSON, they reach whoever `cat`s or `jq`s it.
//! [`InertFormatter`] writes each of them as a `\uXXXX` escape instead
//! (a UTF-16 surrogate pair past the Basic Multilingual Plane): the text is
//! still valid JSON and parses back to exactly the same value.
//!
//! ```
//! let value = serde_json::json!({"out": "\u{202e}gnp.exe\u{1b}[2J\u{9b}"});
//! let text = cairn_host::json_out::to_string(&value).unwrap();
//! assert_eq!(text, r#"{"out":"\u202egnp.exe\u001b[2J\u009b"}"#);
//! let back: serde_json::Value = serde_json::from_str(&text).unwrap();
//! assert_eq!(back, value);
//! ```

use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// Whether `c` must not reach a terminal or a viewer raw: C0 controls and
/// DEL, C1 controls (`char::is_control` is exactly these), bidi marks,
/// embeddings, overrides and isolates, the line and paragraph separators,
/// and invisible characters that hide or join text.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Bidi marks, embeddings, overrides and isolates.
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                // Line and paragraph separators.
                | '\u{2028}'
                | '\u{2029}'
                // Invisible format characters: the soft hyphen, zero-width
                // space and joiners, word joiner and invisible operators,
                // deprecated format controls, the byte order mark,
                // interlinear annotations, tag characters.
                | '\u{00ad}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200d}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206a}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e007f}'
                // Variation selectors and fillers that show as nothing.
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{e0100}'..='\u{e01ef}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{3164}'
                | '\u{ffa0}'
        )
}

/// A serde_json [`Formatter`] that writes what `F` writes, with every
/// [`is_unsafe_char`] character inside strings escaped as `\uXXXX`.
#[derive(Debug, Clone, Default)]
pub struct InertFormatter<F = CompactFormatter> {
    inner: F,
}

impl<F: Formatter> InertFormatter<F> {
    /// Wraps `inner` (a [`CompactFormatter`] or a [`PrettyFormatter`]).
    pub fn new(inner: F) -> Self {
        InertFormatter { inner }
    }
}

/// Writes `text` with every unsafe character escaped; the runs between
/// them are written whole. Only strings can hold such characters in valid
/// JSON, so this is right for raw JSON fragments too. Printable ASCII, most
/// of any text, is skipped a byte at a time; only other bytes start a
/// character that is looked at.
fn write_inert<W: ?Sized + io::Write>(writer: &mut W, text: &str) -> io::Result<()> {
    let bytes = text.as_bytes();
    let (mut start, mut at) = (0, 0);
    while let Some(skip) = bytes[at..].iter().position(|&b| !(0x20..0x7f).contains(&b)) {
        at += skip;
        // `at` is on a character boundary: only whole characters are
        // stepped over.
        let Some(c) = text[at..].chars().next() else {
            break;
        };
        let next = at + c.len_utf8();
        if is_unsafe_char(c) {
            writer.write_all(&bytes[start..at])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = next;
        }
        at = next;
    }
    writer.write_all(&bytes[start..])
}

impl<F: Formatter> Formatter for InertFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_inert(writer, fragment)
    }

    fn write_raw_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_inert(writer, fragment)
    }

    // The layout is the inner formatter's.
    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.inner.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.inner.begin_object_key(writer, first)
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.end_object_key(writer)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.end_object_value(writer)
    }
}

/// `value` as compact JSON into `writer`, unsafe characters escaped.
pub fn to_writer<W: io::Write, T: Serialize + ?Sized>(
    writer: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut serializer =
        serde_json::Serializer::with_formatter(writer, InertFormatter::new(CompactFormatter));
    value.serialize(&mut serializer)
}

/// `value` as compact JSON, unsafe characters escaped.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    to_writer(&mut out, value)?;
    Ok(out)
}

/// `value` as compact JSON text, unsafe characters escaped.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    // The formatter writes only what serde_json would, plus ASCII escapes.
    String::from_utf8(to_vec(value)?).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

/// `value` as indented JSON text (`serde_json::to_string_pretty`'s
/// layout), unsafe characters escaped.
pub fn to_string_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::with_formatter(
        &mut out,
        InertFormatter::new(PrettyFormatter::new()),
    );
    value.serialize(&mut serializer)?;
    String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn unsafe_characters_are_escaped_and_the_value_is_the_same() {
        let hostile = "\u{1b}]0;t\u{7}\u{7f}\u{85}\u{9b}2J\u{202e}txt.exe\u{2066}\u{2069}\u{200f}\
                       \u{2028}\u{feff}\u{e0041}é漢😀";
        let value = json!({"out\u{202e}": [hostile, {"n": 1}], "plain": "a\"b\\c\n"});
        for text in [
            to_string(&value).expect("serializes"),
            to_string_pretty(&value).expect("serializes"),
        ] {
            assert!(
                !text.chars().any(is_unsafe_char_not_json_whitespace),
                "{text:?}"
            );
            assert!(
                text.contains(r"\u202e") && text.contains(r"\udb40\udc41"),
                "{text}"
            );
            assert!(
                text.contains("é漢😀"),
                "ordinary text stays as it is: {text}"
            );
            let back: Value = serde_json::from_str(&text).expect("still JSON");
            assert_eq!(back, value);
        }
        assert_eq!(
            to_string_pretty(&value)
                .expect("serializes")
                .lines()
                .count(),
            serde_json::to_string_pretty(&value)
                .expect("serializes")
                .lines()
                .count(),
            "the pretty layout is kept"
        );
        assert_eq!(
            to_string(&json!({"a": [1, "b"]})).expect("serializes"),
            serde_json::to_string(&json!({"a": [1, "b"]})).expect("serializes")
        );
    }

    fn is_unsafe_char_not_json_whitespace(c: char) -> bool {
        is_unsafe_char(c) && !matches!(c, '\n' | ' ')
    }
}
