//! Child flows, through the `children` guest: a flow starts flows of its
//! component as executions of their own, linked both ways; a parent
//! resumed after a SIGKILL during its child's run does not start the child
//! twice; a waiting child makes its parent wait; a cancel of the parent
//! cancels the child; a server wakes a sleeping child and then its parent
//! by itself, and resumes on start a parent whose child ended without
//! it. The guest's checkpoints leave a mark outside the sandbox on
//! every run, so what really ran is counted apart from the journal.

use std::time::{Duration, Instant};

use cairn_host::{CallSource, CallStatus, ExecutionFilter, ExecutionStatus, FailureKind, Host};
use cairn_serve::api::Accepted;
use cairn_tests::backend::{cairn_on, host_on};
use cairn_tests::{count_marks, detail, load, marking_policy, marks, on_backends, temp};
use serde_json::json;

use crate::guests;
use crate::serve::{Served, runtime};

/// The ids of the executions of `flow`, in id order.
pub(crate) async fn executions_of(host: &Host, flow: &str) -> Vec<cairn_host::ExecutionId> {
    let all = host
        .client()
        .executions(&ExecutionFilter::default())
        .await
        .expect("lists");
    all.into_iter()
        .filter(|e| e.flow == flow)
        .map(|e| e.id)
        .collect()
}

on_backends! {
    #[tokio::test]
    async fn a_flow_starts_children_and_gets_their_outputs_linked_both_ways(backend) {
        let dir = temp();
        let marks = marks(dir.path());
        let host = host_on(&backend.journal(dir.path()), marking_policy(dir.path()));
        let children = load(&host, guests::CHILDREN).await;

        let outcome = host.run(&children, "fan", r#"{"n": 3}"#).await.expect("runs");
        assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
        // (0+10) + (1+10) + (2+10) + (100+1)
        assert_eq!(outcome.output.as_deref(), Some("134"));
        let parent = detail(&host, outcome.id).await;
        let steps: Vec<(&str, CallStatus)> = parent
            .calls
            .iter()
            .map(|c| (c.call_id.as_str(), c.status))
            .collect();
        assert_eq!(
            steps,
            [
                ("note", CallStatus::Completed),
                ("@child", CallStatus::Completed),
                ("@child_2", CallStatus::Completed),
                ("@child_3", CallStatus::Completed),
                ("@child_4", CallStatus::Completed),
                ("note_2", CallStatus::Completed),
            ]
        );
        assert_eq!(parent.calls[1].input, json!({"flow": "add", "input": {"a": 0, "b": 10}}));
        assert_eq!(parent.calls[4].output, Some(json!(101)));
        assert_eq!(parent.children.len(), 4, "{:?}", parent.children);
        for (step, link) in parent.calls[1..5].iter().zip(&parent.children) {
            assert_eq!(link.seq, step.seq);
            let child = detail(&host, link.id).await;
            assert_eq!(child.execution.flow, "add");
            assert_eq!(child.execution.status, ExecutionStatus::Completed);
            assert_eq!(child.execution.output, step.output, "{child:?}");
            let up = child.parent.expect("the child names its parent");
            assert_eq!((up.id, up.seq), (outcome.id, step.seq));
            // The child's calls are its own.
            assert_eq!(child.calls.len(), 1);
            assert!(child.children.is_empty());
        }
        let json = serde_json::to_value(&parent).expect("serializes");
        assert_eq!(json["children"].as_array().map(Vec::len), Some(4), "{json}");
        assert!(json.get("parent").is_none(), "{json}");
        for name in ["child-0", "child-1", "child-2", "child-100", "fan-start", "fan-end"] {
            assert_eq!(count_marks(&marks, name), 1, "{name}");
        }

        // A resume of the completed parent runs nothing; a replay reuses
        // the children's outputs and starts no child.
        let again = host.resume(outcome.id).await.expect("resumes");
        assert_eq!(again.output.as_deref(), Some("134"));
        let replayed = host
            .replay(outcome.id, cairn_host::ReplayRequest::default())
            .await
            .expect("replays");
        assert_eq!(replayed.output.as_deref(), Some("134"));
        let copy = detail(&host, replayed.id).await;
        assert_eq!(copy.calls[1].source, CallSource::Replayed);
        assert!(copy.children.is_empty(), "{:?}", copy.children);
        assert_eq!(executions_of(&host, "add").await.len(), 4);
        assert_eq!(count_marks(&marks, "child-0"), 1);
    }

    #[test]
    fn a_parent_killed_during_its_childs_run_finds_the_child_and_does_not_start_it_again(backend) {
        let dir = temp();
        let marks = marks(dir.path());
        let grant = format!("{}:/marks", marks.display());
        let journal = backend.journal(dir.path());
        let mut run = cairn_on(&journal);
        run.arg("run")
            .arg(cairn_tests::guest(guests::CHILDREN))
            .args(["--flow", "parent_of_slow", "--input", r#"{"flag": "release"}"#])
            .args(["--allow-dir", grant.as_str()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut process = run.spawn().expect("cairn starts");
        // Killed while the child's slow checkpoint holds (until the flag
        // is made, after the kill).
        let deadline = Instant::now() + Duration::from_secs(60);
        while count_marks(&marks, "slow-middle") < 1 {
            assert!(Instant::now() < deadline, "the child's slow step never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        process.kill().expect("SIGKILL");
        let _ = process.wait();
        assert_eq!(count_marks(&marks, "slow-after"), 0, "killed too late");
        std::fs::write(marks.join("release"), b"").expect("releases the hold");
        // Claims of a killed process lapse after the test lease.
        std::thread::sleep(cairn_tests::backend::TEST_LEASE + Duration::from_millis(200));

        let resume = cairn_on(&journal)
            .args(["executions", "resume", "1", "--allow-dir", grant.as_str()])
            .output()
            .expect("cairn runs");
        let stderr = String::from_utf8_lossy(&resume.stderr);
        assert!(resume.status.success(), "{stderr}");
        assert_eq!(String::from_utf8_lossy(&resume.stdout).trim(), r#""slow""#, "{stderr}");
        let list = cairn_on(&journal)
            .args(["--json", "executions", "list"])
            .output()
            .expect("cairn runs");
        let listed: serde_json::Value = serde_json::from_slice(&list.stdout).expect("JSON");
        let rows = listed.as_array().expect("a list");
        let slow: Vec<&serde_json::Value> = rows.iter().filter(|e| e["flow"] == "slow").collect();
        assert_eq!(slow.len(), 1, "the child was started twice: {listed}");
        assert!(rows.iter().all(|e| e["status"] == "completed"), "{listed}");
        // What completed before the kill ran once; the step it was in ran
        // again (a checkpoint is at least once).
        assert_eq!(
            [
                count_marks(&marks, "p-before"),
                count_marks(&marks, "slow-before"),
                count_marks(&marks, "slow-middle"),
                count_marks(&marks, "slow-after"),
                count_marks(&marks, "p-after"),
            ],
            [1, 1, 2, 1, 1]
        );
        let show = cairn_on(&journal)
            .args(["executions", "show", "1"])
            .output()
            .expect("cairn runs");
        let shown = String::from_utf8_lossy(&show.stdout);
        assert!(shown.contains("child     execution 2 (started at seq 1)"), "{shown}");
        let show = cairn_on(&journal)
            .args(["executions", "show", "2"])
            .output()
            .expect("cairn runs");
        let shown = String::from_utf8_lossy(&show.stdout);
        assert!(shown.contains("parent    execution 1 (its step at seq 1"), "{shown}");
    }

    #[tokio::test]
    async fn a_waiting_child_makes_its_parent_wait_and_a_cancel_of_the_parent_cancels_it(backend) {
        let dir = temp();
        let host = host_on(&backend.journal(dir.path()), marking_policy(dir.path()));
        let children = load(&host, guests::CHILDREN).await;

        let parent = host.run(&children, "parent_of_asker", "{}").await.expect("runs");
        assert_eq!(parent.status, ExecutionStatus::Waiting, "{parent:?}");
        let waiting = detail(&host, parent.id).await;
        let child = waiting.children[0].id;
        assert_eq!(detail(&host, child).await.execution.status, ExecutionStatus::Waiting);
        assert_eq!(waiting.calls[0].status, CallStatus::Running);
        // A resume of the parent before the answer resumes the child, which
        // still waits: both wait, no second child.
        let early = host.resume(parent.id).await.expect("resumes");
        assert_eq!(early.status, ExecutionStatus::Waiting);
        host.answer(child, "approval", r#""yes""#).await.expect("answers");
        let done = host.resume(parent.id).await.expect("resumes");
        assert_eq!(done.status, ExecutionStatus::Completed, "{done:?}");
        assert_eq!(done.output.as_deref(), Some(r#""child said yes""#));
        assert_eq!(detail(&host, child).await.execution.status, ExecutionStatus::Completed);
        assert_eq!(executions_of(&host, "asker").await, [child]);

        // A parent whose child sleeps: the cancel of the parent reaches it.
        let parent = host
            .run(&children, "parent_of_sleeper", r#"{"ms": 60000}"#)
            .await
            .expect("runs");
        assert_eq!(parent.status, ExecutionStatus::Waiting, "{parent:?}");
        let child = detail(&host, parent.id).await.children[0].id;
        assert_eq!(detail(&host, child).await.execution.status, ExecutionStatus::Waiting);
        host.cancel(parent.id).await.expect("cancels");
        assert_eq!(detail(&host, parent.id).await.execution.status, ExecutionStatus::Cancelled);
        let child_now = detail(&host, child).await;
        assert_eq!(child_now.execution.status, ExecutionStatus::Cancelled, "{child_now:?}");
        assert!(child_now.retries.is_empty(), "its sleep's timer is gone");
    }

    #[tokio::test]
    async fn failures_refusals_and_the_depth_limit_reach_the_parent(backend) {
        let dir = temp();
        let policy = marking_policy(dir.path()).max_child_depth(3).max_children(4);
        let host = host_on(&backend.journal(dir.path()), policy);
        let children = load(&host, guests::CHILDREN).await;

        let caught = host.run(&children, "catches", "{}").await.expect("runs");
        assert_eq!(caught.status, ExecutionStatus::Completed, "{caught:?}");
        let output = caught.output.unwrap_or_default();
        let broken = executions_of(&host, "broken").await;
        assert_eq!(broken.len(), 1);
        assert!(
            output.contains(&format!("child execution {} failed: the child broke", broken[0])),
            "{output}"
        );
        assert!(output.contains("no flow `no_such_flow`"), "{output}");
        let parent = detail(&host, caught.id).await;
        assert_eq!(parent.calls[0].status, CallStatus::Failed);
        assert_eq!(parent.children.len(), 1, "the unknown flow started nothing");

        let dived = host.run(&children, "dive", r#"{"level": 0}"#).await.expect("runs");
        assert_eq!(dived.status, ExecutionStatus::Failed, "{dived:?}");
        // The root, three levels of children; the deepest one fails on the
        // limit and each parent fails with its child.
        let dives = executions_of(&host, "dive").await;
        assert_eq!(dives.len(), 4, "{dives:?}");
        let deepest = detail(&host, dives[3]).await;
        let failure = deepest.execution.failure.expect("failed");
        assert_eq!(failure.kind, FailureKind::Limit, "{failure:?}");
        assert!(failure.message.contains("3 levels deep"), "{failure:?}");

        // One run of a root and its children start at most `max_children`
        // between them: the fifth start fails the flow that makes it.
        let fanned = host.run(&children, "fan", r#"{"n": 4}"#).await.expect("runs");
        assert_eq!(fanned.status, ExecutionStatus::Failed, "{fanned:?}");
        let failure = fanned.failure.expect("failed");
        assert_eq!(failure.kind, FailureKind::Limit, "{failure:?}");
        assert!(failure.message.contains("max_children"), "{failure:?}");
        // The four started before it ran to their end and are journaled.
        assert_eq!(detail(&host, fanned.id).await.children.len(), 4);

        // A flow's retry runs on its tree's budget, not a fresh one; the
        // starts it replays are not counted again. As a root, `retrier`
        // runs 3 children, fails once, and its retry runs the fourth.
        let adds = executions_of(&host, "add").await.len();
        let input = r#"{"key": "root", "first": 3, "then": 1}"#;
        let root = host.run(&children, "retrier", input).await.expect("runs");
        assert_eq!(root.status, ExecutionStatus::Completed, "{root:?}");
        assert_eq!(root.output.as_deref(), Some("6"));
        assert_eq!(executions_of(&host, "add").await.len(), adds + 4);
        // As a child it is one start of its parent's tree: the fourth child
        // of its retry is the fifth start, and fails it.
        let input = r#"{"key": "child", "first": 3, "then": 1}"#;
        let parent = host.run(&children, "parent_of_retrier", input).await.expect("runs");
        assert_eq!(parent.status, ExecutionStatus::Failed, "{parent:?}");
        let retrier = *executions_of(&host, "retrier").await.last().expect("a retrier");
        let failure = detail(&host, retrier).await.execution.failure.expect("failed");
        assert_eq!(failure.kind, FailureKind::Limit, "{failure:?}");
        assert!(failure.message.contains("max_children"), "{failure:?}");
        assert_eq!(executions_of(&host, "add").await.len(), adds + 7, "3 more, not 4");
        assert_eq!(count_marks(&marks(dir.path()), "flaky-child"), 2, "it was retried");

        let inside = host
            .run(&children, "child_from_checkpoint", "{}")
            .await
            .expect("runs");
        let output = inside.output.unwrap_or_default();
        assert!(output.contains("only flows start child flows"), "{output}");
    }

    #[tokio::test]
    async fn a_host_side_flow_starts_a_flow_of_a_component_and_a_host_side_child(backend) {
        use cairn_host::{FlowCtx, FlowError, HostFlow};

        let dir = temp();
        let marks = marks(dir.path());
        let host = host_on(&backend.journal(dir.path()), marking_policy(dir.path()));
        let children = load(&host, guests::CHILDREN).await;
        host.register(HostFlow::new("double", |_ctx: FlowCtx, n: u64| async move {
            Ok::<_, FlowError>(n * 2)
        }))
        .expect("registers");
        host.register(HostFlow::new("orchestrate", move |ctx: FlowCtx, n: u64| {
            let children = children.clone();
            async move {
                // A flow of the component, started without waiting, and a
                // host-side child waited for at once.
                let added = ctx.start_child_flow_in::<_, u64>(&children, "add", &json!({"a": n, "b": 1}));
                let doubled: u64 = ctx.child_flow("double", &n).await?;
                Ok::<_, FlowError>(added.await? + doubled)
            }
        }))
        .expect("registers");

        let outcome = host.run_flow("orchestrate", &5).await.expect("runs");
        assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
        assert_eq!(outcome.output.as_deref(), Some("16"));
        let parent = detail(&host, outcome.id).await;
        assert_eq!(parent.children.len(), 2, "{parent:?}");
        let add = detail(&host, parent.children[0].id).await;
        assert_eq!(add.execution.flow, "add");
        assert!(add.execution.component.is_some(), "a flow of the component");
        let double = detail(&host, parent.children[1].id).await;
        assert_eq!(double.execution.flow, "double");
        assert_eq!(double.execution.component, None, "a host-side flow");
        assert_eq!(double.parent.map(|p| (p.id, p.seq)), Some((outcome.id, 1)));
        assert_eq!(count_marks(&marks, "child-5"), 1);
        // Resumed, the parent finds both children done and starts neither.
        let again = host.resume(outcome.id).await.expect("resumes");
        assert_eq!(again.output.as_deref(), Some("16"));
        assert_eq!(executions_of(&host, "add").await.len(), 1);
        assert_eq!(count_marks(&marks, "child-5"), 1);
        // An unknown one is refused before anything starts.
        host.register(HostFlow::new("lost", |ctx: FlowCtx, (): ()| async move {
            let refused = ctx.child_flow::<_, u64>("no_such_flow", &()).await;
            Ok::<_, FlowError>(refused.err().map(|e| e.to_string()).unwrap_or_default())
        }))
        .expect("registers");
        let lost = host.run_flow("lost", &()).await.expect("runs");
        let said = lost.output.unwrap_or_default();
        assert!(said.contains("no flow `no_such_flow` registered as a host-side flow"), "{said}");
    }
}

/// In `cairn serve`, a child that sleeps is woken on time by the server,
/// and its parent, which waits for it, is resumed when it ends: the parent
/// completes with no request after the start.
#[test]
fn a_server_wakes_a_sleeping_child_and_then_resumes_its_parent() {
    let dir = temp();
    let marks = marks(dir.path());
    let grant = format!("{}:/marks", marks.display());
    let served = Served::start(dir.path(), &["--allow-dir", grant.as_str()]);
    runtime().block_on(async {
        let client = served.client();
        let hash = crate::serve::upload(&client, guests::CHILDREN).await;
        let accepted: Accepted = client
            .post(
                "/executions",
                &json!({"component": hash, "flow": "parent_of_sleeper", "input": {"ms": 1500}}),
            )
            .await
            .expect("starts");
        let deadline = Instant::now() + Duration::from_secs(60);
        let done = loop {
            let now = crate::serve::settled(&client, accepted.id).await;
            if now.execution.status != ExecutionStatus::Waiting {
                break now;
            }
            assert!(Instant::now() < deadline, "{}", served.log_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(
            done.execution.status,
            ExecutionStatus::Completed,
            "{done:?}"
        );
        assert_eq!(done.execution.output, Some(json!("rested")));
        let child = done.children[0].id;
        let child = crate::serve::settled(&client, child).await;
        assert_eq!(child.execution.status, ExecutionStatus::Completed);
        assert_eq!(child.parent.map(|p| p.id), Some(accepted.id));
    });
    assert_eq!(
        (
            count_marks(&marks, "sleeper-before"),
            count_marks(&marks, "sleeper-after"),
            count_marks(&marks, "ps-after")
        ),
        (1, 1, 1)
    );
}

on_backends! {
    /// A parent left waiting for a child that has ended since (here the
    /// child was resumed by itself; in a cluster it can end in another
    /// worker while its parent is still stopping to wait): `cairn serve`
    /// resumes the parent when it starts, with no request, and the parent
    /// takes the child's result without starting it again.
    #[test]
    fn a_server_resumes_on_start_a_parent_whose_child_ended_without_it(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let runtime = runtime();
        let (parent, child) = runtime.block_on(async {
            let host = host_on(&journal, marking_policy(dir.path()));
            let children = load(&host, guests::CHILDREN).await;
            let parent = host.run(&children, "parent_of_asker", "{}").await.expect("runs");
            assert_eq!(parent.status, ExecutionStatus::Waiting, "{parent:?}");
            let child = detail(&host, parent.id).await.children[0].id;
            host.answer(child, "approval", r#""yes""#).await.expect("answers");
            let ended = host.resume(child).await.expect("resumes");
            assert_eq!(ended.status, ExecutionStatus::Completed, "{ended:?}");
            let left = detail(&host, parent.id).await;
            assert_eq!(left.execution.status, ExecutionStatus::Waiting);
            assert_eq!(left.calls[0].status, CallStatus::Running, "its step is open");
            drop(children);
            host.close().await.expect("closes");
            (parent.id, child)
        });
        let grant = format!("{}:/marks", marks(dir.path()).display());
        let served = Served::start_journal(&journal, dir.path(), &["--allow-dir", grant.as_str()]);
        runtime.block_on(async {
            let client = served.client();
            let deadline = Instant::now() + Duration::from_secs(60);
            let done = loop {
                let now = crate::serve::settled(&client, parent).await;
                if now.execution.status != ExecutionStatus::Waiting {
                    break now;
                }
                assert!(Instant::now() < deadline, "the parent still waits: {}", served.log_text());
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            assert_eq!(done.execution.status, ExecutionStatus::Completed, "{done:?}");
            assert_eq!(done.execution.output, Some(json!("child said yes")));
            let linked: Vec<_> = done.children.iter().map(|c| c.id).collect();
            assert_eq!(linked, [child], "no second child");
        });
    }
}
