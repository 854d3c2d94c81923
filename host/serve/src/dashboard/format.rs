//! How values look on the pages: statuses with colour and icon, times,
//! durations, JSON.

use cairn_host::ExecutionStatus;
use serde_json::Value;

use super::html::Html;

/// JSON longer than this many lines is folded into a `<details>`.
const FOLD_LINES: usize = 12;
/// The most characters of one JSON value (or one log) a page shows.
pub(crate) const MAX_JSON_CHARS: usize = 200_000;

/// A status as a badge: its colour comes from the class, its icon and word
/// say the same for those who do not see the colour.
pub(crate) fn status(html: &mut Html, status: ExecutionStatus) {
    badge(html, status.as_str());
}

/// A badge for a status word (`running`, `ok`, `trapped`, ...).
pub(crate) fn badge(html: &mut Html, word: &str) {
    let (class, icon) = match word {
        "running" => ("running", "⟳"),
        "waiting" => ("waiting", "‖"),
        "completed" | "ok" => ("ok", "✓"),
        "failed" => ("failed", "✗"),
        "trapped" => ("trapped", "⚠"),
        "cancelled" => ("cancelled", "⊘"),
        _ => ("other", "•"),
    };
    html.raw("<span class=\"status status-")
        .raw(class)
        .raw("\" data-status=\"")
        .raw(class)
        .raw("\"><span aria-hidden=\"true\">")
        .raw(icon)
        .raw("</span> ")
        .text(word)
        .raw("</span>");
}

/// A journal time (`2026-12-02T06:15:19.123456Z`) as `2026-12-02 06:15:19`,
/// the full value in a `<time>`.
pub(crate) fn time(html: &mut Html, rfc3339: &str) {
    let short = rfc3339
        .get(..19)
        .map_or_else(|| rfc3339.to_owned(), |s| s.replace('T', " "));
    html.raw("<time")
        .attr("datetime", rfc3339)
        .raw(">")
        .text(&short)
        .raw("</time>");
}

/// `µs` as `850 µs`, `12.3 ms`, `4.20 s`, `3 min 05 s`, `2 h 07 min`.
pub(crate) fn duration(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{:.1} ms", us as f64 / 1e3),
        1_000_000..60_000_000 => format!("{:.2} s", us as f64 / 1e6),
        _ => {
            let s = us / 1_000_000;
            if s < 3600 {
                format!("{} min {:02} s", s / 60, s % 60)
            } else {
                format!("{} h {:02} min", s / 3600, s % 3600 / 60)
            }
        }
    }
}

/// A JSON value, pretty-printed in a `<pre>`; folded when long.
pub(crate) fn json(html: &mut Html, value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let lines = text.lines().count();
    let text = cut(&text);
    if lines > FOLD_LINES {
        html.raw("<details class=\"json\"><summary>")
            .num(lines)
            .raw(" lines of JSON</summary><pre>")
            .text(&text)
            .raw("</pre></details>");
    } else {
        html.raw("<pre class=\"json\">").text(&text).raw("</pre>");
    }
}

/// `text` when it is at most [`MAX_JSON_CHARS`] bytes, else its start and
/// a note that the API has the rest: guest text never makes a page huge.
pub(crate) fn cut(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_JSON_CHARS {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut end = MAX_JSON_CHARS;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!("{}\n… (cut: the API has all of it)", &text[..end]))
}

/// Microseconds since the Unix epoch of a journal time
/// (`YYYY-MM-DDTHH:MM:SS[.ffffff]Z`, the only form the journal writes).
pub(crate) fn micros(rfc3339: &str) -> Option<u64> {
    let b = rfc3339.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> { rfc3339.get(from..to)?.parse().ok() };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let fraction = match rfc3339.get(19..)?.strip_prefix('.') {
        Some(rest) => {
            let digits: String = rest
                .chars()
                .take_while(char::is_ascii_digit)
                .take(6)
                .collect();
            let scale = 10i64.pow(6 - u32::try_from(digits.len()).ok()?);
            digits.parse::<i64>().ok()? * scale
        }
        None => 0,
    };
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    u64::try_from(seconds.checked_mul(1_000_000)?.checked_add(fraction)?).ok()
}

/// Now, in µs since the Unix epoch (for the length of what still runs;
/// display only, never journaled).
pub(crate) fn now_us() -> u64 {
    use cairn_host::Clock as _;
    cairn_host::SystemClock.now_us()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_times_read_back() {
        assert_eq!(micros("1970-01-01T00:00:00.000000Z"), Some(0));
        assert_eq!(
            micros("2000-02-29T00:00:00.000001Z"),
            Some(951_782_400_000_001)
        );
        assert_eq!(micros("2000-02-29T00:00:00Z"), Some(951_782_400_000_000));
        assert_eq!(micros("yesterday"), None);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(850), "850 µs");
        assert_eq!(duration(12_345), "12.3 ms");
        assert_eq!(duration(4_200_000), "4.20 s");
        assert_eq!(duration(185_000_000), "3 min 05 s");
        assert_eq!(duration(7_620_000_000), "2 h 07 min");
    }
}
