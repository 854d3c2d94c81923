//! A second build of `upgrade_v1`'s `order` (see there) that fetches the
//! parts before the price: the same calls in another order, which a check
//! must catch before anything runs; and of its `march`, taking the steps in
//! the reverse order.

use cairn_guest::{Error, checkpoint, flow};

/// The price of `n` items.
#[checkpoint]
fn price(n: i64) -> i64 {
    n * 10
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

/// v1's order with its first two steps swapped.
#[flow]
fn order(n: i64) -> Result<String, Error> {
    let parts = part::map(0..n)?;
    let price = price(n)?;
    let approved: bool = cairn_guest::wait("approve", "Ship this order?")?;
    if !approved {
        return Ok("not shipped".to_owned());
    }
    ship(price + parts.iter().sum::<i64>())
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

/// v1's march (same input) with its steps taken last to first: a check of
/// a march v1 has begun diverges at its first step.
#[flow]
fn march(steps: i64, ms: u64, gate: Option<String>) -> Result<i64, Error> {
    let mut total = 0;
    for i in (0..steps).rev() {
        total += step(i, ms, gate.clone())?;
    }
    Ok(total)
}
