//! `cairn-embed`: Cairn embedded in a small HTTP service on loopback. It
//! accepts components, runs their flows under a strict policy, runs a
//! host-side `batch` flow that maps one checkpoint over many inputs, and
//! reports executions from the journal. When it starts, it resumes every
//! execution a previous process left running (after a crash, say).
//!
//! ```text
//! cairn-embed --journal service.redb --listen 127.0.0.1:8080
//! curl --data-binary @hello.wasm localhost:8080/components
//! curl -d '{"component": "<hash>", "flow": "hello", "input": {"name": "Ada"}}' \
//!      -H 'content-type: application/json' localhost:8080/executions
//! curl localhost:8080/executions/1
//! ```

mod batch;
mod components;
mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cairn_host::{Engine, ExecutionFilter, ExecutionStatus, Host, Policy};
use clap::Parser;

use crate::components::Components;

/// Runs Cairn flows over HTTP.
#[derive(Parser)]
struct Args {
    /// The journal file (created if missing).
    #[arg(long, default_value = "cairn-embed.redb")]
    journal: PathBuf,
    /// Where to listen; keep it on loopback.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where compiled components are cached.
    #[arg(long, env = "CAIRN_ARTIFACTS")]
    artifacts: Option<PathBuf>,
}

/// What every request handler shares.
pub(crate) struct Service {
    pub(crate) host: Host,
    pub(crate) components: Components,
}

/// The policy of every checkpoint this service runs: no files, env vars or
/// network; 2·10⁹ fuel (a few hundred ms of CPU), 64 MiB, ten seconds, a MiB
/// of output.
fn strict_policy() -> Policy {
    Policy::default()
        .fuel(2_000_000_000)
        .memory_bytes(64 << 20)
        .timeout(Duration::from_secs(10))
        .max_output_bytes(1 << 20)
        .log_bytes(16 << 10)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut engine = Engine::builder();
    if let Some(dir) = &args.artifacts {
        engine = engine.artifact_cache(dir);
    }
    let host = Host::builder()
        .journal(&args.journal)
        .engine(engine.build()?)
        .policy(strict_policy())
        .open()
        .with_context(|| format!("opening {}", args.journal.display()))?;
    let service = Arc::new(Service {
        components: Components::new(host.clone()),
        host,
    });
    service
        .host
        .register(batch::flow(service.clone()))
        .context("registering the batch flow")?;
    resume_left_running(&service).await?;

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    // The first line of output says where the service is (a test reads it).
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, routes::router(service))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Resumes, in the background, every execution a previous process left
/// running: its completed calls are reused, the rest run again.
async fn resume_left_running(service: &Arc<Service>) -> anyhow::Result<()> {
    let filter = ExecutionFilter {
        status: Some(ExecutionStatus::Running),
        ..ExecutionFilter::default()
    };
    for execution in service.host.client().executions(&filter).await? {
        let service = service.clone();
        tokio::spawn(async move {
            let outcome = service.host.resume(execution.id).await;
            eprintln!("resumed execution {}: {outcome:?}", execution.id);
        });
    }
    Ok(())
}
