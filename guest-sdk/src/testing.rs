//! Unit tests of flows and checkpoints with plain `cargo test`, no
//! component and no host. (Not compiled for `wasm32`.)
//!
//! Outside wasm, a checkpoint call runs the checkpoint's function at once,
//! in the test's process: its input is serialized to the JSON object of
//! its parameters and read back by the checkpoint's entry point, its
//! output serialized and decoded into the type the flow expects, exactly
//! as between a component and the host, so a type that does not survive
//! the trip fails the test as it would fail the execution. A failure is
//! retried as the checkpoint's `retries` say, and a panic in a checkpoint
//! is a trapped attempt; the flow sees the same `Result<T, Error>` as in
//! the host. [`FlowTest`] gives a run its wait values, clock and random
//! seed, and hands back what happened:
//!
//! ```
//! use cairn_guest::testing::{FlowTest, json};
//! use cairn_guest::{Error, checkpoint, flow, wait};
//!
//! #[checkpoint(retries = 1)]
//! fn draft(topic: String) -> String {
//!     format!("On {topic}.")
//! }
//!
//! #[flow]
//! fn post(topic: String) -> Result<String, Error> {
//!     let text = draft(topic)?;
//!     let approved: bool = wait("approve", &format!("Publish? {text}"))?;
//!     Ok(if approved { text } else { "not published".to_owned() })
//! }
//!
//! # fn main() {
//! let run = FlowTest::new()
//!     .wait_value("approve", true)
//!     .run(|| post("durable flows".to_owned()));
//! assert_eq!(run.output, Ok("On durable flows.".to_owned()));
//! assert_eq!(run.call_ids(), ["draft"]);
//! assert_eq!(run.calls[0].input, json!({"topic": "durable flows"}));
//! assert_eq!(run.waits[0].value, Some(json!(true)));
//!
//! // Without a value the wait fails, saying which wait and how to give one.
//! let run = FlowTest::new().run(|| post("durable flows".to_owned()));
//! assert!(matches!(run.output, Err(Error::Context { .. })));
//! # }
//! ```
//!
//! What differs from the host: nothing is journaled (no resume, replay or
//! cache; every call runs), there is no sandbox (no fuel, memory or time
//! limits, no isolation between inline and isolated checkpoints, a
//! checkpoint sees the real files and network), `submit`, `map` and
//! `product` run their calls one after the other in submission order, and
//! a flow's own panic fails the test instead of the execution.
//! `#[flow(retries)]` is not applied: the test calls the flow's function.
//!
//! A call finds its checkpoint by name among every `#[checkpoint]` linked
//! into the test binary, as a component's export does: write the tests in
//! the guest crate itself (`#[cfg(test)] mod tests`), and give checkpoints
//! of different doctests different names (edition 2024 merges doctests
//! into one binary, and two checkpoints of one name are an error).
//!
//! Outside a [`FlowTest`] run, calls still work, with the defaults: the
//! clock stands at the Unix epoch, the seed is 0, every wait fails, and
//! nothing is recorded. So a checkpoint can also be tested by calling it:
//! `assert_eq!(add_one(1), Ok(2))`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
pub use serde_json::{Value, json};

use crate::error::{Error, TrapKind};
use crate::native::context::{self, Settings};

/// A test run of a flow (or of any code that calls checkpoints), with the
/// values of its waits, its clock and its random seed.
///
/// Defaults: no wait has a value, the clock stands still at
/// [`UNIX_EPOCH`], the seed is 0. Each run starts afresh (call ids,
/// clock, generator), and its state belongs to the thread it runs on, so
/// tests running in parallel never see each other's.
#[derive(Debug, Clone)]
#[must_use = "a FlowTest does nothing until `run`"]
pub struct FlowTest {
    settings: Settings,
}

impl Default for FlowTest {
    fn default() -> Self {
        FlowTest::new()
    }
}

impl FlowTest {
    /// A run with the defaults.
    pub fn new() -> FlowTest {
        FlowTest {
            settings: Settings {
                under_test: true,
                ..Settings::default()
            },
        }
    }

    /// The value [`wait`](crate::wait)`(name, ..)` returns: any serde value
    /// (a typed struct or `json!(..)`). It is handed to the flow as JSON,
    /// so a value that does not deserialize into the type the flow waits
    /// for fails that wait with a `Context` error, as in the host. (The
    /// host also checks it against the wait's JSON schema; this does not.)
    pub fn wait_value(mut self, name: &str, value: impl Serialize) -> FlowTest {
        let value = serde_json::to_value(value).map_err(|e| e.to_string());
        self.settings.waits.insert(name.to_owned(), value);
        self
    }

    /// The time of the first [`now`](crate::now)`()` (kept to the
    /// millisecond, as in the host; a time before the epoch reads as the
    /// epoch).
    pub fn clock(mut self, start: SystemTime) -> FlowTest {
        self.settings.start_ms = start.duration_since(UNIX_EPOCH).map_or(0, millis);
        self
    }

    /// How far the clock moves after each reading (default: it stands
    /// still).
    pub fn clock_step(mut self, step: Duration) -> FlowTest {
        self.settings.step_ms = millis(step);
        self
    }

    /// The seed of [`random_u64`](crate::random_u64)`()`: the same seed
    /// gives the same numbers. (Not the host's numbers for an execution's
    /// seed, which come from another generator.)
    pub fn seed(mut self, seed: u64) -> FlowTest {
        self.settings.seed = seed;
        self
    }

    /// Runs `flow` (usually `|| my_flow(args)`) with this test's values
    /// and returns its output with the record of what it asked for. A panic
    /// in `flow` itself (not in a checkpoint) fails the test.
    pub fn run<R>(self, flow: impl FnOnce() -> R) -> TestRun<R> {
        let installed = context::install(self.settings);
        let output = flow();
        let (calls, waits, logs) = installed.finish().into_records();
        TestRun {
            output,
            calls,
            waits,
            logs,
        }
    }
}

/// What a [`FlowTest`] run returned and asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestRun<R> {
    /// What the flow returned.
    pub output: R,
    /// Every checkpoint call, in seq order (map items one by one).
    pub calls: Vec<CallRecord>,
    /// Every wait, in the order first asked, with the value it returned.
    pub waits: Vec<WaitRecord>,
    /// Every [`log`](crate::log) line, of the flow and of its checkpoints.
    pub logs: Vec<LogRecord>,
}

impl<R> TestRun<R> {
    /// The call with id `call_id` (`greet`, `greet_2`, `square[3]`).
    pub fn call(&self, call_id: &str) -> Option<&CallRecord> {
        self.calls.iter().find(|c| c.call_id == call_id)
    }

    /// The call ids, in seq order.
    pub fn call_ids(&self) -> Vec<&str> {
        self.calls.iter().map(|c| c.call_id.as_str()).collect()
    }

    /// The first call that failed and whose handle's result the flow never
    /// read. The host fails an execution that ends with one, even when
    /// the flow returned `Ok`.
    pub fn unawaited_failure(&self) -> Option<&CallRecord> {
        self.calls.iter().find(|c| !c.awaited && c.output.is_err())
    }
}

/// One checkpoint call, as the host would journal it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallRecord {
    /// Its place among the run's calls, from 0, fixed when it was submitted.
    pub seq: u32,
    /// Its id: `name`, then `name_2`, `name_3`...; `name[i]` in a map.
    pub call_id: String,
    /// The checkpoint's name.
    pub checkpoint: String,
    /// Its input: the JSON object of the checkpoint's named parameters.
    pub input: Value,
    /// Each attempt's outcome, in order (`retries + 1` at most).
    pub attempts: Vec<Attempt>,
    /// Its output JSON, or the error the flow got (after the last attempt).
    pub output: Result<Value, Error>,
    /// Whether the flow read its result (a direct call or a map always
    /// does; a `submit` handle when its `result()` is called).
    pub awaited: bool,
}

/// How one attempt of a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attempt {
    /// It returned an output.
    Ok,
    /// It returned its own error (or its input did not deserialize).
    Failed {
        /// The checkpoint's error message.
        message: String,
    },
    /// It panicked (natively the only trap: there is no sandbox).
    Trapped {
        /// What stopped it ([`TrapKind::Trap`] for a panic).
        kind: TrapKind,
        /// `panicked: <message> at <file>:<line>`.
        message: String,
    },
}

/// One durable wait the flow asked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitRecord {
    /// Its name.
    pub name: String,
    /// The question for a person.
    pub question: String,
    /// The JSON schema of the value it expects.
    pub schema: Value,
    /// The value the test gave it, if any.
    pub value: Option<Value>,
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogRecord {
    /// Its level.
    pub level: Level,
    /// The line.
    pub message: String,
    /// The call whose attempt wrote it, or `None` for the flow.
    pub call_id: Option<String>,
}

/// The level of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// [`log::debug`](crate::log::debug).
    Debug,
    /// [`log::info`](crate::log::info).
    Info,
    /// [`log::warn`](crate::log::warn).
    Warn,
    /// [`log::error`](crate::log::error).
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        })
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
