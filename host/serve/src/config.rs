//! How a server listens and what it may be made to hold.
//!
//! Every resource a client can make the server hold has a bound for the
//! whole server, not only one per request: connections, request bytes in
//! flight, answer bytes not yet taken, requests being served, requests
//! waiting for an execution's end, event streams; and every wait on a
//! client has a deadline (the request head, a request body that stops
//! arriving, an answer the client does not read).

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
    /// Uploads being checked and stored at once (their bodies are already
    /// received, under `max_body_memory`). Default 2.
    pub max_uploads: usize,
    /// Requests being served at once, past it `503`; not counting
    /// `/health` (always answered), requests waiting for an execution's end
    /// (`max_waiting`) nor event streams (`max_streams`). Default 1,024.
    pub max_requests: usize,
    /// Requests with `?wait=` at once (each holds a connection until its
    /// execution stops running); past it, `503`. Default 256.
    pub max_waiting: usize,
    /// Event streams open at once; past it, `503`. Default 256.
    pub max_streams: usize,
    /// Connections open at once; a connection past it is answered `503`
    /// and closed at once. Default 1,024.
    pub max_connections: usize,
    /// Request body bytes held at once, across all requests: taken as they
    /// arrive, given back when the request is answered; a body that would
    /// pass it is refused with `503`. A body larger than the whole budget
    /// can never be received: keep it at least `max_component_bytes`.
    /// Default 512 MiB.
    pub max_body_memory: usize,
    /// Answer bytes held at once, across all connections, until the client
    /// has taken them; an answer that would pass it is replaced by `503`.
    /// Default 512 MiB.
    pub max_answer_memory: usize,
    /// How long a client has to send a request's head (line and headers);
    /// also how long a connection may sit idle between requests. Default
    /// 10 s.
    pub header_timeout: Duration,
    /// The longest a request body may stop arriving (no byte at all); past
    /// it, `408` and the connection is closed. Default 30 s.
    pub body_timeout: Duration,
    /// The slowest a request body may arrive on average, in bytes per
    /// second, after its first `body_timeout`: a body that trickles slower
    /// is cut with `408`. Default 64 KiB/s.
    pub body_min_rate: u64,
    /// The longest a client may leave an answer unread (the server cannot
    /// write a byte of it); past it, the connection is dropped, with what
    /// it held. Default 30 s.
    pub write_timeout: Duration,
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
            max_waiting: 256,
            max_streams: 256,
            max_connections: 1024,
            max_body_memory: 512 << 20,
            max_answer_memory: 512 << 20,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            body_min_rate: 64 << 10,
            write_timeout: Duration::from_secs(30),
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
