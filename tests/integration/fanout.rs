//! Concurrency: `submit` handles, `map` and `product`, parallel isolated
//! calls, partial failure, and a journal whose meaning does not depend on
//! completion order.

use crate::guests;
use cairn_host::{CallSource, CallStatus, ExecutionDetail, ExecutionStatus, Host, Policy};
use cairn_tests::{count_marks, engine, host, load, marking_policy, marks, temp};

async fn run(host: &Host, flow: &str, input: serde_json::Value) -> ExecutionDetail {
    let probe = load(host, guests::PROBE).await;
    let outcome = host
        .run(&probe, flow, &input.to_string())
        .await
        .expect("runs");
    cairn_tests::detail(host, outcome.id).await
}

fn host_with(dir: &std::path::Path, parallel: usize) -> Host {
    Host::builder()
        .journal(dir.join("journal.redb"))
        .engine(engine())
        .policy(marking_policy(dir))
        .max_parallel(parallel)
        .open()
        .expect("opens")
}

#[tokio::test]
async fn map_returns_outputs_in_input_order_with_item_call_ids() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let detail = run(&host, "squares", serde_json::json!({"n": 20})).await;
    let expected: Vec<i64> = (0..20).map(|x| x * x).collect();
    assert_eq!(detail.execution.output, Some(serde_json::json!(expected)));
    for (i, call) in detail.calls.iter().enumerate() {
        assert_eq!(call.seq, i as u32);
        assert_eq!(call.call_id, format!("square[{i}]"));
        assert_eq!(call.input, serde_json::json!({"x": i}));
    }

    let detail = run(&host, "two_maps", serde_json::json!({})).await;
    let ids: Vec<&str> = detail.calls.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(ids, ["square[0]", "square[1]", "square_2[0]"]);
}

#[tokio::test]
async fn map_zips_its_inputs_and_product_crosses_them_first_argument_outer() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let zipped = run(
        &host,
        "zipped",
        serde_json::json!({"a": [1, 2, 3], "b": [10, 20, 30]}),
    )
    .await;
    assert_eq!(
        zipped.execution.output,
        Some(serde_json::json!([11, 22, 33]))
    );

    let grid = run(
        &host,
        "grid",
        serde_json::json!({"a": [1, 2], "b": [10, 20, 30]}),
    )
    .await;
    assert_eq!(
        grid.execution.output,
        Some(serde_json::json!([11, 21, 31, 12, 22, 32]))
    );
    let inputs: Vec<(i64, i64)> = grid
        .calls
        .iter()
        .map(|c| {
            (
                c.input["a"].as_i64().unwrap_or(0),
                c.input["b"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        inputs,
        [(1, 10), (1, 20), (1, 30), (2, 10), (2, 20), (2, 30)]
    );

    let lopsided = run(&host, "lopsided", serde_json::json!({})).await;
    assert_eq!(lopsided.execution.status, ExecutionStatus::Failed);
    let message = lopsided.execution.failure.expect("a failure").message;
    assert!(message.contains("different lengths (3, 1)"), "{message}");
    assert!(lopsided.calls.is_empty(), "nothing was submitted");
}

#[tokio::test]
async fn handles_can_be_awaited_in_any_order_and_seqs_follow_submission() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let detail = run(&host, "handles", serde_json::json!({})).await;
    assert_eq!(
        detail.execution.output,
        Some(serde_json::json!([30, 9, 9, 3]))
    );
    let ids: Vec<&str> = detail.calls.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(ids, ["square", "add", "add_isolated", "add_2"]);
}

#[tokio::test]
async fn when_one_map_item_fails_the_others_still_complete_and_are_journaled() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let detail = run(&host, "partial", serde_json::json!({"n": 6})).await;
    assert_eq!(detail.execution.status, ExecutionStatus::Failed);
    let message = detail.execution.failure.expect("a failure").message;
    assert_eq!(
        message, "checkpoint `evens_only` failed: 1 is odd",
        "the first failure in input order"
    );
    let statuses: Vec<CallStatus> = detail.calls.iter().map(|c| c.status).collect();
    use CallStatus::{Completed, Failed};
    assert_eq!(
        statuses,
        [Completed, Failed, Completed, Failed, Completed, Failed]
    );
}

#[tokio::test]
async fn a_handle_never_awaited_still_runs_and_its_failure_fails_the_execution() {
    let dir = temp();
    let host = host(dir.path(), marking_policy(dir.path()));
    let detail = run(&host, "unawaited", serde_json::json!({})).await;
    assert_eq!(detail.execution.status, ExecutionStatus::Failed);
    let message = detail.execution.failure.expect("a failure").message;
    assert!(
        message.contains("`evens_only` failed and its result was never awaited: 7 is odd"),
        "{message}"
    );
    assert_eq!(
        count_marks(&marks(dir.path()), "step-0"),
        1,
        "the unawaited step ran"
    );
    assert_eq!(
        detail.calls[1].status,
        CallStatus::Completed,
        "and was journaled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_calls_run_in_parallel_up_to_the_pool_size() {
    // With one slot no call ever sees another, whatever the timing: the
    // first watches for 300 ms (a pool that ran two at once would show
    // there), the others stop once they see it ended.
    let serial = temp();
    let detail = run(
        &host_with(serial.path(), 1),
        "overlaps",
        serde_json::json!({"n": 4, "wait_ms": 300}),
    )
    .await;
    assert_eq!(
        detail.execution.output,
        Some(serde_json::json!([false, false, false, false]))
    );

    // With two, the first call to start watches until the second starts
    // beside it (at most 30 s, far below the attempt time limit), however
    // slowly the second slot's store comes up.
    let parallel = temp();
    let detail = run(
        &host_with(parallel.path(), 2),
        "overlaps",
        serde_json::json!({"n": 4, "wait_ms": 30_000}),
    )
    .await;
    let seen: Vec<bool> =
        serde_json::from_value(detail.execution.output.expect("output")).expect("bools");
    assert!(
        seen.iter().any(|s| *s),
        "with two slots, calls overlapped: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_is_the_same_whatever_the_completion_order() {
    let input =
        serde_json::json!({"ns": [3_000_000, 10, 2_000_000, 10, 1_000_000, 10, 500_000, 10]});
    let mut journals = Vec::new();
    for parallel in [1, 2] {
        let dir = temp();
        let detail = run(&host_with(dir.path(), parallel), "busy_map", input.clone()).await;
        let calls: Vec<_> = detail
            .calls
            .iter()
            .map(|c| {
                (
                    c.seq,
                    c.call_id.clone(),
                    c.input.clone(),
                    c.output.clone(),
                    c.status,
                    c.attempts.len(),
                )
            })
            .collect();
        journals.push((detail.execution.output, calls));
    }
    assert_eq!(journals[0], journals[1]);
}

#[tokio::test]
async fn a_map_is_cached_item_by_item() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    run(&host, "squares", serde_json::json!({"n": 5})).await;
    let again = run(&host, "squares", serde_json::json!({"n": 7})).await;
    let sources: Vec<CallSource> = again.calls.iter().map(|c| c.source).collect();
    use CallSource::{Cached, Executed};
    assert_eq!(
        sources,
        [Cached, Cached, Cached, Cached, Cached, Executed, Executed]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_of_10000_isolated_checkpoints_completes_with_bounded_memory() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let before = cairn_tests::peak_rss_kib();
    let detail = run(&host, "squares", serde_json::json!({"n": 10_000})).await;
    let after = cairn_tests::peak_rss_kib();
    assert_eq!(detail.execution.status, ExecutionStatus::Completed);
    assert_eq!(detail.calls.len(), 10_000);
    assert_eq!(
        detail.calls[9_999].output,
        Some(serde_json::json!(9_999i64 * 9_999))
    );
    eprintln!("peak RSS: {before} KiB before, {after} KiB after 10,000 isolated calls");
    assert!(after < 1_536 * 1024, "peak RSS {after} KiB");
}
