//! Deterministic WASI for flows: the wall clock stands still at the
//! execution's journaled start time, the monotonic clock at zero, and random
//! bytes come from a blake3 stream keyed by the execution's journaled seed.
//! A resumed flow therefore sees exactly what the first run saw.

use std::convert::Infallible;
use std::time::Duration;

use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// A wall clock fixed at one instant.
pub(crate) struct FixedWallClock {
    pub(crate) since_epoch: Duration,
}

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_micros(1)
    }

    fn now(&self) -> Duration {
        self.since_epoch
    }
}

/// A monotonic clock that never moves.
pub(crate) struct FrozenMonotonicClock;

impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        0
    }
}

/// Random bytes from a seed: a blake3 XOF keyed by it. Stable across Rust and
/// crate versions (blake3 is a fixed function), unlike `StdRng`.
pub(crate) struct SeededRandom {
    stream: blake3::OutputReader,
}

impl SeededRandom {
    pub(crate) fn new(seed: u64, purpose: &str) -> SeededRandom {
        let mut hasher = blake3::Hasher::new_derive_key("cairn flow random v1");
        hasher.update(&seed.to_le_bytes());
        hasher.update(purpose.as_bytes());
        SeededRandom {
            stream: hasher.finalize_xof(),
        }
    }
}

impl rand_core::TryRng for SeededRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0; 4];
        self.stream.fill(&mut bytes);
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0; 8];
        self.stream.fill(&mut bytes);
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.stream.fill(dst);
        Ok(())
    }
}
