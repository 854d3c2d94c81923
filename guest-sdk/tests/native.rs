//! The native runner: checkpoints and flows called from `cargo test`, with
//! the host's semantics where a test can see them (retries, traps, call
//! ids, fan-out order, waits, determinism, the record of a run).

use std::cell::Cell;
use std::time::{Duration, UNIX_EPOCH};

use cairn_guest::testing::{Attempt, FlowTest, Level, json};
use cairn_guest::{Error, TrapKind, checkpoint, flow, log, now, random_u64, wait};
use serde::{Deserialize, Serialize};

thread_local! {
    // Checkpoints run on the test's own thread, so a thread-local counter
    // is private to each test even when tests run in parallel.
    static ATTEMPTS: Cell<u32> = const { Cell::new(0) };
}

/// Fails until its third attempt.
#[checkpoint(retries = 2)]
fn flaky(x: i64) -> Result<i64, String> {
    let n = ATTEMPTS.with(|a| {
        a.set(a.get() + 1);
        a.get()
    });
    if n < 3 {
        Err(format!("attempt {n} failed"))
    } else {
        Ok(x * 10)
    }
}

/// Always fails.
#[checkpoint(retries = 1)]
fn hopeless(x: i64) -> Result<i64, String> {
    Err(format!("{x} will never do"))
}

/// Panics on odd numbers.
#[checkpoint(retries = 1)]
fn even_only(x: i64) -> i64 {
    assert!(x % 2 == 0, "{x} is odd");
    x
}

/// Squares.
#[checkpoint(runtime = "isolated")]
fn square(x: i64) -> i64 {
    log::info(&format!("squaring {x}"));
    x * x
}

/// Adds.
#[checkpoint]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Calls another checkpoint, which only flows may do.
#[checkpoint]
fn nested(x: i64) -> Result<i64, Error> {
    square(x)
}

/// Waits, which only flows may do.
#[checkpoint]
fn waits_inside() -> Result<bool, Error> {
    wait("inside", "may a checkpoint wait?")
}

/// Returns NaN, which JSON writes as `null`: not an `f64` on the way back.
#[checkpoint]
fn not_a_number() -> f64 {
    f64::NAN
}

/// Takes an `f64`: NaN does not survive the trip in.
#[checkpoint]
fn halve(x: f64) -> f64 {
    x / 2.0
}

/// Reads the clock and draws numbers, in a checkpoint.
#[checkpoint(cache = false)]
fn stamp() -> (u64, u64) {
    let t = now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    (t, random_u64())
}

/// A reviewer's answer.
#[derive(Serialize, Deserialize, schemars::JsonSchema, Debug, PartialEq)]
struct Decision {
    approved: bool,
    reviewer: String,
}

#[flow]
fn retried(x: i64) -> Result<i64, Error> {
    flaky(x)
}

#[flow]
fn fan(xs: Vec<i64>) -> Result<Vec<i64>, Error> {
    square::map(xs)
}

#[flow]
fn approve(topic: String) -> Result<String, Error> {
    log::info(&format!("asking about {topic}"));
    let decision: Decision = wait("approve", &format!("Publish {topic}?"))?;
    Ok(match decision.approved {
        true => format!("{topic}: published by {}", decision.reviewer),
        false => format!("{topic}: refused by {}", decision.reviewer),
    })
}

#[flow]
fn deterministic() -> Result<Vec<u64>, Error> {
    let t = now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (in_checkpoint_ms, in_checkpoint_random) = stamp()?;
    Ok(vec![
        t,
        random_u64(),
        random_u64(),
        in_checkpoint_ms,
        in_checkpoint_random,
    ])
}

// ---- retries and traps ------------------------------------------------------

#[test]
fn retries_are_extra_attempts_after_a_failure() {
    let run = FlowTest::new().run(|| retried(4));
    assert_eq!(run.output, Ok(40));
    let call = run.call("flaky").expect("the call is recorded");
    assert_eq!(
        call.attempts,
        [
            Attempt::Failed {
                message: "attempt 1 failed".to_owned()
            },
            Attempt::Failed {
                message: "attempt 2 failed".to_owned()
            },
            Attempt::Ok,
        ]
    );
    assert_eq!(call.output, Ok(json!(40)));
}

#[test]
fn the_last_attempts_error_is_the_flows() {
    let run = FlowTest::new().run(|| hopeless(3));
    assert_eq!(
        run.output,
        Err(Error::Failed {
            checkpoint: "hopeless".to_owned(),
            message: "3 will never do".to_owned(),
        })
    );
    assert_eq!(run.calls[0].attempts.len(), 2);
    assert_eq!(run.calls[0].output, run.output.clone().map(|v| json!(v)));
}

#[test]
fn a_panic_is_a_trapped_attempt_and_the_next_call_runs() {
    let run = FlowTest::new().run(|| (even_only(3), even_only(4)));
    let (odd, even) = run.output;
    let Err(Error::Trapped {
        checkpoint,
        kind,
        message,
    }) = odd
    else {
        panic!("a panic traps, got {odd:?}");
    };
    assert_eq!(checkpoint, "even_only");
    assert_eq!(kind, TrapKind::Trap);
    assert!(
        message.starts_with("panicked: 3 is odd at ") && message.contains("native.rs:"),
        "the host's message shape, with the location: {message}"
    );
    assert_eq!(even, Ok(4));
    let attempts = &run.calls[0].attempts;
    assert_eq!(attempts.len(), 2, "retries = 1: two trapped attempts");
    assert!(attempts.iter().all(|a| matches!(
        a,
        Attempt::Trapped {
            kind: TrapKind::Trap,
            ..
        }
    )));
}

// ---- JSON both ways -----------------------------------------------------------

#[test]
fn an_output_that_does_not_round_trip_fails_the_call() {
    let run = FlowTest::new().run(not_a_number);
    assert!(
        matches!(run.output, Err(Error::Context { .. })),
        "NaN comes back as null: {:?}",
        run.output
    );
    assert_eq!(run.calls[0].output, Ok(json!(null)));
}

#[test]
fn an_input_that_does_not_round_trip_is_bad_input() {
    let run = FlowTest::new().run(|| halve(f64::NAN));
    let Err(Error::Failed { message, .. }) = &run.output else {
        panic!("bad input is the checkpoint's failure: {:?}", run.output);
    };
    assert!(message.starts_with("bad input: "), "{message}");
    assert_eq!(run.calls[0].input, json!({"x": null}));
}

// ---- fan-out and call ids -------------------------------------------------------

#[test]
fn map_keeps_input_order_and_numbers_items() {
    let run = FlowTest::new().run(|| fan(vec![3, 1, 2]));
    assert_eq!(run.output, Ok(vec![9, 1, 4]));
    assert_eq!(run.call_ids(), ["square[0]", "square[1]", "square[2]"]);
    let seqs: Vec<u32> = run.calls.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert_eq!(run.calls[1].input, json!({"x": 1}));
}

#[test]
fn call_ids_count_calls_and_maps_of_a_checkpoint_together() {
    let run = FlowTest::new().run(|| -> Result<(), Error> {
        square(1)?;
        square::map(vec![2, 3])?;
        square::map(Vec::<i64>::new())?; // no call, no id
        square(4)?;
        Ok(())
    });
    assert_eq!(run.output, Ok(()));
    assert_eq!(
        run.call_ids(),
        ["square", "square_2[0]", "square_2[1]", "square_3"]
    );
}

#[test]
fn product_runs_every_combination_first_parameter_outermost() {
    let run = FlowTest::new().run(|| add::product(vec![1, 2], vec![10, 20]));
    assert_eq!(run.output, Ok(vec![11, 21, 12, 22]));
    assert_eq!(run.calls[1].input, json!({"a": 1, "b": 20}));
    assert_eq!(run.call_ids(), ["add[0]", "add[1]", "add[2]", "add[3]"]);
}

#[test]
fn a_zipped_map_needs_equal_lengths_and_runs_nothing_otherwise() {
    let run = FlowTest::new().run(|| add::map(vec![1, 2], vec![10]));
    assert!(matches!(run.output, Err(Error::Context { .. })));
    assert!(run.calls.is_empty());
}

#[test]
fn submit_runs_in_submission_order_and_handles_read_in_any() {
    let run = FlowTest::new().run(|| -> Result<i64, Error> {
        let a = square::submit(2);
        let b = square::submit(3);
        Ok(b.result()? - a.result()?)
    });
    assert_eq!(run.output, Ok(5));
    let logged: Vec<&str> = run.logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(logged, ["squaring 2", "squaring 3"]);
    assert!(run.calls.iter().all(|c| c.awaited));
    assert!(run.unawaited_failure().is_none());
}

#[test]
fn a_failed_call_never_awaited_is_reported() {
    let run = FlowTest::new().run(|| -> Result<i64, Error> {
        let _ignored = hopeless::submit(1);
        square(2)
    });
    assert_eq!(run.output, Ok(4), "the flow itself returned Ok");
    let unread = run
        .unawaited_failure()
        .expect("the host would fail the run");
    assert_eq!(unread.call_id, "hopeless");
}

// ---- guardrails -----------------------------------------------------------------

#[test]
fn a_checkpoint_cannot_call_a_checkpoint() {
    let run = FlowTest::new().run(|| nested(2));
    let Err(Error::Failed { message, .. }) = &run.output else {
        panic!("the inner refusal fails the outer call: {:?}", run.output);
    };
    assert!(message.contains("from inside a checkpoint"), "{message}");
    assert_eq!(
        run.call_ids(),
        ["nested"],
        "the refused call is not recorded"
    );
}

#[test]
fn a_checkpoint_cannot_wait() {
    let run = FlowTest::new().wait_value("inside", true).run(waits_inside);
    assert!(matches!(run.output, Err(Error::Failed { .. })));
    assert!(run.waits.is_empty());
}

#[test]
fn an_unknown_checkpoint_is_a_context_error() {
    #[derive(Serialize)]
    struct NoArgs {}
    let run = FlowTest::new().run(|| {
        cairn_guest::__private::submit::<NoArgs, i64>("no_such_checkpoint", &NoArgs {}).result()
    });
    assert!(matches!(run.output, Err(Error::Context { .. })));
    assert!(run.calls.is_empty());
}

// ---- waits ------------------------------------------------------------------------

#[test]
fn a_wait_returns_the_value_the_test_gives() {
    let yes = FlowTest::new()
        .wait_value(
            "approve",
            Decision {
                approved: true,
                reviewer: "ada".to_owned(),
            },
        )
        .run(|| approve("cairn".to_owned()));
    assert_eq!(yes.output, Ok("cairn: published by ada".to_owned()));
    assert_eq!(yes.waits.len(), 1);
    assert_eq!(yes.waits[0].name, "approve");
    assert_eq!(yes.waits[0].question, "Publish cairn?");
    assert_eq!(
        yes.waits[0].value,
        Some(json!({"approved": true, "reviewer": "ada"}))
    );
    assert!(yes.waits[0].schema.is_object(), "the derived JSON schema");

    let no = FlowTest::new()
        .wait_value("approve", json!({"approved": false, "reviewer": "bo"}))
        .run(|| approve("cairn".to_owned()));
    assert_eq!(no.output, Ok("cairn: refused by bo".to_owned()));
}

#[test]
fn a_wait_without_a_value_fails_naming_the_wait() {
    let run = FlowTest::new().run(|| approve("cairn".to_owned()));
    let Err(Error::Context { message }) = &run.output else {
        panic!("a missing value is a context error: {:?}", run.output);
    };
    assert!(
        message.contains("`approve`") && message.contains("wait_value"),
        "says which wait and how to answer it: {message}"
    );
    assert_eq!(run.waits[0].value, None);
}

#[test]
fn a_wait_value_of_the_wrong_shape_fails_the_wait() {
    let run = FlowTest::new()
        .wait_value("approve", json!({"approved": "yes"}))
        .run(|| approve("cairn".to_owned()));
    assert!(matches!(run.output, Err(Error::Context { .. })));
}

// ---- determinism ------------------------------------------------------------------

#[test]
fn clock_and_randomness_are_fixed_by_the_test() {
    let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let once = FlowTest::new().clock(at).seed(7).run(deterministic);
    let again = FlowTest::new().clock(at).seed(7).run(deterministic);
    let other = FlowTest::new().clock(at).seed(8).run(deterministic);
    let once = once.output.expect("runs");
    assert_eq!(Ok(once.clone()), again.output, "same seed, same numbers");
    let other = other.output.expect("runs");
    assert_ne!(once[1..3], other[1..3], "another seed, other numbers");
    assert_eq!(once[0], 1_700_000_000, "the flow's clock");
    assert_eq!(once[3], 1_700_000_000_000, "the clock stands still");
    assert_ne!(once[1], once[2]);
}

#[test]
fn the_clock_can_step() {
    let run = FlowTest::new()
        .clock(UNIX_EPOCH + Duration::from_secs(10))
        .clock_step(Duration::from_secs(1))
        .run(|| [now(), now(), now()]);
    let secs: Vec<u64> = run
        .output
        .iter()
        .map(|t| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
        .collect();
    assert_eq!(secs, [10, 11, 12]);
}

// ---- the record -------------------------------------------------------------------

#[test]
fn logs_are_kept_with_the_call_that_wrote_them() {
    let run = FlowTest::new()
        .wait_value("approve", json!({"approved": true, "reviewer": "ada"}))
        .run(|| -> Result<i64, Error> {
            approve("x".to_owned())?;
            log::warn("after the wait");
            square(5)
        });
    assert_eq!(run.output, Ok(25));
    let logs: Vec<(Level, &str, Option<&str>)> = run
        .logs
        .iter()
        .map(|l| (l.level, l.message.as_str(), l.call_id.as_deref()))
        .collect();
    assert_eq!(
        logs,
        [
            (Level::Info, "asking about x", None),
            (Level::Warn, "after the wait", None),
            (Level::Info, "squaring 5", Some("square")),
        ]
    );
}

#[test]
fn each_run_starts_afresh() {
    let first = FlowTest::new().run(|| square(1));
    let second = FlowTest::new().run(|| square(1));
    assert_eq!(first.call_ids(), ["square"]);
    assert_eq!(second.call_ids(), ["square"]);
}

// ---- outside any FlowTest -----------------------------------------------------------

#[test]
fn a_checkpoint_called_directly_just_runs() {
    assert_eq!(add(2, 3), Ok(5));
    assert_eq!(square::map(vec![1, 2]), Ok(vec![1, 4]));
    assert!(matches!(hopeless(1), Err(Error::Failed { .. })));
}

#[test]
fn outside_a_test_run_the_defaults_hold() {
    assert_eq!(now(), UNIX_EPOCH);
    let ambient = [random_u64(), random_u64()];
    let seeded = FlowTest::new().seed(0).run(|| [random_u64(), random_u64()]);
    assert_eq!(ambient, seeded.output, "seed 0");
    let waited = approve("cairn".to_owned());
    assert!(matches!(waited, Err(Error::Context { .. })));
}

#[flow]
fn squares_by_children(xs: Vec<i64>) -> Result<i64, Error> {
    let started: Vec<_> = xs
        .iter()
        .map(|x| cairn_guest::start_child_flow::<Vec<i64>>("fan", &json!({ "xs": [x] })))
        .collect();
    let mut sum = 0;
    for child in started {
        sum += child.result()?.iter().sum::<i64>();
    }
    Ok(sum)
}

#[test]
fn a_child_flow_runs_in_place_with_its_calls_recorded_and_an_unknown_one_is_refused() {
    let run = FlowTest::new().run(|| squares_by_children(vec![2, 3]));
    assert_eq!(run.output, Ok(13));
    // In place, the children's calls are numbered with the flow's own.
    assert_eq!(run.call_ids(), ["square[0]", "square_2[0]"]);
    let run = FlowTest::new().run(|| cairn_guest::child_flow::<i64>("no_such_flow", &json!({})));
    let refused = run.output.expect_err("refused");
    assert!(
        refused.to_string().contains("no flow `no_such_flow`"),
        "{refused}"
    );
}
