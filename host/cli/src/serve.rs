//! `cairn serve`: the long-running service on the journal (see
//! `cairn-serve`). Runs until SIGINT or SIGTERM, then stops taking work,
//! gives running executions `--grace` to finish and exits; whatever did not
//! finish is resumed by the next start.

use std::process::ExitCode;

use cairn_serve::{ServeConfig, ServeError, Server};

use crate::args::{Global, ServeArgs};
use crate::exit::Exit;
use crate::setup;
use crate::terminal::line;

pub(crate) async fn serve(global: &Global, args: &ServeArgs) -> Result<ExitCode, Exit> {
    let host = setup::host(global, &args.policy, None)?;
    let mut config = ServeConfig::new(args.listen);
    if let Some(n) = args.max_executions {
        config.max_executions = usize::try_from(n).unwrap_or(usize::MAX);
    }
    config.grace = args.grace;
    config.token_file.clone_from(&global.token_file);
    let server = Server::bind(host, config).await.map_err(|e| match e {
        ServeError::Bind { .. } | ServeError::AddressFile { .. } => Exit::host(e),
        other => Exit::bad_input(other),
    })?;
    let token = if server.needs_token() {
        "; requests need its bearer token"
    } else {
        ""
    };
    eprintln!(
        "cairn serve: listening on {} (journal {}){token}",
        server.url(),
        line(&global.journal.to_string_lossy())
    );
    let grace = args.grace;
    let report = server
        .run(shutdown_signal(), |resumed| {
            if resumed > 0 {
                eprintln!(
                    "cairn serve: resuming {resumed} execution{} a previous server left running",
                    if resumed == 1 { "" } else { "s" }
                );
            }
        })
        .await
        .map_err(Exit::host)?;
    if report.left_running > 0 {
        // Their checkpoints may still be computing: the process must not
        // wait for them (the journal keeps them `running`, to resume).
        crate::run::INTERRUPTED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    match report.left_running {
        0 => eprintln!("cairn serve: stopped"),
        n => eprintln!(
            "cairn serve: stopped after {grace:?} of grace; {n} execution{} still running will be resumed by the next `cairn serve`",
            if n == 1 { "" } else { "s" }
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Completes at the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            // Without signal handlers the process still dies of a signal;
            // there is nothing to wait for then.
            return std::future::pending().await;
        };
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        eprintln!(
            "cairn serve: shutting down: no new work; running executions get their grace period"
        );
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
