//! `kind` is a label shown in terminals and journals: only the characters
//! of a name are allowed.

use cairn_guest::checkpoint;

#[checkpoint(kind = "LLM call\x1b[2J")]
fn classify(text: String) -> String {
    text
}

fn main() {}
