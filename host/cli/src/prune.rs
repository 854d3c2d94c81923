//! `cairn executions prune --older-than AGE [--status S]... [--dry-run]`:
//! removes ended executions older than AGE with everything they own, in
//! bounded steps, on a journal or through a server (`POST /prune`), and
//! shows what it freed as a table (or `--json`, the host's
//! `PruneReport`).

use std::process::ExitCode;
use std::time::Duration;

use cairn_host::{Host, Policy, PruneError, PruneReport, PruneRequest};
use cairn_serve::ApiClient;
use serde_json::json;

use crate::args::{Global, PruneArgs};
use crate::exit::Exit;
use crate::table::Columns;
use crate::{render, setup};

/// `--older-than`: `45s`, `90m`, `12h`, `30d`, `2w`; a bare number is
/// seconds; `0` selects every ended execution.
pub(crate) fn age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(end);
    let number: u64 = digits.parse().map_err(|_| {
        format!(
            "`{}` is not an age like 30d (s, m, h, d or w)",
            crate::terminal::line(text)
        )
    })?;
    let seconds_per: u64 = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        other => {
            return Err(format!(
                "unknown unit `{}`; use s, m, h, d or w",
                crate::terminal::line(other)
            ));
        }
    };
    number
        .checked_mul(seconds_per)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{}` is too long", crate::terminal::line(text)))
}

fn request(args: &PruneArgs) -> PruneRequest {
    let mut request = PruneRequest::older_than(args.older_than).dry_run(args.dry_run);
    for status in &args.status {
        request = request.status(*status);
    }
    if let Some(n) = args.step_executions {
        request = request.step_executions(n as usize);
    }
    if let Some(n) = args.step_calls {
        request = request.step_calls(n);
    }
    request
}

/// How often progress is shown on stderr, after the first step's line.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Shows on stderr how far a prune got: after its first step, then at
/// most every [`PROGRESS_EVERY`].
fn with_progress(request: PruneRequest) -> PruneRequest {
    let last: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    request.on_step(move |report| {
        let Ok(mut last) = last.lock() else {
            return;
        };
        if last.is_some_and(|at| at.elapsed() < PROGRESS_EVERY) {
            return;
        }
        *last = Some(std::time::Instant::now());
        eprintln!(
            "cairn: {} executions ({} calls) {} so far, in {} steps",
            report.removed.executions,
            report.removed.calls,
            if report.dry_run { "counted" } else { "removed" },
            report.steps
        );
    })
}

impl From<PruneError> for Exit {
    fn from(e: PruneError) -> Exit {
        match e {
            PruneError::Journal(e) => Exit::from(e),
            other => Exit::bad_input(other),
        }
    }
}

/// On the journal file (or database) of `--journal`.
pub(crate) async fn prune(global: &Global, args: &PruneArgs) -> Result<ExitCode, Exit> {
    setup::existing_journal(global)?;
    // `--lease`: on a shared journal, how long the claims of a killed
    // prune keep others (and the next prune) off its last step.
    let host = Host::builder()
        .journal(&global.journal)
        .lease(global.lease)
        .policy(Policy::default())
        .open()?;
    let report = host.prune(&with_progress(request(args))).await?;
    host.close().await?;
    show(global, &report)
}

/// Through the server of `--server`.
pub(crate) async fn remote(
    global: &Global,
    client: &ApiClient,
    args: &PruneArgs,
) -> Result<ExitCode, Exit> {
    let body = json!({
        "older_than_secs": args.older_than.as_secs(),
        "status": args.status,
        "dry_run": args.dry_run,
        "step_executions": args.step_executions,
        "step_calls": args.step_calls,
    });
    let report: PruneReport = client
        .post("/prune", &body)
        .await
        .map_err(crate::remote::client_exit)?;
    show(global, &report)
}

/// The report: `--json`, or a table of what was removed on stdout and one
/// line on stderr.
fn show(global: &Global, report: &PruneReport) -> Result<ExitCode, Exit> {
    if global.json {
        render::json(report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let removed = &report.removed;
    let header = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let mut table = Columns::new(&["records", header]);
    let cache = removed.cache_entries + report.dangling_cache_entries;
    let rows: [(&str, String); 11] = [
        ("executions", removed.executions.to_string()),
        ("calls", removed.calls.to_string()),
        ("attempts", removed.attempts.to_string()),
        ("waits", removed.waits.to_string()),
        ("clock readings", removed.times.to_string()),
        ("retry timers", removed.timers.to_string()),
        ("build moves", removed.upgrades.to_string()),
        ("cache entries", cache.to_string()),
        ("components", report.components.to_string()),
        ("record bytes", bytes(removed.bytes)),
        ("component bytes", bytes(report.component_bytes)),
    ];
    for (what, count) in &rows {
        table.row([*what, count.as_str()]);
    }
    table.print();
    let verb = if report.dry_run {
        "would prune"
    } else {
        "pruned"
    };
    eprintln!(
        "cairn: {verb} {} executions that ended before {} in {} steps; kept {} that replays need and {} that were running or changed",
        removed.executions,
        crate::terminal::line(&report.cutoff),
        report.steps,
        report.kept_as_replay_sources,
        report.kept_busy,
    );
    Ok(ExitCode::SUCCESS)
}

/// A byte count, with binary units past a KiB.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {} ({n})", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_take_units_up_to_weeks_and_refuse_the_rest() {
        assert_eq!(age("45"), Ok(Duration::from_secs(45)));
        assert_eq!(age("90m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(age("30d"), Ok(Duration::from_secs(2_592_000)));
        assert_eq!(age("2w"), Ok(Duration::from_secs(1_209_600)));
        assert_eq!(age("0"), Ok(Duration::ZERO));
        assert!(age("3y").is_err());
        assert!(age("d").is_err());
        assert!(age("-1d").is_err());
        assert!(age("99999999999999999999d").is_err());
        assert!(age(&format!("{}w", u64::MAX / 2)).is_err());
    }

    #[test]
    fn bytes_read_in_binary_units() {
        assert_eq!(bytes(12), "12 B");
        assert_eq!(bytes(1536), "1.5 KiB (1536)");
        assert_eq!(bytes(3 << 20), "3.0 MiB (3145728)");
    }
}
