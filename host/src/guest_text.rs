//! Text a guest hands over, checked and bounded before the host keeps it:
//! outputs must be the JSON they claim to be and fit the policy; messages
//! (errors, traps) are cut to the policy's length and say so.

/// Checks an output (of a checkpoint or a flow): at most `limit` bytes, and
/// one JSON value that the host's parser accepts (nested at most 127 deep,
/// nothing after it). Parsing without building the value costs a few
/// hundred ns for the small outputs of hot paths. The reason it gives
/// follows "the output".
pub(crate) fn check_output(output: &str, limit: usize) -> Result<(), String> {
    if output.len() > limit {
        return Err(format!(
            "is {} bytes; the limit is {limit} bytes",
            output.len()
        ));
    }
    // serde_json skips a value it is told to ignore without its recursion
    // limit, so the nesting is measured first: a value nested deeper than
    // the parser reads everywhere else must not be stored as if it were fine.
    let depth = nesting(output);
    if depth > MAX_NESTING {
        return Err(format!(
            "is nested {depth} levels deep; JSON values are read at most {MAX_NESTING} deep"
        ));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(output)
        .map(|_| ())
        .map_err(|e| format!("is not valid JSON: {e}"))
}

/// The deepest value serde_json reads (its recursion limit of 128 refuses
/// the 128th level), which every later read of the value meets.
const MAX_NESTING: usize = 127;

/// The deepest nesting of arrays and objects in the JSON `text`, outside
/// strings, found without parsing (for text that is not JSON, what its
/// brackets would make of it).
pub(crate) fn nesting(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// `message`, cut to at most `limit` bytes (on a character boundary) with a
/// note of how much was cut.
pub(crate) fn bounded(mut message: String, limit: usize) -> String {
    if message.len() <= limit {
        return message;
    }
    let total = message.len();
    let mut cut = limit;
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    message.truncate(cut);
    message.push_str(&format!(" … ({} of {total} bytes cut)", total - cut));
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_must_be_json_within_the_limit() {
        assert_eq!(check_output(r#"{"a": [1, 2]}"#, 100), Ok(()));
        assert_eq!(check_output("\"text\"", 100), Ok(()));
        for bad in ["", "{", "not json", "1 2", "[1]x", "\u{1b}[2J"] {
            assert!(check_output(bad, 100).is_err(), "{bad:?} passed");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(check_output(&deep, 1000).is_err(), "200 levels passed");
        let fine = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert_eq!(check_output(&fine, 1000), Ok(()), "127 levels are read");
        let value: Result<serde_json::Value, _> = serde_json::from_str(&fine);
        assert!(value.is_ok(), "and serde_json reads them back");
        let too_deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(check_output(&too_deep, 1000).is_err(), "128 levels passed");
        let value: Result<serde_json::Value, _> = serde_json::from_str(&too_deep);
        assert!(value.is_err(), "serde_json refuses 128 levels");
        let in_strings = format!("[\"{}\", \"\\\"[\"]", "[".repeat(500));
        assert_eq!(
            check_output(&in_strings, 1000),
            Ok(()),
            "brackets in strings"
        );
        assert!(check_output("\"0123456789\"", 5).is_err());
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        assert_eq!(bounded("short".to_owned(), 10), "short");
        let cut = bounded("é".repeat(100), 11);
        assert!(cut.starts_with(&"é".repeat(5)), "{cut}");
        assert!(cut.ends_with("(190 of 200 bytes cut)"), "{cut}");
    }
}
