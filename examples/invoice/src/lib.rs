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

#[cfg(test)]
mod tests {
    //! Native tests: `cargo test -p invoice`, the README's replay story
    //! without the host: the typo fails `check_amounts`, the corrected
    //! amounts go through.

    use cairn_guest::testing::{FlowTest, json};

    use super::*;

    fn lines(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_good_invoice_is_totalled_and_rendered() {
        let run = FlowTest::new().run(|| {
            invoice(
                "ACME".to_owned(),
                lines(&["widget 12.00", "gadget 40.00", "bolt 5.50"]),
            )
        });
        assert_eq!(run.output, Ok("Invoice for ACME: 57.50".to_owned()));
        assert_eq!(
            run.call_ids(),
            ["parse_lines", "check_amounts", "total", "render"]
        );
        assert_eq!(
            run.call("parse_lines").map(|c| &c.output),
            Some(&Ok(json!([1200, 4000, 550])))
        );
    }

    #[test]
    fn a_negative_amount_fails_the_run_at_check_amounts() {
        let run = FlowTest::new().run(|| {
            invoice(
                "ACME".to_owned(),
                lines(&["widget 12.00", "gadget -40.00", "bolt 5.50"]),
            )
        });
        assert_eq!(
            run.output,
            Err(Error::Failed {
                checkpoint: "check_amounts".to_owned(),
                message: "line 2: the amount -4000 is negative".to_owned(),
            })
        );
        assert_eq!(run.call_ids(), ["parse_lines", "check_amounts"]);
        let check = run.call("check_amounts").expect("recorded");
        assert_eq!(check.attempts.len(), 1, "no retries: one attempt");
    }

    #[test]
    fn parse_lines_reads_cents_and_refuses_what_is_not_an_amount() {
        assert_eq!(
            parse_lines(lines(&["a 1.05", "b -2.50", "c 3"])),
            Ok(vec![105, -250, 300])
        );
        assert!(matches!(
            parse_lines(lines(&["a twelve"])),
            Err(Error::Failed { .. })
        ));
    }
}
