//! `executions list|show|logs|cancel|input` through a server: the same
//! output and exit codes as on a journal, since they print with the same
//! code (`render`, `executions::print_logs`).

use std::process::ExitCode;

use cairn_serve::ApiClient;
use cairn_serve::api::{Accepted, AnswerRequest};

use super::connection::exit;
use super::{json_arg, reads};
use crate::args::{Global, InputArgs, ListArgs, LogsArgs, ShowArgs};
use crate::exit::Exit;
use crate::{executions, render};

pub(crate) async fn list(
    global: &Global,
    client: &ApiClient,
    args: &ListArgs,
) -> Result<ExitCode, Exit> {
    let executions = reads::executions(client, args.status, args.flow.as_deref()).await?;
    if global.json {
        render::json(&executions)?;
    } else {
        render::execution_table(&executions);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn show(
    global: &Global,
    client: &ApiClient,
    args: &ShowArgs,
) -> Result<ExitCode, Exit> {
    let detail = reads::detail(client, args.id).await?;
    if global.json {
        render::json(&detail)?;
    } else {
        render::execution_detail(&detail);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn logs(
    global: &Global,
    client: &ApiClient,
    args: &LogsArgs,
) -> Result<ExitCode, Exit> {
    let detail = reads::detail(client, args.id).await?;
    executions::print_logs(global, args, &detail)
}

pub(crate) async fn cancel(client: &ApiClient, args: &ShowArgs) -> Result<ExitCode, Exit> {
    let _: Accepted = client
        .post(
            &format!("/executions/{}/cancel", args.id),
            &serde_json::json!({}),
        )
        .await
        .map_err(exit)?;
    eprintln!("cairn: execution {} cancelled", args.id);
    Ok(ExitCode::SUCCESS)
}

/// `executions input` without `--resume`: stores the value only.
pub(crate) async fn input(
    global: &Global,
    client: &ApiClient,
    args: &InputArgs,
) -> Result<ExitCode, Exit> {
    let request = AnswerRequest {
        wait: args.wait.clone(),
        value: json_arg("--value", &args.value)?,
        resume: false,
    };
    let _: Accepted = client
        .post(&format!("/executions/{}/input", args.id), &request)
        .await
        .map_err(exit)?;
    crate::executions::say_stored(global, args);
    Ok(ExitCode::SUCCESS)
}
