//! Crash safety, proven: a real `cairn` process runs a flow of steps and is
//! killed with SIGKILL at a random moment; then the execution is resumed
//! and checked. Each step leaves a mark in a granted folder when its work is
//! done, so real executions are counted from outside the sandbox and outside
//! the journal under test.
//!
//! With `--durability eventual`, a kill loses at most the last moments of
//! a run: the test reads the progress the process reports and checks the
//! journal against it.
//!
//! Each runs on both journals. On redb, 50 trials of a sequential flow and 8
//! of a 1,000-item map by default (CAIRN_CRASH_TRIALS /
//! CAIRN_CRASH_MAP_TRIALS for more); on PostgreSQL, whose resume waits for
//! the killed process's claim to lapse ([`TEST_LEASE`]), 10 and 3
//! (CAIRN_CRASH_PG_TRIALS / CAIRN_CRASH_PG_MAP_TRIALS). CAIRN_CRASH_SEED
//! replays a run's kill times.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::guests;
use cairn_host::{CallStatus, ExecutionStatus, Host, Policy};
use cairn_tests::backend::{Backend, TEST_LEASE, cairn_on};
use cairn_tests::on_backends;
use cairn_tests::{cairn, count_marks, engine, guest, marks, temp};

/// A flow of marking steps to kill: `steps` calls them one by one, `fanout`
/// as one map.
#[derive(Clone, Copy)]
struct Scenario {
    flow: &'static str,
    sequential: bool,
    steps: u64,
    work: u64,
}

const SEQUENTIAL: Scenario = Scenario {
    flow: "steps",
    sequential: true,
    steps: 12,
    work: 2_000_000,
};

const MAP: Scenario = Scenario {
    flow: "fanout",
    sequential: false,
    steps: 1_000,
    work: 20_000,
};

impl Scenario {
    fn expected_output(self) -> String {
        (0..self.steps).map(|i| i * i).sum::<u64>().to_string()
    }

    fn call_id(self, i: usize) -> String {
        match (self.sequential, i) {
            (false, i) => format!("step[{i}]"),
            (true, 0) => "step".to_owned(),
            (true, i) => format!("step_{}", i + 1),
        }
    }

    fn run_command(self, dir: &Path, journal: &Path) -> Command {
        let mut command = cairn_on(journal);
        command
            .arg("run")
            .arg("--allow-dir")
            .arg(format!("{}:/marks", marks(dir).display()))
            .arg(guest(guests::PROBE))
            .args(["--flow", self.flow, "--input"])
            .arg(format!(
                r#"{{"count": {}, "work": {}}}"#,
                self.steps, self.work
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }
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

on_backends! {
    #[test]
    fn sigkill_at_random_moments_then_resume_repeats_no_completed_step_and_loses_nothing(
        backend
    ) {
        let trials = match backend {
            Backend::Redb => env_or("CAIRN_CRASH_TRIALS", 50),
            Backend::Postgres => env_or("CAIRN_CRASH_PG_TRIALS", 10),
        };
        kill_and_resume(backend, SEQUENTIAL, trials);
    }

    #[test]
    fn sigkill_in_the_middle_of_a_map_of_1000_then_resume_runs_only_the_unfinished_items(
        backend
    ) {
        let trials = match backend {
            Backend::Redb => env_or("CAIRN_CRASH_MAP_TRIALS", 8),
            Backend::Postgres => env_or("CAIRN_CRASH_PG_MAP_TRIALS", 3),
        };
        kill_and_resume(backend, MAP, trials);
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(default)
}

fn kill_and_resume(backend: Backend, scenario: Scenario, trials: usize) {
    let seed = std::env::var("CAIRN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::hash::RandomState::new().build_hasher().finish());
    eprintln!(
        "crash test `{}` on {}: {trials} trials, CAIRN_CRASH_SEED={seed}",
        scenario.flow,
        backend.name()
    );
    let mut kills = Kills(seed);

    // An undisturbed run warms the shared artifact cache.
    let warm = temp();
    assert!(
        scenario
            .run_command(warm.path(), &backend.journal(warm.path()))
            .status()
            .expect("cairn runs")
            .success()
    );

    let mut completed_at_kill: BTreeMap<u64, usize> = BTreeMap::new();
    for trial in 0..trials {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let marks = marks(dir.path());
        let mut child = scenario
            .run_command(dir.path(), &journal)
            .spawn()
            .expect("cairn starts");
        // A random point of progress (how many steps have left their mark,
        // from none at all), then a random few hundred microseconds more.
        let target = kills.next(scenario.steps) as usize;
        let give_up = Instant::now() + Duration::from_secs(20);
        while all_marks(&marks) < target && Instant::now() < give_up {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        std::thread::sleep(Duration::from_micros(kills.next(1_000)));
        let _ = child.kill(); // SIGKILL
        child.wait().expect("reaped");
        let done = check_trial(backend, scenario, dir.path(), &journal, trial);
        *completed_at_kill.entry(done).or_default() += 1;
    }
    eprintln!(
        "crash test `{}`: steps completed when killed -> trials: {completed_at_kill:?}",
        scenario.flow
    );
    let mid_flow: usize = completed_at_kill
        .iter()
        .filter(|(done, _)| **done > 0 && **done < scenario.steps)
        .map(|(_, n)| n)
        .sum();
    assert!(
        mid_flow * 4 >= trials,
        "too few kills landed mid-flow: {completed_at_kill:?}"
    );
}

/// Checks one killed run, resumes it and checks again. Returns how many
/// steps had completed at the kill.
fn check_trial(
    backend: Backend,
    scenario: Scenario,
    dir: &Path,
    journal: &Path,
    trial: usize,
) -> u64 {
    let steps = scenario.steps;
    let marks = marks(dir);
    // A database is there before the run; a killed run may leave no file.
    if backend == Backend::Redb && !journal.exists() {
        assert_eq!(
            step_marks(&marks, steps),
            vec![0; steps as usize],
            "trial {trial}: steps ran without a journal"
        );
        return 0;
    }
    // What the dead process left behind. A database server finishes a
    // statement whose sender died, a moment after the kill: wait until the
    // dead process's claim has lapsed (as a resume must), so that what is
    // read here is what the resume will find.
    if backend == Backend::Postgres {
        std::thread::sleep(TEST_LEASE + Duration::from_millis(200));
    }
    let host = Host::builder()
        .journal(journal)
        .engine(engine())
        .open()
        .expect("the journal opens after a kill");
    let executions =
        cairn_tests::block_on(host.client().executions(&Default::default())).expect("readable");
    let Some(execution) = executions.first() else {
        assert_eq!(
            step_marks(&marks, steps),
            vec![0; steps as usize],
            "trial {trial}: steps ran with no execution"
        );
        return 0;
    };
    let id = execution.id;
    let before = cairn_tests::block_on(cairn_tests::detail(&host, id));
    let completed: Vec<u32> = before
        .calls
        .iter()
        .filter(|c| c.status == CallStatus::Completed)
        .map(|c| c.seq)
        .collect();
    if scenario.sequential {
        // One call at a time: what completed is a prefix.
        assert!(
            completed
                .iter()
                .enumerate()
                .all(|(i, seq)| *seq == i as u32),
            "trial {trial}: completed calls are a prefix: {completed:?}"
        );
    }
    let marks_before = step_marks(&marks, steps);
    for seq in &completed {
        assert!(
            marks_before[*seq as usize] >= 1,
            "trial {trial}: step {seq} is journaled as done but never ran"
        );
    }
    drop(host);

    // Resume it the way a user would (on PostgreSQL the dead process's
    // claim has lapsed by now: see above).
    let resumed = cairn_on(journal)
        .args(["executions", "resume", &id.to_string()])
        .arg("--allow-dir")
        .arg(format!("{}:/marks", marks.display()))
        .output()
        .expect("cairn resumes");
    assert!(
        resumed.status.success(),
        "trial {trial}: {}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&resumed.stdout).trim(),
        scenario.expected_output(),
        "trial {trial}"
    );

    // Completed steps never run again; every other step runs exactly once
    // more (at-least-once only for the step the kill interrupted).
    let marks_after = step_marks(&marks, steps);
    for seq in 0..steps as u32 {
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
        .journal(journal)
        .engine(engine())
        .policy(Policy::default())
        .open()
        .expect("opens");
    let after = cairn_tests::block_on(cairn_tests::detail(&host, id));
    assert_eq!(
        after.execution.status,
        ExecutionStatus::Completed,
        "trial {trial}"
    );
    assert_eq!(after.calls.len(), steps as usize, "trial {trial}");
    for (i, call) in after.calls.iter().enumerate() {
        assert_eq!(call.seq, i as u32);
        assert_eq!(call.call_id, scenario.call_id(i));
        assert_eq!(
            call.input,
            serde_json::json!({"i": i, "work": scenario.work})
        );
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

fn all_marks(marks: &Path) -> usize {
    std::fs::read_dir(marks).map(Iterator::count).unwrap_or(0)
}

fn step_marks(marks: &Path, steps: u64) -> Vec<usize> {
    (0..steps)
        .map(|i| count_marks(marks, &format!("step-{i}")))
        .collect()
}

/// `--durability eventual` may lose the last moments of a run, never more:
/// a real `cairn run` of a long sequential flow is killed with SIGKILL once
/// it has reported progress for a while, and the journal must hold the
/// execution and at least every call the process had reported completed
/// [`EVENTUAL_MARGIN`] before the kill (the writer makes a durable commit at
/// least every 200 ms; the margin leaves room for slow fsyncs of a loaded
/// disk and still catches a run that loses more than its last moments).
const EVENTUAL_MARGIN: Duration = Duration::from_secs(2);

#[test]
fn sigkill_during_an_eventual_run_loses_at_most_its_last_moments() {
    use std::io::BufRead;

    let command = |dir: &Path, n: u64| {
        let mut command = cairn(dir);
        command
            .args(["run", "--durability", "eventual"])
            // The default 100,000 calls can be done before the kill on a
            // quick machine; the test needs a run still going seconds on.
            .args(["--max-calls", "4000000000"])
            .arg(guest(guests::BENCH))
            .args(["--flow", "sequential_inline", "--input"])
            .arg(format!(r#"{{"n": {n}}}"#))
            .stdout(Stdio::null());
        command
    };
    // Fill the artifact cache first.
    let warm = temp();
    assert!(
        command(warm.path(), 1)
            .stderr(Stdio::null())
            .status()
            .expect("cairn runs")
            .success()
    );

    let dir = temp();
    let mut child = command(dir.path(), 1_000_000_000)
        .stderr(Stdio::piped())
        .spawn()
        .expect("cairn starts");
    // Progress on stderr: "… N calls completed, …" at most every 500 ms.
    let stderr = child.stderr.take().expect("piped");
    let (reports, reported) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let count = line
                .trim()
                .strip_prefix("… ")
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(count) = count
                && reports.send((Instant::now(), count)).is_err()
            {
                break;
            }
        }
    });
    // Killed at a known point of the run, not at a time: once its first
    // report is older than the margin (by half a second more, so that
    // later reports are checked too), however slowly it started.
    let mut seen: Vec<(Instant, u64)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let kill_at = |seen: &[(Instant, u64)]| {
        seen.first()
            .map(|(at, _)| *at + EVENTUAL_MARGIN + Duration::from_millis(500))
    };
    while kill_at(&seen).is_none_or(|at| Instant::now() < at) {
        assert!(
            Instant::now() < deadline,
            "no progress reported in a minute"
        );
        if let Ok(report) = reported.recv_timeout(Duration::from_millis(50)) {
            seen.push(report);
        }
        assert!(
            child.try_wait().expect("waits").is_none(),
            "cairn ended before the kill"
        );
    }
    let _ = child.kill(); // SIGKILL
    let killed_at = Instant::now();
    child.wait().expect("reaped");
    seen.extend(reported.try_iter().filter(|(at, _)| *at <= killed_at));
    let before = |margin: Duration| {
        seen.iter()
            .filter(|(at, _)| *at + margin <= killed_at)
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0)
    };
    let (at_kill, a_margin_before) = (before(Duration::ZERO), before(EVENTUAL_MARGIN));
    assert!(a_margin_before > 0, "no progress reported: {seen:?}");

    let host = Host::builder()
        .journal(dir.path().join("journal.redb"))
        .engine(engine())
        .read_only(true)
        .open()
        .expect("the journal opens after a kill");
    let executions =
        cairn_tests::block_on(host.client().executions(&Default::default())).expect("readable");
    assert_eq!(executions.len(), 1, "the execution survives the kill");
    let detail = cairn_tests::block_on(cairn_tests::detail(&host, executions[0].id));
    assert_eq!(detail.execution.status, ExecutionStatus::Running);
    let journaled = detail
        .calls
        .iter()
        .filter(|c| c.status == CallStatus::Completed)
        .count() as u64;
    eprintln!(
        "eventual kill: {at_kill} calls reported completed at the kill, {a_margin_before} \
         {EVENTUAL_MARGIN:?} before; the journal holds {journaled} (at most {} lost)",
        at_kill.saturating_sub(journaled)
    );
    assert!(
        journaled >= a_margin_before,
        "lost calls completed more than {EVENTUAL_MARGIN:?} before the kill: {journaled} \
         journaled, {a_margin_before} reported {EVENTUAL_MARGIN:?} before"
    );
}
