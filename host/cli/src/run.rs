//! `cairn run`: one new execution of a flow, with progress on stderr and the
//! flow's output on stdout.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use cairn_host::{Event, EventSink, ExecutionStatus, FailureKind, Host, Outcome, ReplayRequest};

use crate::args::{Global, ReplayArgs, RunArgs, ShowArgs};
use crate::exit::{Exit, code};
use crate::{files, limits, render, setup, terminal};

pub(crate) async fn run(global: &Global, args: &RunArgs) -> Result<ExitCode, Exit> {
    let input = match (&args.input, &args.input_file) {
        (Some(input), _) => input.clone(),
        (None, Some(file)) => files::read_text(file, "input file", limits::INPUT_FILE_BYTES)
            .map_err(|e| Exit::bad_input(anyhow::anyhow!(e)))?,
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
                    component.manifest().flow_names().join(", ")
                )));
            }
        },
    };
    let outcome = host.run(&component, &flow, &input).await?;
    finish(global, &host, &outcome).await
}

/// `cairn executions resume`: the same output and exit codes as `run`.
pub(crate) async fn resume(global: &Global, args: &ShowArgs) -> Result<ExitCode, Exit> {
    setup::existing_journal(global)?;
    let host = setup::host(global, Some(progress()))?;
    let outcome = host.resume(args.id).await?;
    finish(global, &host, &outcome).await
}

/// `cairn executions replay`: a new execution; the same output and exit
/// codes as `run`.
pub(crate) async fn replay(global: &Global, args: &ReplayArgs) -> Result<ExitCode, Exit> {
    setup::existing_journal(global)?;
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
    finish(global, &host, &outcome).await
}

fn progress() -> EventSink {
    let progress = Mutex::new(render::Progress::default());
    Arc::new(move |event: &Event| {
        if let Ok(mut progress) = progress.lock() {
            progress.on(event);
        }
    })
}

/// Makes sure the journal holds what the run did (a commit nobody waited
/// for may have failed, with eventual durability) before reporting it: a
/// journal that failed is a host error (exit 4), never success.
async fn finish(global: &Global, host: &Host, outcome: &Outcome) -> Result<ExitCode, Exit> {
    host.sync().await?;
    report(global, host, outcome).await
}

/// Prints an outcome (the output on stdout, a failure on stderr) and
/// returns its exit code.
async fn report(global: &Global, host: &Host, outcome: &Outcome) -> Result<ExitCode, Exit> {
    if global.json {
        let detail = host.client().execution(outcome.id).await?.ok_or_else(|| {
            Exit::host(anyhow::anyhow!(
                "execution {} vanished from the journal",
                outcome.id
            ))
        })?;
        render::json(&detail)?;
    } else if let Some(output) = &outcome.output {
        match serde_json::from_str::<String>(output) {
            Ok(text) if global.raw => println!("{}", terminal::block(&text)),
            _ => println!("{}", terminal::json(output)),
        }
    }
    Ok(ExitCode::from(match outcome.status {
        ExecutionStatus::Completed => code::COMPLETED,
        ExecutionStatus::Waiting => {
            explain_waits(global, host, outcome).await?;
            code::WAITING
        }
        ExecutionStatus::Cancelled => {
            eprintln!("cairn: execution {} was cancelled", outcome.id);
            code::FAILED
        }
        _ => match &outcome.failure {
            Some(failure) if failure.kind == FailureKind::BadInput => {
                eprintln!("cairn: bad input: {}", terminal::line(&failure.message));
                code::BAD_INPUT
            }
            Some(failure) => {
                eprintln!(
                    "cairn: execution {} failed: {}",
                    outcome.id,
                    terminal::line(&failure.message)
                );
                code::FAILED
            }
            None => code::FAILED,
        },
    }))
}

/// Tells a person what a waiting execution needs and how to give it.
async fn explain_waits(global: &Global, host: &Host, outcome: &Outcome) -> Result<(), Exit> {
    // Only the waits: the execution's calls may hold large outputs.
    let waits = host.client().waits(outcome.id).await?;
    let id = outcome.id.to_string();
    let journal = global.journal_to_suggest();
    for wait in waits.iter().filter(|w| w.value.is_none()) {
        eprintln!(
            "cairn: execution {id} is waiting for `{}`: {}",
            terminal::line(&wait.name),
            terminal::line(&wait.question)
        );
        eprintln!("  schema: {}", terminal::value(&wait.schema));
        let answer = [
            "executions",
            "input",
            &id,
            "--wait",
            &wait.name,
            "--value",
            "<JSON>",
        ];
        eprintln!("  answer: {}", terminal::command(journal, &answer));
        let resume = ["executions", "resume", &id];
        eprintln!("  then:   {}", terminal::command(journal, &resume));
    }
    Ok(())
}
