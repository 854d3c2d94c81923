//! Cron expressions of schedules, read by the `croner` crate: the standard
//! five fields (minute, hour, day of month, month, day of week), or six
//! with seconds first; the `L`, `#` and `W` forms, names of months and
//! days, and `@hourly`-style nicknames. Times are UTC.

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// The longest expression taken: real ones are a few dozen characters.
const MAX_LEN: usize = 256;

/// A schedule's parsed cron expression.
#[derive(Debug, Clone)]
pub(crate) struct CronExpr(Cron);

impl CronExpr {
    /// Parses `text`, or says what is wrong with it (also when it is
    /// never due after `now_us`).
    pub(crate) fn parse(text: &str, now_us: u64) -> Result<CronExpr, String> {
        if text.len() > MAX_LEN {
            return Err(format!(
                "it is {} characters long; at most {MAX_LEN} are taken",
                text.len()
            ));
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(text).map_err(|e| e.to_string())?;
        let expr = CronExpr(cron);
        // An expression that never comes due (30 February) is refused now,
        // not found out by a scheduler later.
        if expr.next_after(now_us).is_none() {
            return Err("it is never due".to_owned());
        }
        Ok(expr)
    }

    /// The first time it is due strictly after `after_us` (µs since the
    /// Unix epoch), in µs; `None` when it is never due again.
    pub(crate) fn next_after(&self, after_us: u64) -> Option<u64> {
        let after = DateTime::<Utc>::from_timestamp_micros(i64::try_from(after_us).ok()?)?;
        let next = self.0.find_next_occurrence(&after, false).ok()?;
        u64::try_from(next.timestamp_micros()).ok()
    }

    /// How many times it was due after `after_us` up to `until_us`
    /// (included), counting at most `cap`.
    pub(crate) fn count_between(&self, after_us: u64, until_us: u64, cap: u64) -> u64 {
        let mut count = 0;
        let mut at = after_us;
        while count < cap {
            match self.next_after(at) {
                Some(next) if next <= until_us => {
                    count += 1;
                    at = next;
                }
                _ => break,
            }
        }
        count
    }
}
