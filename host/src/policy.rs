//! What a checkpoint attempt may use. Every limit applies per attempt (an
//! inline call gets the full budget too); nothing outside the sandbox is
//! granted.

use std::path::PathBuf;
use std::time::Duration;

/// A host folder a checkpoint may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// The folder on the host.
    pub host: PathBuf,
    /// Where the guest sees it (an absolute guest path such as `/data`).
    pub guest: String,
    /// Whether the guest may only read.
    pub read_only: bool,
}

/// The limits every checkpoint attempt runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Fuel (roughly, WebAssembly instructions) per attempt.
    /// Default: 5,000,000,000 (a few seconds of pure compute).
    pub fuel: u64,
    /// Linear memory per store, in bytes. Default: 256 MiB.
    pub memory_bytes: u64,
    /// Wall-clock time per attempt. Default: 60 s.
    pub timeout: Duration,
    /// Captured bytes of stdout and of stderr per attempt; the rest is
    /// dropped. Default: 64 KiB.
    pub output_bytes: usize,
    /// Fuel for a flow's own code over its whole run (checkpoint calls do not
    /// count). Default: 20,000,000,000.
    pub flow_fuel: u64,
    /// The pause before a checkpoint's first retry; it doubles for each
    /// further retry, up to a minute. Default: none (retry at once).
    pub retry_delay: Duration,
    /// Host folders checkpoints may use. Default: none. Flows never see them.
    pub dirs: Vec<DirGrant>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            fuel: 5_000_000_000,
            memory_bytes: 256 << 20,
            timeout: Duration::from_secs(60),
            output_bytes: 64 << 10,
            flow_fuel: 20_000_000_000,
            retry_delay: Duration::ZERO,
            dirs: Vec::new(),
        }
    }
}

impl Policy {
    /// Sets the fuel per attempt.
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = fuel;
        self
    }

    /// Sets the memory per store.
    pub fn memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// Sets the wall-clock time per attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Grants checkpoints the host folder `host`, seen by the guest as
    /// `guest`, read-only or read-write.
    pub fn allow_dir(
        mut self,
        host: impl Into<PathBuf>,
        guest: impl Into<String>,
        read_only: bool,
    ) -> Self {
        self.dirs.push(DirGrant {
            host: host.into(),
            guest: guest.into(),
            read_only,
        });
        self
    }

    /// Checks what can be checked before anything runs: granted folders exist.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for dir in &self.dirs {
            if !dir.host.is_dir() {
                return Err(format!(
                    "granted folder {} is not a folder on this host",
                    dir.host.display()
                ));
            }
            if !dir.guest.starts_with('/') {
                return Err(format!(
                    "the guest path `{}` of a granted folder must be absolute",
                    dir.guest
                ));
            }
        }
        Ok(())
    }

    /// Sets the pause before a checkpoint's first retry.
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// Sets the captured output per stream per attempt.
    pub fn output_bytes(mut self, bytes: usize) -> Self {
        self.output_bytes = bytes;
        self
    }
}
