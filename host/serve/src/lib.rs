//! `cairn serve`: one long-running process that owns a Cairn journal, runs
//! executions concurrently and answers an HTTP JSON API under `/api/v1`; and
//! [`ApiClient`], the client the `cairn` CLI uses when given `--server`.
//!
//! ```text
//! Server::bind(host, config)      the listener, the token, the address file
//!   └ Server::run(shutdown)       serves until `shutdown`, then drains
//!       ├ connections             accept loop, connection cap, deadlines;
//!       │                         request_target, request_body, answer_body
//!       │                         and conn_io bound what a client can hold
//!       ├ routes/                 one file per resource; JSON in, JSON out
//!       ├ Supervisor              which executions run: a bounded number at
//!       │                         once, crashed ones resumed on start, parked
//!       │                         ones woken on time, all drained on shutdown
//!       └ Components              uploaded components, kept in the journal
//! ```
//!
//! Every error is `{"error": kind, "message": text}` with the status that
//! says whose fault it was ([`ApiError`]); no request can panic the server
//! or make it hold more than its limits ([`ServeConfig`]).

mod address_file;
mod adoption;
mod answer_body;
pub mod api;
mod auth;
mod byte_budget;
mod children;
mod client;
mod components;
mod config;
mod conn_io;
mod connections;
mod dashboard;
mod error;
mod loopback_host;
mod request_body;
mod request_target;
mod routes;
mod scheduler;
mod server;
mod strict_json;
mod supervisor;
mod token;

pub use address_file::{AddressFile, ServerAddress};
pub use client::{ApiClient, ClientError, EventStream, MAX_ANSWER, MAX_ERROR};
pub use config::{DEFAULT_LISTEN, ServeConfig};
pub use error::ApiError;
pub use server::{ServeError, Server, ShutdownReport};
