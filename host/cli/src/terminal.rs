//! Text from guests and from the journal, made safe for the operator's
//! terminal, and commands suggested to the operator, made safe to paste.
//!
//! Names, messages, outputs, logs and questions all come from guest code. Raw,
//! they could clear the screen, set the window title, write the clipboard
//! (OSC 52), ask the terminal to answer on stdin, overwrite a line with a bare
//! CR, or reorder what is shown with bidi overrides. Human output therefore
//! shows every such character as a visible escape (`\x1b`, `\r`,
//! `\u{202e}`); `--json` output writes them as JSON escapes (`\u202e`), so it
//! parses back exact ([`cairn_host::json_out`] holds the one list of them).

use std::borrow::Cow;
use std::fmt::Write as _;

use cairn_host::json_out::is_unsafe_char as is_unsafe;

/// Rewrites the characters `escape_it` picks with `escape`; borrows when
/// there is nothing to rewrite, which is nearly always.
fn rewrite(
    text: &str,
    escape_it: impl Fn(char) -> bool,
    escape: impl Fn(&mut String, char),
) -> Cow<'_, str> {
    if !text.chars().any(&escape_it) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if escape_it(c) {
            escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `\n`, `\r`, `\t`, `\x1b`, `\u{85}`, `\u{202e}`: Rust's own notation.
fn visible(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if u32::from(c) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

/// One line of guest text: every control character is escaped, line breaks
/// and tabs too, so the text cannot pose as another line.
pub(crate) fn line(text: &str) -> Cow<'_, str> {
    rewrite(text, is_unsafe, visible)
}

/// A build's hash as shown beside text: its first 12 characters, escaped
/// (a hash from a server's answer is taken as it comes: it may be short,
/// or not a hash at all).
pub(crate) fn short_hash(hash: &str) -> Cow<'_, str> {
    line(hash.get(..12).unwrap_or(hash))
}

/// Several lines of guest text (logs, captured output, error reports): line
/// breaks and tabs stay, everything else unsafe (a bare CR too) is escaped.
pub(crate) fn block(text: &str) -> Cow<'_, str> {
    rewrite(text, |c| is_unsafe(c) && c != '\n' && c != '\t', visible)
}

/// JSON text (a flow's output, a call's input): unsafe characters become
/// JSON's own `\u001b` escapes, so valid JSON stays valid and means the same
/// (they can only be inside strings). Line breaks and tabs, JSON whitespace,
/// stay.
pub(crate) fn json(text: &str) -> Cow<'_, str> {
    rewrite(
        text,
        |c| is_unsafe(c) && c != '\n' && c != '\t',
        // Past the Basic Multilingual Plane (tag characters), JSON spells
        // a character as its UTF-16 surrogate pair.
        |out, c| {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        },
    )
}

/// A JSON value in compact form, safe to show.
pub(crate) fn value(value: &serde_json::Value) -> String {
    json(&value.to_string()).into_owned()
}

/// Whether a shell leaves `c` alone outside quotes.
fn shell_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | ':' | '=' | '@' | '%' | '+' | '-')
}

/// `arg` as one POSIX shell word: as it is when every character is plainly
/// safe, otherwise in single quotes (a `'` inside becomes `'\''`).
pub(crate) fn quote(arg: &str) -> Cow<'_, str> {
    if !arg.is_empty() && arg.chars().all(shell_plain) {
        return Cow::Borrowed(arg);
    }
    Cow::Owned(format!("'{}'", arg.replace('\'', r"'\''")))
}

/// A `cairn` command to suggest to the operator: every argument quoted for
/// the shell, `place` first (`--journal PATH` or `--server URL`: see
/// `Global::place_to_suggest`), and the whole made safe to show.
pub(crate) fn command(place: &[String], args: &[&str]) -> String {
    let mut command = "cairn".to_owned();
    for arg in place.iter().map(String::as_str).chain(args.iter().copied()) {
        command.push(' ');
        command.push_str(&quote(arg));
    }
    line(&command).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_every_control_character_visibly() {
        assert_eq!(line("plain text, ünïcode ✓"), "plain text, ünïcode ✓");
        assert!(matches!(line("plain"), Cow::Borrowed(_)));
        assert_eq!(line("\x1b[2J\x07"), r"\x1b[2J\x07");
        assert_eq!(line("a\rb\nc\td"), r"a\rb\nc\td");
        assert_eq!(line("\x1b]52;c;cHduZWQ=\x07"), r"\x1b]52;c;cHduZWQ=\x07");
        assert_eq!(
            line("\u{9b}31m\u{85}\u{9f}\x7f\0"),
            r"\u{9b}31m\u{85}\u{9f}\x7f\x00"
        );
        assert_eq!(
            line("\u{202e}txt.exe\u{2066}\u{2069}\u{200f}\u{2028}"),
            r"\u{202e}txt.exe\u{2066}\u{2069}\u{200f}\u{2028}"
        );
        assert_eq!(
            line("pay\u{200b}pal\u{feff}\u{ad}\u{2060}\u{e0041}"),
            r"pay\u{200b}pal\u{feff}\u{ad}\u{2060}\u{e0041}"
        );
        // A backslash is not escaped: JSON and paths stay readable.
        assert_eq!(line(r#"{"a":"b\"c"}"#), r#"{"a":"b\"c"}"#);
    }

    #[test]
    fn blocks_keep_line_breaks_and_tabs_but_no_bare_cr() {
        assert_eq!(block("one\n\ttwo\n"), "one\n\ttwo\n");
        assert_eq!(block("one\r\ntwo\rthree"), "one\\r\ntwo\\rthree");
        assert_eq!(block("\x1b[1A\x1b[Kfake\u{9d}"), r"\x1b[1A\x1b[Kfake\u{9d}");
    }

    #[test]
    fn json_stays_json_with_the_same_meaning() {
        let hostile = serde_json::json!({"out": "\x1b]0;title\x07\u{85}\u{202e}\x7f"});
        let shown = value(&hostile);
        assert!(!shown.chars().any(is_unsafe), "{shown}");
        assert_eq!(shown, r#"{"out":"\u001b]0;title\u0007\u0085\u202e\u007f"}"#);
        let back: serde_json::Value = serde_json::from_str(&shown).expect("still JSON");
        assert_eq!(back, hostile);
        assert_eq!(json("[1,\n 2]"), "[1,\n 2]");
        let tagged = serde_json::json!({"out": "a\u{e0041}\u{fe0f}b"});
        let shown = value(&tagged);
        assert!(!shown.chars().any(is_unsafe), "{shown}");
        let back: serde_json::Value = serde_json::from_str(&shown).expect("still JSON");
        assert_eq!(back, tagged, "a character past U+FFFF keeps its meaning");
    }

    #[test]
    fn shell_words_are_quoted_unless_plainly_safe() {
        assert_eq!(quote("approve-1.v2"), "approve-1.v2");
        assert_eq!(quote("/tmp/j.redb"), "/tmp/j.redb");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(rm -rf ~)`x`;|&"), "'$(rm -rf ~)`x`;|&'");
        assert_eq!(quote("<JSON>"), "'<JSON>'");
    }

    #[test]
    fn suggested_commands_carry_the_place_quoted_and_escaped() {
        assert_eq!(
            command(&[], &["executions", "resume", "7"]),
            "cairn executions resume 7"
        );
        let journal = ["--journal".to_owned(), "/tmp/my journal's.redb".to_owned()];
        assert_eq!(
            command(
                &journal,
                &[
                    "executions",
                    "input",
                    "7",
                    "--wait",
                    "ok",
                    "--value",
                    "<JSON>"
                ]
            ),
            r"cairn --journal '/tmp/my journal'\''s.redb' executions input 7 --wait ok --value '<JSON>'"
        );
        let server = ["--server".to_owned(), "http://127.0.0.1:7080".to_owned()];
        assert_eq!(
            command(&server, &["executions", "show", "7"]),
            "cairn --server http://127.0.0.1:7080 executions show 7"
        );
        assert_eq!(
            command(&[], &["--wait", "a\x1bb"]),
            r"cairn --wait 'a\x1bb'"
        );
    }
}
