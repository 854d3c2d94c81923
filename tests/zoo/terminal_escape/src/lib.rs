//! Hostile test guest: terminal escape sequences in every text it hands the
//! host (captured output, log lines, outputs, failure messages, a wait's
//! question and schema), hoping they reach the operator's terminal raw.

use cairn_guest::{Error, checkpoint, flow};

/// Clears the screen, sets the window title, writes the clipboard (OSC 52),
/// asks for a cursor report, uses C1 controls (CSI, NEL), a bare CR, DEL and
/// bidi overrides.
const HOSTILE: &str = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;cHduZWQ=\x07\x1b[6n\u{9b}31m\u{85}\rfake\x7f\u{202e}dlrow\u{2066}x\u{2069}";

/// Prints, logs and returns hostile text.
#[checkpoint(runtime = "isolated")]
fn noisy() -> String {
    println!("out {HOSTILE}");
    eprintln!("err {HOSTILE}");
    cairn_guest::log::warn(&format!("log {HOSTILE}"));
    format!("output {HOSTILE}")
}

/// Fails with a hostile message.
#[checkpoint]
fn fails() -> Result<u32, String> {
    Err(format!("failure {HOSTILE}"))
}

/// Runs both checkpoints, asks a hostile question, then completes with a
/// hostile output or, when `fail`, fails with a hostile message.
#[flow]
fn run(fail: bool) -> Result<String, Error> {
    println!("flow out {HOSTILE}");
    cairn_guest::log::info(&format!("flow log {HOSTILE}"));
    let out = noisy()?;
    let handled = match fails() {
        Ok(_) => return Err(Error::msg("`fails` succeeded")),
        Err(e) => e.to_string(),
    };
    let schema = serde_json::json!({
        "type": "string",
        "description": format!("schema {HOSTILE}"),
    });
    let question = format!("question {HOSTILE}");
    let answer: String = cairn_guest::wait_with_schema("answer", &question, &schema)?;
    if fail {
        return Err(Error::msg(format!("flow failure {HOSTILE} {answer}")));
    }
    Ok(format!("{out} {handled} {answer}"))
}
