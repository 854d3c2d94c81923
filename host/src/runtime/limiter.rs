//! The memory and table limits of a store. Running out of memory looks
//! exactly like a panic to wasmtime (the guest's allocator aborts), so the
//! limiter remembers that it refused a growth: that is how an attempt is
//! classified as `memory`.

use wasmtime::ResourceLimiter;

/// The most table elements a store may have: far above what real guests use,
/// far below what would hurt the host.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

pub(crate) struct MemoryLimiter {
    max_bytes: usize,
    pub(crate) hit: bool,
    /// The linear memory of all the store's memories together: the limit is
    /// the store's, however many memories a component declares.
    total: usize,
    /// The largest total granted so far.
    pub(crate) peak: usize,
}

impl MemoryLimiter {
    pub(crate) fn new(max_bytes: u64) -> MemoryLimiter {
        MemoryLimiter {
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
            hit: false,
            total: 0,
            peak: 0,
        }
    }

    pub(crate) fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    pub(crate) fn set_max_bytes(&mut self, max_bytes: u64) {
        self.max_bytes = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.total.saturating_sub(current).saturating_add(desired);
        let allowed = total <= self.max_bytes && maximum.is_none_or(|m| desired <= m);
        if allowed {
            self.total = total;
            self.peak = self.peak.max(total);
        } else {
            self.hit = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS && maximum.is_none_or(|m| desired <= m))
    }
}
