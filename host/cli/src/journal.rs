//! `cairn journal …`: the journal itself, rather than its executions.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use crate::args::Global;
use crate::exit::Exit;
use crate::terminal;

#[derive(Subcommand)]
pub(crate) enum JournalCommand {
    /// Make the journal's tables in the PostgreSQL database of --journal
    /// (postgres://…), or bring them to this build's schema version. Safe
    /// while workers use the database; a database made by a newer Cairn is
    /// refused and left as it is. A redb file needs no migration.
    Migrate,
}

/// Whether `journal` names a PostgreSQL database rather than a file.
pub(crate) fn is_url(journal: &Path) -> bool {
    journal
        .to_str()
        .is_some_and(|j| j.starts_with("postgres://") || j.starts_with("postgresql://"))
}

/// Runs a `cairn journal` command.
pub(crate) async fn journal(global: &Global, command: &JournalCommand) -> Result<ExitCode, Exit> {
    match command {
        JournalCommand::Migrate => migrate(global).await,
    }
}

async fn migrate(global: &Global) -> Result<ExitCode, Exit> {
    let Some(url) = global.journal.to_str().filter(|_| is_url(&global.journal)) else {
        return Err(Exit::bad_input(anyhow::anyhow!(
            "`cairn journal migrate` is for a PostgreSQL journal (--journal postgres://…); {} is a \
             redb file, which needs no migration",
            terminal::line(&global.journal.to_string_lossy())
        )));
    };
    let url = url.to_owned();
    // Connecting blocks: off the async workers.
    let before = tokio::task::spawn_blocking(move || cairn_host::migrate_journal(&url))
        .await
        .map_err(|e| Exit::host(anyhow::anyhow!("migrating the journal: {e}")))??;
    let now = cairn_host::POSTGRES_SCHEMA_VERSION;
    let what = match before {
        None => format!("made the journal's tables (schema version {now})"),
        Some(v) if v == now => format!("the journal's schema is at version {now} already"),
        Some(v) => format!("migrated the journal's schema from version {v} to {now}"),
    };
    if global.json {
        let report = serde_json::json!({
            "schema_version": now,
            "previous_version": before,
        });
        println!("{report}");
    } else {
        println!("{what}");
    }
    Ok(ExitCode::SUCCESS)
}
