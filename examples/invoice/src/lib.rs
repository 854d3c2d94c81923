//! An invoice flow for the replay guide in the README: a line with a typo
//! makes the run fail at `check_amounts`; replaying it with a corrected
//! output of `parse_lines` reuses nothing downstream of the fix and
//! everything upstream of it.
//!
//! ```text
//! cairn run target/wasm32-wasip2/guest/invoice.wasm \
//!     --input '{"customer": "ACME", "lines": ["widget 12.00", "gadget -40.00", "bolt 5.50"]}'
//! cairn executions replay 1 --override parse_lines='[1200, 4000, 550]'
//! ```

use cairn_guest::{Error, checkpoint, flow};

/// Reads `name amount` lines into amounts in cents.
#[checkpoint(runtime = "isolated")]
fn parse_lines(lines: Vec<String>) -> Result<Vec<i64>, String> {
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let amount = line.rsplit(' ').next().unwrap_or_default();
            let (units, cents) = amount.split_once('.').unwrap_or((amount, "0"));
            let units: i64 = units
                .parse()
                .map_err(|_| format!("line {}: `{amount}` is not an amount", i + 1))?;
            let cents: i64 = cents
                .parse()
                .map_err(|_| format!("line {}: `{amount}` is not an amount", i + 1))?;
            Ok(units * 100 + units.signum() * cents)
        })
        .collect()
}

/// Refuses negative amounts.
#[checkpoint]
fn check_amounts(amounts: Vec<i64>) -> Result<Vec<i64>, String> {
    match amounts.iter().position(|a| *a < 0) {
        Some(i) => Err(format!(
            "line {}: the amount {} is negative",
            i + 1,
            amounts[i]
        )),
        None => Ok(amounts),
    }
}

/// Adds them up.
#[checkpoint]
fn total(amounts: Vec<i64>) -> i64 {
    amounts.iter().sum()
}

/// Renders the invoice.
#[checkpoint]
fn render(customer: String, cents: i64) -> String {
    format!("Invoice for {customer}: {}.{:02}", cents / 100, cents % 100)
}

/// Parses, checks, totals and renders an invoice.
#[flow]
fn invoice(customer: String, lines: Vec<String>) -> Result<String, Error> {
    let amounts = parse_lines(lines)?;
    let amounts = check_amounts(amounts)?;
    let cents = total(amounts)?;
    render(customer, cents)
}
