//! The test suite's child-flows component: flows that start flows of the
//! same component as child executions. Checkpoints leave a mark outside the
//! sandbox (in the folder granted as `/marks`) on every run, so a test
//! counts what really ran, apart from the journal.

use std::time::Duration;

use cairn_guest::{Error, checkpoint, flow};
use serde_json::json;

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

/// Leaves a mark `label`, then holds until the file `/marks/{flag}`
/// exists, looking every 10 ms (a step a test surely kills a process in,
/// however loaded the machine), then returns the label.
#[checkpoint(runtime = "isolated", cache = false, timeout_ms = 60000)]
fn slow_note(label: String, flag: String) -> Result<String, String> {
    mark(&label)?;
    let flag = format!("/marks/{flag}");
    while !std::path::Path::new(&flag).exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(label)
}

/// A child: notes `child-{a}` and returns `a + b`.
#[flow]
fn add(a: u64, b: u64) -> Result<u64, Error> {
    note(format!("child-{a}"))?;
    Ok(a + b)
}

/// Starts `n` children `add(i, 10)` at once, then one more and waits for
/// it; returns the sum of every child's output.
#[flow]
fn fan(n: u64) -> Result<u64, Error> {
    note("fan-start".to_owned())?;
    let started: Vec<_> = (0..n)
        .map(|i| cairn_guest::start_child_flow::<u64>("add", &json!({"a": i, "b": 10})))
        .collect();
    let mut sum = 0;
    for child in started {
        sum += child.result()?;
    }
    sum += cairn_guest::child_flow::<u64>("add", &json!({"a": 100, "b": 1}))?;
    note("fan-end".to_owned())?;
    Ok(sum)
}

/// A child that notes `slow-before`, holds in a checkpoint until `flag`
/// exists, notes `slow-after` and returns `"slow"`.
#[flow]
fn slow(flag: String) -> Result<String, Error> {
    note("slow-before".to_owned())?;
    slow_note("slow-middle".to_owned(), flag)?;
    note("slow-after".to_owned())?;
    Ok("slow".to_owned())
}

/// Notes `p-before`, runs child `slow(flag)`, notes `p-after`; returns the
/// child's output.
#[flow]
fn parent_of_slow(flag: String) -> Result<String, Error> {
    note("p-before".to_owned())?;
    let out: String = cairn_guest::child_flow("slow", &json!({ "flag": flag }))?;
    note("p-after".to_owned())?;
    Ok(out)
}

/// A child that sleeps durably for `ms`, between two notes.
#[flow]
fn sleeper(ms: u64) -> Result<String, Error> {
    note("sleeper-before".to_owned())?;
    cairn_guest::sleep(Duration::from_millis(ms))?;
    note("sleeper-after".to_owned())?;
    Ok("rested".to_owned())
}

/// Runs child `sleeper(ms)` and returns what it says.
#[flow]
fn parent_of_sleeper(ms: u64) -> Result<String, Error> {
    let out: String = cairn_guest::child_flow("sleeper", &json!({ "ms": ms }))?;
    note("ps-after".to_owned())?;
    Ok(out)
}

/// A child that waits for `approval`.
#[flow]
fn asker() -> Result<String, Error> {
    let answer: String = cairn_guest::wait("approval", "Approve?")?;
    Ok(answer)
}

/// Runs child `asker` and returns its answer, prefixed.
#[flow]
fn parent_of_asker() -> Result<String, Error> {
    let answer: String = cairn_guest::child_flow("asker", &json!({}))?;
    Ok(format!("child said {answer}"))
}

/// A child that fails.
#[flow]
fn broken() -> Result<String, Error> {
    Err(Error::msg("the child broke"))
}

/// Runs child `broken` and an unknown flow; returns both errors.
#[flow]
fn catches() -> Result<String, Error> {
    let broken = match cairn_guest::child_flow::<String>("broken", &json!({})) {
        Ok(_) => "no error".to_owned(),
        Err(e) => e.to_string(),
    };
    let unknown = match cairn_guest::child_flow::<String>("no_such_flow", &json!({})) {
        Ok(_) => "no error".to_owned(),
        Err(e) => e.to_string(),
    };
    Ok(format!("{broken} | {unknown}"))
}

/// Starts itself as a child, one level deeper each time, without end.
#[flow]
fn dive(level: u64) -> Result<u64, Error> {
    cairn_guest::child_flow::<u64>("dive", &json!({ "level": level + 1 }))
}

/// Tries to start a child flow from inside a checkpoint: refused.
#[checkpoint(runtime = "isolated")]
fn child_inside() -> Result<String, String> {
    match cairn_guest::child_flow::<String>("broken", &json!({})) {
        Ok(_) => Err("a checkpoint started a child flow".to_owned()),
        Err(e) => Ok(e.to_string()),
    }
}

/// Calls `child_inside` and returns what it got.
#[flow]
fn child_from_checkpoint() -> Result<String, Error> {
    child_inside()
}

/// Fails the first time it runs for `key` in a marks folder (it leaves
/// `flaky-{key}` then), succeeds every time after.
#[checkpoint(cache = false)]
fn flaky_once(key: String) -> Result<(), String> {
    let prefix = format!("flaky-{key}.");
    let before = std::fs::read_dir("/marks")
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with(&prefix));
    mark(&format!("flaky-{key}"))?;
    if before {
        Ok(())
    } else {
        Err("the first run fails".to_owned())
    }
}

/// Runs `first` children `add`, fails its first run, and on its retry
/// (the `first` starts replayed) runs `then` more: a flow retry that would
/// start children past the tree's budget if it got a budget of its own.
#[flow(retries = 1)]
fn retrier(key: String, first: u64, then: u64) -> Result<u64, Error> {
    let mut sum = 0;
    for a in 0..first {
        sum += cairn_guest::child_flow::<u64>("add", &json!({"a": a, "b": 0}))?;
    }
    flaky_once(key)?;
    for a in first..first + then {
        sum += cairn_guest::child_flow::<u64>("add", &json!({"a": a, "b": 0}))?;
    }
    Ok(sum)
}

/// Runs `retrier` as its child and returns its output.
#[flow]
fn parent_of_retrier(key: String, first: u64, then: u64) -> Result<u64, Error> {
    let input = json!({"key": key, "first": first, "then": then});
    cairn_guest::child_flow::<u64>("retrier", &input)
}
