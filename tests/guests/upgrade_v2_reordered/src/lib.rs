//! A second build of `upgrade_v1`'s `order` (see there) that fetches the
//! parts before the price: the same calls in another order, which a check
//! must catch before anything runs.

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
