//! `cairn executions list|show`: reading the journal.

use std::process::ExitCode;

use cairn_host::{ExecutionFilter, Host, Policy};

use crate::args::{Global, InputArgs, ListArgs, LogsArgs, ShowArgs};
use crate::exit::Exit;
use crate::render;

fn open(global: &Global) -> Result<Host, Exit> {
    Ok(Host::builder()
        .journal(&global.journal)
        .policy(Policy::default())
        .open()?)
}

pub fn list(global: &Global, args: &ListArgs) -> Result<ExitCode, Exit> {
    let filter = ExecutionFilter {
        status: args.status,
        flow: args.flow.clone(),
    };
    let executions = open(global)?.client().executions(&filter)?;
    if global.json {
        render::json(&executions)?;
    } else {
        render::execution_table(&executions);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(global: &Global, args: &ShowArgs) -> Result<ExitCode, Exit> {
    let detail = open(global)?.client().execution(args.id)?.ok_or_else(|| {
        Exit::bad_input(anyhow::anyhow!(
            "no execution {} in {}",
            args.id,
            global.journal.display()
        ))
    })?;
    if global.json {
        render::json(&detail)?;
    } else {
        render::execution_detail(&detail);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn input(global: &Global, args: &InputArgs) -> Result<ExitCode, Exit> {
    open(global)?
        .answer(args.id, &args.wait, &args.value)
        .await?;
    eprintln!(
        "cairn: stored the value of `{}`; continue with: cairn executions resume {}",
        args.wait, args.id
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn cancel(global: &Global, args: &ShowArgs) -> Result<ExitCode, Exit> {
    open(global)?.cancel(args.id).await?;
    eprintln!("cairn: execution {} cancelled", args.id);
    Ok(ExitCode::SUCCESS)
}

pub fn logs(global: &Global, args: &LogsArgs) -> Result<ExitCode, Exit> {
    let detail = open(global)?
        .client()
        .execution(args.id)?
        .ok_or_else(|| Exit::bad_input(anyhow::anyhow!("no execution {}", args.id)))?;
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
    if args.call.is_none() && !detail.flow_log.is_empty() {
        println!("== flow `{}` ==", detail.execution.flow);
        print!("{}", detail.flow_log);
    }
    for call in calls {
        for attempt in &call.attempts {
            if attempt.stdout.is_empty() && attempt.stderr.is_empty() {
                continue;
            }
            println!(
                "== {} (seq {}) attempt {} ==",
                call.call_id, call.seq, attempt.n
            );
            print!("{}", prefixed("stdout", &attempt.stdout));
            print!("{}", prefixed("stderr", &attempt.stderr));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn prefixed(stream: &str, text: &str) -> String {
    text.lines()
        .map(|line| format!("{stream}| {line}\n"))
        .collect()
}
