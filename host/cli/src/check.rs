//! `cairn check <new.wasm>`: a new build's flows against the journal of
//! every selected execution, in a dry run that runs no checkpoint and
//! writes nothing; a table (or `--json`), and exit code 1 when anything
//! diverges or fails.

use std::process::ExitCode;

use cairn_host::{CheckError, CheckReport, CheckRequest, Clock, Host, SystemClock, Verdict};

use crate::args::{CheckArgs, Global};
use crate::exit::{Exit, code};
use crate::table::Columns;
use crate::terminal::line;
use crate::{limits, render, setup};

impl From<CheckError> for Exit {
    fn from(e: CheckError) -> Exit {
        match e {
            CheckError::Journal(e) => Exit::from(e),
            e @ (CheckError::UnknownFlow { .. } | CheckError::UnregisteredFlow { .. }) => {
                Exit::bad_input(e)
            }
            other => Exit::host(other),
        }
    }
}

/// The journal, read-only (a check writes nothing), with the CLI's engine.
pub(crate) fn open_read_only(global: &Global) -> Result<Host, Exit> {
    setup::existing_journal(global)?;
    Ok(Host::builder()
        .journal(&global.journal)
        .read_only(true)
        .engine(setup::engine(global, None)?)
        .open()?)
}

pub(crate) async fn check(global: &Global, args: &CheckArgs) -> Result<ExitCode, Exit> {
    let host = open_read_only(global)?;
    let component = host.load_file(&args.component).await?;
    let mut request = CheckRequest::component(component);
    if let Some(flow) = &args.flow {
        request = request.flow(flow);
    }
    for status in &args.status {
        request = request.status(*status);
    }
    if let Some(since) = &args.since {
        request = request.since_us(since_us(since)?);
    }
    let report = host.check(&request).await?;
    finish(global, &report)
}

/// Shows `report` (a table, or `--json`) and says how it ended: exit code
/// 1 when anything diverges or fails; the same on a journal and through a
/// server.
pub(crate) fn finish(global: &Global, report: &CheckReport) -> Result<ExitCode, Exit> {
    if global.json {
        render::json(report)?;
    } else {
        print(report);
    }
    Ok(if report.all_compatible() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(code::FAILED)
    })
}

/// `--since`: whole seconds since the Unix epoch, or a duration ago
/// (`90m`, `2h`).
pub(crate) fn since_us(text: &str) -> Result<u64, Exit> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .ok()
            .and_then(|s| s.checked_mul(1_000_000))
            .ok_or_else(|| Exit::bad_input(anyhow::anyhow!("--since {text} is out of range")));
    }
    let ago = limits::parse_duration(text)
        .map_err(|e| Exit::bad_input(anyhow::anyhow!("--since: {e}")))?;
    let ago = u64::try_from(ago.as_micros()).unwrap_or(u64::MAX);
    Ok(SystemClock.now_us().saturating_sub(ago))
}

/// One row per execution, then the counts.
fn print(report: &CheckReport) {
    let mut table = Columns::new(&["ID", "FLOW", "STATUS", "VERDICT", "CALLS", "DETAIL"]);
    for check in &report.executions {
        let detail = match &check.verdict {
            Verdict::Compatible { ends_at } => format!("ends at {ends_at}"),
            Verdict::Diverges { divergence } => format!(
                "seq {}: the journal has {}, the new flow calls {}",
                divergence.seq, divergence.expected, divergence.found
            ),
            Verdict::Fails { failure } => format!("{:?}: {}", failure.kind, failure.message),
            _ => String::new(),
        };
        table.row([
            &check.id.to_string(),
            &check.flow,
            check.status.as_str(),
            check.verdict.name(),
            &check.calls.to_string(),
            &detail,
        ]);
    }
    table.print();
    let flows: Vec<String> = report.flows.iter().map(|f| line(f).into_owned()).collect();
    eprintln!(
        "cairn: checked {} executions of {}: {} compatible, {} diverge, {} fail",
        report.executions.len(),
        flows.join(", "),
        report.compatible,
        report.diverges,
        report.fails
    );
}
