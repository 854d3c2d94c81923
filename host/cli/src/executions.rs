//! `cairn executions list|show`: reading the journal.

use std::process::ExitCode;

use cairn_host::{ExecutionFilter, Host, Policy};

use crate::args::{Global, ListArgs, ShowArgs};
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
