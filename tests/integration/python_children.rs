//! Child flows from Python: flows of the Python probe
//! (`guest-sdk/python/tests/apps/pyprobe.py`, built by `cargo xtask test`)
//! start flows of their component, and a host-side flow, through
//! `cairn.child_flow` and `cairn.start_child_flow` in the real host. Each
//! child is an execution of its own, linked to its parent both ways; a
//! resume of the completed parent starts no child again; a child's failure,
//! a refused start and a start from a checkpoint reach the Python flow as
//! the SDK's errors; a child that waits makes its parent wait.

use cairn_host::{
    CallStatus, Checkpoint, Component, ExecutionStatus, FlowCtx, FlowError, Host, HostFlow, Policy,
};
use cairn_tests::python::PYPROBE;
use cairn_tests::{detail, host, temp};

use crate::children::executions_of;
use serde_json::{Value, json};

async fn load_probe(host: &Host) -> Component {
    host.load_file(PYPROBE.path())
        .await
        .expect("the Python probe loads")
}

/// `{name}({"n": n})`: a host-side flow that squares `n` with the probe's
/// isolated `square`.
fn host_square(probe: &Component, name: &str) -> HostFlow {
    let square: Checkpoint<Value, i64> = probe.checkpoint("square").expect("probe has square");
    HostFlow::new(name, move |ctx: FlowCtx, input: Value| {
        let square = square.clone();
        async move {
            let n = input["n"].as_i64().unwrap_or_default();
            let squared = ctx.call(&square, &json!({ "n": n })).await?;
            Ok::<_, FlowError>(squared)
        }
    })
}

fn json_of(output: Option<&str>) -> Value {
    serde_json::from_str(output.expect("an output")).expect("the output is JSON")
}

#[tokio::test]
async fn python_flows_start_children_linked_both_ways_and_a_resume_starts_none_again() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load_probe(&host).await;

    let outcome = host.run(&probe, "kids", r#"{"n": 3}"#).await.expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
    assert_eq!(
        json_of(outcome.output.as_deref()),
        json!({"started": 13, "direct": 4, "moved": ["Point", 4, 5, "kid"]})
    );
    let parent = detail(&host, outcome.id).await;
    let steps: Vec<(&str, CallStatus)> = parent
        .calls
        .iter()
        .map(|c| (c.call_id.as_str(), c.status))
        .collect();
    assert_eq!(
        steps,
        [
            ("@child", CallStatus::Completed),
            ("@child_2", CallStatus::Completed),
            ("@child_3", CallStatus::Completed),
        ]
    );
    // The inputs went as JSON of the named parameters, as a flow's do:
    // keywords, a dict, and a dataclass among keywords.
    assert_eq!(
        parent.calls[0].input,
        json!({"flow": "kid_add", "input": {"a": 3, "b": 10}})
    );
    assert_eq!(
        parent.calls[1].input,
        json!({"flow": "kid_add", "input": {"a": 3}})
    );
    assert_eq!(
        parent.calls[2].input,
        json!({"flow": "kid_move", "input": {"p": {"x": 1, "y": 2, "label": "kid"}, "by": 3}})
    );
    assert_eq!(parent.children.len(), 3, "{:?}", parent.children);
    let expected = [("kid_add", "add"), ("kid_add", "add"), ("kid_move", "move")];
    for ((step, link), (flow, call)) in parent.calls.iter().zip(&parent.children).zip(expected) {
        assert_eq!(link.seq, step.seq);
        let child = detail(&host, link.id).await;
        assert_ne!(
            child.execution.id, outcome.id,
            "a child is its own execution"
        );
        assert_eq!(child.execution.flow, flow);
        assert_eq!(child.execution.status, ExecutionStatus::Completed);
        assert_eq!(child.execution.output, step.output, "{child:?}");
        let up = child.parent.expect("the child names its parent");
        assert_eq!((up.id, up.seq), (outcome.id, step.seq));
        let calls: Vec<&str> = child.calls.iter().map(|c| c.call_id.as_str()).collect();
        assert_eq!(calls, [call], "the child's calls are its own");
        assert!(child.children.is_empty());
        let json = serde_json::to_value(&child).expect("serializes");
        assert_eq!(json["parent"]["id"], json!(outcome.id), "{json}");
    }
    assert_eq!(parent.calls[0].output, Some(json!(13)));
    let json = serde_json::to_value(&parent).expect("serializes");
    assert_eq!(json["children"].as_array().map(Vec::len), Some(3), "{json}");
    assert!(json.get("parent").is_none(), "{json}");

    // A resume of the completed parent runs nothing and starts no child.
    let again = host.resume(outcome.id).await.expect("resumes");
    assert_eq!(again.status, ExecutionStatus::Completed);
    assert_eq!(again.output, outcome.output);
    assert_eq!(executions_of(&host, "kid_add").await.len(), 2);
    assert_eq!(executions_of(&host, "kid_move").await.len(), 1);
    assert_eq!(detail(&host, outcome.id).await.children, parent.children);
}

#[tokio::test]
async fn a_python_flow_starts_a_host_side_flow_or_one_of_its_component_by_name() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load_probe(&host).await;
    let opened = host_square(&probe, "host_square").startable_by_guests();
    host.register(opened).expect("registers");
    host.register(host_square(&probe, "closed_square"))
        .expect("registers");

    // Host code runs outside the sandbox: a guest starts only a host-side
    // flow whose registration opens it to guests.
    let refused = host
        .run(
            &probe,
            "kid_by_name",
            r#"{"name": "closed_square", "n": 7}"#,
        )
        .await
        .expect("runs");
    assert_eq!(refused.status, ExecutionStatus::Failed, "{refused:?}");
    let failure = refused.failure.expect("a failure");
    assert!(
        failure
            .message
            .contains("host-side flow `closed_square` is not open to guest flows"),
        "{failure:?}"
    );
    assert!(executions_of(&host, "closed_square").await.is_empty());
    // A host-side flow starts it all the same.
    host.register(HostFlow::new(
        "via_host",
        |ctx: FlowCtx, n: i64| async move {
            let squared: i64 = ctx.child_flow("closed_square", &json!({ "n": n })).await?;
            Ok::<_, FlowError>(squared)
        },
    ))
    .expect("registers");
    let via_host = host.run_flow("via_host", &6).await.expect("runs");
    assert_eq!(via_host.output.as_deref(), Some("36"), "{via_host:?}");

    let outcome = host
        .run(&probe, "kid_by_name", r#"{"name": "host_square", "n": 7}"#)
        .await
        .expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
    assert_eq!(outcome.output.as_deref(), Some("49"));
    let parent = detail(&host, outcome.id).await;
    let child = detail(&host, parent.children[0].id).await;
    assert_eq!(child.execution.flow, "host_square");
    assert_eq!(child.calls[0].call_id, "square");
    assert_eq!(child.parent.map(|p| p.id), Some(outcome.id));

    let outcome = host
        .run(&probe, "kid_by_name", r#"{"name": "kid_double", "n": 7}"#)
        .await
        .expect("runs");
    assert_eq!(outcome.output.as_deref(), Some("14"), "{outcome:?}");
    let parent = detail(&host, outcome.id).await;
    let child = detail(&host, parent.children[0].id).await;
    assert_eq!(child.execution.flow, "kid_double");
    assert_eq!(child.parent.map(|p| p.id), Some(outcome.id));
}

#[tokio::test]
async fn a_childs_failure_a_refused_start_and_a_start_from_a_checkpoint_reach_the_python_flow() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load_probe(&host).await;

    let outcome = host.run(&probe, "kid_errors", "{}").await.expect("runs");
    assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
    let output = json_of(outcome.output.as_deref());
    let rows = output.as_array().expect("a list");
    assert_eq!(rows.len(), 4, "{output}");
    let broken = executions_of(&host, "kid_broken").await;
    assert_eq!(broken.len(), 1, "{broken:?}");
    let failed = detail(&host, broken[0]).await;
    assert_eq!(failed.execution.status, ExecutionStatus::Failed);

    // `ChildFlowFailed`, naming the flow, with the host's message.
    assert_eq!(rows[0][0], "failed");
    assert_eq!(rows[0][1], "kid_broken");
    let message = rows[0][2].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!("child execution {} failed: ", broken[0])),
        "{message}"
    );
    assert!(message.contains("the ledger does not balance"), "{message}");
    // `ContextError`s: refused by the host, which starts nothing.
    assert_eq!(rows[1][0], "unknown");
    assert!(
        rows[1][1]
            .as_str()
            .is_some_and(|m| m.contains("no flow `no_such_flow`")),
        "{output}"
    );
    assert_eq!(rows[2][0], "refused");
    assert!(
        rows[2][1]
            .as_str()
            .is_some_and(|m| m.contains("the input of child flow `kid_add` is refused")),
        "{output}"
    );
    assert_eq!(rows[3][0], "checkpoint");
    assert!(
        rows[3][1]
            .as_str()
            .is_some_and(|m| m.contains("only flows start child flows")),
        "{output}"
    );
    let parent = detail(&host, outcome.id).await;
    assert_eq!(parent.children.len(), 1, "only the broken child started");
    let steps: Vec<(&str, CallStatus)> = parent
        .calls
        .iter()
        .map(|c| (c.call_id.as_str(), c.status))
        .collect();
    assert_eq!(
        steps,
        [
            ("@child", CallStatus::Failed),
            ("kid_from_checkpoint", CallStatus::Completed),
        ]
    );
    assert!(executions_of(&host, "kid_add").await.is_empty());
}

#[tokio::test]
async fn a_python_parent_waits_for_its_waiting_child_and_completes_after_the_answer() {
    let dir = temp();
    let host = host(dir.path(), Policy::default());
    let probe = load_probe(&host).await;

    let parent = host.run(&probe, "kid_waiter", "{}").await.expect("runs");
    assert_eq!(parent.status, ExecutionStatus::Waiting, "{parent:?}");
    let waiting = detail(&host, parent.id).await;
    let child = waiting.children[0].id;
    assert_eq!(
        detail(&host, child).await.execution.status,
        ExecutionStatus::Waiting
    );
    host.answer(child, "name", r#""ada""#)
        .await
        .expect("answers");
    let done = host.resume(parent.id).await.expect("resumes");
    assert_eq!(done.status, ExecutionStatus::Completed, "{done:?}");
    assert_eq!(done.output.as_deref(), Some(r#""the child heard ada""#));
    assert_eq!(
        detail(&host, child).await.execution.status,
        ExecutionStatus::Completed
    );
    assert_eq!(executions_of(&host, "kid_asker").await, [child]);
}
