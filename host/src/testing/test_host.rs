//! A real host on a temporary journal, for a guest author's integration
//! tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::clock::FixedClock;
use crate::client::{Client, ExecutionDetail};
use crate::component::Component;
use crate::error::{AnswerError, JournalError, ResumeError, RunError};
use crate::host::{Host, HostBuilder, OpenError};
use crate::model::{ExecutionId, ExecutionStatus, Failure};
use crate::runner::Outcome;

/// Set (to anything but `0` or nothing), every [`TestHost`] keeps its
/// temporary folder and prints where it is.
pub const KEEP_ENV: &str = "CAIRN_KEEP_TEST_JOURNAL";

/// Opening a [`TestHost`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestHostError {
    /// The temporary folder could not be made.
    #[error("cannot make a temporary folder in {}", dir.display())]
    TempDir {
        /// Where it was to be made.
        dir: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// The host did not open.
    #[error(transparent)]
    Open(#[from] OpenError),
}

/// A [`TestHost`] helper failed.
///
/// One enum for the helpers rather than one per operation: they are thin
/// layers over [`Host`] operations, each variant keeps the typed error of
/// the operation it comes from, and a test wants one type to `?`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// A flow input or a wait's value does not serialize to JSON.
    #[error("the value for {what} does not serialize to JSON")]
    Serialize {
        /// Whose value: the flow's or the wait's name.
        what: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The execution could not be run.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The execution could not be resumed.
    #[error(transparent)]
    Resume(#[from] ResumeError),
    /// The wait could not be answered.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    /// The journal could not be read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// No execution has this id.
    #[error("execution {0} is not in the journal")]
    NoExecution(ExecutionId),
    /// The execution ended otherwise than completed.
    #[error(
        "execution {id} is {status}, not completed{}",
        failure.as_ref().map(|f| format!(": {}", f.message)).unwrap_or_default()
    )]
    NotCompleted {
        /// The execution.
        id: ExecutionId,
        /// Its status.
        status: ExecutionStatus,
        /// Why it failed, if it failed.
        failure: Option<Failure>,
    },
    /// The execution's output does not decode as the type asked for.
    #[error("the output of execution {id} does not decode as the type asked for: {output}")]
    Decode {
        /// The execution.
        id: ExecutionId,
        /// Its output JSON.
        output: String,
        /// Why it does not decode.
        #[source]
        source: serde_json::Error,
    },
}

/// A completed execution and its decoded output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed<O> {
    /// The execution, to read back from the journal.
    pub id: ExecutionId,
    /// The flow's output.
    pub output: O,
}

/// The output of a completed execution, decoded as `O`; any other status is
/// [`TestError::NotCompleted`]. For the outcome of [`TestHost::run`], of
/// [`Host::resume`] or of [`Host::replay`].
pub fn completed<O: DeserializeOwned>(outcome: &Outcome) -> Result<Completed<O>, TestError> {
    let not_completed = || TestError::NotCompleted {
        id: outcome.id,
        status: outcome.status,
        failure: outcome.failure.clone(),
    };
    if outcome.status != ExecutionStatus::Completed {
        return Err(not_completed());
    }
    let output = outcome.output.as_deref().ok_or_else(not_completed)?;
    let decoded = serde_json::from_str(output).map_err(|source| TestError::Decode {
        id: outcome.id,
        output: output.to_owned(),
        source,
    })?;
    Ok(Completed {
        id: outcome.id,
        output: decoded,
    })
}

/// How to open a [`TestHost`].
pub struct TestHostBuilder {
    configure: Box<dyn FnOnce(HostBuilder) -> HostBuilder>,
}

impl TestHostBuilder {
    /// Changes the host's settings: `f` gets the [`HostBuilder`] with the
    /// test defaults (see [`TestHost`]) and returns it changed, e.g. with a
    /// tighter [`Policy`](crate::Policy) or another clock. The journal is
    /// always the temporary one. Calls add up, in order.
    pub fn configure(
        mut self,
        f: impl FnOnce(HostBuilder) -> HostBuilder + 'static,
    ) -> TestHostBuilder {
        let earlier = self.configure;
        self.configure = Box::new(move |builder| f(earlier(builder)));
        self
    }

    /// Makes the temporary folder and opens the host on a journal in it.
    pub fn open(self) -> Result<TestHost, TestHostError> {
        let dir = TempDir::new()?;
        let clock = FixedClock::default();
        let mut builder = Host::builder().clock(Arc::new(clock.clone()));
        if let Some(artifacts) = shared_artifact_dir() {
            builder = builder.artifact_cache(artifacts);
        }
        let journal = dir.path.join("journal.redb");
        let host = (self.configure)(builder).journal(&journal).open()?;
        Ok(TestHost {
            host,
            clock,
            journal,
            dir,
        })
    }
}

/// A real [`Host`] on a fresh journal file in a temporary folder, for tests
/// that run a component as production would and then read the journal.
///
/// Its defaults: the default [`Policy`](crate::Policy) (nothing granted;
/// tighten it with [`TestHostBuilder::configure`]); a [`FixedClock`] at
/// [`TEST_EPOCH_US`](super::TEST_EPOCH_US), so timestamps and each
/// execution's random seed are the same in every run; compiled components
/// cached in `<target>/cairn-test-artifacts/` when the test binary runs
/// from a cargo target folder (so a component is compiled once, not once
/// per test), else beside the journal.
///
/// The temporary folder is removed when the `TestHost` is dropped, unless
/// [`TestHost::keep`] was called, [`KEEP_ENV`] is set, or the thread is
/// panicking (a failed assertion): then it stays and its path is printed,
/// for `cairn executions show --journal <path> <id>`.
pub struct TestHost {
    // Dropped before `dir`: the journal closes before its folder goes.
    host: Host,
    clock: FixedClock,
    journal: PathBuf,
    dir: TempDir,
}

impl TestHost {
    /// A test host with the defaults.
    pub fn new() -> Result<TestHost, TestHostError> {
        TestHost::builder().open()
    }

    /// Starts configuring a test host.
    pub fn builder() -> TestHostBuilder {
        TestHostBuilder {
            configure: Box::new(|builder| builder),
        }
    }

    /// The host, for everything else: loading components, resuming,
    /// replaying, cancelling, subscribing to events.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Reads executions, calls, attempts and waits from the journal.
    pub fn client(&self) -> Client {
        self.host.client()
    }

    /// The host's clock, unless [`TestHostBuilder::configure`] gave
    /// another one.
    pub fn clock(&self) -> &FixedClock {
        &self.clock
    }

    /// The journal file.
    pub fn journal_path(&self) -> &Path {
        &self.journal
    }

    /// The temporary folder holding the journal.
    pub fn dir(&self) -> &Path {
        &self.dir.path
    }

    /// Keeps the temporary folder after the test (its path is printed when
    /// the `TestHost` is dropped).
    pub fn keep(&mut self) {
        self.dir.keep = true;
    }

    /// Runs `flow` of `component` with `input` (serialized to the JSON
    /// object of the flow's named parameters) as a new execution, to its
    /// end, whatever its status. [`completed`] decodes its output.
    pub async fn run(
        &self,
        component: &Component,
        flow: &str,
        input: &(impl Serialize + ?Sized),
    ) -> Result<Outcome, TestError> {
        let input = to_json(flow, input)?;
        Ok(self.host.run(component, flow, &input).await?)
    }

    /// Runs `flow` as [`TestHost::run`] does and decodes the output of the
    /// completed execution; any other status is [`TestError::NotCompleted`].
    pub async fn run_completed<O: DeserializeOwned>(
        &self,
        component: &Component,
        flow: &str,
        input: &(impl Serialize + ?Sized),
    ) -> Result<Completed<O>, TestError> {
        completed(&self.run(component, flow, input).await?)
    }

    /// Supplies `value` (serialized to JSON) for wait `wait` of execution
    /// `id`. Then [`Host::resume`] it.
    pub async fn answer(
        &self,
        id: ExecutionId,
        wait: &str,
        value: &(impl Serialize + ?Sized),
    ) -> Result<(), TestError> {
        let value = to_json(wait, value)?;
        Ok(self.host.answer(id, wait, &value).await?)
    }

    /// Resumes execution `id` ([`Host::resume`]) and decodes the output of
    /// the completed execution; any other status is
    /// [`TestError::NotCompleted`].
    pub async fn resume_completed<O: DeserializeOwned>(
        &self,
        id: ExecutionId,
    ) -> Result<Completed<O>, TestError> {
        completed(&self.host.resume(id).await?)
    }

    /// What the journal holds of execution `id`: its calls with their
    /// attempts, its waits, its log.
    pub async fn execution(&self, id: ExecutionId) -> Result<ExecutionDetail, TestError> {
        self.client()
            .execution(id)
            .await?
            .ok_or(TestError::NoExecution(id))
    }
}

fn to_json(what: &str, value: &(impl Serialize + ?Sized)) -> Result<String, TestError> {
    serde_json::to_string(value).map_err(|source| TestError::Serialize {
        what: format!("`{what}`"),
        source,
    })
}

/// `<target>/cairn-test-artifacts` when this is a test binary in
/// `<target>/<profile>/deps/`, as cargo puts them.
fn shared_artifact_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent().filter(|d| d.ends_with("deps"))?;
    Some(deps.parent()?.parent()?.join("cairn-test-artifacts"))
}

/// A fresh folder, removed on drop unless kept.
struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// `<temp>/cairn-test-<pid>-<n>-<random>`, made exclusively (mode 0700
    /// on Unix), so it is ours alone.
    fn new() -> Result<TempDir, TestHostError> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let parent = std::env::temp_dir();
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        let mut attempts = 0;
        loop {
            let n = COUNT.fetch_add(1, Ordering::Relaxed);
            let random = wasmtime_wasi::Rng::next_u32(&mut wasmtime_wasi::thread_rng());
            let path = parent.join(format!(
                "cairn-test-{}-{n}-{random:08x}",
                std::process::id()
            ));
            match builder.create(&path) {
                Ok(()) => return Ok(TempDir { path, keep: false }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempts < 16 => {
                    attempts += 1;
                }
                Err(source) => {
                    return Err(TestHostError::TempDir {
                        dir: parent,
                        source,
                    });
                }
            }
        }
    }
}

fn keep_requested() -> bool {
    std::env::var_os(KEEP_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let why = if self.keep || keep_requested() {
            "as asked"
        } else if std::thread::panicking() {
            "the test failed"
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
            return;
        };
        eprintln!(
            "cairn: test journal kept ({why}): {}",
            self.path.join("journal.redb").display()
        );
    }
}
