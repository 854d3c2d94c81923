//! The numbers an operator gives (flags and the policy file): how they are
//! written, and the ranges that make sense. A value outside its range is
//! refused with the range, never cut, wrapped or left to overflow.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::terminal;

/// `--stack`: wasmtime needs some native stack to run anything at all, and
/// the async stack is this plus 1 MiB, reserved per running call.
pub(crate) const STACK: RangeInclusive<u64> =
    (cairn_host::MIN_WASM_STACK as u64)..=(cairn_host::MAX_WASM_STACK as u64);
/// `--memory`: from one WebAssembly page (a component that needs more to
/// start is refused before it runs, with what it needs) to the engine's
/// largest memory (`EngineBuilder::max_memory_bytes`, 1 GiB by default, which
/// the CLI keeps; above it the limit would be cut silently).
pub(crate) const MEMORY: RangeInclusive<u64> = cairn_host::MIN_MEMORY_BYTES..=(1 << 30);
/// `--max-output`: a checkpoint's output is journaled and held in memory.
pub(crate) const MAX_OUTPUT: RangeInclusive<u64> = 1..=cairn_host::MAX_OUTPUT_BYTES;
/// `--max-held`: at least one output's worth, at most what a host has.
pub(crate) const MAX_HELD: RangeInclusive<u64> = (1 << 20)..=(1 << 40);
/// `--max-message`: guest messages are journaled and shown.
pub(crate) const MAX_MESSAGE: RangeInclusive<u64> = 64..=cairn_host::MAX_MESSAGE_BYTES;
/// `--log-bytes`: 0 keeps no captured output at all.
pub(crate) const LOG_BYTES: RangeInclusive<u64> = 0..=cairn_host::MAX_LOG_BYTES;
/// `--timeout`: a deadline past a day is a mistake, and past the runtime's
/// clock arithmetic it would never fire.
pub(crate) const TIMEOUT: RangeInclusive<Duration> =
    Duration::from_millis(1)..=cairn_host::MAX_TIMEOUT;
/// `--fuel`: no fuel at all cannot run a single instruction.
pub(crate) const FUEL: RangeInclusive<u64> = 1..=u64::MAX;

/// The largest `--input-file`.
pub(crate) const INPUT_FILE_BYTES: u64 = 64 << 20;
/// The largest `--policy` file.
pub(crate) const POLICY_FILE_BYTES: u64 = 1 << 20;

/// `1024`, `64KiB`, `64MiB`, `1GiB` (also `KB`/`MB`/`GB` as powers of 1000).
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let (number, unit) = split(text);
    let factor: u64 = match unit {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit `{}`; use B, KiB, MiB or GiB",
                terminal::line(other)
            ));
        }
    };
    number
        .ok_or_else(|| not_a(text, "size like 64MiB"))?
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| too_large(text))
}

/// `250ms`, `30s`, `2m`, `1h`; a bare number is seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = split(text);
    let millis_per: u64 = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        other => {
            return Err(format!(
                "unknown duration unit `{}`; use ms, s, m or h",
                terminal::line(other)
            ));
        }
    };
    number
        .ok_or_else(|| not_a(text, "duration like 30s"))?
        .and_then(|n| n.checked_mul(millis_per))
        .map(Duration::from_millis)
        .ok_or_else(|| too_large(text))
}

/// The leading digits and the unit after them: `None` when there are no
/// digits, `Some(None)` when they do not fit a u64.
fn split(text: &str) -> (Option<Option<u64>>, &str) {
    let text = text.trim();
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(end);
    let number = (!digits.is_empty()).then(|| digits.parse().ok());
    (number, unit.trim())
}

fn not_a(text: &str, what: &str) -> String {
    format!("`{}` is not a {what}", terminal::line(text.trim()))
}

fn too_large(text: &str) -> String {
    format!("`{}` is too large", terminal::line(text.trim()))
}

/// A size within `range`, for `what` (a flag or policy key).
fn size_in(text: &str, what: &str, range: &RangeInclusive<u64>) -> Result<u64, String> {
    let bytes = parse_size(text)?;
    if range.contains(&bytes) {
        return Ok(bytes);
    }
    Err(format!(
        "{what} must be from {} to {}, not {}",
        size_name(*range.start()),
        size_name(*range.end()),
        terminal::line(text.trim())
    ))
}

pub(crate) fn stack(text: &str) -> Result<u64, String> {
    size_in(text, "the stack", &STACK)
}

pub(crate) fn memory(text: &str) -> Result<u64, String> {
    size_in(text, "the memory", &MEMORY)
}

pub(crate) fn max_output(text: &str) -> Result<u64, String> {
    size_in(text, "the largest output", &MAX_OUTPUT)
}

pub(crate) fn log_bytes(text: &str) -> Result<u64, String> {
    size_in(text, "the captured output per stream", &LOG_BYTES)
}

pub(crate) fn timeout(text: &str) -> Result<Duration, String> {
    let timeout = parse_duration(text)?;
    if TIMEOUT.contains(&timeout) {
        return Ok(timeout);
    }
    Err(format!(
        "the timeout must be from 1ms to 24h, not {}",
        terminal::line(text.trim())
    ))
}

/// The pause before a checkpoint's first retry (`--retry-delay`): 0 to 60 s.
pub(crate) fn retry_delay(text: &str) -> Result<Duration, String> {
    let delay = parse_duration(text)?;
    if delay <= Duration::from_secs(60) {
        return Ok(delay);
    }
    Err(format!(
        "the retry delay must be at most 60s, not {}",
        terminal::line(text.trim())
    ))
}

/// A count limit (`--max-calls`, ...): a whole number from 1 to `u32::MAX`.
pub(crate) fn count(text: &str) -> Result<u32, String> {
    match split(text) {
        (Some(Some(n)), "") => count_in_range(n),
        (Some(None), "") => Err(too_large(text)),
        _ => Err(not_a(text, "whole number")),
    }
}

/// A count limit, from a flag or the policy file.
pub(crate) fn count_in_range(n: u64) -> Result<u32, String> {
    match u32::try_from(n) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "a count limit must be from 1 to {}, not {n}",
            u32::MAX
        )),
    }
}

/// `--max-held`: what one execution's calls may keep in the host at once.
pub(crate) fn max_held(text: &str) -> Result<u64, String> {
    size_in(text, "the bytes held per execution", &MAX_HELD)
}

/// `--max-message`: the longest error or question a guest hands over.
pub(crate) fn max_message(text: &str) -> Result<u64, String> {
    size_in(text, "the longest message", &MAX_MESSAGE)
}

/// `--flow-fuel` as written on the command line: the same units and range
/// as `--fuel`.
pub(crate) fn flow_fuel_text(text: &str) -> Result<u64, String> {
    fuel_text(text)
}

/// `--fuel` as written on the command line.
pub(crate) fn fuel_text(text: &str) -> Result<u64, String> {
    let fuel = match split(text) {
        (Some(Some(fuel)), "") => fuel,
        (Some(None), "") => return Err(too_large(text)),
        _ => return Err(not_a(text, "number of fuel units")),
    };
    fuel_in_range(fuel)
}

/// Fuel, from a flag or the policy file.
pub(crate) fn fuel_in_range(fuel: u64) -> Result<u64, String> {
    if FUEL.contains(&fuel) {
        return Ok(fuel);
    }
    Err(format!(
        "the fuel must be from {} to {}, not {fuel}",
        FUEL.start(),
        FUEL.end()
    ))
}

/// `64KiB`, `1GiB`, `1000B`: the largest binary unit that divides `bytes`.
pub(crate) fn size_name(bytes: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes != 0 && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    format!("{bytes}B")
}

/// `250ms`, `30s`, `2m`, `1h`: the largest unit that divides `duration`
/// (whole milliseconds, as [`parse_duration`] makes them), so that it parses
/// back to the same value.
pub(crate) fn duration_name(duration: Duration) -> String {
    let millis = duration.as_millis();
    for (per, unit) in [(3_600_000, "h"), (60_000, "m"), (1_000, "s")] {
        if millis != 0 && millis.is_multiple_of(per) {
            return format!("{}{unit}", millis / per);
        }
    }
    format!("{millis}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_without_overflow() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size(" 2 KB "), Ok(2000));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_size("18446744073709551615KiB").is_err());
        assert!(parse_size("18446744073709551616").is_err());
        assert!(parse_size("99999999999999999999999999GiB").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn durations_parse_without_overflow() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("99999999999999999999h").is_err());
        assert!(parse_duration("18446744073709551615h").is_err());
        assert!(parse_duration("18446744073709551615s").is_err());
        assert_eq!(
            parse_duration("18446744073709551615ms"),
            Ok(Duration::from_millis(u64::MAX))
        );
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn values_outside_their_range_are_refused_with_the_range() {
        assert_eq!(stack("512KiB"), Ok(512 << 10));
        assert_eq!(stack("64KiB"), Ok(64 << 10));
        assert_eq!(stack("64MiB"), Ok(64 << 20));
        let error = stack("18446744073709551615").expect_err("too big");
        assert!(error.contains("from 64KiB to 64MiB"), "{error}");
        assert!(stack("1KiB").is_err());

        assert_eq!(memory("1MiB"), Ok(1 << 20));
        assert_eq!(memory("1GiB"), Ok(1 << 30));
        let error = memory("32KiB").expect_err("too small");
        assert!(error.contains("from 64KiB to 1GiB"), "{error}");
        assert!(memory("2GiB").is_err());

        assert!(max_output("0").is_err());
        assert_eq!(max_output("1"), Ok(1));
        assert!(max_output("2GiB").is_err());
        assert_eq!(log_bytes("0"), Ok(0));
        assert!(log_bytes("65MiB").is_err());

        assert_eq!(timeout("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(timeout("24h"), Ok(Duration::from_secs(86_400)));
        let error = timeout("0").expect_err("zero");
        assert!(error.contains("from 1ms to 24h"), "{error}");
        assert!(timeout("25h").is_err());
        assert!(timeout("99999999999999999999h").is_err());

        assert_eq!(fuel_text("1"), Ok(1));
        assert_eq!(fuel_text("18446744073709551615"), Ok(u64::MAX));
        assert!(fuel_text("0").is_err());
        assert!(fuel_text("18446744073709551616").is_err());
        assert!(fuel_text("1k").is_err());
        assert!(fuel_in_range(0).is_err());
    }

    #[test]
    fn sizes_are_named_in_the_largest_unit() {
        assert_eq!(size_name(64 << 10), "64KiB");
        assert_eq!(size_name(1 << 30), "1GiB");
        assert_eq!(size_name(1), "1B");
        assert_eq!(size_name(0), "0B");
        assert_eq!(size_name(1536), "1536B");
    }

    #[test]
    fn durations_are_named_so_they_parse_back() {
        for (text, name) in [
            ("250ms", "250ms"),
            ("1500ms", "1500ms"),
            ("30", "30s"),
            ("120s", "2m"),
            ("90s", "90s"),
            ("24h", "24h"),
            ("0", "0ms"),
        ] {
            let duration = parse_duration(text).expect("a duration");
            assert_eq!(duration_name(duration), name);
            assert_eq!(parse_duration(name), Ok(duration));
        }
    }
}
