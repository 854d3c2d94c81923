//! Human and JSON output.

use cairn_host::{
    AttemptOutcome, CallSource, CallStatus, Event, ExecutionDetail, ExecutionStatus,
    ExecutionSummary,
};
use serde::Serialize;

use crate::exit::Exit;

/// Pretty JSON on stdout.
pub fn json(value: &impl Serialize) -> Result<(), Exit> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Exit::host(anyhow::anyhow!(e)))?;
    println!("{text}");
    Ok(())
}

/// One progress line on stderr per event.
pub fn progress(event: &Event) {
    match event {
        Event::ExecutionStarted { exec, flow } => {
            eprintln!("cairn: execution {exec} of flow `{flow}` started")
        }
        Event::AttemptStarted { .. } => {}
        Event::AttemptFailed {
            call_id,
            attempt,
            outcome,
            will_retry,
            ..
        } => {
            let why = match outcome {
                AttemptOutcome::Failed { message } => format!("failed: {message}"),
                AttemptOutcome::Trapped { kind, message } => format!("trapped ({kind}): {message}"),
                _ => "failed".to_owned(),
            };
            let next = if *will_retry { ", retrying" } else { "" };
            eprintln!("  ✗ {call_id:<24} attempt {attempt} {why}{next}");
        }
        Event::CallCompleted {
            seq,
            call_id,
            source,
            duration_us,
            ..
        } => match source {
            CallSource::Executed => {
                eprintln!("  ✓ {call_id:<24} seq {seq:<4} {}", duration(*duration_us));
            }
            other => eprintln!("  ↺ {call_id:<24} seq {seq:<4} {}", source_name(*other)),
        },
        Event::ExecutionResumed { exec } => eprintln!("cairn: execution {exec} resumed"),
        Event::FlowRetrying { exec, retries_left } => {
            eprintln!(
                "cairn: execution {exec} failed; running the flow again ({retries_left} retries left)"
            )
        }
        Event::ExecutionFinished { exec, status } => eprintln!("cairn: execution {exec} {status}"),
        _ => {}
    }
}

pub fn execution_table(executions: &[ExecutionSummary]) {
    println!(
        "{:<6} {:<24} {:<10} {:<28}",
        "ID", "FLOW", "STATUS", "CREATED"
    );
    for e in executions {
        println!(
            "{:<6} {:<24} {:<10} {:<28}",
            e.id, e.flow, e.status, e.created_at
        );
    }
}

pub fn execution_detail(detail: &ExecutionDetail) {
    let e = &detail.execution;
    println!("execution {}  flow {}  {}", e.id, e.flow, e.status);
    println!("  component {}", e.component);
    println!("  input     {}", e.input);
    if let Some(output) = &e.output {
        println!("  output    {output}");
    }
    if let Some(failure) = &e.failure {
        println!("  failure   {:?}: {}", failure.kind, failure.message);
    }
    println!("  created   {}", e.created_at);
    if e.status == ExecutionStatus::Running {
        println!("  (running, or left running by a process that stopped)");
    }
    println!();
    println!("SEQ  CALL                     RUNTIME   STATUS     SOURCE    ATTEMPTS  OUTPUT");
    for call in &detail.calls {
        let status = match call.status {
            CallStatus::Completed => "completed",
            CallStatus::Failed => "failed",
            _ => "running",
        };
        let output = call
            .output
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        println!(
            "{:<4} {:<24} {:<9} {:<10} {:<9} {:>8}  {}",
            call.seq,
            call.call_id,
            call.runtime.to_string(),
            status,
            source_name(call.source),
            call.attempts.len(),
            truncate(&output, 60),
        );
        for attempt in call.attempts.iter().filter(|a| a.status != "ok") {
            println!(
                "       attempt {} {}: {}",
                attempt.n,
                attempt.status,
                attempt.error.as_deref().unwrap_or("")
            );
        }
    }
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
