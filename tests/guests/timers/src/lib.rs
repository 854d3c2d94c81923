//! The test suite's timers component: durable sleeps, waits with a
//! deadline, and what a checkpoint knows of its attempt. Checkpoints leave
//! a mark outside the sandbox (in the folder granted as `/marks`) on every
//! run, so a test counts what really ran, apart from the journal.

use std::time::Duration;

use cairn_guest::{Error, checkpoint, flow};

/// Leaves a mark named `name` in `/marks` (a unique file per run).
fn mark(name: &str) -> Result<(), String> {
    use std::hash::{BuildHasher, Hasher};
    let nonce = std::hash::RandomState::new().build_hasher().finish();
    std::fs::write(format!("/marks/{name}.{nonce:016x}"), b"")
        .map_err(|e| format!("cannot leave a mark: {e}"))
}

/// Leaves a mark `label` and returns the label.
#[checkpoint(runtime = "isolated", cache = false)]
fn note(label: String) -> Result<String, String> {
    mark(&label)?;
    Ok(label)
}

/// Notes `before`, sleeps `ms`, notes `after`; returns how long the sleep
/// took on the flow's journaled clock, in milliseconds.
#[flow]
fn nap(ms: u64) -> Result<u64, Error> {
    note("before".to_owned())?;
    let start = cairn_guest::now();
    cairn_guest::sleep(Duration::from_millis(ms))?;
    let end = cairn_guest::now();
    note("after".to_owned())?;
    let slept = end.duration_since(start).unwrap_or_default();
    Ok(u64::try_from(slept.as_millis()).unwrap_or(u64::MAX))
}

/// Two sleeps with a note before, between and after: `"abc"`.
#[flow]
fn two_naps(ms: u64) -> Result<String, Error> {
    let mut out = note("a".to_owned())?;
    cairn_guest::sleep(Duration::from_millis(ms))?;
    out += &note("b".to_owned())?;
    cairn_guest::sleep(Duration::from_millis(ms))?;
    out += &note("c".to_owned())?;
    Ok(out)
}

/// Waits at most `ms` for `approval`; notes the answer, or `timed-out`.
#[flow]
fn deadline(ms: u64) -> Result<String, Error> {
    let answer: Option<String> =
        cairn_guest::wait_timeout("approval", "Approve?", Duration::from_millis(ms))?;
    note(answer.unwrap_or_else(|| "timed-out".to_owned()))
}

/// Asks for a durable sleep from inside a checkpoint: refused.
#[checkpoint(runtime = "isolated")]
fn nap_inside() -> Result<String, String> {
    match cairn_guest::sleep(Duration::from_secs(5)) {
        Ok(()) => Err("a checkpoint slept durably".to_owned()),
        Err(e) => Ok(e.to_string()),
    }
}

/// The refusal of a sleep inside a checkpoint.
#[flow]
fn sleep_in_checkpoint() -> Result<String, Error> {
    nap_inside()
}

/// The attempt it runs in: (execution id, seq, call id, number, key).
#[checkpoint(cache = false)]
fn whoami() -> Result<(u64, u32, String, u32, String), String> {
    let a = cairn_guest::attempt().ok_or("a checkpoint has an attempt")?;
    Ok((
        a.execution_id,
        a.seq,
        a.call_id.clone(),
        a.number,
        a.idempotency_key(),
    ))
}

/// Fails on its first attempt, then returns its attempt number and key.
#[checkpoint(retries = 2, cache = false, runtime = "isolated")]
fn flaky_key() -> Result<(u32, String), String> {
    let a = cairn_guest::attempt().ok_or("a checkpoint has an attempt")?;
    if a.number < 2 {
        return Err(format!("attempt {} fails", a.number));
    }
    Ok((a.number, a.idempotency_key()))
}

/// What each side knows of attempts: the flow none, each call its own.
#[flow]
fn attempts() -> Result<String, Error> {
    let in_flow = cairn_guest::attempt().is_none();
    let first = whoami()?;
    let second = whoami()?;
    let flaky = flaky_key()?;
    Ok(format!(
        "flow-has-none={in_flow} first={first:?} second={second:?} flaky={flaky:?}"
    ))
}
