//! A server's life: bind, resume what a previous one left running and
//! schedule the retries parked executions wait for, serve, and on shutdown
//! stop taking work, give running executions their grace period and go
//! (parked ones have nothing to finish: their timers are in the journal).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use cairn_host::Host;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::address_file::{AddressFile, ServerAddress};
use crate::auth::Auth;
use crate::components::Components;
use crate::config::ServeConfig;
use crate::routes::{AppState, router};
use crate::supervisor::Supervisor;
use crate::token;

/// A server could not start, or failed while serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token file cannot be read or made.
    #[error("the token file {}: {reason}", path.display())]
    Token {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Listening beyond loopback needs a token, and there is no place to
    /// keep one (an in-memory journal and no `--token-file`).
    #[error(
        "listening on {addr} (not loopback) needs a bearer token: give --token-file FILE (it is made when missing)"
    )]
    TokenRequired {
        /// The address.
        addr: SocketAddr,
    },
    /// The address file beside the journal cannot be written.
    #[error("cannot write {}", path.display())]
    AddressFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving failed")]
    Serve(#[source] std::io::Error),
    /// The journal could not be read to resume executions (those left
    /// running, and those parked on a retry timer).
    #[error("cannot resume the executions left running or parked: {0}")]
    Recover(String),
}

/// How a server's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Executions still running when the grace period ran out; they stay
    /// `running` in the journal and are resumed on the next start.
    pub left_running: usize,
}

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    url: String,
    host: Host,
    config: ServeConfig,
    token: Option<Arc<str>>,
    address_file: Option<AddressFile>,
}

impl Server {
    /// Binds `config.listen`, sets up the token (required beyond loopback:
    /// read from `config.token_file`, or `<journal>.token` when that is not
    /// given, and made with mode 0600 when missing) and writes the server's
    /// address beside the journal.
    pub async fn bind(host: Host, config: ServeConfig) -> Result<Server, ServeError> {
        let addr = config.listen;
        let token_file = match (&config.token_file, addr.ip().is_loopback()) {
            (Some(file), _) => Some(file.clone()),
            (None, true) => None,
            (None, false) => match host.journal_path() {
                Some(journal) => {
                    let mut name = journal.as_os_str().to_owned();
                    name.push(".token");
                    Some(PathBuf::from(name))
                }
                None => return Err(ServeError::TokenRequired { addr }),
            },
        };
        let token = token_file
            .as_deref()
            .map(token::load_or_create)
            .transpose()?
            .map(Arc::from);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        let url = format!("http://{local}");
        let address_file = match host.journal_path() {
            Some(journal) => {
                let address = ServerAddress {
                    url: url.clone(),
                    pid: std::process::id(),
                };
                Some(AddressFile::write(journal, &address).map_err(|source| {
                    ServeError::AddressFile {
                        path: ServerAddress::path_for(journal),
                        source,
                    }
                })?)
            }
            None => None,
        };
        Ok(Server {
            listener,
            url,
            host,
            config,
            token,
            address_file,
        })
    }

    /// The URL it listens on (`http://127.0.0.1:7080`; the real port when
    /// `listen` asked for port 0).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether requests need the bearer token.
    pub fn needs_token(&self) -> bool {
        self.token.is_some()
    }

    /// Resumes the executions a previous server left `running`, schedules
    /// the retries of those parked on a timer, serves until
    /// `shutdown` completes, then stops taking work and gives running
    /// executions `grace` to finish. `on_ready` is called once requests
    /// are served, with how many executions were resumed.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        on_ready: impl FnOnce(usize) + Send,
    ) -> Result<ShutdownReport, ServeError> {
        let Server {
            listener,
            host,
            config,
            token,
            address_file,
            ..
        } = self;
        let supervisor = Arc::new(Supervisor::new(
            host.clone(),
            config.max_executions,
            config.max_queued,
        ));
        let resumed = supervisor
            .recover()
            .await
            .map_err(|e| ServeError::Recover(e.message))?;
        let parked = supervisor
            .schedule_parked()
            .await
            .map_err(|e| ServeError::Recover(e.message))?;
        // Workers sharing a database take over the executions of one that
        // died (pg helper, issue #17).
        if host.journal_is_shared() {
            supervisor.adopt_every(std::time::Duration::from_secs(1));
        }
        if parked > 0 {
            tracing::info!(parked, "retries of parked executions scheduled");
            eprintln!(
                "cairn serve: {parked} execution{} parked on a retry resume{} when the retry is due",
                if parked == 1 { "" } else { "s" },
                if parked == 1 { "s" } else { "" },
            );
        }
        let stopping = CancellationToken::new();
        // The schedules' runs start from here on (see `scheduler`).
        let scheduler_wake = Arc::new(tokio::sync::Notify::new());
        let state = Arc::new(AppState {
            components: Components::new(host.clone()),
            host,
            supervisor: supervisor.clone(),
            uploads: Arc::new(Semaphore::new(config.max_uploads.max(1))),
            streams: Arc::new(Semaphore::new(config.max_streams.max(1))),
            shutdown: stopping.clone(),
            config: config.clone(),
            scheduler: scheduler_wake.clone(),
        });
        // Children end outside the supervisor's runs (see `children`).
        crate::children::follow(state.host.clone(), supervisor.clone(), stopping.clone());
        let (host, waker) = (state.host.clone(), supervisor.clone());
        tokio::spawn(async move { crate::children::resume_parents_of_ended(&host, &waker).await });
        crate::scheduler::start(
            state.host.clone(),
            supervisor.clone(),
            scheduler_wake,
            stopping.clone(),
        );
        let loopback_only = token.is_none();
        let mut app = crate::dashboard::mount(
            router(
                state.clone(),
                Auth {
                    token: token.clone(),
                },
            ),
            state,
            token,
        );
        if loopback_only {
            app = app.layer(axum::middleware::from_fn(
                crate::loopback_host::require_loopback_host,
            ));
        }
        let signal = {
            let stopping = stopping.clone();
            let supervisor = supervisor.clone();
            async move {
                shutdown.await;
                supervisor.stop_taking_work();
                stopping.cancel();
            }
        };
        on_ready(resumed);
        tokio::spawn(signal);
        let connections = TaskTracker::new();
        let serve = async {
            crate::connections::serve(
                listener,
                app,
                &config,
                stopping.clone(),
                connections.clone(),
            )
            .await;
            connections.close();
            connections.wait().await;
        };
        // Requests in flight get the grace period too; a client that holds
        // its connection longer is cut off.
        let began = tokio::select! {
            () = serve => Instant::now(),
            began = async {
                stopping.cancelled().await;
                let began = Instant::now();
                tokio::time::sleep(config.grace).await;
                began
            } => began,
        };
        let left = config.grace.saturating_sub(began.elapsed());
        let left_running = supervisor.drain(left).await;
        drop(address_file);
        Ok(ShutdownReport { left_running })
    }
}
