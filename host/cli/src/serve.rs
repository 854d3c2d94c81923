//! `cairn serve`: the long-running service on the journal (see
//! `cairn-serve`). Runs until SIGINT or SIGTERM, then stops taking work,
//! gives running executions `--grace` to finish and exits; whatever did not
//! finish is resumed by the next start.

use std::process::ExitCode;
use std::time::Duration;

use cairn_serve::{ServeConfig, ServeError, Server};
use clap::Args;

use crate::args::{Global, ServeArgs};
use crate::exit::Exit;
use crate::limits;
use crate::setup;
use crate::terminal::line;

/// What clients may make `cairn serve` hold, server-wide, and how long it
/// waits for them (`cairn_serve::ServeConfig` has the defaults).
#[derive(Args)]
pub(crate) struct LimitArgs {
    /// Connections open at once; one more is answered 503 and closed [default: 1024].
    #[arg(long, value_name = "N", value_parser = count)]
    pub max_connections: Option<usize>,
    /// Requests served at once, not counting /health, ?wait= requests and
    /// event streams; past it, 503 [default: 1024].
    #[arg(long, value_name = "N", value_parser = count)]
    pub max_requests: Option<usize>,
    /// Requests waiting for an execution's end (?wait=) at once; past it, 503 [default: 256].
    #[arg(long, value_name = "N", value_parser = count)]
    pub max_waiting: Option<usize>,
    /// Event streams (GET /api/v1/events) open at once; past it, 503 [default: 256].
    #[arg(long, value_name = "N", value_parser = count)]
    pub max_streams: Option<usize>,
    /// Request body bytes held at once across all requests, e.g. 512MiB;
    /// a body that would pass it gets 503 [default: 512MiB].
    #[arg(long, value_name = "SIZE", value_parser = memory)]
    pub max_body_memory: Option<usize>,
    /// Answer bytes held at once for clients that have not taken them yet;
    /// an answer that would pass it is replaced by 503 [default: 512MiB].
    #[arg(long, value_name = "SIZE", value_parser = memory)]
    pub max_answer_memory: Option<usize>,
    /// How long a client has to send a request's head; also the longest a
    /// connection may sit idle between requests [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = deadline)]
    pub header_timeout: Option<Duration>,
    /// The longest a request body may stop arriving; then 408 [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = deadline)]
    pub body_timeout: Option<Duration>,
    /// The slowest a request body may arrive on average after its first
    /// --body-timeout, per second, e.g. 64KiB; slower, 408 [default: 64KiB].
    #[arg(long, value_name = "SIZE", value_parser = rate)]
    pub body_min_rate: Option<u64>,
    /// The longest a client may leave its answer unread before its
    /// connection is dropped [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = deadline)]
    pub write_timeout: Option<Duration>,
}

impl LimitArgs {
    fn apply(&self, config: &mut ServeConfig) {
        let set = |field: &mut usize, value: Option<usize>| {
            if let Some(value) = value {
                *field = value;
            }
        };
        set(&mut config.max_connections, self.max_connections);
        set(&mut config.max_requests, self.max_requests);
        set(&mut config.max_waiting, self.max_waiting);
        set(&mut config.max_streams, self.max_streams);
        set(&mut config.max_body_memory, self.max_body_memory);
        set(&mut config.max_answer_memory, self.max_answer_memory);
        if let Some(t) = self.header_timeout {
            config.header_timeout = t;
        }
        if let Some(t) = self.body_timeout {
            config.body_timeout = t;
        }
        if let Some(rate) = self.body_min_rate {
            config.body_min_rate = rate;
        }
        if let Some(t) = self.write_timeout {
            config.write_timeout = t;
        }
    }
}

/// A count of things held at once: 1 to 1,000,000.
fn count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "must be a whole number from 1 to 1000000, not {}",
            line(text.trim())
        )),
    }
}

/// A server-wide memory budget: 1 MiB to 1 TiB.
fn memory(text: &str) -> Result<usize, String> {
    let bytes = limits::parse_size(text)?;
    match usize::try_from(bytes) {
        Ok(bytes) if ((1 << 20)..=(1 << 40)).contains(&bytes) => Ok(bytes),
        _ => Err(format!(
            "must be from 1MiB to 1024GiB, not {}",
            line(text.trim())
        )),
    }
}

/// A rate in bytes per second: 0 (no minimum) to 1 GiB.
fn rate(text: &str) -> Result<u64, String> {
    let bytes = limits::parse_size(text)?;
    if bytes <= 1 << 30 {
        return Ok(bytes);
    }
    Err(format!("must be at most 1GiB, not {}", line(text.trim())))
}

/// A deadline on a client: 10ms to 1h.
fn deadline(text: &str) -> Result<Duration, String> {
    let duration = limits::parse_duration(text)?;
    if (Duration::from_millis(10)..=Duration::from_secs(3600)).contains(&duration) {
        return Ok(duration);
    }
    Err(format!(
        "must be from 10ms to 1h, not {}",
        line(text.trim())
    ))
}

pub(crate) async fn serve(global: &Global, args: &ServeArgs) -> Result<ExitCode, Exit> {
    let host = setup::host(global, &args.policy, None)?;
    let mut config = ServeConfig::new(args.listen);
    if let Some(n) = args.max_executions {
        config.max_executions = usize::try_from(n).unwrap_or(usize::MAX);
    }
    config.grace = args.grace;
    args.limits.apply(&mut config);
    config.token_file.clone_from(&global.token_file);
    let server = Server::bind(host, config).await.map_err(|e| match e {
        ServeError::Bind { .. } | ServeError::AddressFile { .. } => Exit::host(e),
        other => Exit::bad_input(other),
    })?;
    // Handlers go in before the address is announced: a client that reads
    // it and sends SIGTERM at once must get a shutdown, not a killed process.
    let shutdown = shutdown_signal();
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
        .run(shutdown, |resumed| {
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

/// Installs the SIGINT and SIGTERM handlers now; the future completes at
/// the first of either.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            let (Ok(mut interrupt), Ok(mut terminate)) = handlers else {
                // Without signal handlers the process still dies of a
                // signal; there is nothing to wait for then.
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
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
