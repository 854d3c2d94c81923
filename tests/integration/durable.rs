//! Durable control flow: resume reuses what completed and continues what did
//! not, flow retries, the output cache, non-determinism, durability modes,
//! and a full disk.
//! Real executions are counted from outside the sandbox, by the marks the
//! checkpoints leave in a granted folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::guests;
use cairn_host::{
    CallSource, CallStatus, Durability, ExecutionId, ExecutionStatus, FailureKind, Host,
    JournalError, Policy, ResumeError, RunError,
};
use cairn_tests::backend::host_on;
use cairn_tests::on_backends;
use cairn_tests::{cairn_bin, count_marks, engine, guest, load, marking_policy, marks, temp};

on_backends! {
    #[tokio::test]
    async fn resume_reuses_completed_calls_and_gives_the_failed_one_new_attempts(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, marking_policy(dir.path()));
        let probe = load(&host, guests::PROBE).await;
        let first = host
            .run(&probe, "gated", r#"{"flag": "open"}"#)
            .await
            .expect("runs");
        assert_eq!(first.status, ExecutionStatus::Failed);
        assert_eq!(count_marks(&marks(dir.path()), "step-1"), 1);

        std::fs::write(marks(dir.path()).join("open"), b"").expect("flag");
        let resumed = host.resume(first.id).await.expect("resumes");
        assert_eq!(resumed.id, first.id, "resume keeps the execution id");
        assert_eq!(resumed.status, ExecutionStatus::Completed, "{resumed:?}");
        assert_eq!(resumed.output.as_deref(), Some("5"));
        assert_eq!(
            count_marks(&marks(dir.path()), "step-1"),
            1,
            "the completed step did not run again"
        );
        assert_eq!(count_marks(&marks(dir.path()), "gate"), 2);

        let detail = cairn_tests::detail(&host, first.id).await;
        let gate = &detail.calls[1];
        assert_eq!(gate.status, CallStatus::Completed);
        let attempts: Vec<(u32, &str)> = gate
            .attempts
            .iter()
            .map(|a| (a.n, a.status.as_str()))
            .collect();
        assert_eq!(
            attempts,
            [(1, "failed"), (2, "ok")],
            "attempt numbers continue"
        );
        assert_eq!(detail.calls.len(), 3);
    }
}

on_backends! {
    #[tokio::test]
    async fn resuming_a_completed_execution_returns_its_output_and_runs_nothing(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, marking_policy(dir.path()));
        let probe = load(&host, guests::PROBE).await;
        let done = host
            .run(&probe, "steps", r#"{"count": 3, "work": 0}"#)
            .await
            .expect("runs");
        let again = host.resume(done.id).await.expect("resumes");
        assert_eq!(again, done);
        for i in 0..3 {
            assert_eq!(count_marks(&marks(dir.path()), &format!("step-{i}")), 1);
        }
        let unknown = host.resume(cairn_host::ExecutionId(99)).await;
        assert!(
            matches!(unknown, Err(ResumeError::UnknownExecution(_))),
            "{unknown:?}"
        );
    }
}

on_backends! {
    #[tokio::test]
    async fn a_flow_with_retries_runs_again_reusing_completed_calls(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, marking_policy(dir.path()));
        let probe = load(&host, guests::PROBE).await;
        let outcome = host
            .run(&probe, "persistent", r#"{"tries": 3}"#)
            .await
            .expect("runs");
        assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
        assert_eq!(outcome.output.as_deref(), Some("4"), "1 + the third try");
        assert_eq!(
            count_marks(&marks(dir.path()), "step-1"),
            1,
            "reused across flow retries"
        );
        assert_eq!(count_marks(&marks(dir.path()), "stubborn"), 3);
        let detail = cairn_tests::detail(&host, outcome.id).await;
        assert_eq!(detail.calls[1].attempts.len(), 3);
    }
}

on_backends! {
    #[tokio::test]
    async fn a_flow_that_changes_its_calls_on_resume_fails_with_non_determinism(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, marking_policy(dir.path()));
        let probe = load(&host, guests::PROBE).await;
        let first = host
            .run(&probe, "fickle", r#"{"flag": "open"}"#)
            .await
            .expect("runs");
        assert_eq!(first.status, ExecutionStatus::Failed);
        let before = cairn_tests::detail(&host, first.id).await;

        std::fs::write(marks(dir.path()).join("open"), b"").expect("flag");
        let resumed = host.resume(first.id).await.expect("resumes");
        let failure = resumed.failure.expect("a failure");
        assert_eq!(failure.kind, FailureKind::NonDeterminism);
        // The divergence is data: the seq, what the journal has, what the flow
        // called instead.
        let divergence = failure
            .divergence
            .expect("a non-determinism failure has its divergence");
        assert_eq!(divergence.seq, 1);
        assert_eq!(divergence.expected, r#"`add` (add) with {"a":2,"b":2}"#);
        assert_eq!(divergence.found, r#"`add` (add) with {"a":1,"b":1}"#);
        assert!(failure.message.contains("seq 1"), "{}", failure.message);

        let after = cairn_tests::detail(&host, first.id).await;
        assert_eq!(
            after.calls.len(),
            before.calls.len(),
            "nothing new journaled"
        );
        assert_eq!(
            after.calls[1].input, before.calls[1].input,
            "nothing overwritten"
        );
        assert_eq!(after.calls[1].output, before.calls[1].output);
    }
}

on_backends! {
    #[tokio::test]
    async fn identical_calls_reuse_cached_outputs_unless_caching_is_off(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, marking_policy(dir.path()));
        let probe = load(&host, guests::PROBE).await;
        let first = host
            .run(&probe, "additions", r#"{"a": 1, "b": 2}"#)
            .await
            .expect("runs");
        let second = host
            .run(&probe, "additions", r#"{"b": 2, "a": 1}"#)
            .await
            .expect("runs");
        assert_eq!(first.output, second.output);
        assert_eq!(
            count_marks(&marks(dir.path()), "add"),
            1,
            "the second call was a cache hit"
        );
        assert_eq!(
            count_marks(&marks(dir.path()), "uncached"),
            2,
            "cache = false always runs"
        );
        let detail = cairn_tests::detail(&host, second.id).await;
        assert_eq!(detail.calls[0].source, CallSource::Cached);
        assert!(detail.calls[0].attempts.is_empty());
        assert_eq!(detail.calls[1].source, CallSource::Executed);

        let other = host
            .run(&probe, "additions", r#"{"a": 1, "b": 3}"#)
            .await
            .expect("runs");
        assert_eq!(other.output.as_deref(), Some("[4,4]"));
        assert_eq!(
            count_marks(&marks(dir.path()), "add"),
            2,
            "another input is a miss"
        );
    }
}

on_backends! {
    #[tokio::test]
    async fn a_changed_component_never_hits_the_cache(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, marking_policy(dir.path()));
        let probe = load(&host, guests::PROBE).await;
        let twin = load(&host, guests::TWIN).await;
        host.run(&probe, "additions", r#"{"a": 1, "b": 2}"#)
            .await
            .expect("runs");
        let outcome = host
            .run(&twin, "addition", r#"{"a": 1, "b": 2}"#)
            .await
            .expect("runs");
        assert_eq!(outcome.output.as_deref(), Some("3"));
        assert_eq!(
            count_marks(&marks(dir.path()), "add"),
            2,
            "same checkpoint and input, other code"
        );
    }
}

on_backends! {
    #[tokio::test]
    async fn an_unknown_checkpoint_is_a_clear_error_for_the_flow(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
        let probe = load(&host, guests::PROBE).await;
        let outcome = host
            .run(&probe, "unknown_checkpoint", "{}")
            .await
            .expect("runs");
        let message = outcome.failure.expect("a failure").message;
        assert!(
            message.contains("unknown checkpoint `no_such_checkpoint`"),
            "{message}"
        );
    }
}

on_backends! {
    #[tokio::test]
    async fn eventual_durability_is_made_durable_when_the_journal_closes(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let id = {
            let host = Host::builder()
                .journal(&journal)
                .engine(engine())
                .policy(marking_policy(dir.path()))
                .durability(Durability::Eventual)
                .open()
                .expect("opens");
            let probe = load(&host, guests::PROBE).await;
            host.run(&probe, "steps", r#"{"count": 4, "work": 0}"#)
                .await
                .expect("runs")
                .id
        };
        let host = host_on(&journal, Policy::default());
        let detail = cairn_tests::detail(&host, id).await;
        assert_eq!(detail.execution.status, ExecutionStatus::Completed);
        assert_eq!(detail.calls.len(), 4);
    }
}

on_backends! {
    #[tokio::test]
    async fn a_checkpoints_cache_option_beats_its_flows(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, marking_policy(dir.path()));
        let probe = load(&host, guests::PROBE).await;
        for _ in 0..2 {
            let outcome = host
                .run(&probe, "additions_uncached", r#"{"a": 5, "b": 5}"#)
                .await
                .expect("runs");
            assert_eq!(outcome.output.as_deref(), Some("[10,10]"));
        }
        assert_eq!(
            count_marks(&marks(dir.path()), "add"),
            2,
            "the flow's cache = false applies"
        );
        assert_eq!(
            count_marks(&marks(dir.path()), "forced"),
            1,
            "the checkpoint's cache = true wins"
        );
    }
}

on_backends! {
    #[tokio::test]
    async fn retries_wait_the_policys_delay_doubling_each_time(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let delay = std::time::Duration::from_millis(40);
        let host = host_on(&journal, Policy::default().retry_delay(delay));
        let probe = load(&host, guests::PROBE).await;
        let outcome = host.run(&probe, "retrying", "{}").await.expect("runs");
        let detail = cairn_tests::detail(&host, outcome.id).await;
        let starts: Vec<String> = detail.calls[0]
            .attempts
            .iter()
            .map(|a| a.started_at.clone())
            .collect();
        let gaps: Vec<u64> = starts
            .windows(2)
            .map(|w| epoch_micros(&w[1]).saturating_sub(epoch_micros(&w[0])))
            .collect();
        assert_eq!(gaps.len(), 2);
        assert!(gaps[0] >= 40_000, "first retry waited {} µs", gaps[0]);
        assert!(gaps[1] >= 80_000, "second retry waited {} µs", gaps[1]);
    }
}

/// An instant as the journal shows it (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), in
/// µs since the Unix epoch: the whole date counts, so attempts on either
/// side of midnight compare right. Days from the civil date by Howard
/// Hinnant's algorithm, the inverse of the one the host formats with.
fn epoch_micros(t: &str) -> u64 {
    let field = |at: std::ops::Range<usize>| -> i64 {
        t.get(at.clone())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{t:?}: no number at {at:?}"))
    };
    let (month, day) = (field(5..7), field(8..10));
    let year = field(0..4) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + field(11..13) * 3_600 + field(14..16) * 60 + field(17..19);
    let micros = seconds * 1_000_000 + field(20..26);
    u64::try_from(micros).expect("after 1970")
}

#[test]
fn instants_are_read_back_across_midnight_and_years() {
    assert_eq!(epoch_micros("1970-01-01T00:00:00.000000Z"), 0);
    assert_eq!(
        epoch_micros("2000-02-29T00:00:00.000001Z"),
        951_782_400_000_001
    );
    assert_eq!(
        epoch_micros("2026-11-26T23:02:03.456789Z"),
        1_795_734_123_456_789
    );
    assert_eq!(
        epoch_micros("2027-01-01T00:00:00.010000Z") - epoch_micros("2026-12-31T23:59:59.990000Z"),
        20_000
    );
}

// A full disk. The journal goes on a small disk: a tmpfs mounted in a mount
// namespace of the command's own (so nothing outlives it), or, where
// mounting is not allowed, a file size limit (`ulimit -f`, with SIGXFSZ
// ignored so that writes fail with EFBIG instead of killing the process).
// Either way real writes fail; what the disk holds is copied out when the
// command ends.

/// The size of the small disk: room for a new journal and the bench
/// component, and a few thousand calls.
const SMALL_DISK: u64 = 2 << 20;

fn tmpfs_allowed() -> bool {
    static ALLOWED: OnceLock<bool> = OnceLock::new();
    *ALLOWED.get_or_init(|| {
        let probe = temp();
        Command::new("unshare")
            .args(["-m", "mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(probe.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// `program` run with the folder `disk` on a small disk, whose content is
/// copied to `out` when it ends.
fn on_small_disk(disk: &Path, out: &Path, program: &Path) -> Command {
    let then = r#""$@"; code=$?; cp -a "$disk"/. "$out"/; exit $code"#;
    let mut command = if tmpfs_allowed() {
        let mut command = Command::new("unshare");
        command.args(["-m", "sh", "-c"]).arg(format!(
            r#"disk=$1 out=$2; shift 2; mount -t tmpfs -o size={SMALL_DISK} tmpfs "$disk" || exit 90; {then}"#
        ));
        command
    } else {
        eprintln!("mounting a tmpfs is not allowed here: using a file size limit instead");
        let mut command = Command::new("sh");
        command.arg("-c").arg(format!(
            r#"disk=$1 out=$2; shift 2; trap '' XFSZ; ulimit -f {}; {then}"#,
            SMALL_DISK / 512
        ));
        command
    };
    command.arg("sh").arg(disk).arg(out).arg(program);
    command
}

/// Two folders: the small disk's mount point and where its content lands.
fn disk_and_out(dir: &Path) -> (PathBuf, PathBuf) {
    let (disk, out) = (dir.join("disk"), dir.join("out"));
    for folder in [&disk, &out] {
        std::fs::create_dir_all(folder).expect("a folder");
    }
    (disk, out)
}

/// What a journal copied out of a small disk holds for execution 1: its
/// status and how many completed calls.
async fn left_on(journal: &Path) -> (ExecutionStatus, usize) {
    let host = Host::builder()
        .journal(journal)
        .engine(engine())
        .read_only(true)
        .open()
        .expect("the journal opens read-only");
    let detail = cairn_tests::detail(&host, ExecutionId(1)).await;
    let completed = detail
        .calls
        .iter()
        .filter(|c| c.status == CallStatus::Completed)
        .count();
    (detail.execution.status, completed)
}

const CHILD: &str = "CAIRN_DISK_FULL_CHILD";

/// A journal write that fails because the disk is full is a typed
/// `DiskFull` error, for the run and for closing the host, under both
/// durabilities; the execution and what was durably acknowledged before
/// stay readable. Each case
/// runs this test binary again, as [`disk_full_child`], on a small disk.
#[tokio::test]
async fn a_full_disk_is_a_typed_error_and_keeps_what_was_acknowledged() {
    // Compile the bench guest into the shared artifact cache first: the
    // child must not write it under a file size limit.
    let warm = Host::builder()
        .in_memory()
        .engine(engine())
        .open()
        .expect("opens");
    load(&warm, guests::BENCH).await;
    for durability in ["immediate", "eventual"] {
        let dir = temp();
        let (disk, out) = disk_and_out(dir.path());
        let exe = std::env::current_exe().expect("the test binary");
        let child = on_small_disk(&disk, &out, &exe)
            .args(["durable::disk_full_child", "--exact", "--nocapture"])
            .env(CHILD, durability)
            .env("CAIRN_SMALL_DISK", &disk)
            .output()
            .expect("the child runs");
        let stdout = String::from_utf8_lossy(&child.stdout);
        assert!(
            child.status.success() && stdout.contains("disk-full child: ok"),
            "{durability}: {}\n{stdout}\n{}",
            child.status,
            String::from_utf8_lossy(&child.stderr)
        );
        let (status, completed) = left_on(&out.join("journal.redb")).await;
        eprintln!("{durability}: {completed} calls journaled before the disk filled");
        assert_eq!(status, ExecutionStatus::Running, "{durability}");
        // Eventual durability acknowledges calls before they are on disk,
        // so only immediate durability promises that some are there.
        assert!(completed > 0 || durability == "eventual", "{durability}");
    }
}

/// Run by the test above on a small disk (does nothing on its own): runs
/// a flow until the disk is full and checks the errors.
#[tokio::test]
async fn disk_full_child() {
    let Ok(durability) = std::env::var(CHILD) else {
        return;
    };
    let durability = match durability.as_str() {
        "eventual" => Durability::Eventual,
        _ => Durability::Immediate,
    };
    let disk = PathBuf::from(std::env::var_os("CAIRN_SMALL_DISK").expect("the small disk"));
    let host = Host::builder()
        .journal(disk.join("journal.redb"))
        .engine(engine())
        .durability(durability)
        .open()
        .expect("opens");
    let bench = load(&host, guests::BENCH).await;
    let run = host
        .run(&bench, "sequential_inline", r#"{"n": 50000}"#)
        .await;
    assert!(
        matches!(run, Err(RunError::Journal(JournalError::DiskFull { .. }))),
        "{run:?}"
    );
    let closed = host.close().await;
    assert!(
        matches!(closed, Err(JournalError::DiskFull { .. })),
        "{closed:?}"
    );
    println!("disk-full child: ok");
}

/// The measured failure: with `--durability eventual`, a disk that filled
/// up gave exit 0 "completed" and an empty journal. Now the run fails
/// (exit 4) and the journal keeps the execution.
#[tokio::test]
async fn eventual_durability_on_a_full_disk_fails_the_run_instead_of_completing() {
    let run = |dir: &Path, command: Command| {
        let mut command = command;
        command
            .arg("--journal")
            .arg(dir.join("journal.redb"))
            .env("CAIRN_ARTIFACTS", cairn_tests::artifact_dir())
            .env_remove("CAIRN_JOURNAL")
            .args(["run", "--durability", "eventual"])
            .arg(guest(guests::BENCH))
            .args(["--flow", "sequential_inline", "--input"]);
        command
    };
    // Fill the artifact cache first, off the small disk.
    let warm = temp();
    let warmed = run(warm.path(), Command::new(cairn_bin()))
        .arg(r#"{"n": 1}"#)
        .output()
        .expect("cairn runs");
    assert!(warmed.status.success());

    let dir = temp();
    let (disk, out) = disk_and_out(dir.path());
    let output = run(&disk, on_small_disk(&disk, &out, &cairn_bin()))
        .arg(r#"{"n": 50000}"#)
        .output()
        .expect("cairn runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(!stderr.contains("execution 1 completed"), "{stderr}");
    assert!(output.stdout.is_empty(), "no output is reported");
    let (status, _) = left_on(&out.join("journal.redb")).await;
    assert_eq!(status, ExecutionStatus::Running, "the execution is kept");
}
