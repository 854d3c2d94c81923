//! A steady load on two redb journals side by side: the same executions
//! run on both, round after round, and one of them is pruned of every
//! ended execution after each round while the other (the control) keeps
//! everything. The sizes of both files after each round show whether
//! pruning keeps a journal bounded (`prune_bounds` test, benchmark figure
//! 17). Each journal also holds one execution that waits throughout, as a
//! server always holds some: it is never pruned, and it keeps the probe's
//! build referred to (else each prune would collect it and the next round
//! store it again).

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_host::{Component, ExecutionStatus, Host, PruneRequest};

/// The executions of one round, run on each journal: `tagged_steps` runs
/// [`STEPS`] uncached isolated calls, `additions` one cached and one
/// uncached call (so cache entries are made and pruned too).
pub const STEPS: u64 = 20;

/// The padding of each `tagged_steps` execution's tag, which each of its
/// calls' input repeats: it makes a round's records large beside the
/// journal's fixed part (the probe's build), so that a few rounds tell
/// growth from redb's own ups and downs. (Each call leaves a mark file
/// named after the tag: it must stay well under 255 bytes.)
pub const TAG_BYTES: usize = 200;

/// The two journals under the same load.
pub struct SteadyLoad {
    pruned: Host,
    control: Host,
    pruned_path: PathBuf,
    control_path: PathBuf,
    probe: Component,
    per_round: usize,
    round: usize,
}

/// The file sizes after each round, and what the prunes removed.
#[derive(Debug, Default, Clone)]
pub struct Sizes {
    /// The pruned journal's file, after each round's prune (bytes).
    pub pruned: Vec<u64>,
    /// The control's file after each round (bytes).
    pub control: Vec<u64>,
    /// The record bytes each round's prune removed (what a round adds to
    /// the control).
    pub removed: Vec<u64>,
}

impl Sizes {
    /// The largest of `sizes[from..to]` (0 if empty).
    pub fn peak(sizes: &[u64], from: usize, to: usize) -> u64 {
        sizes
            .get(from..to.min(sizes.len()))
            .and_then(|part| part.iter().copied().max())
            .unwrap_or(0)
    }

    /// A series in KiB, one number per round: compact enough to print.
    pub fn kib(sizes: &[u64]) -> String {
        let kib: Vec<String> = sizes.iter().map(|s| (s / 1024).to_string()).collect();
        kib.join(" ")
    }
}

impl SteadyLoad {
    /// Opens `pruned` and `control` (journal files, made if missing) with
    /// `open`, and loads `probe` (the probe guest's component file) on
    /// both; `per_round` executions of each flow per round.
    pub async fn start(
        open: impl Fn(&Path) -> Host,
        pruned: &Path,
        control: &Path,
        probe: &Path,
        per_round: usize,
    ) -> SteadyLoad {
        let pruned_host = open(pruned);
        let control_host = open(control);
        let probe = pruned_host.load_file(probe).await.expect("the probe loads");
        for host in [&pruned_host, &control_host] {
            let held = host
                .run(&probe, "ask", r#"{"question": "held throughout"}"#)
                .await
                .expect("runs");
            assert_eq!(held.status, ExecutionStatus::Waiting);
        }
        SteadyLoad {
            pruned: pruned_host,
            control: control_host,
            pruned_path: pruned.to_path_buf(),
            control_path: control.to_path_buf(),
            probe,
            per_round,
            round: 0,
        }
    }

    /// Runs one round on both journals, prunes every ended execution of
    /// the pruned one, commits both, and adds their sizes to `sizes`.
    pub async fn round(&mut self, sizes: &mut Sizes) {
        let round = self.round;
        self.round += 1;
        let pad = "x".repeat(TAG_BYTES);
        for i in 0..self.per_round {
            let steps = format!(r#"{{"tag": "r{round}-{i}-{pad}", "count": {STEPS}, "work": 0}}"#);
            let sum = format!(r#"{{"a": {round}, "b": {i}}}"#);
            for (flow, input) in [("tagged_steps", &steps), ("additions", &sum)] {
                let (a, b) = tokio::join!(
                    self.pruned.run(&self.probe, flow, input),
                    self.control.run(&self.probe, flow, input)
                );
                for done in [a, b] {
                    let done = done.expect("runs");
                    assert_eq!(done.status, ExecutionStatus::Completed, "{flow} {input}");
                }
            }
        }
        let report = self
            .pruned
            .prune(&PruneRequest::older_than(Duration::ZERO))
            .await
            .expect("prunes");
        assert_eq!(
            report.removed.executions,
            2 * self.per_round as u64,
            "every execution of the round goes: {report:?}"
        );
        self.pruned.sync().await.expect("syncs");
        self.control.sync().await.expect("syncs");
        sizes.pruned.push(file_len(&self.pruned_path));
        sizes.control.push(file_len(&self.control_path));
        sizes.removed.push(report.removed.bytes);
    }

    /// Closes both journals.
    pub async fn close(self) {
        drop(self.probe);
        self.pruned.close().await.expect("closes");
        self.control.close().await.expect("closes");
    }
}

/// A file's length in bytes.
pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("the journal file").len()
}
