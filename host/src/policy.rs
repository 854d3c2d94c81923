//! What a checkpoint attempt may use. Every limit applies per attempt (an
//! inline call gets the full budget too); nothing outside the sandbox is
//! granted.

use std::time::Duration;

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
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            fuel: 5_000_000_000,
            memory_bytes: 256 << 20,
            timeout: Duration::from_secs(60),
            output_bytes: 64 << 10,
            flow_fuel: 20_000_000_000,
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

    /// Sets the captured output per stream per attempt.
    pub fn output_bytes(mut self, bytes: usize) -> Self {
        self.output_bytes = bytes;
        self
    }
}
