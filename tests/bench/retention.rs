//! Figure 17: a redb journal's size under a steady load with a prune of
//! every ended execution after each round, beside the same load on a
//! journal that is never pruned (the baseline), both in the same run
//! (`cairn_tests::steady_load`). The figure is the pruned file's size at
//! the end; the ratio is that over the unpruned file's. It meets its
//! target when the pruned file stopped growing: its high-water mark over
//! the second half of the rounds is no more than over the first half plus
//! what one round adds to the unpruned file. The sizes after each round
//! go to stderr.

use std::path::Path;

use cairn_host::{Durability, Engine, Host, Policy};
use cairn_tests::steady_load::{Sizes, SteadyLoad};

use crate::{Row, guests};

/// Rounds of the load: `CAIRN_FIGURE17_ROUNDS`, 100 by default.
fn rounds() -> usize {
    std::env::var("CAIRN_FIGURE17_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100)
        .max(4)
}

/// Executions of each of the load's two flows per round.
const PER_ROUND: usize = 10;

pub(crate) async fn journal_sizes(engine: &Engine, work: &Path) -> Row {
    let rounds = rounds();
    let marks = work.join("retention-marks");
    std::fs::create_dir_all(&marks).expect("a marks folder");
    let open = |path: &Path| {
        Host::builder()
            .journal(path)
            .engine(engine.clone())
            .policy(Policy::default().allow_dir(&marks, "/marks", false))
            .durability(Durability::Immediate)
            .open()
            .expect("host")
    };
    let (pruned, control) = (work.join("pruned-17.redb"), work.join("unpruned-17.redb"));
    let mut load = SteadyLoad::start(
        open,
        &pruned,
        &control,
        &cairn_tests::guest(guests::PROBE),
        PER_ROUND,
    )
    .await;
    let mut sizes = Sizes::default();
    for _ in 0..rounds {
        load.round(&mut sizes).await;
    }
    load.close().await;
    eprintln!(
        "bench: figure 17, KiB after each of {rounds} rounds ({PER_ROUND} x tagged_steps + {PER_ROUND} x additions each), pruned: {}",
        Sizes::kib(&sizes.pruned)
    );
    eprintln!("bench: figure 17, unpruned: {}", Sizes::kib(&sizes.control));
    let half = rounds / 2;
    let last = rounds - 1;
    let per_round =
        sizes.control[last].saturating_sub(sizes.control[half - 1]) / (rounds - half) as u64;
    let first_peak = Sizes::peak(&sizes.pruned, 0, half);
    let second_peak = Sizes::peak(&sizes.pruned, half, rounds);
    let kib = |b: u64| b as f64 / 1024.0;
    let ratio = sizes.pruned[last] as f64 / sizes.control[last].max(1) as f64;
    Row {
        figure: "17. redb journal under a steady load, pruned each round",
        value: kib(sizes.pruned[last]),
        unit: "KiB",
        baseline: format!(
            "unpruned: {:.0} KiB (+{:.0} KiB/round); pruned peak {:.0} KiB in the 1st half, {:.0} in the 2nd",
            kib(sizes.control[last]),
            kib(per_round),
            kib(first_peak),
            kib(second_peak)
        ),
        ratio: Some(ratio),
        target: "flat after half".to_owned(),
        pass: second_peak <= first_peak + per_round,
    }
}
