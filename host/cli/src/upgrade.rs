//! `cairn executions upgrade ID --component new.wasm` (or `--all --flow F`):
//! moves executions to a new build when its check against their journal
//! is compatible, and journals the move; exit code 1 when one is refused.

use std::process::ExitCode;

use cairn_host::{ExecutionFilter, ExecutionStatus, Host, Policy, UpgradeError, Upgraded};

use crate::args::{Global, UpgradeArgs};
use crate::exit::{Exit, code};
use crate::terminal::{self, line};
use crate::{render, setup};

/// Who a move journals as having asked for it.
const BY: &str = "cairn executions upgrade";

impl From<UpgradeError> for Exit {
    fn from(e: UpgradeError) -> Exit {
        match e {
            UpgradeError::Journal(e) => Exit::from(e),
            UpgradeError::Load(e) => Exit::from(e),
            UpgradeError::Check(e) => Exit::from(e),
            e @ UpgradeError::Incompatible { .. } => Exit {
                code: ExitCode::from(code::FAILED),
                error: e.into(),
            },
            other => Exit::bad_input(other),
        }
    }
}

pub(crate) async fn upgrade(global: &Global, args: &UpgradeArgs) -> Result<ExitCode, Exit> {
    setup::existing_journal(global)?;
    let host = Host::builder()
        .journal(&global.journal)
        .engine(setup::engine(global, None)?)
        .policy(Policy::default())
        .open()?;
    let component = host.load_file(&args.component).await?;
    let ids = match (args.id, args.all) {
        (Some(id), false) => vec![id],
        (None, true) => {
            let filter = ExecutionFilter {
                flow: args.flow.clone(),
                ..ExecutionFilter::default()
            };
            let listed = host.client().executions(&filter).await?;
            listed
                .into_iter()
                .filter(|e| {
                    matches!(e.status, ExecutionStatus::Waiting | ExecutionStatus::Failed)
                        && e.component.is_some()
                })
                .map(|e| e.id)
                .collect()
        }
        _ => {
            return Err(Exit::bad_input(anyhow::anyhow!(
                "give one execution id, or --all with --flow"
            )));
        }
    };
    if !args.all {
        let upgraded = host.upgrade(ids[0], &component, BY).await?;
        host.close().await?;
        report(global, &upgraded)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (mut moved, mut refused) = (Vec::new(), 0);
    for id in ids {
        match host.upgrade(id, &component, BY).await {
            Ok(upgraded) => moved.push(upgraded),
            Err(e @ (UpgradeError::Incompatible { .. } | UpgradeError::SameBuild(_))) => {
                if !matches!(e, UpgradeError::SameBuild(_)) {
                    refused += 1;
                }
                eprintln!("cairn: {}", line(&format!("{e:#}")));
            }
            Err(other) => return Err(other.into()),
        }
    }
    host.close().await?;
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

pub(crate) fn report(global: &Global, upgraded: &Upgraded) -> Result<(), Exit> {
    if global.json {
        return render::json(upgraded);
    }
    let id = upgraded.id.to_string();
    if upgraded.running {
        eprintln!(
            "cairn: execution {id} moved from build {} to {} while it ran; it goes on with the new build",
            terminal::short_hash(&upgraded.from),
            terminal::short_hash(&upgraded.to),
        );
        return Ok(());
    }
    eprintln!(
        "cairn: execution {id} moved from build {} to {}; continue with: {}",
        terminal::short_hash(&upgraded.from),
        terminal::short_hash(&upgraded.to),
        terminal::command(&global.place_to_suggest(), &["executions", "resume", &id])
    );
    Ok(())
}
