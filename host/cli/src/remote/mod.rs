//! The CLI as a client of `cairn serve` (`--server URL`, or `CAIRN_SERVER`):
//! `run` and every `executions …` command go through the server's API, with
//! the same output and exit codes as on a journal file. The server owns the
//! journal and the policy; the CLI only asks.
//!
//! ```text
//! connection   the client, its token, what a failed request exits with
//! reads        executions (paged), one execution, a component by hash
//! follow       an execution's progress over the event stream
//! commands     list, show, logs, cancel, input
//! running      run, resume, replay, input --resume (they follow)
//! ```

mod check;
mod commands;
mod connection;
mod follow;
pub(crate) mod reads;
mod running;
mod upgrade;

use std::process::ExitCode;

use serde_json::Value;

use crate::args::{Cli, Command, ExecutionsCommand};
use crate::exit::Exit;

pub(crate) use connection::connect;
pub(crate) use connection::exit as client_exit;

/// Runs `cli`'s command through the server at `url`.
pub(crate) async fn dispatch(cli: &Cli, url: &str) -> Result<ExitCode, Exit> {
    let global = &cli.global;
    let command = match &cli.command {
        Command::Serve(_) => {
            return Err(Exit::bad_input(anyhow::anyhow!(
                "`cairn serve` is a server: --server (or CAIRN_SERVER) is for the commands that talk to one"
            )));
        }
        // The component is read here; only the waits seen come from the
        // server.
        Command::Inspect(args) => return crate::inspect::inspect(global, args).await,
        // The database itself, never through a server.
        Command::Journal { command } => return crate::journal::journal(global, command).await,
        Command::Components { .. } => {
            return Err(Exit::bad_input(anyhow::anyhow!(
                "`cairn components prune` works on a journal, not through a server: stop the \
                 server and run it with --journal (a PostgreSQL journal may be pruned while \
                 workers run)"
            )));
        }
        Command::Run(args) => {
            return running::run(global, &connect(global, url)?, args).await;
        }
        Command::Executions { command } => command,
        Command::Check(args) => return check::check(global, &connect(global, url)?, args).await,
        // Direct or through the server, in one place.
        Command::Schedules { command } => {
            return crate::schedules::schedules(global, command).await;
        }
    };
    let client = connect(global, url)?;
    match command {
        ExecutionsCommand::List(args) => commands::list(global, &client, args).await,
        ExecutionsCommand::Show(args) => commands::show(global, &client, args).await,
        ExecutionsCommand::Logs(args) => commands::logs(global, &client, args).await,
        ExecutionsCommand::Cancel(args) => commands::cancel(&client, args).await,
        ExecutionsCommand::Input(args) if args.resume => {
            running::answer_and_resume(global, &client, args).await
        }
        ExecutionsCommand::Input(args) => {
            crate::executions::refuse_policy_without_resume(args)?;
            commands::input(global, &client, args).await
        }
        ExecutionsCommand::Resume(args) => running::resume(global, &client, args).await,
        ExecutionsCommand::Replay(args) => running::replay(global, &client, args).await,
        ExecutionsCommand::Upgrade(args) => upgrade::upgrade(global, &client, args).await,
        ExecutionsCommand::Prune(args) => crate::prune::remote(global, &client, args).await,
    }
}

/// The JSON text a flag was given, as a value the API carries.
fn json_arg(flag: &str, text: &str) -> Result<Value, Exit> {
    serde_json::from_str(text)
        .map_err(|e| Exit::bad_input(anyhow::anyhow!("{flag} is not JSON: {e}")))
}
