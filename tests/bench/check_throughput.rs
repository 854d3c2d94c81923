//! Figure 13: executions checked per second by `Host::check` (a dry run of
//! a new build against each execution's journal: every call answered from
//! the journal, nothing run, nothing written), over 10,000 executions of
//! `upgrade_v1`'s `order` (a price, a map of 3 parts, then a wait); beside
//! resumes of the same executions in the same run (each replays its 4
//! calls from the journal and stops at the wait again, writing its record),
//! as the ratio of the two rates.

use std::path::Path;
use std::time::Instant;

use cairn_host::{CheckRequest, Component, Durability, Engine, ExecutionStatus, Host, Policy};

use crate::{Row, guests};

/// How many executions are checked.
const EXECUTIONS: u64 = 10_000;

/// How many of them the baseline resumes.
const RESUMED: u64 = 500;

pub(crate) async fn checks(engine: &Engine, work: &Path) -> Row {
    let journal = work.join("check.redb");
    let open = || {
        Host::builder()
            .journal(&journal)
            .engine(engine.clone())
            .policy(Policy::default())
            .durability(Durability::Eventual)
            .open()
            .expect("host")
    };
    let load = |host: &Host, guest| {
        let (host, path) = (host.clone(), cairn_tests::guest(guest));
        async move {
            Component::from_file(host.engine(), path)
                .await
                .expect("guest")
        }
    };
    {
        let host = open();
        let v1 = load(&host, guests::UPGRADE_V1).await;
        for n in 1..=4 {
            let input = format!(r#"{{"n": {n}}}"#);
            let outcome = host.run(&v1, "order", &input).await.expect("runs");
            assert_eq!(outcome.status, ExecutionStatus::Waiting);
        }
        cairn_host::bench::copy_executions(&host, EXECUTIONS)
            .await
            .expect("copies");
    }
    let host = open();
    let v2 = load(&host, guests::UPGRADE_V2).await;
    let request = CheckRequest::component(v2).flow("order");
    // Once to compile and warm up, then measured.
    let _ = host.check(&request).await.expect("checks");
    let started = Instant::now();
    let report = host.check(&request).await.expect("checks");
    let checked = EXECUTIONS as f64 / started.elapsed().as_secs_f64();
    assert_eq!(
        report.compatible as u64, EXECUTIONS,
        "every copy is compatible"
    );

    let started = Instant::now();
    for id in (EXECUTIONS - RESUMED + 1)..=EXECUTIONS {
        let outcome = host
            .resume(cairn_host::ExecutionId(id))
            .await
            .expect("resumes");
        assert_eq!(outcome.status, ExecutionStatus::Waiting);
    }
    let resumed = RESUMED as f64 / started.elapsed().as_secs_f64();
    let ratio = checked / resumed;
    Row {
        figure: "13. check of 10,000 executions (4 journaled calls and a wait each)",
        value: checked,
        unit: "executions/s",
        baseline: format!("resumes of the same executions (eventual durability): {resumed:.0}/s"),
        ratio: Some(ratio),
        target: "≥ 1 (same order as resume or faster)".to_owned(),
        pass: ratio >= 1.0,
    }
}
