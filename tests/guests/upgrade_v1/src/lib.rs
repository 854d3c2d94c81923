//! The first build of the flows that code upgrades are tested with
//! (`cairn check`, `cairn executions upgrade`). `upgrade_v2` and
//! `upgrade_v2_reordered` are later builds of the same flows: separate
//! crates, sharing nothing but the SDK, so that each is a real build with
//! its own hash.

use cairn_guest::{Error, checkpoint, flow};

/// The price of `n` items, the slow way.
#[checkpoint]
fn price(n: i64) -> i64 {
    let mut total = 0;
    for _ in 0..n {
        total += 10;
    }
    total
}

/// One part, isolated.
#[checkpoint(runtime = "isolated")]
fn part(i: i64) -> i64 {
    i * 100
}

/// Ships an order of `total`.
#[checkpoint]
fn ship(total: i64) -> String {
    format!("shipped {total}")
}

/// Adds up parts.
#[checkpoint]
fn sum_parts(parts: Vec<i64>) -> i64 {
    parts.iter().sum()
}

/// An order: its price, its `n` parts (a map), a person's approval, then
/// shipping. An execution waits at `approve` until it is answered.
#[flow]
fn order(n: i64) -> Result<String, Error> {
    let price = price(n)?;
    let parts = part::map(0..n)?;
    let approved: bool = cairn_guest::wait("approve", "Ship this order?")?;
    if !approved {
        return Ok("not shipped".to_owned());
    }
    ship(price + parts.iter().sum::<i64>())
}

/// `n` parts (a map), then a wait, then their sum: the map is the end of
/// the record while the execution waits, and the sum follows it once it is
/// answered and resumed.
#[flow]
fn grow(n: i64) -> Result<i64, Error> {
    let parts = part::map(0..n)?;
    let _go: bool = cairn_guest::wait("go", "Add them up?")?;
    sum_parts(parts)
}

/// A price, then a wait for a go-ahead: the cheapest waiting execution.
#[flow]
fn tally(n: i64) -> Result<i64, Error> {
    let price = price(n)?;
    let _go: bool = cairn_guest::wait("go", "Go on?")?;
    Ok(price)
}

/// Whether `n` items are in stock: v1 has a bug and refuses more than 5.
#[checkpoint]
fn check_stock(n: i64) -> Result<i64, String> {
    if n > 5 {
        return Err(format!("cannot count {n} items"));
    }
    Ok(n)
}

/// A price, then a stock check that fails in v1 for more than 5 items:
/// such an execution fails, and is retried once upgraded to v2's fix.
#[flow]
fn restock(n: i64) -> Result<i64, Error> {
    let price = price(n)?;
    let stock = check_stock(n)?;
    Ok(price + stock)
}

/// One step of a long job, `ms` milliseconds of work (isolated, so that a
/// step is a real attempt in its own store; not cached, so every run of it
/// is one). With a `gate`, it then holds until the file `/marks/{gate}-{i}`
/// (this step let through) or `/marks/{gate}` (every step) exists: a test
/// paces the march with them, however fast or slow the machine.
#[checkpoint(runtime = "isolated", cache = false)]
fn step(i: i64, ms: u64, gate: Option<String>) -> i64 {
    std::thread::sleep(std::time::Duration::from_millis(ms));
    if let Some(gate) = gate {
        let (one, all) = (format!("/marks/{gate}-{i}"), format!("/marks/{gate}"));
        while !std::path::Path::new(&one).exists() && !std::path::Path::new(&all).exists() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    i
}

/// `steps` steps one after the other, each behind `gate` when one is
/// given (see `step`): an execution that is running for a while, which a
/// server moves to another build mid-run.
#[flow]
fn march(steps: i64, ms: u64, gate: Option<String>) -> Result<i64, Error> {
    let mut total = 0;
    for i in 0..steps {
        total += step(i, ms, gate.clone())?;
    }
    Ok(total)
}
