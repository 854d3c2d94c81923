//! `cairn executions upgrade --server`: the new build uploaded when the
//! server lacks it, then `POST /executions/{id}/upgrade` for each execution
//! (`--all --flow F`: those the server's check selects, waiting, failed or
//! running), with the same output and exit codes as on a journal.

use std::process::ExitCode;

use cairn_host::{CheckReport, ExecutionId, Upgraded};
use cairn_serve::{ApiClient, ClientError};
use serde_json::json;

use super::connection::exit;
use super::reads;
use crate::args::{Global, UpgradeArgs};
use crate::exit::{Exit, code};
use crate::render;
use crate::terminal::line;

pub(crate) async fn upgrade(
    global: &Global,
    client: &ApiClient,
    args: &UpgradeArgs,
) -> Result<ExitCode, Exit> {
    let (_, hash) = reads::component(client, &args.component).await?;
    let ids = match (args.id, args.all, &args.flow) {
        (Some(id), false, _) => {
            let upgraded = move_one(client, id, &hash).await.map_err(refused)?;
            crate::upgrade::report(global, &upgraded)?;
            return Ok(ExitCode::SUCCESS);
        }
        (None, true, Some(flow)) => {
            // A server moves the executions it is running too (each pauses
            // for it and goes on with the new build).
            let statuses = ["waiting", "failed", "running"];
            let body = json!({"component": hash, "flow": flow, "status": statuses});
            let report: CheckReport = client.post("/check", &body).await.map_err(exit)?;
            report.executions.iter().map(|e| e.id).collect::<Vec<_>>()
        }
        _ => {
            return Err(Exit::bad_input(anyhow::anyhow!(
                "give one execution id, or --all with --flow"
            )));
        }
    };
    let (mut moved, mut refused) = (Vec::new(), 0);
    for id in ids {
        match move_one(client, id, &hash).await {
            Ok(upgraded) => moved.push(upgraded),
            Err(e) if matches!(e.kind(), Some("incompatible" | "conflict")) => {
                // A build it already runs is not a refusal.
                if e.kind() == Some("incompatible") {
                    refused += 1;
                }
                eprintln!("cairn: {}", line(&e.to_string()));
            }
            Err(other) => return Err(exit(other)),
        }
    }
    if global.json {
        render::json(&moved)?;
    }
    eprintln!(
        "cairn: moved {} executions to the new build, refused {refused}",
        moved.len()
    );
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(code::FAILED)
    })
}

async fn move_one(
    client: &ApiClient,
    id: ExecutionId,
    hash: &str,
) -> Result<Upgraded, ClientError> {
    client
        .post(
            &format!("/executions/{id}/upgrade"),
            &json!({"component": hash}),
        )
        .await
}

/// A refusal by the check is exit code 1, as on a journal; the rest as
/// every server error.
fn refused(e: ClientError) -> Exit {
    if e.kind() == Some("incompatible") {
        return Exit {
            code: ExitCode::from(code::FAILED),
            error: anyhow::anyhow!("{}", line(&e.to_string())),
        };
    }
    exit(e)
}
