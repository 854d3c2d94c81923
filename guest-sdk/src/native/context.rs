//! The state of native runs, one per thread (Rust runs tests on several):
//! the clock, the random generator, the wait values, call ids and the
//! record of calls, waits and logs.
//!
//! `FlowTest::run` installs a context for the duration of its closure and
//! takes it back after; outside any run, an ambient context with the
//! defaults is made on first use and kept for the thread, recording
//! nothing. The context is only ever borrowed inside this module's short
//! methods, never while an author's code runs, so a checkpoint may log or
//! read the clock while its call is in progress.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::bindings::cairn::checkpoint::types::CallError;
use crate::testing::{CallRecord, Level, LogRecord, WaitRecord};

/// What a run is given: set by `FlowTest`, or the documented defaults.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    /// The first `now()`, in milliseconds since the Unix epoch.
    pub(crate) start_ms: u64,
    /// How far the clock moves after each reading, in milliseconds.
    pub(crate) step_ms: u64,
    /// The random generator's seed.
    pub(crate) seed: u64,
    /// The values of waits, by name: the JSON, or why it did not serialize.
    pub(crate) waits: BTreeMap<String, Result<Value, String>>,
    /// Whether a `FlowTest` runs (and so whether anything is recorded).
    pub(crate) under_test: bool,
}

/// One thread's native run.
pub(crate) struct Context {
    settings: Settings,
    clock_reads: u64,
    random: SplitMix64,
    call_ids: CallIds,
    next_seq: u32,
    /// The call id of the checkpoint attempt running now, if one is.
    in_checkpoint: Option<String>,
    /// Every wait asked (checked for a repeated name even when not recorded).
    waits: Vec<WaitRecord>,
    calls: Vec<CallRecord>,
    logs: Vec<LogRecord>,
}

thread_local! {
    static CURRENT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's context, making the ambient one if none is.
pub(crate) fn with<R>(f: impl FnOnce(&mut Context) -> R) -> R {
    CURRENT.with(|current| {
        let mut current = current.borrow_mut();
        f(current.get_or_insert_with(|| Context::new(Settings::default())))
    })
}

/// Installs a context for one run; the one it replaced (an ambient one, or
/// an enclosing run's) comes back when the guard is finished or dropped,
/// also when the run panics.
pub(crate) fn install(settings: Settings) -> Installed {
    let previous = CURRENT.with(|current| current.replace(Some(Context::new(settings))));
    Installed {
        previous: Some(previous),
    }
}

/// A context installed by [`install`].
pub(crate) struct Installed {
    previous: Option<Option<Context>>,
}

impl Installed {
    /// Puts the previous context back and returns the run's.
    pub(crate) fn finish(mut self) -> Context {
        let previous = self.previous.take().unwrap_or_default();
        let ours = CURRENT.with(|current| current.replace(previous));
        ours.unwrap_or_else(|| Context::new(Settings::default()))
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            // `try_with`: during a thread's teardown there is nothing to
            // put back.
            let _ = CURRENT.try_with(|current| current.replace(previous));
        }
    }
}

impl Context {
    fn new(settings: Settings) -> Context {
        Context {
            random: SplitMix64(settings.seed),
            settings,
            clock_reads: 0,
            call_ids: CallIds::default(),
            next_seq: 0,
            in_checkpoint: None,
            waits: Vec::new(),
            calls: Vec::new(),
            logs: Vec::new(),
        }
    }

    /// Whether calls, waits and logs are kept.
    pub(crate) fn recording(&self) -> bool {
        self.settings.under_test
    }

    /// The refusal of a runner request made from inside a checkpoint, with
    /// the host's words.
    pub(crate) fn refuse_nested(&self, what: impl FnOnce() -> String) -> Result<(), CallError> {
        match self.in_checkpoint {
            Some(_) => Err(CallError::Context(what())),
            None => Ok(()),
        }
    }

    /// Marks that a checkpoint attempt with `call_id` runs now (`Some`) or
    /// ended (`None`); returns what was there before.
    pub(crate) fn set_in_checkpoint(&mut self, call_id: Option<String>) -> Option<String> {
        std::mem::replace(&mut self.in_checkpoint, call_id)
    }

    /// The next call's seq and id, as the host assigns them at submit.
    pub(crate) fn next_call(&mut self, name: &str) -> (u32, String) {
        let seq = self.take_seq();
        (seq, self.call_ids.next(name))
    }

    /// The base id of a map (`name`, `name_2`...); items are `base[i]`.
    pub(crate) fn next_map_id(&mut self, name: &str) -> String {
        self.call_ids.next(name)
    }

    /// The next seq.
    pub(crate) fn take_seq(&mut self) -> u32 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        seq
    }

    /// Records a finished call when a test runs.
    pub(crate) fn record_call(&mut self, call: CallRecord) {
        if self.recording() {
            self.calls.push(call);
        }
    }

    /// Notes that the flow read the result of the call at `seq`.
    pub(crate) fn mark_awaited(&mut self, seq: u32) {
        if let Some(call) = self.calls.iter_mut().find(|c| c.seq == seq) {
            call.awaited = true;
        }
    }

    /// The time: the start, plus one step per earlier reading.
    pub(crate) fn now_ms(&mut self) -> u64 {
        let steps = self.settings.step_ms.saturating_mul(self.clock_reads);
        self.clock_reads = self.clock_reads.saturating_add(1);
        self.settings.start_ms.saturating_add(steps)
    }

    /// The next random number.
    pub(crate) fn random(&mut self) -> u64 {
        self.random.next()
    }

    /// Keeps a log line, with the call whose attempt wrote it.
    pub(crate) fn log(&mut self, level: Level, message: &str) -> Option<String> {
        let call_id = self.in_checkpoint.clone();
        if self.recording() {
            self.logs.push(LogRecord {
                level,
                message: message.to_owned(),
                call_id: call_id.clone(),
            });
        }
        call_id
    }

    /// A durable wait: the value the test gave for `name`, or a `Context`
    /// error saying how to give one. Refused as the host refuses it: from
    /// inside a checkpoint, under a name that breaks the name rule, or
    /// under a name asked before with another question or schema.
    pub(crate) fn wait(
        &mut self,
        name: &str,
        question: &str,
        schema: &str,
    ) -> Result<String, CallError> {
        self.refuse_nested(|| {
            format!("wait `{name}` was called from inside a checkpoint; only flows wait")
        })?;
        check_name("wait", name).map_err(CallError::Context)?;
        let schema: Value = serde_json::from_str(schema).map_err(|e| {
            CallError::Context(format!("the schema of wait `{name}` is refused: {e}"))
        })?;
        match self.waits.iter().find(|w| w.name == name) {
            Some(asked) if asked.question != question || asked.schema != schema => {
                return Err(CallError::Context(format!(
                    "wait `{name}` was asked before with another question or schema; a wait's name must be unique to what it asks"
                )));
            }
            Some(_) => {}
            None => self.waits.push(WaitRecord {
                name: name.to_owned(),
                question: question.to_owned(),
                schema,
                value: None,
            }),
        }
        let value = match self.settings.waits.get(name) {
            Some(Ok(value)) => value.clone(),
            Some(Err(reason)) => {
                return Err(CallError::Context(format!(
                    "the value given for wait `{name}` does not serialize: {reason}"
                )));
            }
            None if self.settings.under_test => {
                return Err(CallError::Context(format!(
                    "wait `{name}` has no value in this test; give it one with `FlowTest::new().wait_value(\"{name}\", value)`"
                )));
            }
            None => {
                return Err(CallError::Context(format!(
                    "wait `{name}` has no value: it was asked outside a test run; run the flow with `cairn_guest::testing::FlowTest::new().wait_value(\"{name}\", value).run(|| ...)`"
                )));
            }
        };
        if let Some(asked) = self.waits.iter_mut().find(|w| w.name == name) {
            asked.value = Some(value.clone());
        }
        Ok(value.to_string())
    }

    /// Whether the test gave a value for wait `name`.
    pub(crate) fn has_wait_value(&self, name: &str) -> bool {
        self.settings.waits.contains_key(name)
    }

    /// Takes what a run recorded.
    pub(crate) fn into_records(self) -> (Vec<CallRecord>, Vec<WaitRecord>, Vec<LogRecord>) {
        let waits = if self.recording() {
            self.waits
        } else {
            Vec::new()
        };
        (self.calls, waits, self.logs)
    }
}

/// The host's name rule for what a guest names (here, waits): 1 to 128
/// ASCII letters, digits, `_`, `-` or `.`, starting with a letter or `_`.
fn check_name(what: &str, name: &str) -> Result<(), String> {
    const MAX_NAME_LEN: usize = 128;
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let keeps_to_the_set = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if name.len() <= MAX_NAME_LEN && starts_well && keeps_to_the_set {
        return Ok(());
    }
    let shown: String = name
        .chars()
        .take(64)
        .flat_map(char::escape_default)
        .collect();
    Err(format!(
        "the {what} name `{shown}` breaks the name rule: 1 to {MAX_NAME_LEN} ASCII letters, digits, `_`, `-` or `.`, starting with a letter or `_`"
    ))
}

/// Call ids, the host's scheme: a checkpoint's first call is `name`, later
/// ones `name_2`, `name_3`..., skipping any id already taken (so a
/// checkpoint really named `step_2` never shares an id with `step`'s
/// second call).
#[derive(Default)]
struct CallIds {
    calls_so_far: BTreeMap<String, u32>,
    taken: BTreeSet<String>,
}

impl CallIds {
    fn next(&mut self, name: &str) -> String {
        let n = self.calls_so_far.entry(name.to_owned()).or_insert(0);
        loop {
            *n += 1;
            let id = if *n == 1 {
                name.to_owned()
            } else {
                format!("{name}_{n}")
            };
            if self.taken.insert(id.clone()) {
                return id;
            }
        }
    }
}

/// SplitMix64: a small, well-mixed generator, deterministic for a seed.
/// (The host draws from a blake3 stream of the execution's seed; a test
/// only needs the same numbers for the same seed, not the host's.)
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids_follow_the_host_scheme() {
        let mut ids = CallIds::default();
        let got: Vec<String> = ["step", "step", "step_2", "step_2", "step", "step_2_2"]
            .iter()
            .map(|n| ids.next(n))
            .collect();
        assert_eq!(
            got,
            [
                "step",
                "step_2",
                "step_2_2",
                "step_2_3",
                "step_3",
                "step_2_2_2"
            ]
        );
    }

    #[test]
    fn the_name_rule_is_the_hosts() {
        assert!(check_name("wait", "approve").is_ok());
        assert!(check_name("wait", "_a-b.c9").is_ok());
        assert!(check_name("wait", "").is_err());
        assert!(check_name("wait", "9lives").is_err());
        assert!(check_name("wait", "a b").is_err());
        assert!(check_name("wait", &"a".repeat(129)).is_err());
    }

    #[test]
    fn splitmix_is_deterministic_per_seed() {
        let draw = |seed| {
            let mut g = SplitMix64(seed);
            [g.next(), g.next(), g.next()]
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        // The reference value of SplitMix64 for seed 0.
        assert_eq!(draw(0)[0], 0xE220_A839_7B1D_CDAF);
    }
}
