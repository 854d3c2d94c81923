//! `cairn components prune`: removes the builds no execution in the journal
//! refers to any more (those whose executions `cairn executions prune`
//! removed), and the chunks of their bytes no other build shares.

use std::process::ExitCode;

use clap::Subcommand;

use crate::args::Global;
use crate::exit::Exit;
use crate::setup;

#[derive(Subcommand)]
pub(crate) enum ComponentsCommand {
    /// Remove the components no execution, call, schedule or move to another
    /// build refers to, and the stored chunks no remaining component lists; print
    /// what was removed. A build stored but never run goes too (it is
    /// stored again when it runs).
    Prune,
}

/// Runs a `cairn components` command.
pub(crate) async fn components(
    global: &Global,
    command: &ComponentsCommand,
) -> Result<ExitCode, Exit> {
    match command {
        ComponentsCommand::Prune => prune(global).await,
    }
}

async fn prune(global: &Global) -> Result<ExitCode, Exit> {
    setup::existing_journal(global)?;
    let host = cairn_host::Host::builder()
        .journal(&global.journal)
        .policy(cairn_host::Policy::default())
        .open()?;
    let pruned = host.client().prune_components().await?;
    host.close().await?;
    if global.json {
        println!("{}", serde_json::to_string(&pruned).map_err(Exit::host)?);
    } else {
        println!(
            "removed {} component(s) and {} chunk(s): {} freed",
            pruned.components,
            pruned.chunks,
            human(pruned.bytes)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `bytes` for people: B, KiB, MiB or GiB with one decimal.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
