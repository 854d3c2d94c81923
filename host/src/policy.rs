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
    /// Captured bytes of stdout and of stderr (log lines included) per
    /// attempt; the rest is dropped and counted. Default: 64 KiB.
    pub log_bytes: usize,
    /// The largest output (JSON) a checkpoint may return; a larger one fails
    /// the attempt. Default: 16 MiB.
    pub max_output_bytes: usize,
    /// Fuel for a flow's own code (checkpoint calls do not count), for each
    /// run of it: a resumed flow re-runs its code from the start with a full
    /// budget. Past it the execution fails as trapped (`out_of_fuel`): it
    /// bounds a flow stuck in a loop, which has no wall-clock limit since it
    /// mostly waits. Default: 20,000,000,000 (tens of seconds of pure
    /// compute; a Python flow's own code takes about 10^5 per call it makes).
    pub flow_fuel: u64,
    /// The pause before a checkpoint's first retry; it doubles for each
    /// further retry, up to a minute. Default: none (retry at once).
    pub retry_delay: Duration,
    /// Host folders checkpoints may use. Default: none. Flows never see them.
    pub dirs: Vec<DirGrant>,
    /// Environment variables passed through to checkpoints, by name (with
    /// the host's value at the time of the attempt). Default: none.
    pub env: Vec<String>,
    /// Hosts checkpoints may send HTTP requests to (`wasi:http`): `host`
    /// for any port, `host:port` for one. Default: none. Sockets stay off.
    pub http_hosts: Vec<String>,
    /// The most checkpoint calls one execution may make (and the most
    /// times its flow may read the clock, each reading being journaled);
    /// the one past it fails the execution. Default: 100,000.
    pub max_calls: u32,
    /// The most items one `map` may submit; a larger map is refused.
    /// Default: 10,000.
    pub max_map_items: u32,
    /// The most calls a flow may have submitted and not yet finished or
    /// taken the result of; a submit past it is refused. Default: 10,000.
    pub max_pending: u32,
    /// The most durable waits one execution may ask. Default: 100.
    pub max_waits: u32,
    /// The most child flows one run of an execution and the children
    /// under it may start between them (starts found in the journal count
    /// too); the one past it fails the flow that makes it. It bounds how
    /// many flows one run keeps in memory at once. Default: 1,000.
    pub max_children: u32,
    /// How deep child flows may nest: a root execution is at depth 0, its
    /// children at 1, and a flow at this depth may start no child (it
    /// fails). Default: 4.
    pub max_child_depth: u32,
    /// The most bytes of call inputs and outputs one execution may make the
    /// host hold at once (running calls' inputs, outputs the flow has not
    /// let go of); past it the execution fails. Default: 512 MiB.
    pub max_held_bytes: u64,
    /// The longest message a guest hands over (a checkpoint's or flow's
    /// error, a wait's question), in bytes; a longer one is cut and says
    /// so. Default: 64 KiB.
    pub max_message_bytes: usize,
}

/// Limits a checkpoint declares for itself (`#[checkpoint(fuel = ..)]`).
/// They can only tighten the policy: the smaller of the two applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CheckpointLimits {
    /// Fuel per attempt.
    pub fuel: Option<u64>,
    /// Memory per store, in bytes.
    pub memory_bytes: Option<u64>,
    /// Wall-clock time per attempt, in milliseconds.
    pub timeout_ms: Option<u64>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            fuel: 5_000_000_000,
            memory_bytes: 256 << 20,
            timeout: Duration::from_secs(60),
            log_bytes: 64 << 10,
            max_output_bytes: 16 << 20,
            flow_fuel: 20_000_000_000,
            retry_delay: Duration::ZERO,
            dirs: Vec::new(),
            env: Vec::new(),
            http_hosts: Vec::new(),
            max_calls: 100_000,
            max_map_items: 10_000,
            max_pending: 10_000,
            max_waits: 100,
            max_children: 1_000,
            max_child_depth: 4,
            max_held_bytes: 512 << 20,
            max_message_bytes: 64 << 10,
        }
    }
}

/// The longest wall-clock limit an attempt may have.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// The largest output a policy may allow: every output is journaled and
/// held in memory.
pub const MAX_OUTPUT_BYTES: u64 = 1 << 30;

/// The longest message a policy may allow.
pub const MAX_MESSAGE_BYTES: u64 = 16 << 20;

/// The most captured output per stream a policy may allow.
pub const MAX_LOG_BYTES: u64 = 64 << 20;

/// The deepest child flows may nest: each level is a flow in memory and a
/// link the start walks, so the bound keeps both small.
pub const MAX_CHILD_DEPTH: u32 = 64;

/// The smallest memory limit a store may have: one WebAssembly page. (A
/// component needs more to start at all; what it needs is measured when it
/// is loaded, see `Component::min_memory_bytes`.)
pub const MIN_MEMORY_BYTES: u64 = 64 << 10;

impl Policy {
    /// Sets the fuel per attempt.
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = fuel;
        self
    }

    /// Sets the fuel of a flow's own code per run.
    pub fn flow_fuel(mut self, fuel: u64) -> Self {
        self.flow_fuel = fuel;
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

    /// Checks what can be checked before anything runs: limits that make
    /// sense, granted folders that exist.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(format!(
                "the timeout is {:?}; it must be between 1 ms and {} h",
                self.timeout,
                MAX_TIMEOUT.as_secs() / 3600
            ));
        }
        if self.memory_bytes < MIN_MEMORY_BYTES {
            return Err(format!(
                "the memory limit is {} bytes; it must be at least {MIN_MEMORY_BYTES} (64 KiB)",
                self.memory_bytes
            ));
        }
        for (name, value) in [
            ("fuel", self.fuel),
            ("flow fuel", self.flow_fuel),
            ("max output", self.max_output_bytes as u64),
            ("max calls", u64::from(self.max_calls)),
            ("max map items", u64::from(self.max_map_items)),
            ("max pending", u64::from(self.max_pending)),
            ("max message", self.max_message_bytes as u64),
            ("max held bytes", self.max_held_bytes),
        ] {
            if value == 0 {
                return Err(format!("the {name} limit is 0; it must be at least 1"));
            }
        }
        for (name, value, max) in [
            ("max output", self.max_output_bytes as u64, MAX_OUTPUT_BYTES),
            (
                "max message",
                self.max_message_bytes as u64,
                MAX_MESSAGE_BYTES,
            ),
            ("log bytes", self.log_bytes as u64, MAX_LOG_BYTES),
        ] {
            if value > max {
                return Err(format!(
                    "the {name} limit is {value} bytes; it must be at most {max}"
                ));
            }
        }
        if self.max_child_depth > MAX_CHILD_DEPTH {
            return Err(format!(
                "the max child depth is {}; it must be at most {MAX_CHILD_DEPTH}",
                self.max_child_depth
            ));
        }
        if self.retry_delay > Duration::from_secs(60) {
            return Err(format!(
                "the retry delay is {:?}; it must be at most 60 s",
                self.retry_delay
            ));
        }
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

    /// Checks that no granted folder holds one of `protected` (files or
    /// folders the host keeps for itself) or lies inside one, comparing
    /// real paths (symlinks resolved).
    pub(crate) fn check_grants_avoid(&self, protected: &[&std::path::Path]) -> Result<(), String> {
        let real =
            |path: &std::path::Path| path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        for dir in &self.dirs {
            let granted = real(&dir.host);
            for kept in protected {
                // A path not made yet (the artifact folder before its first
                // entry) is compared through its nearest existing parent.
                let kept = real_or_parent(kept);
                if kept.starts_with(&granted) || granted.starts_with(&kept) {
                    return Err(format!(
                        "granted folder {} overlaps {}, which Cairn keeps for itself (the journal or the compiled-code cache); grant a folder beside it instead",
                        dir.host.display(),
                        kept.display()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Sets the pause before a checkpoint's first retry.
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// Sets the captured bytes per stream per attempt.
    pub fn log_bytes(mut self, bytes: usize) -> Self {
        self.log_bytes = bytes;
        self
    }

    /// Sets the largest output a checkpoint may return.
    pub fn max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_bytes = bytes;
        self
    }

    /// Sets the most checkpoint calls one execution may make.
    pub fn max_calls(mut self, n: u32) -> Self {
        self.max_calls = n;
        self
    }

    /// Sets the most items one `map` may submit.
    pub fn max_map_items(mut self, n: u32) -> Self {
        self.max_map_items = n;
        self
    }

    /// Sets the most calls a flow may have in flight at once.
    pub fn max_pending(mut self, n: u32) -> Self {
        self.max_pending = n;
        self
    }

    /// Sets the most durable waits one execution may ask.
    pub fn max_waits(mut self, n: u32) -> Self {
        self.max_waits = n;
        self
    }

    /// Sets the most child flows one run of an execution and its children
    /// may start between them.
    pub fn max_children(mut self, n: u32) -> Self {
        self.max_children = n;
        self
    }

    /// Sets how deep child flows may nest.
    pub fn max_child_depth(mut self, n: u32) -> Self {
        self.max_child_depth = n;
        self
    }

    /// Sets the most bytes of call inputs and outputs one execution may
    /// hold at once.
    pub fn max_held_bytes(mut self, bytes: u64) -> Self {
        self.max_held_bytes = bytes;
        self
    }

    /// Sets the longest message a guest hands over.
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// Passes the host environment variable `name` through to checkpoints.
    pub fn allow_env(mut self, name: impl Into<String>) -> Self {
        self.env.push(name.into());
        self
    }

    /// Lets checkpoints send HTTP requests to `host` (or `host:port`).
    pub fn allow_http(mut self, host: impl Into<String>) -> Self {
        self.http_hosts.push(host.into());
        self
    }

    /// This policy tightened by a checkpoint's own limits (never widened).
    pub fn tightened(&self, limits: &CheckpointLimits) -> Policy {
        let mut policy = self.clone();
        if let Some(fuel) = limits.fuel {
            policy.fuel = policy.fuel.min(fuel);
        }
        if let Some(bytes) = limits.memory_bytes {
            policy.memory_bytes = policy.memory_bytes.min(bytes);
        }
        if let Some(ms) = limits.timeout_ms {
            policy.timeout = policy.timeout.min(Duration::from_millis(ms));
        }
        policy
    }

    /// What the policy grants, as one string (for the cache key).
    pub(crate) fn grants(&self) -> String {
        let record = self.record();
        format!(
            "dirs={:?};env={:?};http={:?}",
            record.dirs, record.env, record.http
        )
    }

    /// What the journal records of the policy an attempt ran under.
    pub(crate) fn record(&self) -> PolicyRecord {
        PolicyRecord {
            fuel: self.fuel,
            memory_bytes: self.memory_bytes,
            timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            dirs: self
                .dirs
                .iter()
                .map(|d| {
                    format!(
                        "{}:{}{}",
                        d.host.display(),
                        d.guest,
                        if d.read_only { ":ro" } else { "" }
                    )
                })
                .collect(),
            env: self.env.clone(),
            http: self.http_hosts.clone(),
        }
    }
}

/// `path` with symlinks resolved, or, while it does not exist, its nearest
/// existing ancestor resolved with the rest appended.
fn real_or_parent(path: &std::path::Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => {
            real_or_parent(parent).join(name)
        }
        _ => std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// The policy an attempt ran under, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyRecord {
    /// Fuel per attempt.
    pub fuel: u64,
    /// Memory per store, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock time per attempt, in milliseconds.
    pub timeout_ms: u64,
    /// Granted folders, as `HOST:GUEST[:ro]`.
    pub dirs: Vec<String>,
    /// Environment variables passed through, by name.
    pub env: Vec<String>,
    /// Hosts allowed for HTTP.
    pub http: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_can_tighten_but_never_widen() {
        let policy = Policy::default()
            .fuel(1_000)
            .timeout(Duration::from_secs(2));
        let tighter = policy.tightened(&CheckpointLimits {
            fuel: Some(10),
            memory_bytes: Some(1 << 20),
            timeout_ms: Some(50_000),
        });
        assert_eq!(tighter.fuel, 10);
        assert_eq!(tighter.memory_bytes, 1 << 20);
        assert_eq!(
            tighter.timeout,
            Duration::from_secs(2),
            "50 s asked, 2 s granted"
        );
        let wider = policy.tightened(&CheckpointLimits {
            fuel: Some(1 << 40),
            ..CheckpointLimits::default()
        });
        assert_eq!(wider.fuel, 1_000);
    }
}
