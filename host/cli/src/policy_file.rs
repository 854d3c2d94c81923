//! `--policy FILE.toml`: the sandbox policy as a file, so it can be reviewed
//! and versioned. Every key is optional; command-line flags override it.
//!
//! ```toml
//! fuel = 2_000_000_000
//! memory = "128MiB"
//! timeout = "30s"
//! max_output = "1MiB"
//! log_bytes = "64KiB"
//! stack = "512KiB"
//! allow_env = ["API_TOKEN"]
//! allow_http = ["api.example.com", "127.0.0.1:8080"]
//!
//! [[allow_dir]]
//! host = "./data"
//! guest = "/data"
//! read_only = true
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::args::{parse_duration, parse_size};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub fuel: Option<u64>,
    pub memory: Option<String>,
    pub timeout: Option<String>,
    pub max_output: Option<String>,
    pub log_bytes: Option<String>,
    pub stack: Option<String>,
    #[serde(default)]
    pub allow_env: Vec<String>,
    #[serde(default)]
    pub allow_http: Vec<String>,
    #[serde(default)]
    pub allow_dir: Vec<DirEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirEntry {
    pub host: PathBuf,
    pub guest: Option<String>,
    #[serde(default)]
    pub read_only: bool,
}

impl PolicyFile {
    pub fn read(path: &Path) -> Result<PolicyFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: PolicyFile =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        // Check the values now, so a bad file fails before anything runs.
        for (value, check) in [
            (&file.memory, 's'),
            (&file.max_output, 's'),
            (&file.log_bytes, 's'),
            (&file.stack, 's'),
            (&file.timeout, 'd'),
        ] {
            if let Some(value) = value {
                let checked = if check == 's' {
                    parse_size(value).map(|_| ())
                } else {
                    parse_duration(value).map(|_| ())
                };
                checked.map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        Ok(file)
    }
}
