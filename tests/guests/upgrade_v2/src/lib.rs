//! A second build of `upgrade_v1`'s flows (see there). `order` changes
//! compatibly: a faster `price`, a log line, and a checkpoint appended at
//! its end; `grow` maps one more part than v1; `tally` refuses a price v1
//! accepted, so it fails on v1's recorded data; `check_stock` has v1's bug fixed,
//! so a `restock` that failed on it succeeds once upgraded and retried;
//! `march` reports how it ended with a checkpoint appended at its end.

use cairn_guest::{Error, checkpoint, flow};

/// The price of `n` items, faster than v1 and the same.
#[checkpoint]
fn price(n: i64) -> i64 {
    n * 10
}

/// One part, isolated (as in v1).
#[checkpoint(runtime = "isolated")]
fn part(i: i64) -> i64 {
    i * 100
}

/// Ships an order of `total` (as in v1).
#[checkpoint]
fn ship(total: i64) -> String {
    format!("shipped {total}")
}

/// Adds up parts (as in v1).
#[checkpoint]
fn sum_parts(parts: Vec<i64>) -> i64 {
    parts.iter().sum()
}

/// New in v2: keeps a record of what was shipped.
#[checkpoint]
fn audit(note: String) -> String {
    format!("audited: {note}")
}

/// v1's order, logging its price and auditing what it shipped at the end.
#[flow]
fn order(n: i64) -> Result<String, Error> {
    let price = price(n)?;
    cairn_guest::log::info(&format!("price {price}"));
    let parts = part::map(0..n)?;
    let approved: bool = cairn_guest::wait("approve", "Ship this order?")?;
    if !approved {
        return Ok("not shipped".to_owned());
    }
    let shipped = ship(price + parts.iter().sum::<i64>())?;
    audit(shipped)
}

/// v1's grow with one more part.
#[flow]
fn grow(n: i64) -> Result<i64, Error> {
    let parts = part::map(0..n + 1)?;
    let _go: bool = cairn_guest::wait("go", "Add them up?")?;
    sum_parts(parts)
}

/// v1's tally, refusing prices above 20.
#[flow]
fn tally(n: i64) -> Result<i64, Error> {
    let price = price(n)?;
    if price > 20 {
        return Err(Error::msg(format!("a price of {price} is over the limit")));
    }
    let _go: bool = cairn_guest::wait("go", "Go on?")?;
    Ok(price)
}

/// Whether `n` items are in stock: v1's bug fixed.
#[checkpoint]
fn check_stock(n: i64) -> Result<i64, String> {
    Ok(n)
}

/// v1's restock, unchanged but for the fixed checkpoint.
#[flow]
fn restock(n: i64) -> Result<i64, Error> {
    let price = price(n)?;
    let stock = check_stock(n)?;
    Ok(price + stock)
}

/// One step of a long job, held behind its gate (as in v1).
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

/// New in v2: says how a march ended.
#[checkpoint]
fn report_march(total: i64) -> String {
    format!("marched {total} on v2")
}

/// v1's march, with a report appended at its end: an execution moved to
/// v2 mid-run ends with v2's report.
#[flow]
fn march(steps: i64, ms: u64, gate: Option<String>) -> Result<String, Error> {
    let mut total = 0;
    for i in 0..steps {
        total += step(i, ms, gate.clone())?;
    }
    report_march(total)
}
