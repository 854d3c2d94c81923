//! `--policy FILE.toml`: the sandbox policy as a file, so it can be reviewed
//! and versioned. Every key is optional; command-line flags override it.
//! Values have the ranges of the flags (`limits.rs`); the file is at most
//! 1 MiB.
//!
//! ```toml
//! fuel = 2_000_000_000
//! flow_fuel = 20_000_000_000
//! memory = "128MiB"
//! timeout = "30s"
//! retry_delay = "5s"
//! max_output = "1MiB"
//! log_bytes = "64KiB"
//! stack = "512KiB"
//! max_calls = 100_000
//! max_map_items = 10_000
//! max_pending = 10_000
//! max_waits = 100
//! max_children = 1_000
//! max_child_depth = 4
//! max_message = "64KiB"
//! max_held = "512MiB"
//! allow_env = ["API_TOKEN"]
//! allow_http = ["api.example.com", "127.0.0.1:8080"]
//!
//! [[allow_dir]]
//! host = "./data"
//! guest = "/data"
//! read_only = true
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::{files, limits, terminal};

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicyFile {
    fuel: Option<u64>,
    flow_fuel: Option<u64>,
    memory: Option<String>,
    timeout: Option<String>,
    retry_delay: Option<String>,
    max_output: Option<String>,
    log_bytes: Option<String>,
    stack: Option<String>,
    max_calls: Option<u64>,
    max_map_items: Option<u64>,
    max_pending: Option<u64>,
    max_waits: Option<u64>,
    max_children: Option<u64>,
    max_child_depth: Option<u64>,
    max_message: Option<String>,
    max_held: Option<String>,
    #[serde(default)]
    allow_env: Vec<String>,
    #[serde(default)]
    allow_http: Vec<String>,
    #[serde(default)]
    allow_dir: Vec<DirEntry>,
}

/// The file with its values checked against the same ranges as the flags.
#[derive(Debug, Default)]
pub(crate) struct PolicyFile {
    pub fuel: Option<u64>,
    pub flow_fuel: Option<u64>,
    pub memory: Option<u64>,
    pub timeout: Option<Duration>,
    pub retry_delay: Option<Duration>,
    pub max_output: Option<u64>,
    pub log_bytes: Option<u64>,
    pub stack: Option<u64>,
    pub max_calls: Option<u32>,
    pub max_map_items: Option<u32>,
    pub max_pending: Option<u32>,
    pub max_waits: Option<u32>,
    pub max_children: Option<u32>,
    pub max_child_depth: Option<u32>,
    pub max_message: Option<u64>,
    pub max_held: Option<u64>,
    pub allow_env: Vec<String>,
    pub allow_http: Vec<String>,
    pub allow_dir: Vec<DirEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DirEntry {
    pub host: PathBuf,
    pub guest: Option<String>,
    #[serde(default)]
    pub read_only: bool,
}

impl PolicyFile {
    /// Reads and checks the file, so a bad one fails before anything runs.
    pub(crate) fn read(path: &Path) -> Result<PolicyFile, String> {
        let text = files::read_text(path, "policy file", limits::POLICY_FILE_BYTES)?;
        let shown = terminal::line(&path.to_string_lossy()).into_owned();
        let shown = shown.as_str();
        let raw: RawPolicyFile = toml::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
        let key = |name: &'static str| move |e: String| format!("{shown}: `{name}`: {e}");
        let size = |value: Option<String>, name, parse: fn(&str) -> Result<u64, String>| {
            value.as_deref().map(parse).transpose().map_err(key(name))
        };
        let count = |value: Option<u64>, name| {
            value
                .map(limits::count_in_range)
                .transpose()
                .map_err(key(name))
        };
        Ok(PolicyFile {
            fuel: raw
                .fuel
                .map(limits::fuel_in_range)
                .transpose()
                .map_err(key("fuel"))?,
            flow_fuel: raw
                .flow_fuel
                .map(limits::fuel_in_range)
                .transpose()
                .map_err(key("flow_fuel"))?,
            memory: size(raw.memory, "memory", limits::memory)?,
            timeout: raw
                .timeout
                .as_deref()
                .map(limits::timeout)
                .transpose()
                .map_err(key("timeout"))?,
            retry_delay: raw
                .retry_delay
                .as_deref()
                .map(limits::retry_delay)
                .transpose()
                .map_err(key("retry_delay"))?,
            max_output: size(raw.max_output, "max_output", limits::max_output)?,
            log_bytes: size(raw.log_bytes, "log_bytes", limits::log_bytes)?,
            stack: size(raw.stack, "stack", limits::stack)?,
            max_calls: count(raw.max_calls, "max_calls")?,
            max_map_items: count(raw.max_map_items, "max_map_items")?,
            max_pending: count(raw.max_pending, "max_pending")?,
            max_waits: count(raw.max_waits, "max_waits")?,
            max_children: count(raw.max_children, "max_children")?,
            max_child_depth: count(raw.max_child_depth, "max_child_depth")?,
            max_message: size(raw.max_message, "max_message", limits::max_message)?,
            max_held: size(raw.max_held, "max_held", limits::max_held)?,
            allow_env: raw.allow_env,
            allow_http: raw.allow_http,
            allow_dir: raw.allow_dir,
        })
    }
}
