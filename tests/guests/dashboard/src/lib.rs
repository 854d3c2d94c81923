//! The dashboard's test guest. `inject` puts markup, script and terminal
//! escapes in every text it hands the host (captured output, log lines,
//! outputs, failure messages, a wait's question, schema and field name),
//! hoping a page runs them; `judged` fails until a replay overrides its
//! verdict.

use cairn_guest::{Error, checkpoint, flow};

/// A script, an image whose error handler runs script, and ANSI colour.
/// Either would set `window.__pwned` and open an alert if it ran.
const HOSTILE: &str = "<script>window.__pwned=1;alert(1)</script><img src=x onerror=\"window.__pwned=2;alert(2)\">\u{1b}[31mred\u{1b}[0m";

/// Prints, logs and returns hostile text.
#[checkpoint(runtime = "isolated")]
fn shout() -> String {
    println!("out {HOSTILE}");
    eprintln!("err {HOSTILE}");
    cairn_guest::log::warn(&format!("log {HOSTILE}"));
    format!("output {HOSTILE}")
}

/// Fails with a hostile message.
#[checkpoint]
fn refuse() -> Result<u32, String> {
    Err(format!("failure {HOSTILE}"))
}

/// Runs both checkpoints; when `ask`, asks a hostile question with a
/// hostile schema (a field named with markup) before it completes.
#[flow]
fn inject(ask: bool) -> Result<String, Error> {
    println!("flow out {HOSTILE}");
    cairn_guest::log::info(&format!("flow log {HOSTILE}"));
    let out = shout()?;
    let handled = match refuse() {
        Ok(_) => return Err(Error::msg("`refuse` succeeded")),
        Err(e) => e.to_string(),
    };
    if ask {
        let schema = serde_json::json!({
            "type": "object",
            "title": HOSTILE,
            "properties": {
                HOSTILE: {"type": "string", "description": format!("field {HOSTILE}")},
            },
        });
        let question = format!("question {HOSTILE}");
        let answer: serde_json::Value =
            cairn_guest::wait_with_schema("answer", &question, &schema)?;
        return Ok(format!("{out} {handled} {answer}"));
    }
    Ok(format!("{out} {handled}"))
}

/// What a reviewer says: always `reject` when it runs.
#[checkpoint]
fn verdict(case: String) -> String {
    let _ = case;
    "reject".to_owned()
}

/// Fails unless the verdict is `accept`: only a replay that overrides
/// `verdict`'s output completes.
#[flow]
fn judged(case: String) -> Result<String, Error> {
    let said = verdict(case.clone())?;
    if said != "accept" {
        return Err(Error::msg(format!("case {case} was rejected ({said})")));
    }
    Ok(format!("case {case} accepted"))
}
