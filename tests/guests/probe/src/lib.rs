//! The test suite's probe component: small flows and checkpoints, each
//! showing one behaviour of the host (sandbox limits, failures, retries,
//! store sharing, guardrails, determinism).

use std::sync::atomic::{AtomicU32, Ordering};

use cairn_guest::{Error, checkpoint, flow};

// ---- plain work ---------------------------------------------------------

/// Adds, inline.
#[checkpoint]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Adds, isolated.
#[checkpoint(runtime = "isolated")]
fn add_isolated(a: i64, b: i64) -> i64 {
    a + b
}

/// Writes to stdout and stderr, then returns its input.
#[checkpoint(runtime = "isolated")]
fn chatty(text: String) -> String {
    println!("out: {text}");
    eprintln!("err: {text}");
    text
}

/// Three calls: inline, isolated, inline.
#[flow]
fn sum(a: i64, b: i64) -> Result<i64, Error> {
    let x = add(a, b)?;
    let y = add_isolated(x, 1)?;
    add(y, 1)
}

/// Captures a checkpoint's output streams.
#[flow]
fn talk(text: String) -> Result<String, Error> {
    chatty(text)
}

// ---- store sharing ------------------------------------------------------

static CALLS_SEEN: AtomicU32 = AtomicU32::new(0);

/// How many calls this instance has seen: an inline store keeps counting.
/// (Not cached: its output depends on state, not only on its input.)
#[checkpoint(cache = false)]
fn count_inline() -> u32 {
    CALLS_SEEN.fetch_add(1, Ordering::SeqCst) + 1
}

/// How many calls this instance has seen: a fresh store always says 1.
#[checkpoint(runtime = "isolated", cache = false)]
fn count_isolated() -> u32 {
    CALLS_SEEN.fetch_add(1, Ordering::SeqCst) + 1
}

/// Three inline counts and three isolated counts.
#[flow]
fn counters() -> Result<(Vec<u32>, Vec<u32>), Error> {
    let inline = vec![count_inline()?, count_inline()?, count_inline()?];
    let isolated = vec![count_isolated()?, count_isolated()?, count_isolated()?];
    Ok((inline, isolated))
}

// ---- hostile checkpoints ------------------------------------------------

/// Never returns.
#[checkpoint(runtime = "isolated")]
fn spin() -> u64 {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Never returns, inline.
#[checkpoint]
fn spin_inline() -> u64 {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Allocates and touches `mib` MiB.
#[checkpoint(runtime = "isolated")]
fn hog(mib: u32) -> usize {
    let mut blocks = Vec::new();
    for _ in 0..mib {
        blocks.push(vec![7u8; 1 << 20]);
    }
    std::hint::black_box(&blocks).len()
}

/// Counts to `n`, spending fuel in proportion. Not cached, so that every
/// call runs (identical siblings in one map would otherwise share outputs
/// depending on which finished first).
#[checkpoint(runtime = "isolated", cache = false)]
fn busy(n: u64) -> u64 {
    let mut total: u64 = 0;
    for i in 0..n {
        total = std::hint::black_box(total.wrapping_add(i));
    }
    total
}

/// Allocates `mib` MiB in an isolated checkpoint.
#[flow]
fn allocate(mib: u32) -> Result<usize, Error> {
    hog(mib)
}

/// Counts to `n` in an isolated checkpoint.
#[flow]
fn work(n: u64) -> Result<u64, Error> {
    busy(n)
}

/// Panics with `message`.
#[checkpoint(runtime = "isolated")]
fn boom(message: String) -> u32 {
    panic!("{message}")
}

/// Runs one hostile checkpoint, then a harmless one that must never run
/// when the first fails.
#[flow]
fn hostile(which: String) -> Result<i64, Error> {
    match which.as_str() {
        "loop" => {
            spin()?;
        }
        "memory" => {
            hog(128)?;
        }
        "panic" => {
            boom("kaboom".to_owned())?;
        }
        other => return Err(Error::msg(format!("no hostile behaviour `{other}`"))),
    }
    add(1, 1)
}

// ---- failures and retries -----------------------------------------------

/// Fails with `message`.
#[checkpoint]
fn fail(message: String) -> Result<i64, String> {
    Err(message)
}

/// Fails every time, with two retries.
#[checkpoint(retries = 2)]
fn always_fails(message: String) -> Result<i64, String> {
    Err(message)
}

/// Handles a checkpoint failure and carries on.
#[flow]
fn recover() -> Result<String, Error> {
    let handled = match fail("not today".to_owned()) {
        Ok(_) => return Err(Error::msg("`fail` succeeded")),
        Err(e) => e.to_string(),
    };
    let after = add(2, 3)?;
    Ok(format!("{handled}; then {after}"))
}

/// Lets a retried checkpoint's failure fail the execution.
#[flow]
fn retrying() -> Result<i64, Error> {
    always_fails("again".to_owned())
}

/// An inline trap, then another inline call: the store must be rebuilt.
#[flow]
fn trap_then_inline() -> Result<(String, i64), Error> {
    let error = match spin_inline() {
        Ok(_) => return Err(Error::msg("spin_inline returned")),
        Err(e) => e.to_string(),
    };
    Ok((error, add(2, 3)?))
}

/// The flow itself panics.
#[flow]
fn flow_panics() -> i64 {
    panic!("a bug in the flow")
}

// ---- guardrails ----------------------------------------------------------

/// Calls a checkpoint from inside a checkpoint.
#[checkpoint]
fn nested() -> Result<i64, Error> {
    add(1, 2)
}

/// Runs `nested`.
#[flow]
fn nest() -> Result<i64, Error> {
    nested()
}

// ---- determinism ---------------------------------------------------------

/// What a flow sees of time and randomness.
#[flow]
fn entropy() -> (u64, u64, u64) {
    use std::hash::{BuildHasher, Hasher};
    #[expect(
        clippy::disallowed_methods,
        reason = "the test looks at what a flow sees of the clock"
    )]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let a = std::hash::RandomState::new().build_hasher().finish();
    let b = std::hash::RandomState::new().build_hasher().finish();
    (now, a, b)
}

// ---- durability: checkpoints that leave a mark outside the sandbox -------
//
// The tests grant a folder as `/marks`; each time one of these checkpoints
// finishes its work it creates a new file there, so the tests count real
// executions from outside the journal.

/// Leaves one new file named `{name}.{random}` in /marks.
fn mark(name: &str) -> Result<(), String> {
    use std::hash::{BuildHasher, Hasher};
    let nonce = std::hash::RandomState::new().build_hasher().finish();
    std::fs::write(format!("/marks/{name}.{nonce:016x}"), b"")
        .map_err(|e| format!("cannot leave a mark: {e}"))
}

/// Works for `work` iterations, leaves a mark `step-{i}`, returns `i * i`.
#[checkpoint(runtime = "isolated", cache = false)]
fn step(i: u64, work: u64) -> Result<u64, String> {
    let mut total: u64 = 0;
    for k in 0..work {
        total = std::hint::black_box(total.wrapping_add(k));
    }
    mark(&format!("step-{i}"))?;
    Ok(i * i)
}

/// `count` steps in order; the output is the sum of their squares.
#[flow]
fn steps(count: u64, work: u64) -> Result<u64, Error> {
    let mut sum = 0;
    for i in 0..count {
        sum += step(i, work)?;
    }
    Ok(sum)
}

/// Returns once the file `/marks/{flag}` exists, looking every 10 ms, and
/// leaves a mark `held`: a call that is surely still running when a test
/// interrupts the run, however loaded the machine.
#[checkpoint(runtime = "isolated", cache = false)]
fn hold(flag: String) -> Result<u64, String> {
    let flag = format!("/marks/{flag}");
    while !std::path::Path::new(&flag).exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    mark("held")?;
    Ok(1)
}

/// Step 0, a hold until `flag` exists, step 2: the output is 0 + 1 + 4.
#[flow]
fn held(flag: String) -> Result<u64, Error> {
    Ok(step(0, 0)? + hold(flag)? + step(2, 0)?)
}

/// A step of execution `tag`: works for `work` iterations, leaves a mark
/// `{tag}-{i}`, returns `i * i`. The tag tells many executions' marks apart
/// in one folder.
#[checkpoint(runtime = "isolated", cache = false)]
fn tagged_step(tag: String, i: u64, work: u64) -> Result<u64, String> {
    let mut total: u64 = 0;
    for k in 0..work {
        total = std::hint::black_box(total.wrapping_add(k));
    }
    mark(&format!("{tag}-{i}"))?;
    Ok(i * i)
}

/// `count` tagged steps in order; the output is `{tag}={sum of squares}`,
/// so that each execution's output is its own.
#[flow]
fn tagged_steps(tag: String, count: u64, work: u64) -> Result<String, Error> {
    let mut sum = 0;
    for i in 0..count {
        sum += tagged_step(tag.clone(), i, work)?;
    }
    Ok(format!("{tag}={sum}"))
}

/// Adds and leaves a mark `add`: cached by default.
#[checkpoint]
fn logged_add(a: i64, b: i64) -> Result<i64, String> {
    mark("add")?;
    Ok(a + b)
}

/// The same, never cached.
#[checkpoint(cache = false)]
fn uncached_add(a: i64, b: i64) -> Result<i64, String> {
    mark("uncached")?;
    Ok(a + b)
}

/// One cached and one uncached addition.
#[flow]
fn additions(a: i64, b: i64) -> Result<(i64, i64), Error> {
    Ok((logged_add(a, b)?, uncached_add(a, b)?))
}

/// Succeeds once the file `/marks/{flag}` exists; leaves a mark per attempt.
#[checkpoint(cache = false)]
fn gate(flag: String) -> Result<String, String> {
    mark("gate")?;
    if std::path::Path::new(&format!("/marks/{flag}")).exists() {
        Ok(format!("{flag} is there"))
    } else {
        Err(format!("waiting for {flag}"))
    }
}

/// A step, then a gate that fails until its flag exists, then another step.
#[flow]
fn gated(flag: String) -> Result<u64, Error> {
    let first = step(1, 0)?;
    gate(flag)?;
    Ok(first + step(2, 0)?)
}

/// Fails until it has been tried `tries` times in all (it counts its marks).
#[checkpoint(cache = false)]
fn stubborn(tries: u64) -> Result<u64, String> {
    mark("stubborn")?;
    let seen = std::fs::read_dir("/marks")
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("stubborn."))
        .count() as u64;
    if seen >= tries {
        Ok(seen)
    } else {
        Err(format!("try {seen} of {tries}"))
    }
}

/// A step, then a checkpoint that fails on its first tries; the flow (not
/// the checkpoint) is retried.
#[flow(retries = 3)]
fn persistent(tries: u64) -> Result<u64, Error> {
    let first = step(1, 0)?;
    Ok(first + stubborn(tries)?)
}

/// Fails until it has been tried `tries` times in all (it counts its own
/// marks, `patient.*`); the checkpoint itself has three retries.
#[checkpoint(cache = false, retries = 3)]
fn patient(tries: u64) -> Result<u64, String> {
    mark("patient")?;
    let seen = std::fs::read_dir("/marks")
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("patient."))
        .count() as u64;
    if seen >= tries {
        Ok(seen)
    } else {
        Err(format!("try {seen} of {tries}"))
    }
}

/// A step, then a checkpoint that fails on its first tries and retries
/// by itself (with the policy's retry delay between tries).
#[flow]
fn patience(tries: u64) -> Result<u64, Error> {
    let first = step(1, 0)?;
    Ok(first + patient(tries)?)
}

/// Takes a different path depending on whether the gate is open, then
/// fails: resuming after the flag appears makes a call the journal does not
/// have at that seq.
#[flow]
fn fickle(flag: String) -> Result<i64, Error> {
    let path = match gate(flag) {
        Ok(_) => add(1, 1)?,
        Err(_) => add(2, 2)?,
    };
    fail("always".to_owned())?;
    Ok(path)
}

/// Calls a checkpoint name the component does not have.
#[flow]
fn unknown_checkpoint() -> Result<i64, Error> {
    #[derive(serde::Serialize)]
    struct NoArgs {}
    cairn_guest::__private::submit::<NoArgs, i64>("no_such_checkpoint", &NoArgs {}).result()
}

/// Adds and leaves a mark `forced`: cached even in a flow that turns the
/// cache off.
#[checkpoint(cache = true)]
fn forced_add(a: i64, b: i64) -> Result<i64, String> {
    mark("forced")?;
    Ok(a + b)
}

/// A flow with the cache off: `logged_add` follows it, `forced_add`
/// overrides it.
#[flow(cache = false)]
fn additions_uncached(a: i64, b: i64) -> Result<(i64, i64), Error> {
    Ok((logged_add(a, b)?, forced_add(a, b)?))
}

// ---- concurrency ----------------------------------------------------------

/// Squares, isolated.
#[checkpoint(runtime = "isolated")]
fn square(x: i64) -> i64 {
    x * x
}

/// Fails for odd numbers, isolated.
#[checkpoint(runtime = "isolated")]
fn evens_only(x: i64) -> Result<i64, String> {
    if x % 2 == 0 {
        Ok(x)
    } else {
        Err(format!("{x} is odd"))
    }
}

/// `square` over 0..n.
#[flow]
fn squares(n: i64) -> Result<Vec<i64>, Error> {
    square::map(0..n)
}

/// Two maps of the same checkpoint: call ids `square[i]`, then `square_2[i]`.
#[flow]
fn two_maps() -> Result<(Vec<i64>, Vec<i64>), Error> {
    Ok((square::map(vec![1, 2])?, square::map(vec![3])?))
}

/// `add_isolated` over the zipped lists.
#[flow]
fn zipped(a: Vec<i64>, b: Vec<i64>) -> Result<Vec<i64>, Error> {
    add_isolated::map(a, b)
}

/// `add_isolated` over the cartesian product, `a` outermost.
#[flow]
fn grid(a: Vec<i64>, b: Vec<i64>) -> Result<Vec<i64>, Error> {
    add_isolated::product(a, b)
}

/// Handles awaited in another order than submitted, inline and isolated mixed.
#[flow]
fn handles() -> Result<Vec<i64>, Error> {
    let a = square::submit(3);
    let b = add::submit(1, 2);
    let c = add_isolated::submit(10, 20);
    let d = add::submit(4, 5);
    Ok(vec![c.result()?, a.result()?, d.result()?, b.result()?])
}

/// A map where odd items fail: the flow sees the first failure; every item
/// still runs and is journaled.
#[flow]
fn partial(n: i64) -> Result<Vec<i64>, Error> {
    evens_only::map(0..n)
}

/// A failing call whose handle is never awaited, beside a step that is.
#[flow]
fn unawaited() -> Result<u64, Error> {
    let _forgotten = evens_only::submit(7);
    let _also = step::submit(0, 0);
    Ok(1)
}

/// Counts to each `n`, in parallel.
#[flow]
fn busy_map(ns: Vec<u64>) -> Result<Vec<u64>, Error> {
    busy::map(ns)
}

/// Mismatched map inputs.
#[flow]
fn lopsided() -> Result<Vec<i64>, Error> {
    add_isolated::map(vec![1, 2, 3], vec![1])
}

/// `count` steps as one map.
#[flow]
fn fanout(count: u64, work: u64) -> Result<u64, Error> {
    Ok(
        step::map(0..count, std::iter::repeat_n(work, count as usize))?
            .iter()
            .sum(),
    )
}

/// Leaves `running-{i}`, then watches for another call's `running-` mark
/// for at most `wait_ms` of wall-clock time: true if it saw one, i.e.
/// another call ran at the same time. It stops watching early once a
/// peer's `ended-` mark is there: a call that starts after another ended
/// has nothing more to wait for. Leaves `ended-{i}` when it is done.
#[checkpoint(runtime = "isolated", cache = false)]
fn overlap(i: u64, wait_ms: u64) -> Result<bool, String> {
    let mine = format!("/marks/running-{i}");
    std::fs::write(&mine, b"").map_err(|e| e.to_string())?;
    let peers = |prefix: &str| -> Result<usize, String> {
        Ok(std::fs::read_dir("/marks")
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with(prefix) && name != format!("{prefix}{i}")
            })
            .count())
    };
    let until = std::time::Instant::now() + std::time::Duration::from_millis(wait_ms);
    let mut seen = false;
    while std::time::Instant::now() < until {
        if peers("running-")? > 0 {
            seen = true;
            break;
        }
        if peers("ended-")? > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // Stay visible a little longer so a peer that starts now sees us too.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(format!("/marks/ended-{i}"), b"").map_err(|e| e.to_string())?;
    std::fs::remove_file(&mine).map_err(|e| e.to_string())?;
    Ok(seen)
}

/// `overlap` over 0..n, each watching for at most `wait_ms`.
#[flow]
fn overlaps(n: u64, wait_ms: u64) -> Result<Vec<bool>, Error> {
    overlap::map(0..n, std::iter::repeat_n(wait_ms, n as usize))
}

// ---- waits, time, randomness, logs -----------------------------------------

/// Returns its inputs (never cached, so a resume must replay it).
#[checkpoint(cache = false)]
fn echo_pair(t: u64, r: u64) -> (u64, u64) {
    (t, r)
}

/// Takes the flow's time and a random number, journals them through a call,
/// then stops at a gate: a resume must see the same values.
#[flow]
fn clock_and_dice(flag: String) -> Result<(u64, u64), Error> {
    let t = cairn_guest::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let r = cairn_guest::random_u64();
    let pair = echo_pair(t, r)?;
    gate(flag)?;
    Ok(pair)
}

/// Asks for a number and doubles it.
#[flow]
fn ask(question: String) -> Result<i64, Error> {
    let before = add(1, 1)?;
    let n: i64 = cairn_guest::wait("number", &question)?;
    Ok(before + add(n, n)?)
}

/// Tries to wait from inside a checkpoint.
#[checkpoint]
fn waits_inside() -> Result<bool, Error> {
    cairn_guest::wait::<bool>("inside", "may a checkpoint wait?")
}

/// Runs `waits_inside`.
#[flow]
fn wait_in_checkpoint() -> Result<bool, Error> {
    waits_inside()
}

/// Logs from the flow, then calls a chatty checkpoint.
#[flow]
fn logged(text: String) -> Result<String, Error> {
    cairn_guest::log::info(&format!("starting with {text}"));
    let out = chatty(text)?;
    cairn_guest::log::warn("done");
    Ok(out)
}

/// Calls another checkpoint depending on the gate: a replay after the gate
/// opens diverges from its source at seq 1.
#[flow]
fn branchy(flag: String) -> Result<i64, Error> {
    match gate(flag) {
        Ok(_) => square(3),
        Err(_) => add(2, 2),
    }
}

// ---- replay keeps answers -------------------------------------------------

/// A step, an approval, then a gate that fails until its flag exists: a
/// replay that gets past the gate keeps the approval.
#[flow]
fn approved_gate(flag: String) -> Result<String, Error> {
    let first = step(1, 0)?;
    let approver: String = cairn_guest::wait("approval", &format!("Open the gate `{flag}`?"))?;
    let opened = gate(flag)?;
    Ok(format!("{opened} ({first}), approved by {approver}"))
}
