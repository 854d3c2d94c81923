//! `cairn run`: one new execution of a flow, with progress on stderr and the
//! flow's output on stdout.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use cairn_host::{Event, EventSink, ExecutionStatus, FailureKind, Host, Outcome, ReplayRequest};

use crate::args::{Global, ReplayArgs, RunArgs, ShowArgs};
use crate::exit::{Exit, code};
use crate::{render, setup};

pub async fn run(global: &Global, args: &RunArgs) -> Result<ExitCode, Exit> {
    let input = match (&args.input, &args.input_file) {
        (Some(input), _) => input.clone(),
        (None, Some(file)) => std::fs::read_to_string(file)
            .map_err(|e| Exit::bad_input(anyhow::anyhow!("cannot read {}: {e}", file.display())))?,
        (None, None) => "{}".to_owned(),
    };
    let host = setup::host(global, Some(progress()))?;
    let component = host.load_file(&args.component).await?;
    let flow = match &args.flow {
        Some(flow) => flow.clone(),
        None => match component.manifest().flows.as_slice() {
            [only] => only.name.clone(),
            _ => {
                return Err(Exit::bad_input(anyhow::anyhow!(
                    "the component has several flows ({}); choose one with --flow",
                    component.manifest().flow_names()
                )));
            }
        },
    };
    let outcome = host.run(&component, &flow, &input).await?;
    report(global, &host, &outcome)
}

/// `cairn executions resume`: the same output and exit codes as `run`.
pub async fn resume(global: &Global, args: &ShowArgs) -> Result<ExitCode, Exit> {
    let host = setup::host(global, Some(progress()))?;
    let outcome = host.resume(args.id).await?;
    report(global, &host, &outcome)
}

/// `cairn executions replay`: a new execution; the same output and exit
/// codes as `run`.
pub async fn replay(global: &Global, args: &ReplayArgs) -> Result<ExitCode, Exit> {
    let host = setup::host(global, Some(progress()))?;
    let mut request = ReplayRequest::default();
    if let Some(from) = &args.from {
        request = request.from(from);
    }
    for (selector, output) in &args.overrides {
        request = request.override_output(selector, output);
    }
    if let Some(input) = &args.input {
        request = request.input(input);
    }
    if let Some(path) = &args.component {
        request = request.component(host.load_file(path).await?);
    }
    let outcome = host.replay(args.id, request).await?;
    eprintln!(
        "cairn: execution {} replays execution {}",
        outcome.id, args.id
    );
    report(global, &host, &outcome)
}

fn progress() -> EventSink {
    let progress = Mutex::new(render::Progress::default());
    Arc::new(move |event: &Event| {
        if let Ok(mut progress) = progress.lock() {
            progress.on(event);
        }
    })
}

/// Prints an outcome (the output on stdout, a failure on stderr) and
/// returns its exit code.
fn report(global: &Global, host: &Host, outcome: &Outcome) -> Result<ExitCode, Exit> {
    if global.json {
        let detail = host.client().execution(outcome.id)?.ok_or_else(|| {
            Exit::host(anyhow::anyhow!(
                "execution {} vanished from the journal",
                outcome.id
            ))
        })?;
        render::json(&detail)?;
    } else if let Some(output) = &outcome.output {
        println!("{output}");
    }
    Ok(ExitCode::from(match outcome.status {
        ExecutionStatus::Completed => code::COMPLETED,
        ExecutionStatus::Waiting => {
            explain_waits(host, outcome)?;
            code::WAITING
        }
        ExecutionStatus::Cancelled => {
            eprintln!("cairn: execution {} was cancelled", outcome.id);
            code::FAILED
        }
        _ => match &outcome.failure {
            Some(failure) if failure.kind == FailureKind::BadInput => {
                eprintln!("cairn: bad input: {}", failure.message);
                code::BAD_INPUT
            }
            Some(failure) => {
                eprintln!(
                    "cairn: execution {} failed: {}",
                    outcome.id, failure.message
                );
                code::FAILED
            }
            None => code::FAILED,
        },
    }))
}

/// Tells a person what a waiting execution needs and how to give it.
fn explain_waits(host: &Host, outcome: &Outcome) -> Result<(), Exit> {
    let Some(detail) = host.client().execution(outcome.id)? else {
        return Ok(());
    };
    for wait in detail.waits.iter().filter(|w| w.value.is_none()) {
        eprintln!(
            "cairn: execution {} is waiting for `{}`: {}",
            outcome.id, wait.name, wait.question
        );
        eprintln!("  schema: {}", wait.schema);
        eprintln!(
            "  answer: cairn executions input {} --wait {} --value '<JSON>'",
            outcome.id, wait.name
        );
        eprintln!("  then:   cairn executions resume {}", outcome.id);
    }
    Ok(())
}
