//! Flows run end to end through real components and a real journal file:
//! what the flow returns, and what the journal says happened.

use crate::guests;
use cairn_host::{
    CallSource, CallStatus, ExecutionStatus, FailureKind, Host, Outcome, Policy, RunError, Runtime,
    TrapKind,
};
use cairn_tests::backend::host_on;
use cairn_tests::on_backends;
use cairn_tests::{Guest, guest, load, temp};

async fn run(host: &Host, component: Guest, flow: &str, input: &str) -> Outcome {
    let component = load(host, component).await;
    host.run(&component, flow, input)
        .await
        .expect("the execution runs")
}

on_backends! {
    #[tokio::test]
    async fn the_hello_flow_journals_every_call_and_attempt(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let id = {
            let host = host_on(&journal, Policy::default());
            let outcome = run(&host, guests::HELLO, "hello", r#"{"name": "world"}"#).await;
            assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
            let output: serde_json::Value =
                serde_json::from_str(outcome.output.as_deref().expect("output")).expect("json");
            assert_eq!(
                output,
                serde_json::json!({"text": "HELLO, WORLD, FROM A DURABLE FLOW!", "words": 6})
            );
            outcome.id
        };
        // A new host on the same file reads back what the first one wrote.
        let host = host_on(&journal, Policy::default());
        let detail = cairn_tests::detail(&host, id).await;
        assert_eq!(detail.execution.status, ExecutionStatus::Completed);
        assert_eq!(detail.execution.input, serde_json::json!({"name": "world"}));
        let calls: Vec<(&str, u32, Runtime)> = detail
            .calls
            .iter()
            .map(|c| (c.call_id.as_str(), c.seq, c.runtime))
            .collect();
        assert_eq!(
            calls,
            [
                ("greet", 0, Runtime::Inline),
                ("shout", 1, Runtime::Isolated),
                ("count_words", 2, Runtime::Inline)
            ]
        );
        for call in &detail.calls {
            assert_eq!(call.status, CallStatus::Completed);
            assert_eq!(call.source, CallSource::Executed);
            assert_eq!(call.attempts.len(), 1);
            assert_eq!(call.attempts[0].status, "ok");
            assert!(call.attempts[0].fuel_used > 0, "fuel is metered");
        }
        assert_eq!(
            detail.calls[1].input,
            serde_json::json!({"text": "Hello, world, from a durable flow!"})
        );
        assert_eq!(detail.calls[2].kind.as_deref(), Some("metric"));
        // The journal keeps the exact component bytes.
        let hash = cairn_host::ComponentHash::of(&std::fs::read(guest(guests::HELLO)).expect("guest"));
        assert_eq!(detail.execution.component, Some(hash.to_hex()));
        let stored = host
            .client()
            .component(hash)
            .await
            .expect("readable")
            .expect("stored");
        assert_eq!(stored, std::fs::read(guest(guests::HELLO)).expect("guest"));
    }
}

on_backends! {
    #[tokio::test]
    async fn call_ids_number_repeated_checkpoints(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
        let outcome = run(&host, guests::PROBE, "sum", r#"{"a": 2, "b": 3}"#).await;
        assert_eq!(outcome.output.as_deref(), Some("7"));
        let detail = cairn_tests::detail(&host, outcome.id).await;
        let ids: Vec<&str> = detail.calls.iter().map(|c| c.call_id.as_str()).collect();
        assert_eq!(ids, ["add", "add_isolated", "add_2"]);
    }
}

on_backends! {
    #[tokio::test]
    async fn inline_calls_share_a_store_and_isolated_calls_never_do(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
        let outcome = run(&host, guests::PROBE, "counters", "{}").await;
        let (inline, isolated): (Vec<u32>, Vec<u32>) =
            serde_json::from_str(outcome.output.as_deref().expect("output")).expect("json");
        assert_eq!(
            inline,
            [1, 2, 3],
            "inline calls see the memory of earlier ones"
        );
        assert_eq!(
            isolated,
            [1, 1, 1],
            "each isolated call starts from fresh memory"
        );
    }
}

on_backends! {
    #[tokio::test]
    async fn a_checkpoint_error_is_given_to_the_flow_which_may_handle_it(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
        let outcome = run(&host, guests::PROBE, "recover", "{}").await;
        assert_eq!(outcome.status, ExecutionStatus::Completed);
        assert_eq!(
            outcome.output.as_deref(),
            Some(r#""checkpoint `fail` failed: not today; then 5""#)
        );
        let detail = cairn_tests::detail(&host, outcome.id).await;
        assert_eq!(detail.calls[0].status, CallStatus::Failed);
        assert_eq!(detail.calls[0].attempts[0].status, "failed");
        assert_eq!(
            detail.calls[0].attempts[0].error.as_deref(),
            Some("not today")
        );
        assert_eq!(detail.calls[1].status, CallStatus::Completed);
    }
}

on_backends! {
    #[tokio::test]
    async fn every_attempt_of_a_retried_checkpoint_is_recorded_and_the_last_failure_fails_the_flow(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
        let outcome = run(&host, guests::PROBE, "retrying", "{}").await;
        assert_eq!(outcome.status, ExecutionStatus::Failed);
        let failure = outcome.failure.expect("a failure");
        assert_eq!(failure.kind, FailureKind::FlowError);
        assert_eq!(failure.message, "checkpoint `always_fails` failed: again");
        let detail = cairn_tests::detail(&host, outcome.id).await;
        let attempts = &detail.calls[0].attempts;
        assert_eq!(attempts.iter().map(|a| a.n).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(
            attempts
                .iter()
                .all(|a| a.status == "failed" && a.ended_at.is_some())
        );
    }
}

on_backends! {
    #[tokio::test]
    async fn a_checkpoint_calling_a_checkpoint_gets_a_nested_call_error(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
        let outcome = run(&host, guests::PROBE, "nest", "{}").await;
        assert_eq!(outcome.status, ExecutionStatus::Failed);
        let message = outcome.failure.expect("a failure").message;
        assert!(
            message.contains("called from inside a checkpoint"),
            "{message}"
        );
        let detail = cairn_tests::detail(&host, outcome.id).await;
        assert_eq!(
            detail.calls.len(),
            1,
            "the nested call is refused, not journaled"
        );
    }
}

on_backends! {
    #[tokio::test]
    async fn an_inline_trap_rebuilds_the_shared_store_for_the_next_call(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default().fuel(50_000_000));
        let outcome = run(&host, guests::PROBE, "trap_then_inline", "{}").await;
        assert_eq!(outcome.status, ExecutionStatus::Completed, "{outcome:?}");
        let (error, sum): (String, i64) =
            serde_json::from_str(outcome.output.as_deref().expect("output")).expect("json");
        assert_eq!(
            error,
            "checkpoint `spin_inline` trapped (out of fuel): ran out of fuel"
        );
        assert_eq!(sum, 5);
    }
}

on_backends! {
    #[tokio::test]
    async fn a_panicking_flow_fails_its_execution_with_the_panic_message(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
        let outcome = run(&host, guests::PROBE, "flow_panics", "{}").await;
        assert_eq!(outcome.status, ExecutionStatus::Failed);
        let failure = outcome.failure.expect("a failure");
        assert_eq!(failure.kind, FailureKind::FlowTrapped);
        assert!(
            failure.message.contains("a bug in the flow"),
            "{}",
            failure.message
        );
    }
}

on_backends! {
    #[tokio::test]
    async fn a_flow_sees_the_journaled_start_time_and_seeded_randomness(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
        let first = run(&host, guests::PROBE, "entropy", "{}").await;
        let (now, a, b): (u64, u64, u64) =
            serde_json::from_str(first.output.as_deref().expect("output")).expect("json");
        let detail = cairn_tests::detail(&host, first.id).await;
        assert_eq!(
            now, detail.execution.created_at_us,
            "the flow's clock is the execution's start"
        );
        assert_ne!(a, b, "two hashers still get different keys");
        let second = run(&host, guests::PROBE, "entropy", "{}").await;
        let (_, a2, _): (u64, u64, u64) =
            serde_json::from_str(second.output.as_deref().expect("output")).expect("json");
        assert_ne!(a, a2, "each execution has its own seed");
    }
}

on_backends! {
    #[tokio::test]
    async fn a_checkpoints_stdout_and_stderr_are_captured_with_its_attempt(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
        let outcome = run(&host, guests::PROBE, "talk", r#"{"text": "hi"}"#).await;
        let detail = cairn_tests::detail(&host, outcome.id).await;
        let attempt = &detail.calls[0].attempts[0];
        assert_eq!(attempt.stdout, "out: hi\n");
        assert_eq!(attempt.stderr, "err: hi\n");
    }
}

on_backends! {
    #[tokio::test]
    async fn an_unknown_flow_or_bad_input_is_refused_before_anything_is_journaled(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
        let component = load(&host, guests::PROBE).await;
        let unknown = host.run(&component, "nope", "{}").await;
        assert!(
            matches!(unknown, Err(RunError::UnknownFlow { ref name, .. }) if name == "nope"),
            "{unknown:?}"
        );
        for input in ["{", "[1, 2]", r#"{"a": 1, "c": 2}"#] {
            let result = host.run(&component, "sum", input).await;
            assert!(
                matches!(result, Err(RunError::BadInput { .. })),
                "{input}: {result:?}"
            );
        }
        let all = host
            .client()
            .executions(&Default::default())
            .await
            .expect("readable");
        assert!(all.is_empty(), "nothing was journaled: {all:?}");
    }
}

on_backends! {
    #[tokio::test]
    async fn an_input_of_the_wrong_type_is_refused_before_anything_is_written(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default());
        let component = load(&host, guests::PROBE).await;
        for (input, param, pointer) in [
            (r#"{"a": "two", "b": 3}"#, "a", "/a"),
            (r#"{"a": 1, "b": 1.5}"#, "b", "/b"),
            (r#"{"a": 1, "b": null}"#, "b", "/b"),
        ] {
            match host.run(&component, "sum", input).await {
                Err(RunError::InputType {
                    param: found,
                    pointer: at,
                    ..
                }) => assert_eq!((&*found, &*at), (param, pointer), "{input}"),
                other => panic!("{input}: {other:?}"),
            }
        }
        let all = host
            .client()
            .executions(&Default::default())
            .await
            .expect("readable");
        assert!(all.is_empty(), "nothing was journaled: {all:?}");
    }
}

on_backends! {
    #[tokio::test]
    async fn a_trapped_attempt_is_recorded_with_its_kind(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let host = host_on(&journal, Policy::default().fuel(10_000_000));
        let outcome = run(&host, guests::PROBE, "hostile", r#"{"which": "loop"}"#).await;
        let detail = cairn_tests::detail(&host, outcome.id).await;
        let attempt = &detail.calls[0].attempts[0];
        assert_eq!(attempt.status, "trapped");
        assert_eq!(attempt.trap, Some(TrapKind::OutOfFuel));
    }
}
