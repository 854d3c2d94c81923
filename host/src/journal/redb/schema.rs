//! The redb journal's tables. This file, `envelope.rs` and the records'
//! fields (`journal/record.rs`, postcard-encoded in field order) are the
//! on-disk format: changing any of them is a format change and bumps
//! [`FORMAT_VERSION`].
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | name | `u64` (`format_version`) |
//! | `components` | blake3 hash (32 bytes) | the component's bytes, whole (written by format 4 and older) |
//! | `component_manifests` | blake3 hash of the component | its length and chunk hashes (`journal/chunks.rs`) |
//! | `component_chunks` | blake3 hash of the chunk | the chunk's bytes, stored once for every component listing it |
//! | `executions` | execution id | envelope of `ExecutionRecord` |
//! | `calls` | (execution id, seq) | envelope of `CallRecord` |
//! | `attempts` | (execution id, seq, attempt number) | envelope of `AttemptRecord` |
//! | `waits` | (execution id, wait name) | envelope of `WaitRecord` |
//! | `times` | (execution id, n) | `u64`: the flow's n-th `now()`, µs since the Unix epoch |
//! | `cache` | blake3 of (component, checkpoint, canonical input) | (execution id, seq) of a completed call |
//! | `timers` | (execution id, seq) | envelope of `TimerRecord`: a call's retry, due at a time |
//! | `upgrades` | (execution id, n) | envelope of `UpgradeRecord`: the n-th move of an execution to another build |
//! | `schedules` | schedule name | envelope of `ScheduleRecord`: a cron schedule that starts executions (`cairn schedules`) |
//! | `children` | (parent id, seq) | child execution id: the child flow the parent's step started |
//! | `parents` | child execution id | (parent id, seq): the same link, the other way |
//!
//! `timers` came after version 4 without a bump: a table is only ever added
//! (a file without it reads as having no timers, and it is made by the first
//! write that needs it), and a build that does not know it ignores it and
//! sees a parked execution as a `waiting` one whose resume retries at once.
//! `upgrades` came the same way: a file without it has no upgraded
//! execution; a build that does not know it resumes an upgraded execution
//! with the new build and stops it with a non-determinism error at its
//! first call recorded under the old one (nothing is lost: a build that
//! knows the table resumes it).
//! `children` and `parents` came the same way: a file without them has no
//! child flows, and only a component that imports `children` (which an
//! older build does not link) makes any.

use redb::TableDefinition;

/// The format this build reads and writes. A journal with another version is
/// refused (there is no migration yet); one with no version is not a Cairn
/// journal. Version 2 added host-side flows (an execution's component became
/// optional and each call names its component); version 3 keeps a
/// non-determinism failure's seq and the two calls as data
/// (`Failure::divergence`); version 4 keeps where a wait's value came from
/// (`WaitRecord::source`, `carried_from`) and the values a replay was given
/// for waits (`ReplayPlan::answers`); version 5 stores components as
/// content-defined chunks (`component_manifests`, `component_chunks`).
pub(crate) const FORMAT_VERSION: u64 = 5;

/// The oldest format this build reads. A version-4 file differs only in
/// keeping every component whole in `components`, which this build still
/// reads; opening one for writing marks it version 5, since what this build
/// writes there (chunked components) a version-4 build would not find.
pub(crate) const OLDEST_READABLE_VERSION: u64 = 4;

/// The key in `META` under which the format version is stored.
pub(crate) const FORMAT_VERSION_KEY: &str = "format_version";

/// Journal-wide settings.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Component bytes by hash, so resume and replay run the exact code: whole,
/// as format 4 stored them (read, never written, by this build).
pub(crate) const COMPONENTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("components");

/// Components by hash, each as its manifest: length and chunk hashes.
pub(crate) const COMPONENT_MANIFESTS: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("component_manifests");

/// Component chunks by the blake3 hash of their bytes.
pub(crate) const COMPONENT_CHUNKS: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("component_chunks");

/// Executions by id.
pub(crate) const EXECUTIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("executions");

/// Calls by (execution id, seq).
pub(crate) const CALLS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("calls");

/// Attempts by (execution id, seq, attempt number from 1).
pub(crate) const ATTEMPTS: TableDefinition<(u64, u32, u32), &[u8]> =
    TableDefinition::new("attempts");

/// Completed calls by cache key. A hit is checked against the call it points
/// to (same checkpoint, same input), so a damaged entry cannot return a wrong
/// output.
pub(crate) const CACHE: TableDefinition<&[u8], (u64, u32)> = TableDefinition::new("cache");

/// Durable waits by (execution id, name).
pub(crate) const WAITS: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("waits");

/// The values a flow's `now()` returned, in order, so a resumed flow sees
/// them again.
pub(crate) const TIMES: TableDefinition<(u64, u32), u64> = TableDefinition::new("times");

/// Calls' retry timers by (execution id, seq): what a parked execution waits
/// for, and what a server schedules on start.
pub(crate) const TIMERS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("timers");

/// Executions' moves to other builds by (execution id, n from 0): which
/// recorded calls a resume counts as calls of the execution's current build.
pub(crate) const UPGRADES: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("upgrades");

/// Schedules by name (envelopes of `ScheduleRecord`), added like `timers`:
/// a file without the table has no schedules.
pub(crate) const SCHEDULES: TableDefinition<&str, &[u8]> = TableDefinition::new("schedules");

/// Child executions by (parent id, seq of the parent's step that started
/// each), added like `timers`: a file without the table has no children.
pub(crate) const CHILDREN: TableDefinition<(u64, u32), u64> = TableDefinition::new("children");

/// The other way: each child's (parent id, seq of its step).
pub(crate) const PARENTS: TableDefinition<u64, (u64, u32)> = TableDefinition::new("parents");
