//! `cairn`: run durable flows of WebAssembly checkpoints and inspect their
//! journal. Output of a flow goes to stdout; progress and ids to stderr.
//!
//! With `--server URL` the commands go through a `cairn serve` instead of
//! a journal file (see `remote`).
//!
//! Exit codes: 0 completed, 1 flow failed, 2 usage or bad input, 3 waiting,
//! 4 journal or host error; 130 and 143 when SIGINT or SIGTERM stopped a
//! command running code (the execution stays resumable).

mod args;
mod check;
mod components;
mod executions;
mod exit;
mod files;
mod finish;
mod inspect;
mod journal;
mod limits;
mod policy_file;
mod producers;
mod prune;
mod remote;
mod render;
mod run;
mod schedules;
mod serve;
mod setup;
mod signals;
mod table;
mod terminal;
mod timer_text;
mod upgrade;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command, ExecutionsCommand};
use crate::exit::Exit;

/// The message of the last panic, for the one-line internal error report.
/// The hook prints nothing itself: panics that the host catches (redb's, on a
/// damaged journal) are reported as typed errors instead.
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
    }));
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return report(Exit::host(anyhow::anyhow!(
                "cannot start the async runtime: {e}"
            )));
        }
    };
    // No panic reaches the user as a backtrace: it becomes a host error.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(dispatch(cli))
    }));
    if run::INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed) {
        // A checkpoint of the dropped run may still be computing, and it
        // would hold the exit up to its time limit: it is left to the end
        // of the process, as the journal already holds what it must.
        runtime.shutdown_background();
    }
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(exit)) => report(exit),
        Err(_) => {
            let what = LAST_PANIC
                .lock()
                .ok()
                .and_then(|mut p| p.take())
                .unwrap_or_default();
            // `cairn … | head`: the reader closed stdout (Rust ignores
            // SIGPIPE, so the write failed and `println!` panicked). End as
            // any Unix tool whose reader went away does: quietly, with the
            // status a SIGPIPE gives. Whatever ran is journaled already.
            if what.contains("failed printing to stdout") && what.contains("Broken pipe") {
                return ExitCode::from(exit::code::CLOSED_STDOUT);
            }
            report(Exit::host(anyhow::anyhow!(
                "internal error (a bug in cairn): {what}"
            )))
        }
    }
}

async fn dispatch(cli: Cli) -> Result<ExitCode, Exit> {
    if let Some(url) = &cli.global.server {
        return remote::dispatch(&cli, url).await;
    }
    match &cli.command {
        Command::Run(args) => run::run(&cli.global, args).await,
        Command::Inspect(args) => inspect::inspect(&cli.global, args).await,
        Command::Executions { command } => match command {
            ExecutionsCommand::List(args) => executions::list(&cli.global, args).await,
            ExecutionsCommand::Show(args) => executions::show(&cli.global, args).await,
            ExecutionsCommand::Resume(args) => run::resume(&cli.global, args).await,
            ExecutionsCommand::Replay(args) => run::replay(&cli.global, args).await,
            ExecutionsCommand::Input(args) => executions::input(&cli.global, args).await,
            ExecutionsCommand::Cancel(args) => executions::cancel(&cli.global, args).await,
            ExecutionsCommand::Logs(args) => executions::logs(&cli.global, args).await,
            ExecutionsCommand::Upgrade(args) => upgrade::upgrade(&cli.global, args).await,
            ExecutionsCommand::Prune(args) => prune::prune(&cli.global, args).await,
        },
        Command::Check(args) => check::check(&cli.global, args).await,
        Command::Schedules { command } => schedules::schedules(&cli.global, command).await,
        Command::Serve(args) => serve::serve(&cli.global, args).await,
        Command::Journal { command } => journal::journal(&cli.global, command).await,
        Command::Components { command } => components::components(&cli.global, command).await,
    }
}

/// The final `error:` line. Errors carry guest text (flow lists, input
/// errors, non-determinism descriptions), so it is made safe to show, on one
/// line: a line break in it could forge a second `error:` line.
fn report(exit: Exit) -> ExitCode {
    let error = format!("{:#}", exit.error);
    eprintln!("error: {}", terminal::line(&error));
    exit.code
}
