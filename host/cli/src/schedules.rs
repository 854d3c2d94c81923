//! `cairn schedules add|list|pause|resume|delete`: schedules that start
//! executions on a cron expression. They are kept in the journal, directly
//! or through a server (`--server`); only `cairn serve` starts their runs.

use std::path::Path;
use std::process::ExitCode;

use cairn_host::{CatchUp, Host, Policy, ScheduleError, ScheduleSpec, ScheduleView};
use cairn_serve::ApiClient;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::args::Global;
use crate::exit::Exit;
use crate::table::Columns;
use crate::terminal::line;
use crate::{render, setup};

#[derive(Subcommand)]
pub(crate) enum ScheduleCommand {
    /// Add a schedule: start --flow of --component with --input each time
    /// --cron is due (UTC). Runs start in `cairn serve`.
    Add(AddArgs),
    /// List the schedules.
    List,
    /// Pause a schedule: no run starts until it is resumed.
    Pause(NameArg),
    /// Resume a paused schedule from its next due time (what came due
    /// meanwhile is not run).
    Resume(NameArg),
    /// Delete a schedule (the executions it started stay).
    Delete(NameArg),
}

#[derive(Args)]
pub(crate) struct AddArgs {
    /// The schedule's name.
    pub name: String,
    /// The component: a .wasm file, or (with --server) the hash of one the server holds.
    #[arg(long, value_name = "COMPONENT")]
    pub component: String,
    /// The flow to start.
    #[arg(long)]
    pub flow: String,
    /// A cron expression in UTC: 5 fields, or 6 with seconds first (`*/10 * * * * *`).
    #[arg(long)]
    pub cron: String,
    /// The flow's input, a JSON object of its parameters.
    #[arg(long, default_value = "{}")]
    pub input: String,
    /// Runs missed while no server ran: `skip` them, or start `once` for all of them.
    #[arg(long, default_value = "skip", value_parser = parse_catch_up)]
    pub catch_up: CatchUp,
}

#[derive(Args)]
pub(crate) struct NameArg {
    /// The schedule's name.
    pub name: String,
}

fn parse_catch_up(text: &str) -> Result<CatchUp, String> {
    text.parse()
}

impl From<ScheduleError> for Exit {
    fn from(e: ScheduleError) -> Exit {
        match e {
            ScheduleError::Journal(e) => Exit::from(e),
            other => Exit::bad_input(other),
        }
    }
}

/// Runs a `cairn schedules` command, through the server when one is named.
pub(crate) async fn schedules(
    global: &Global,
    command: &ScheduleCommand,
) -> Result<ExitCode, Exit> {
    if let Some(url) = &global.server {
        let client = crate::remote::connect(global, url)?;
        return remote(global, &client, command).await;
    }
    setup::existing_journal(global)?;
    let host = Host::builder()
        .journal(&global.journal)
        .engine(setup::engine(global, None)?)
        .policy(Policy::default())
        .open()?;
    let done = match command {
        ScheduleCommand::Add(args) => {
            let component = host.load_file(Path::new(&args.component)).await?;
            let spec = ScheduleSpec::new(&args.name, &args.flow, &args.input, &args.cron)
                .catch_up(args.catch_up);
            let view = host.add_schedule(&component, &spec).await?;
            Done::One("added", Box::new(view))
        }
        ScheduleCommand::List => Done::All(host.schedules().await?),
        ScheduleCommand::Pause(n) => {
            Done::One("paused", Box::new(host.pause_schedule(&n.name).await?))
        }
        ScheduleCommand::Resume(n) => {
            Done::One("resumed", Box::new(host.resume_schedule(&n.name).await?))
        }
        ScheduleCommand::Delete(n) => {
            Done::One("deleted", Box::new(host.delete_schedule(&n.name).await?))
        }
    };
    host.close().await?;
    show(global, done, true)
}

/// What a command did, to show.
enum Done {
    One(&'static str, Box<ScheduleView>),
    All(Vec<ScheduleView>),
}

async fn remote(
    global: &Global,
    client: &ApiClient,
    command: &ScheduleCommand,
) -> Result<ExitCode, Exit> {
    let failed = crate::remote::client_exit;
    let done = match command {
        ScheduleCommand::Add(args) => {
            let hash = if is_hash(&args.component) {
                args.component.clone()
            } else {
                crate::remote::reads::component(client, Path::new(&args.component))
                    .await?
                    .1
            };
            let input: serde_json::Value = serde_json::from_str(&args.input)
                .map_err(|e| Exit::bad_input(anyhow::anyhow!("--input is not JSON: {e}")))?;
            let body = json!({
                "name": args.name,
                "component": hash,
                "flow": args.flow,
                "input": input,
                "cron": args.cron,
                "catch_up": args.catch_up,
            });
            Done::One(
                "added",
                Box::new(client.post("/schedules", &body).await.map_err(failed)?),
            )
        }
        ScheduleCommand::List => Done::All(client.get("/schedules").await.map_err(failed)?),
        ScheduleCommand::Pause(n) => {
            Done::One("paused", Box::new(act(client, &n.name, "pause").await?))
        }
        ScheduleCommand::Resume(n) => {
            Done::One("resumed", Box::new(act(client, &n.name, "resume").await?))
        }
        ScheduleCommand::Delete(n) => {
            Done::One("deleted", Box::new(act(client, &n.name, "delete").await?))
        }
    };
    show(global, done, false)
}

/// `POST /schedules/{name}/{what}`.
async fn act(client: &ApiClient, name: &str, what: &str) -> Result<ScheduleView, Exit> {
    let path = format!("/schedules/{}/{what}", encode_segment(name));
    client
        .post(&path, &json!({}))
        .await
        .map_err(crate::remote::client_exit)
}

/// A name as one path segment: every byte but unreserved ones escaped.
fn encode_segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) && !Path::new(text).exists()
}

fn show(global: &Global, done: Done, direct: bool) -> Result<ExitCode, Exit> {
    match done {
        Done::All(all) if global.json => render::json(&all)?,
        Done::All(all) => table(&all),
        Done::One(_, view) if global.json => render::json(&view)?,
        Done::One(what, view) => {
            let state = if view.paused {
                "paused".to_owned()
            } else {
                format!("next run due {}", view.next_due)
            };
            eprintln!(
                "cairn: schedule {} {what}: {} of {} at `{}` ({state})",
                line(&view.name),
                line(&view.flow),
                crate::terminal::short_hash(&view.component),
                line(&view.cron),
            );
            if what == "added" && direct {
                eprintln!("cairn: its runs start while `cairn serve` runs on this journal");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn table(all: &[ScheduleView]) {
    let mut columns = Columns::new(&[
        "NAME", "FLOW", "CRON", "CATCH-UP", "STATE", "NEXT DUE", "RUNS", "LAST",
    ]);
    for s in all {
        let runs = s.runs.to_string();
        let last = s
            .last_execution
            .map(|id| id.to_string())
            .unwrap_or_default();
        let state = if s.paused { "paused" } else { "active" };
        columns.row([
            s.name.as_str(),
            s.flow.as_str(),
            s.cron.as_str(),
            s.catch_up.as_str(),
            state,
            s.next_due.as_str(),
            runs.as_str(),
            last.as_str(),
        ]);
    }
    columns.print();
}
