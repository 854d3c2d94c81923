//! Crash safety, proven: a real `cairn` process runs a flow of steps and is
//! killed with SIGKILL at a random moment; then the execution is resumed
//! and checked. Each step leaves a mark in a granted folder when its work is
//! done, so real executions are counted from outside the sandbox and outside
//! the journal under test.
//!
//! 50 trials by default; set CAIRN_CRASH_TRIALS for more, and
//! CAIRN_CRASH_SEED to replay a run's kill times.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_host::{CallStatus, ExecutionStatus, Host, Policy};
use cairn_tests::{cairn, count_marks, engine, guest, marks, temp};

const STEPS: u64 = 12;
const WORK: u64 = 2_000_000;

fn expected_output() -> String {
    (0..STEPS).map(|i| i * i).sum::<u64>().to_string()
}

fn run_command(dir: &Path) -> Command {
    let mut command = cairn(dir);
    command
        .arg("--allow-dir")
        .arg(format!("{}:/marks", marks(dir).display()))
        .arg("run")
        .arg(guest("probe"))
        .args(["--flow", "steps", "--input"])
        .arg(format!(r#"{{"count": {STEPS}, "work": {WORK}}}"#))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// splitmix64: a tiny seeded generator, so a failing run can be replayed.
struct Kills(u64);

impl Kills {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below.max(1)
    }
}

#[test]
fn sigkill_at_random_moments_then_resume_repeats_no_completed_step_and_loses_nothing() {
    let trials: usize = std::env::var("CAIRN_CRASH_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(50);
    let seed = std::env::var("CAIRN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::hash::RandomState::new().build_hasher().finish());
    eprintln!("crash test: {trials} trials, CAIRN_CRASH_SEED={seed}");
    let mut kills = Kills(seed);

    // One undisturbed run: how long a whole run takes (it also warms the
    // shared artifact cache).
    let calm = temp();
    let started = Instant::now();
    let status = run_command(calm.path()).status().expect("cairn runs");
    assert!(status.success());
    let whole_run = started.elapsed();

    let mut completed_at_kill: BTreeMap<u64, usize> = BTreeMap::new();
    for trial in 0..trials {
        let dir = temp();
        let mut child = run_command(dir.path()).spawn().expect("cairn starts");
        // Between the end of start-up (roughly) and the end of a whole run.
        let span = whole_run.as_micros() as u64;
        let delay = span / 6 + kills.next(span);
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill(); // SIGKILL
        child.wait().expect("reaped");
        let done = check_trial(dir.path(), trial);
        *completed_at_kill.entry(done).or_default() += 1;
    }
    eprintln!("crash test: steps completed when killed -> trials: {completed_at_kill:?}");
    let mid_flow: usize = completed_at_kill
        .iter()
        .filter(|(done, _)| **done > 0 && **done < STEPS)
        .map(|(_, n)| n)
        .sum();
    assert!(
        mid_flow * 4 >= trials,
        "too few kills landed mid-flow: {completed_at_kill:?}"
    );
}

/// Checks one killed run, resumes it and checks again. Returns how many
/// steps had completed at the kill.
fn check_trial(dir: &Path, trial: usize) -> u64 {
    let marks = marks(dir);
    let journal = dir.join("journal.redb");
    if !journal.exists() {
        assert_eq!(
            step_marks(&marks),
            vec![0; STEPS as usize],
            "trial {trial}: steps ran without a journal"
        );
        return 0;
    }
    // What the dead process left behind.
    let host = Host::builder()
        .journal(&journal)
        .engine(engine())
        .open()
        .expect("the journal opens after a kill");
    let executions = host
        .client()
        .executions(&Default::default())
        .expect("readable");
    let Some(execution) = executions.first() else {
        assert_eq!(
            step_marks(&marks),
            vec![0; STEPS as usize],
            "trial {trial}: steps ran with no execution"
        );
        return 0;
    };
    let id = execution.id;
    let before = host
        .client()
        .execution(id)
        .expect("readable")
        .expect("journaled");
    let completed: Vec<u32> = before
        .calls
        .iter()
        .filter(|c| c.status == CallStatus::Completed)
        .map(|c| c.seq)
        .collect();
    assert!(
        completed
            .iter()
            .enumerate()
            .all(|(i, seq)| *seq == i as u32),
        "trial {trial}: completed calls are a prefix: {completed:?}"
    );
    let marks_before = step_marks(&marks);
    for seq in &completed {
        assert!(
            marks_before[*seq as usize] >= 1,
            "trial {trial}: step {seq} is journaled as done but never ran"
        );
    }
    drop(host);

    // Resume it the way a user would.
    let resumed = cairn(dir)
        .arg("--allow-dir")
        .arg(format!("{}:/marks", marks.display()))
        .args(["executions", "resume", &id.to_string()])
        .output()
        .expect("cairn resumes");
    assert!(
        resumed.status.success(),
        "trial {trial}: {}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&resumed.stdout).trim(),
        expected_output(),
        "trial {trial}"
    );

    // Completed steps never run again; every other step runs exactly once
    // more (at-least-once only for the step the kill interrupted).
    let marks_after = step_marks(&marks);
    for seq in 0..STEPS as u32 {
        let (before, after) = (marks_before[seq as usize], marks_after[seq as usize]);
        if completed.contains(&seq) {
            assert_eq!(
                after, before,
                "trial {trial}: completed step {seq} ran again"
            );
        } else {
            assert_eq!(
                after,
                before + 1,
                "trial {trial}: step {seq} ran {} times on resume",
                after - before
            );
        }
    }

    // The journal is consistent.
    let host = Host::builder()
        .journal(&journal)
        .engine(engine())
        .policy(Policy::default())
        .open()
        .expect("opens");
    let after = host
        .client()
        .execution(id)
        .expect("readable")
        .expect("journaled");
    assert_eq!(
        after.execution.status,
        ExecutionStatus::Completed,
        "trial {trial}"
    );
    assert_eq!(after.calls.len(), STEPS as usize, "trial {trial}");
    for (i, call) in after.calls.iter().enumerate() {
        assert_eq!(call.seq, i as u32);
        assert_eq!(
            call.call_id,
            if i == 0 {
                "step".to_owned()
            } else {
                format!("step_{}", i + 1)
            }
        );
        assert_eq!(call.input, serde_json::json!({"i": i, "work": WORK}));
        assert_eq!(call.output, Some(serde_json::json!(i * i)));
        assert_eq!(call.status, CallStatus::Completed);
        let numbers: Vec<u32> = call.attempts.iter().map(|a| a.n).collect();
        assert_eq!(
            numbers,
            (1..=call.attempts.len() as u32).collect::<Vec<_>>(),
            "trial {trial}: seq {i}"
        );
        let (last, earlier) = call.attempts.split_last().expect("at least one attempt");
        assert_eq!(last.status, "ok", "trial {trial}: seq {i}");
        assert!(
            earlier.iter().all(|a| a.status == "failed"),
            "trial {trial}: interrupted attempts are closed"
        );
    }
    completed.len() as u64
}

fn step_marks(marks: &Path) -> Vec<usize> {
    (0..STEPS)
        .map(|i| count_marks(marks, &format!("step-{i}")))
        .collect()
}
