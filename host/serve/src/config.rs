//! How a server listens and what it may be made to hold.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `--listen` when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7080";

/// How to run a server. [`ServeConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeConfig {
    /// Where to listen. Default `127.0.0.1:7080`.
    pub listen: SocketAddr,
    /// Executions running at once; more wait for a slot (at most
    /// `max_queued` of them, then `503`). Default: 8 per core.
    pub max_executions: usize,
    /// Start requests that may wait for a slot before the server answers
    /// `503 unavailable`. Default: 1,024.
    pub max_queued: usize,
    /// How long running executions get to finish on shutdown before the
    /// server exits (they are resumed on the next start). Default 10 s.
    pub grace: Duration,
    /// The bearer token file. Required (and created with mode 0600 when
    /// missing) when `listen` is not a loopback address; optional on
    /// loopback, where a token is only asked for when this is set.
    pub token_file: Option<PathBuf>,
    /// The largest JSON request body. Default 64 MiB (the CLI's
    /// `--input-file` limit).
    pub max_json_bytes: usize,
    /// The largest component upload. Default: what the host loads at most
    /// ([`cairn_host::MAX_COMPONENT_BYTES`]).
    pub max_component_bytes: usize,
    /// Uploads being received at once (each may be
    /// `max_component_bytes`), so uploads cannot fill the memory. Default 2.
    pub max_uploads: usize,
    /// Requests being served at once (event streams included); past it,
    /// `503`. Default 1,024.
    pub max_requests: usize,
    /// Event streams open at once; past it, `503`. Default 256.
    pub max_streams: usize,
}

impl ServeConfig {
    /// The defaults, listening on `listen`.
    pub fn new(listen: SocketAddr) -> ServeConfig {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        ServeConfig {
            listen,
            max_executions: cores.saturating_mul(8),
            max_queued: 1024,
            grace: Duration::from_secs(10),
            token_file: None,
            max_json_bytes: 64 << 20,
            max_component_bytes: cairn_host::MAX_COMPONENT_BYTES as usize,
            max_uploads: 2,
            max_requests: 1024,
            max_streams: 256,
        }
    }
}

impl Default for ServeConfig {
    fn default() -> ServeConfig {
        let listen = DEFAULT_LISTEN
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 7080)));
        ServeConfig::new(listen)
    }
}
