//! Safe code upgrades: `Host::check` runs a new build's flow against each
//! execution's journal without running a checkpoint or writing a byte, and
//! `Host::upgrade` moves an execution to a build the check found
//! compatible; a resume then runs the new code. Through the real builds
//! `upgrade_v1`, `upgrade_v2` (compatible changes, one more map item, a flow
//! that fails on v1's data) and `upgrade_v2_reordered`, the CLI included.

use std::time::Instant;

use crate::guests;
use cairn_host::{
    CallSource, CheckError, CheckRequest, Component, ExecutionCheck, ExecutionId, ExecutionStatus,
    FailureKind, FlowCtx, FlowError, Host, HostFlow, Policy, RecordEnd, UpgradeError, Verdict,
};
use cairn_tests::{cairn, detail, engine, host, load, temp};
use serde_json::{Value, json};

/// The check of execution `id` in `report`.
fn of(report: &cairn_host::CheckReport, id: ExecutionId) -> &ExecutionCheck {
    report
        .executions
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("execution {id} was checked: {report:?}"))
}

/// Runs v1's `order` of `n` parts: it waits at `approve`.
async fn waiting_order(host: &Host, v1: &Component, n: i64) -> ExecutionId {
    let outcome = host
        .run(v1, "order", &json!({ "n": n }).to_string())
        .await
        .expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Waiting, "{outcome:?}");
    outcome.id
}

#[tokio::test]
async fn a_compatible_build_takes_a_waiting_execution_over_and_a_reordered_one_is_refused() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let v1 = load(&host, guests::UPGRADE_V1).await;
    let v2 = load(&host, guests::UPGRADE_V2).await;
    let reordered = load(&host, guests::UPGRADE_V2_REORDERED).await;
    let id = waiting_order(&host, &v1, 3).await;
    let commits = host.journal_commits();

    let report = host
        .check(&CheckRequest::component(v2.clone()).flow("order"))
        .await
        .expect("checks");
    assert_eq!(
        (report.compatible, report.diverges, report.fails),
        (1, 0, 0)
    );
    assert!(report.all_compatible());
    let check = of(&report, id);
    assert_eq!(
        check.calls, 4,
        "price and three parts, answered from the journal"
    );
    assert_eq!(
        check.verdict,
        Verdict::Compatible {
            ends_at: RecordEnd::Wait {
                name: "approve".to_owned()
            }
        }
    );

    let report = host
        .check(&CheckRequest::component(reordered.clone()))
        .await
        .expect("checks");
    assert!(!report.all_compatible());
    let Verdict::Diverges { divergence } = &of(&report, id).verdict else {
        panic!("a reordered call diverges: {report:?}");
    };
    assert_eq!(divergence.seq, 0);
    assert!(
        divergence.expected.contains("`price` (price)"),
        "{divergence:?}"
    );
    assert!(
        divergence.found.contains("`part` (part[0])"),
        "{divergence:?}"
    );
    assert_eq!(
        host.journal_commits(),
        commits,
        "a check writes nothing to the journal"
    );

    let refused = host.upgrade(id, &reordered, "test").await;
    match refused {
        Err(UpgradeError::Incompatible {
            exec,
            verdict: Verdict::Diverges { divergence },
        }) => assert_eq!((exec, divergence.seq), (id, 0)),
        other => panic!("the reordered build is refused: {other:?}"),
    }
    assert_eq!(
        detail(&host, id).await.execution.component,
        Some(v1.hash().to_hex()),
        "a refused upgrade changes nothing"
    );

    let upgraded = host.upgrade(id, &v2, "test").await.expect("upgrades");
    assert_eq!(
        (upgraded.from.as_str(), upgraded.to.as_str()),
        (v1.hash().to_hex().as_str(), v2.hash().to_hex().as_str())
    );
    let shown = detail(&host, id).await;
    assert_eq!(shown.execution.component, Some(v2.hash().to_hex()));
    assert_eq!(shown.upgrades.len(), 1);
    assert_eq!(shown.upgrades[0].by, "test");
    assert!(matches!(
        host.upgrade(id, &v2, "test").await,
        Err(UpgradeError::SameBuild(same)) if same == id
    ));

    host.answer(id, "approve", "true").await.expect("answers");
    let done = host.resume(id).await.expect("resumes");
    assert_eq!(done.status, ExecutionStatus::Completed, "{done:?}");
    assert_eq!(
        done.output.as_deref(),
        Some(r#""audited: shipped 330""#),
        "the new build ran: its `audit` is the last call"
    );
    let calls = detail(&host, id).await.calls;
    let ids: Vec<&str> = calls.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(
        ids,
        ["price", "part[0]", "part[1]", "part[2]", "ship", "audit"]
    );
    assert_eq!(
        calls[0].attempts.len(),
        1,
        "the calls recorded under v1 were answered, not run again"
    );
    assert_eq!(calls[5].component, v2.hash().to_hex());
    assert!(
        detail(&host, id).await.flow_log.contains("price 30"),
        "v2's log line"
    );
    assert!(matches!(
        host.upgrade(id, &v1, "test").await,
        Err(UpgradeError::Ended { exec, status: ExecutionStatus::Completed }) if exec == id
    ));
}

#[tokio::test]
async fn a_build_that_fails_on_recorded_data_fails_its_check_and_is_not_upgraded() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let v1 = load(&host, guests::UPGRADE_V1).await;
    let v2 = load(&host, guests::UPGRADE_V2).await;
    let cheap = host.run(&v1, "tally", r#"{"n": 1}"#).await.expect("runs");
    let dear = host.run(&v1, "tally", r#"{"n": 3}"#).await.expect("runs");
    let report = host
        .check(&CheckRequest::component(v2.clone()).flow("tally"))
        .await
        .expect("checks");
    assert_eq!(
        (report.compatible, report.diverges, report.fails),
        (1, 0, 1)
    );
    assert!(of(&report, cheap.id).verdict.is_compatible());
    let Verdict::Fails { failure } = &of(&report, dear.id).verdict else {
        panic!("v2 refuses v1's price of 30: {report:?}");
    };
    assert_eq!(failure.kind, FailureKind::FlowError);
    assert!(
        failure.message.contains("a price of 30 is over the limit"),
        "{failure:?}"
    );
    assert!(matches!(
        host.upgrade(dear.id, &v2, "test").await,
        Err(UpgradeError::Incompatible {
            verdict: Verdict::Fails { .. },
            ..
        })
    ));
    // Only the selected statuses, and a flow the build does not have.
    let none = host
        .check(&CheckRequest::component(v2.clone()).status(ExecutionStatus::Completed))
        .await
        .expect("checks");
    assert!(none.executions.is_empty(), "{none:?}");
    assert!(matches!(
        host.check(&CheckRequest::component(v2).flow("nope")).await,
        Err(CheckError::UnknownFlow { name, .. }) if name == "nope"
    ));
}

#[tokio::test]
async fn a_failed_execution_moves_to_a_fixed_build_and_its_retry_runs_the_fix() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let v1 = load(&host, guests::UPGRADE_V1).await;
    let v2 = load(&host, guests::UPGRADE_V2).await;
    let failed = host.run(&v1, "restock", r#"{"n": 7}"#).await.expect("runs");
    assert_eq!(failed.status, ExecutionStatus::Failed, "{failed:?}");
    let report = host
        .check(&CheckRequest::component(v2.clone()).flow("restock"))
        .await
        .expect("checks");
    assert_eq!(
        of(&report, failed.id).verdict,
        Verdict::Compatible {
            ends_at: RecordEnd::Call {
                seq: 1,
                call_id: "check_stock".to_owned()
            }
        },
        "the failed call ends the record: a retry runs it again"
    );
    host.upgrade(failed.id, &v2, "test")
        .await
        .expect("upgrades");
    let done = host.resume(failed.id).await.expect("retries");
    assert_eq!(done.status, ExecutionStatus::Completed, "{done:?}");
    assert_eq!(done.output.as_deref(), Some("77"));
    let calls = detail(&host, failed.id).await.calls;
    assert_eq!(calls[0].attempts.len(), 1, "the price is not run again");
    let attempts: Vec<&str> = calls[1]
        .attempts
        .iter()
        .map(|a| a.status.as_str())
        .collect();
    assert_eq!(attempts, ["failed", "ok"], "v1's attempt, then v2's");
    assert_eq!(calls[1].component, v2.hash().to_hex());
}

#[tokio::test]
async fn a_map_with_more_items_is_compatible_until_the_record_has_a_call_where_the_new_item_is() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let v1 = load(&host, guests::UPGRADE_V1).await;
    let v2 = load(&host, guests::UPGRADE_V2).await;
    let waiting = host.run(&v1, "grow", r#"{"n": 2}"#).await.expect("runs");
    let done = host.run(&v1, "grow", r#"{"n": 2}"#).await.expect("runs");
    host.answer(done.id, "go", "true").await.expect("answers");
    let done = host.resume(done.id).await.expect("resumes");
    assert_eq!(done.output.as_deref(), Some("100"));

    let report = host
        .check(&CheckRequest::component(v2).flow("grow"))
        .await
        .expect("checks");
    assert_eq!(
        of(&report, waiting.id).verdict,
        Verdict::Compatible {
            ends_at: RecordEnd::Call {
                seq: 2,
                call_id: "part[2]".to_owned()
            }
        },
        "the third part is past the end of the record"
    );
    let Verdict::Diverges { divergence } = &of(&report, done.id).verdict else {
        panic!("the record has sum_parts where v2 maps a third part: {report:?}");
    };
    assert_eq!(divergence.seq, 2);
    assert!(
        divergence.expected.contains("`sum_parts`"),
        "{divergence:?}"
    );
    assert!(divergence.found.contains("part[2]"), "{divergence:?}");
}

#[tokio::test]
async fn cached_calls_and_completed_executions_are_checked_from_the_record() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let v1 = load(&host, guests::UPGRADE_V1).await;
    let v2 = load(&host, guests::UPGRADE_V2).await;
    let first = waiting_order(&host, &v1, 2).await;
    let second = waiting_order(&host, &v1, 2).await;
    let sources: Vec<CallSource> = detail(&host, second)
        .await
        .calls
        .iter()
        .map(|c| c.source)
        .collect();
    assert_eq!(
        sources,
        [CallSource::Cached; 3],
        "the second order's calls came from the cache"
    );
    host.answer(first, "approve", "false")
        .await
        .expect("answers");
    let completed = host.resume(first).await.expect("resumes");
    assert_eq!(completed.status, ExecutionStatus::Completed);

    let report = host
        .check(&CheckRequest::component(v2).flow("order"))
        .await
        .expect("checks");
    assert_eq!(
        of(&report, first).verdict,
        Verdict::Compatible {
            ends_at: RecordEnd::Completed
        },
        "the answer `false` is recorded: v2 completes on it"
    );
    assert_eq!(of(&report, second).calls, 3);
    assert!(of(&report, second).verdict.is_compatible(), "{report:?}");
}

/// A host-side flow that calls v1's `price` and `ship` around a wait;
/// `reordered` ships before it prices.
fn hosted(v1: &Component, reordered: bool) -> HostFlow {
    let price: cairn_host::Checkpoint<Value, i64> = v1.checkpoint("price").expect("price");
    let ship: cairn_host::Checkpoint<Value, String> = v1.checkpoint("ship").expect("ship");
    HostFlow::new("hosted", move |ctx: FlowCtx, n: i64| {
        let (price, ship) = (price.clone(), ship.clone());
        async move {
            let shipped = if reordered {
                let shipped = ctx.call(&ship, &json!({ "total": n })).await?;
                ctx.call(&price, &json!({ "n": n })).await?;
                shipped
            } else {
                let total = ctx.call(&price, &json!({ "n": n })).await?;
                ctx.call(&ship, &json!({ "total": total })).await?
            };
            let go: bool = ctx.wait("go", "Go?", &json!({ "type": "boolean" })).await?;
            Ok::<_, FlowError>((shipped, go))
        }
    })
}

#[tokio::test]
async fn host_side_flows_are_checked_by_name_against_the_closure_registered_now() {
    let dir = temp();
    let id = {
        let host = host(dir.path(), Policy::default());
        let v1 = load(&host, guests::UPGRADE_V1).await;
        host.register(hosted(&v1, false)).expect("registers");
        let outcome = host.run_flow("hosted", &2).await.expect("runs");
        assert_eq!(outcome.status, ExecutionStatus::Waiting, "{outcome:?}");
        let report = host
            .check(&CheckRequest::host_flow("hosted"))
            .await
            .expect("checks");
        assert_eq!(report.component, None);
        assert_eq!(
            of(&report, outcome.id).verdict,
            Verdict::Compatible {
                ends_at: RecordEnd::Wait {
                    name: "go".to_owned()
                }
            }
        );
        assert!(matches!(
            host.check(&CheckRequest::host_flow("absent")).await,
            Err(CheckError::UnregisteredFlow { name, .. }) if name == "absent"
        ));
        outcome.id
    };
    let host = host(dir.path(), Policy::default());
    let v1 = load(&host, guests::UPGRADE_V1).await;
    host.register(hosted(&v1, true)).expect("registers");
    let report = host
        .check(&CheckRequest::host_flow("hosted"))
        .await
        .expect("checks");
    let Verdict::Diverges { divergence } = &of(&report, id).verdict else {
        panic!("the new closure ships first: {report:?}");
    };
    assert_eq!(divergence.seq, 0);
    assert!(divergence.found.contains("`ship`"), "{divergence:?}");
}

#[tokio::test]
async fn ten_thousand_executions_are_checked_without_running_a_checkpoint() {
    let dir = temp();
    let journal = dir.path().join("journal.redb");
    {
        let host = host(dir.path(), Policy::default());
        let v1 = load(&host, guests::UPGRADE_V1).await;
        host.run(&v1, "tally", r#"{"n": 1}"#).await.expect("runs");
        host.run(&v1, "tally", r#"{"n": 2}"#).await.expect("runs");
        cairn_host::bench::copy_executions(&host, 10_000)
            .await
            .expect("copies");
    }
    let host = Host::builder()
        .journal(&journal)
        .engine(engine())
        .open()
        .expect("opens");
    let v2 = load(&host, guests::UPGRADE_V2).await;
    let commits = host.journal_commits();
    let started = Instant::now();
    let report = host
        .check(&CheckRequest::component(v2).flow("tally"))
        .await
        .expect("checks");
    let took = started.elapsed();
    eprintln!(
        "checked {} executions in {took:?} ({:.0}/s)",
        report.executions.len(),
        report.executions.len() as f64 / took.as_secs_f64()
    );
    assert_eq!(report.executions.len(), 10_000);
    assert_eq!(report.compatible, 10_000, "{:?}", report.executions.first());
    assert_eq!(host.journal_commits(), commits);
}

/// The CLI: `cairn check` prints a table, `--json` the report, and exits 1
/// when anything diverges or fails; `executions upgrade` moves a compatible
/// execution, refuses a diverging one with the divergence, and `executions
/// show` lists the move.
#[test]
fn the_cli_checks_and_upgrades_with_exit_codes_and_json() {
    let dir = temp();
    let v1 = guests::UPGRADE_V1.path();
    let v2 = guests::UPGRADE_V2.path();
    let reordered = guests::UPGRADE_V2_REORDERED.path();
    let run = cairn(dir.path())
        .args(["run"])
        .arg(&v1)
        .args(["--flow", "order", "--input", r#"{"n": 2}"#])
        .output()
        .expect("runs");
    assert_eq!(run.status.code(), Some(3), "waiting: {run:?}");

    let clean = cairn(dir.path())
        .arg("check")
        .arg(&v2)
        .args(["--flow", "order"])
        .output()
        .expect("checks");
    let table = String::from_utf8_lossy(&clean.stdout);
    assert_eq!(clean.status.code(), Some(0), "{clean:?}");
    assert!(
        table.contains("compatible") && table.contains("wait `approve`"),
        "{table}"
    );

    let caught = cairn(dir.path())
        .arg("check")
        .arg(&reordered)
        .arg("--json")
        .output()
        .expect("checks");
    assert_eq!(caught.status.code(), Some(1), "{caught:?}");
    let report: Value = serde_json::from_slice(&caught.stdout).expect("JSON");
    assert_eq!(report["diverges"], 1, "{report}");
    assert_eq!(report["executions"][0]["verdict"], "diverges");
    assert_eq!(report["executions"][0]["divergence"]["seq"], 0);

    let refused = cairn(dir.path())
        .args(["executions", "upgrade", "1", "--component"])
        .arg(&reordered)
        .output()
        .expect("runs");
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("diverges at seq 0"), "{said}");

    let moved = cairn(dir.path())
        .args(["executions", "upgrade", "1", "--component"])
        .arg(&v2)
        .output()
        .expect("runs");
    assert_eq!(moved.status.code(), Some(0), "{moved:?}");
    let shown = cairn(dir.path())
        .args(["--json", "executions", "show", "1"])
        .output()
        .expect("shows");
    let shown: Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(
        shown["upgrades"][0]["by"], "cairn executions upgrade",
        "{shown}"
    );
    let shown = cairn(dir.path())
        .args(["executions", "show", "1"])
        .output()
        .expect("shows");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("upgraded  from build"), "{shown}");

    // A second waiting order: --all refuses the reordered build for both,
    // then moves the second to v2 and skips the first, on v2 already.
    let second = cairn(dir.path())
        .args(["run"])
        .arg(&v1)
        .args(["--flow", "order", "--input", r#"{"n": 1}"#])
        .output()
        .expect("runs");
    assert_eq!(second.status.code(), Some(3), "waiting: {second:?}");
    let all = |component: &std::path::Path| {
        cairn(dir.path())
            .args([
                "--json",
                "executions",
                "upgrade",
                "--all",
                "--flow",
                "order",
                "--component",
            ])
            .arg(component)
            .output()
            .expect("runs")
    };
    let refused = all(&reordered);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let moved_none: Value = serde_json::from_slice(&refused.stdout).expect("JSON");
    assert_eq!(moved_none, json!([]));
    let moved = all(&v2);
    assert_eq!(moved.status.code(), Some(0), "{moved:?}");
    let moved: Value = serde_json::from_slice(&moved.stdout).expect("JSON");
    assert_eq!(moved.as_array().map(Vec::len), Some(1), "{moved}");
    assert_eq!(moved[0]["id"], 2);
    let resumed = cairn(dir.path())
        .args([
            "executions",
            "input",
            "1",
            "--wait",
            "approve",
            "--value",
            "true",
            "--resume",
        ])
        .output()
        .expect("resumes");
    assert_eq!(resumed.status.code(), Some(0), "{resumed:?}");
    assert_eq!(
        String::from_utf8_lossy(&resumed.stdout).trim(),
        r#""audited: shipped 120""#
    );
}

/// The API: `POST /check` answers the report for an uploaded build, and
/// `POST /executions/{id}/upgrade` moves an execution the server does not
/// run, refusing a diverging build with `409`.
#[test]
fn a_server_checks_an_uploaded_build_and_upgrades_a_waiting_execution() {
    use cairn_host::CheckReport;
    use cairn_serve::ClientError;
    use cairn_serve::api::{Accepted, ComponentView};

    let dir = temp();
    let served = crate::serve::Served::start(dir.path(), &[]);
    let client = served.client();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let upload = |g: cairn_tests::Guest| {
            let client = &client;
            async move {
                let bytes = std::fs::read(g.path()).expect("the guest");
                let view: ComponentView = client
                    .post_bytes("/components", bytes)
                    .await
                    .expect("uploads");
                view.hash
            }
        };
        let (v1, v2) = (
            upload(guests::UPGRADE_V1).await,
            upload(guests::UPGRADE_V2).await,
        );
        let reordered = upload(guests::UPGRADE_V2_REORDERED).await;
        let started: Accepted = client
            .post(
                "/executions",
                &json!({"component": v1, "flow": "order", "input": {"n": 2}}),
            )
            .await
            .expect("starts");
        let waiting = crate::serve::settled(&client, started.id).await;
        assert_eq!(waiting.execution.status, ExecutionStatus::Waiting);

        let report: CheckReport = client
            .post("/check", &json!({"component": v2, "flow": "order"}))
            .await
            .expect("checks");
        assert_eq!((report.compatible, report.diverges), (1, 0), "{report:?}");
        let report: CheckReport = client
            .post(
                "/check",
                &json!({"component": reordered, "status": ["waiting"]}),
            )
            .await
            .expect("checks");
        assert_eq!(report.diverges, 1, "{report:?}");

        // The CLI through the server: the same report, table or JSON, and
        // exit code (the server already holds these builds: nothing uploaded).
        let cli = |args: &[&str]| {
            crate::serve_cli::bare(dir.path())
                .args(["--server", served.url()])
                .args(args)
                .output()
                .expect("cairn starts")
        };
        let (v2_file, reordered_file) = (
            guests::UPGRADE_V2.path(),
            guests::UPGRADE_V2_REORDERED.path(),
        );
        let (v2_file, reordered_file) = (
            v2_file.to_str().expect("UTF-8"),
            reordered_file.to_str().expect("UTF-8"),
        );
        let out = cli(&["--json", "check", reordered_file]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(shown["diverges"], json!(1), "{shown}");
        let out = cli(&["check", v2_file, "--flow", "order", "--since", "1h"]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(table.contains("compatible"), "{table}");

        let path = format!("/executions/{}/upgrade", started.id);
        let refused = client
            .post::<_, Value>(&path, &json!({"component": reordered}))
            .await;
        match refused {
            Err(ClientError::Api { status, body }) => {
                assert_eq!(status.as_u16(), 409);
                assert_eq!(body.error, "incompatible");
                assert!(
                    body.message.contains("diverges at seq 0"),
                    "{}",
                    body.message
                );
            }
            other => panic!("a diverging build is refused: {other:?}"),
        }
        // The CLI through the server: refused (exit 1) one by one and with
        // --all, then moved, its JSON the API's answer.
        let id = started.id.to_string();
        let upgrade = |args: &[&str]| cli(&[&["executions", "upgrade"][..], args].concat());
        let out = upgrade(&[&id, "--component", reordered_file]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let out = upgrade(&["--all", "--flow", "order", "--component", reordered_file]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("moved 0 executions to the new build, refused 1"),
            "{out:?}"
        );
        let out = cli(&[
            "--json",
            "executions",
            "upgrade",
            &id,
            "--component",
            v2_file,
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let moved: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(moved["to"], json!(v2));
        let shown: Value = client
            .get(&format!("/executions/{}", started.id))
            .await
            .expect("shows");
        assert_eq!(shown["component"], json!(v2), "{shown}");
        assert_eq!(shown["upgrades"][0]["from"], json!(v1), "{shown}");
    });
}
