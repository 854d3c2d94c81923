//! `cairn executions list|show|logs|input|cancel`: reading the journal and
//! answering or cancelling what is in it. None of them creates a journal or
//! runs guest code (`input --resume` is a resume: see `run.rs`).

use std::process::ExitCode;

use cairn_host::{ExecutionDetail, ExecutionFilter, Host, Policy};

use crate::args::{Global, InputArgs, ListArgs, LogsArgs, ShowArgs};
use crate::exit::Exit;
use crate::terminal::{self, line};
use crate::{render, run, setup};

/// The journal, which must exist; opened read-only for commands that only
/// read (they then work on a read-only file, and never repair or lock it
/// for writing).
fn open(global: &Global, read_only: bool) -> Result<Host, Exit> {
    setup::existing_journal(global)?;
    Ok(Host::builder()
        .journal(&global.journal)
        .read_only(read_only)
        .policy(Policy::default())
        .open()?)
}

pub(crate) async fn list(global: &Global, args: &ListArgs) -> Result<ExitCode, Exit> {
    let filter = ExecutionFilter {
        status: args.status,
        flow: args.flow.clone(),
        ..ExecutionFilter::default()
    };
    let executions = open(global, true)?.client().executions(&filter).await?;
    if global.json {
        render::json(&executions)?;
    } else {
        render::execution_table(&executions);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn show(global: &Global, args: &ShowArgs) -> Result<ExitCode, Exit> {
    let detail = open(global, true)?
        .client()
        .execution(args.id)
        .await?
        .ok_or_else(|| {
            Exit::bad_input(anyhow::anyhow!(
                "no execution {} in {}",
                args.id,
                line(&global.journal.to_string_lossy())
            ))
        })?;
    if global.json {
        render::json(&detail)?;
    } else {
        render::execution_detail(&detail);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn input(global: &Global, args: &InputArgs) -> Result<ExitCode, Exit> {
    if args.resume {
        return run::answer_and_resume(global, args).await;
    }
    refuse_policy_without_resume(args)?;
    let host = open(global, false)?;
    host.answer(args.id, &args.wait, &args.value).await?;
    host.close().await?;
    say_stored(global, args);
    Ok(ExitCode::SUCCESS)
}

/// After `executions input` without `--resume`, on a journal or through a
/// server: the value is kept, and this is how to go on.
pub(crate) fn say_stored(global: &Global, args: &InputArgs) {
    let id = args.id.to_string();
    eprintln!(
        "cairn: stored the value of `{}`; continue with: {}",
        line(&args.wait),
        terminal::command(&global.place_to_suggest(), &["executions", "resume", &id])
    );
}

/// Without `--resume` no code runs, so a policy flag would be silently
/// ignored: it is refused.
pub(crate) fn refuse_policy_without_resume(args: &InputArgs) -> Result<(), Exit> {
    match args.policy.to_args().first() {
        Some(flag) => Err(Exit::bad_input(anyhow::anyhow!(
            "{flag} sets what the resumed execution may use: add --resume, or leave it out"
        ))),
        None => Ok(()),
    }
}

pub(crate) async fn cancel(global: &Global, args: &ShowArgs) -> Result<ExitCode, Exit> {
    let host = open(global, false)?;
    host.cancel(args.id).await?;
    host.close().await?;
    eprintln!("cairn: execution {} cancelled", args.id);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn logs(global: &Global, args: &LogsArgs) -> Result<ExitCode, Exit> {
    let detail = open(global, true)?
        .client()
        .execution(args.id)
        .await?
        .ok_or_else(|| Exit::bad_input(anyhow::anyhow!("no execution {}", args.id)))?;
    print_logs(global, args, &detail)
}

/// The logs of `detail` (read from a journal or a server): the flow's own
/// lines, then each attempt's captured output.
pub(crate) fn print_logs(
    global: &Global,
    args: &LogsArgs,
    detail: &ExecutionDetail,
) -> Result<ExitCode, Exit> {
    let calls: Vec<&cairn_host::CallView> = match &args.call {
        Some(selector) => vec![detail.call(selector).map_err(Exit::bad_input)?],
        None => detail.calls.iter().collect(),
    };
    if global.json {
        render::json(&serde_json::json!({
            "flow_log": if args.call.is_some() { None } else { Some(&detail.flow_log) },
            "calls": calls,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut shown = false;
    if args.call.is_none() && !detail.flow_log.is_empty() {
        // Prefixed like a call's output, so a flow cannot print lines that
        // pass for the headers or another stream's lines.
        println!("== flow `{}` ==", line(&detail.execution.flow));
        print!("{}", prefixed("flow", &detail.flow_log));
        shown = true;
    }
    for call in &calls {
        for attempt in &call.attempts {
            if attempt.stdout.is_empty() && attempt.stderr.is_empty() {
                continue;
            }
            shown = true;
            println!(
                "== {} (seq {}) attempt {} ==",
                line(&call.call_id),
                call.seq,
                attempt.n
            );
            print!("{}", prefixed("stdout", &attempt.stdout));
            print!("{}", prefixed("stderr", &attempt.stderr));
        }
    }
    if !shown {
        // On stderr: stdout stays the logs themselves, empty here.
        let whose = match &args.call {
            Some(selector) => format!("call {}", line(selector)),
            None => format!("execution {}", args.id),
        };
        eprintln!("no logs: nothing in {whose} wrote to stdout or stderr (or logged)");
    }
    Ok(ExitCode::SUCCESS)
}

/// Each line of captured output after its stream's name, made safe to show
/// (a CR that ends a line goes with its line break).
fn prefixed(stream: &str, text: &str) -> String {
    text.lines()
        .map(|text| format!("{stream}| {}\n", terminal::block(text)))
        .collect()
}
