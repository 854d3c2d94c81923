//! The names a guest gives things (flows, checkpoints, parameters, waits,
//! kind labels) end up in the journal, in call ids, in selectors typed on a
//! command line and in terminals. So they are restricted to one documented
//! character set and length, checked when a component describes itself and
//! when a flow names a wait:
//!
//! - 1 to [`MAX_NAME_LEN`] characters;
//! - ASCII letters, digits, `_`, `-` and `.`;
//! - the first character is a letter or `_` (so a name is never a seq
//!   number, and never starts like an option).
//!
//! Call ids are built from names plus `_N` and `[i]`; a name can never hold
//! `[`, and [`crate::runner`] skips any `_N` suffix already taken, so call ids
//! stay unique within an execution.

/// The longest name, in bytes (all characters are ASCII).
pub const MAX_NAME_LEN: usize = 128;

/// Checks a name a guest gave to a `what` (`"flow"`, `"wait"`, ...).
pub(crate) fn check(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("a {what} has an empty name"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "the {what} name {} is {} bytes long; names have at most {MAX_NAME_LEN}",
            shown(name),
            name.len()
        ));
    }
    let first = name.as_bytes()[0];
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return Err(format!(
            "the {what} name {} must start with a letter or `_`",
            shown(name)
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "the {what} name {} holds U+{:04X}; names use only ASCII letters, digits, `_`, `-` and `.`",
            shown(name),
            u32::from(bad)
        ));
    }
    Ok(())
}

/// How many items an error message lists before it says how many there are.
const LISTED: usize = 20;

/// Items for an error message, comma-separated: the first 20 and how many
/// there are in all (a guest controls how many names or calls there are,
/// and an error is one line), or `(none)`.
pub(crate) fn listed<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return "(none)".to_owned();
    }
    let shown: Vec<&str> = items.iter().take(LISTED).map(AsRef::as_ref).collect();
    if items.len() <= LISTED {
        shown.join(", ")
    } else {
        format!("{}, … ({} in all)", shown.join(", "), items.len())
    }
}

/// A guest-given name as an error message may quote it: at most 64
/// characters, control characters escaped, in backquotes.
pub(crate) fn shown(name: &str) -> String {
    let mut out = String::from("`");
    for (i, c) in name.chars().enumerate() {
        if i == 64 {
            out.push('…');
            break;
        }
        if c.is_control() || c == '`' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_to_their_character_set_and_length() {
        for good in ["a", "add_one", "_x", "step-2.v1", &"n".repeat(MAX_NAME_LEN)] {
            assert_eq!(check("flow", good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "2nd",
            "-rf",
            "a b",
            "a\u{1b}[2J",
            "x[0]",
            "é",
            "a'b",
            "a;b",
            &"n".repeat(MAX_NAME_LEN + 1),
        ] {
            assert!(check("wait", bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_shown_name_is_short_and_inert() {
        let shown = shown(&format!("\u{1b}]0;owned\u{7}{}", "x".repeat(10_000)));
        assert!(!shown.contains('\u{1b}') && !shown.contains('\u{7}'));
        assert!(shown.chars().count() < 100, "{shown}");
    }
}
