//! What the integration tests share: where the guest components and the
//! `cairn` binary are, one engine per test binary whose artifact cache is
//! shared by the whole run (so each guest is compiled once), and fresh
//! journals in temporary folders.
//!
//! The guests are built by `cargo xtask test` (or `cargo xtask build-guests`)
//! before the tests run.

pub mod backend;
pub mod http;
pub mod python;
pub mod steady_load;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use cairn_host::{Component, Engine, ExecutionDetail, ExecutionId, Host, Policy};

/// `<target>/<profile>/`, found from the running executable: a test lives
/// in its `deps/`, the benchmark binary in the folder itself.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let dir = exe.parent().expect("an executable is in a folder");
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("deps is in a folder")
    } else {
        dir
    };
    dir.to_path_buf()
}

/// `target/` (or `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    profile_dir()
        .parent()
        .expect("a profile folder is in the target folder")
        .to_path_buf()
}

/// A guest component: one of the constants that `build.rs` generates from
/// the guest crates, which the integration tests include (so a test cannot
/// name a guest that does not exist).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guest {
    file_stem: &'static str,
}

impl Guest {
    /// The guest whose component is `<file_stem>.wasm`. Only the generated
    /// list calls this: a test names a guest by its constant.
    #[doc(hidden)]
    pub const fn from_generated_list(file_stem: &'static str) -> Self {
        Self { file_stem }
    }

    /// Its crate name, which is its component's file name without `.wasm`.
    pub fn name(self) -> &'static str {
        self.file_stem
    }

    /// Where its component is, built for wasm32-wasip2.
    pub fn path(self) -> PathBuf {
        guest_path(self.file_stem)
    }
}

/// A guest component built for wasm32-wasip2.
pub fn guest(guest: Guest) -> PathBuf {
    guest.path()
}

/// The component built from the guest crate `name`, which must be there.
fn guest_path(name: &str) -> PathBuf {
    let path = target_dir()
        .join("wasm32-wasip2/guest")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: build the guests first with `cargo xtask build-guests` (or run `cargo xtask test`)",
        path.display()
    );
    path
}

/// The `cairn` binary of this build.
pub fn cairn_bin() -> PathBuf {
    binary("cairn", "cairn-cli")
}

/// The embedding example's service binary of this build.
pub fn embed_bin() -> PathBuf {
    binary("cairn-embed", "cairn-embed")
}

fn binary(name: &str, package: &str) -> PathBuf {
    let path = profile_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p {package}` (`cargo xtask test` does)",
        path.display()
    );
    path
}

/// The artifact cache every test of a run shares.
pub fn artifact_dir() -> PathBuf {
    target_dir().join("cairn-test-artifacts")
}

/// One engine per test binary.
pub fn engine() -> Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            Engine::builder()
                .artifact_cache(artifact_dir())
                .build()
                .expect("engine builds")
        })
        .clone()
}

/// A host on a fresh journal file in `dir`, with `policy`.
pub fn host(dir: &Path, policy: Policy) -> Host {
    Host::builder()
        .journal(dir.join("journal.redb"))
        .engine(engine())
        .policy(policy)
        .open()
        .expect("host opens")
}

/// Loads a guest component into `host`.
pub async fn load(host: &Host, guest: Guest) -> Component {
    host.load_file(guest.path()).await.expect("guest loads")
}

/// A `cairn` command on the journal in `dir`, sharing the run's artifact cache.
pub fn cairn(dir: &Path) -> Command {
    let mut command = Command::new(cairn_bin());
    command
        .arg("--journal")
        .arg(dir.join("journal.redb"))
        .env("CAIRN_ARTIFACTS", artifact_dir())
        .env_remove("CAIRN_JOURNAL");
    command
}

/// A temporary folder for one test.
pub fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

/// A folder granted to checkpoints as `/marks`, where the probe's marking
/// checkpoints leave one file per run.
pub fn marks(dir: &Path) -> PathBuf {
    let marks = dir.join("marks");
    std::fs::create_dir_all(&marks).expect("a marks folder");
    marks
}

/// How many marks named `name.*` are in `marks`.
pub fn count_marks(marks: &Path, name: &str) -> usize {
    std::fs::read_dir(marks)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("{name}."))
                })
                .count()
        })
        .unwrap_or(0)
}

/// The default policy plus the `/marks` folder.
pub fn marking_policy(dir: &Path) -> Policy {
    Policy::default().allow_dir(marks(dir), "/marks", false)
}

/// The peak resident memory of this process so far, in KiB (Linux).
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:")
                    .map(|v| v.trim().trim_end_matches(" kB").to_owned())
            })
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Runs a future (a journal read) to its end, in a test that has no
/// runtime of its own.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

/// What the journal holds for an execution that must be there.
pub async fn detail(host: &Host, id: ExecutionId) -> ExecutionDetail {
    host.client()
        .execution(id)
        .await
        .expect("the journal is readable")
        .expect("the execution is journaled")
}

/// An error and its sources, as one message (`a: b: c`), as the CLI shows
/// it.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Spawns `command` with its stdout and stderr piped, waits until a line of
/// its stderr contains `needle` (at most two minutes), sends it `signal`
/// with `kill` (e.g. `-INT`), and returns what it printed and its status,
/// with the whole of its stderr. For tests of what a signal does at a known
/// point of a run.
#[cfg(unix)]
pub fn signal_when(
    mut command: Command,
    needle: &str,
    signal: &str,
) -> (std::process::Output, String) {
    use std::io::BufRead as _;
    use std::process::Stdio;

    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let stderr = child.stderr.take().expect("piped");
    let (lines, progress) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.expect("stderr is text");
            all.push_str(&line);
            all.push('\n');
            let _ = lines.send(line);
        }
        all
    });
    loop {
        let line = progress
            .recv_timeout(std::time::Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("no line with {needle:?} on stderr"));
        if line.contains(needle) {
            break;
        }
    }
    let killed = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = child.wait_with_output().expect("the command ends");
    let stderr = reader.join().expect("the reader ends");
    (out, stderr)
}
