//! Human and JSON output. Everything human output shows from a guest or
//! the journal goes through [`terminal`] first.

use cairn_host::{
    AttemptOutcome, CallSource, CallStatus, Event, ExecutionDetail, ExecutionStatus,
    ExecutionSummary, WaitView,
};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::exit::Exit;
use crate::table::Columns;
use crate::terminal::{self, line};

/// Pretty JSON on stdout, with guest text's terminal and bidi controls
/// escaped (`\u202e`): the same value when parsed, inert when shown.
pub(crate) fn json(value: &impl Serialize) -> Result<(), Exit> {
    let text = cairn_host::json_out::to_string_pretty(value)
        .map_err(|e| Exit::host(anyhow::anyhow!(e)))?;
    println!("{text}");
    Ok(())
}

/// How many call lines are printed one by one before progress switches to
/// a summary line at most every [`SUMMARY_EVERY`].
const CALL_LINES: u64 = 40;
const SUMMARY_EVERY: Duration = Duration::from_millis(500);

/// Progress on stderr: a line per call for small executions; for big
/// fan-outs, a running count instead of thousands of lines.
#[derive(Default)]
pub(crate) struct Progress {
    submitted: u64,
    completed: u64,
    failed: u64,
    lines: u64,
    last_summary: Option<Instant>,
}

impl Progress {
    pub(crate) fn on(&mut self, event: &Event) {
        match event {
            Event::ExecutionStarted { exec, flow } => {
                eprintln!("cairn: execution {exec} of flow `{}` started", line(flow))
            }
            Event::CallSubmitted { .. } => self.submitted += 1,
            Event::AttemptFailed {
                call_id,
                attempt,
                outcome,
                will_retry,
                ..
            } => {
                if !will_retry {
                    self.failed += 1;
                }
                let why = match outcome {
                    AttemptOutcome::Failed { message } => format!("failed: {}", line(message)),
                    AttemptOutcome::Trapped { kind, message } => {
                        format!("trapped ({}): {}", line(&kind.to_string()), line(message))
                    }
                    _ => "failed".to_owned(),
                };
                let next = if *will_retry { ", retrying" } else { "" };
                let call_id = line(call_id);
                self.line(format!("  ✗ {call_id:<24} attempt {attempt} {why}{next}"));
            }
            Event::CallCompleted {
                seq,
                call_id,
                source,
                duration_us,
                ..
            } => {
                self.completed += 1;
                let call_id = line(call_id);
                let text = match source {
                    CallSource::Executed => {
                        format!("  ✓ {call_id:<24} seq {seq:<6} {}", duration(*duration_us))
                    }
                    other => format!("  ↺ {call_id:<24} seq {seq:<6} {}", source_name(*other)),
                };
                self.line(text);
            }
            Event::CallReplayed { seq, call_id, .. } => {
                self.completed += 1;
                let call_id = line(call_id);
                self.line(format!("  ↺ {call_id:<24} seq {seq:<6} from the journal"));
            }
            Event::ExecutionResumed { exec } => eprintln!("cairn: execution {exec} resumed"),
            Event::ReplayDiverged {
                seq, source, now, ..
            } => eprintln!(
                "cairn: the replay diverges from its source at seq {seq}: the source called {}, this run calls {}; later calls run live",
                line(source),
                line(now)
            ),
            Event::FlowRetrying { exec, retries_left } => eprintln!(
                "cairn: execution {exec} failed; running the flow again ({retries_left} retries left)"
            ),
            Event::ExecutionFinished { exec, status } => {
                if self.lines > CALL_LINES {
                    self.summary();
                }
                // A failure or a cancel is reported once, at the end, with
                // its reason.
                if !matches!(status, ExecutionStatus::Failed | ExecutionStatus::Cancelled) {
                    eprintln!("cairn: execution {exec} {status}");
                }
            }
            _ => {}
        }
    }

    fn line(&mut self, text: String) {
        self.lines += 1;
        if self.lines <= CALL_LINES {
            eprintln!("{text}");
            return;
        }
        let due = self
            .last_summary
            .is_none_or(|at| at.elapsed() >= SUMMARY_EVERY);
        if due {
            self.summary();
        }
    }

    fn summary(&mut self) {
        self.last_summary = Some(Instant::now());
        let running = self.submitted.saturating_sub(self.completed + self.failed);
        eprintln!(
            "  … {} calls completed, {} failed, {} running or queued",
            self.completed, self.failed, running
        );
    }
}

/// `executions list`: one row per execution.
pub(crate) fn execution_table(executions: &[ExecutionSummary]) {
    let mut table = Columns::new(&["ID", "FLOW", "STATUS", "CREATED"]);
    for e in executions {
        let status = match &e.sleeping_until {
            Some(until) => format!("{} (sleeping until {until})", e.status),
            None => e.status.to_string(),
        };
        table.row([&e.id.to_string(), &e.flow, &status, &e.created_at]);
    }
    table.print();
}

pub(crate) fn execution_detail(detail: &ExecutionDetail) {
    let e = &detail.execution;
    println!("execution {}  flow {}  {}", e.id, line(&e.flow), e.status);
    match &e.component {
        Some(component) => println!("  component {}", line(component)),
        None => println!("  component (host-side flow)"),
    }
    println!("  input     {}", terminal::value(&e.input));
    if let Some(output) = &e.output {
        println!("  output    {}", terminal::value(output));
    }
    if let Some(failure) = &e.failure {
        println!("  failure   {:?}: {}", failure.kind, line(&failure.message));
    }
    println!("  created   {}", line(&e.created_at));
    if e.status == ExecutionStatus::Running {
        println!("  (running, or left running by a process that stopped)");
    }
    for retry in &detail.retries {
        match retry.kind {
            cairn_host::TimerKind::Sleep => {
                println!("  sleeping  until {}", line(&retry.due_at));
            }
            cairn_host::TimerKind::WaitDeadline => println!(
                "  deadline  `{}` times out at {} unless answered first",
                line(&retry.call_id),
                line(&retry.due_at)
            ),
            _ => println!(
                "  retry     `{}` attempt {} due at {} (parked until then)",
                line(&retry.call_id),
                retry.attempt,
                line(&retry.due_at)
            ),
        }
    }
    if let Some(parent) = &detail.parent {
        println!(
            "  parent    execution {} (its step at seq {} started this one)",
            parent.id, parent.seq
        );
    }
    for child in &detail.children {
        let waits_for = e.status == ExecutionStatus::Waiting
            && detail
                .calls
                .iter()
                .any(|c| c.seq == child.seq && c.status != CallStatus::Completed);
        let note = if waits_for { ", waiting for it" } else { "" };
        println!(
            "  child     execution {} (started at seq {}{note})",
            child.id, child.seq
        );
    }
    for moved in &detail.upgrades {
        println!(
            "  upgraded  from build {} to {} at {} by {}",
            terminal::short_hash(&moved.from),
            terminal::short_hash(&moved.to),
            line(&moved.at),
            line(&moved.by)
        );
    }
    println!();
    let mut table = Columns::new(&[
        "SEQ", "CALL", "RUNTIME", "STATUS", "SOURCE", "ATTEMPTS", "OUTPUT",
    ]);
    for call in &detail.calls {
        let status = match call.status {
            CallStatus::Completed => "completed",
            CallStatus::Failed => "failed",
            _ => "running",
        };
        let output = call
            .output
            .as_ref()
            .map(terminal::value)
            .unwrap_or_default();
        table.row([
            &call.seq.to_string(),
            &call.call_id,
            &call.runtime.to_string(),
            status,
            &source_name(call.source),
            &call.attempts.len().to_string(),
            &truncate(&output, 60),
        ]);
    }
    // Each call's row, then the attempts of it that did not succeed.
    let mut lines = table.lines();
    if let Some(header) = lines.next() {
        println!("{header}");
    }
    for (call, row) in detail.calls.iter().zip(lines) {
        println!("{row}");
        for attempt in call.attempts.iter().filter(|a| a.status != "ok") {
            println!(
                "       attempt {} {}: {}",
                attempt.n,
                attempt.status,
                line(attempt.error.as_deref().unwrap_or(""))
            );
        }
    }
    waits(&detail.waits);
}

/// The execution's durable waits, after its calls: what each asks and, once
/// answered, the value (`--json` has their schemas and times).
fn waits(waits: &[WaitView]) {
    if waits.is_empty() {
        return;
    }
    println!();
    let mut table = Columns::new(&["WAIT", "STATUS", "QUESTION", "VALUE"]);
    for wait in waits {
        let (status, value) = match &wait.value {
            Some(value) => ("answered", truncate(&terminal::value(value), 40)),
            None => ("asked", "-".to_owned()),
        };
        table.row([
            &wait.name,
            status,
            &truncate(&line(&wait.question), 60),
            &value,
        ]);
    }
    table.print();
}

/// A call source as the journal's JSON names it.
fn source_name(source: CallSource) -> String {
    serde_json::to_value(source)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn duration(us: u64) -> String {
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1_000.0)
    } else {
        format!("{:.2} s", us as f64 / 1_000_000.0)
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}
