//! A flow that asks a person before it publishes:
//!
//! ```text
//! cairn run target/wasm32-wasip2/guest/approval.wasm --input '{"topic": "durable flows"}'
//! # exit code 3: execution 1 is waiting for `approve`
//! cairn executions input 1 --wait approve --value '{"approved": true, "reviewer": "ada"}'
//! cairn executions resume 1
//! ```
//!
//! While it waits, nothing runs and no instance is held: the flow is
//! unloaded, and resuming replays the draft from the journal.

use cairn_guest::{Error, checkpoint, flow, wait};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A reviewer's answer.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Whether to publish.
    pub approved: bool,
    /// Who decided.
    pub reviewer: String,
    /// Why, if they want to say.
    pub note: Option<String>,
}

/// Writes the post.
#[checkpoint(kind = "llm_call")]
fn draft(topic: String) -> String {
    format!("Why {topic} matter: they survive crashes, retry what failed and remember everything.")
}

/// Publishes it, in a sandbox of its own.
#[checkpoint(runtime = "isolated")]
fn publish(post: String) -> String {
    format!("published {} characters", post.chars().count())
}

/// Drafts a post on `topic`, waits for approval, then publishes it.
#[flow]
fn publish_post(topic: String) -> Result<String, Error> {
    let post = draft(topic)?;
    let decision: Decision = wait("approve", &format!("Publish this post? {post}"))?;
    if !decision.approved {
        let why = decision.note.unwrap_or_default();
        return Ok(format!(
            "not published: {} said no. {why}",
            decision.reviewer
        ));
    }
    publish(post)
}

#[cfg(test)]
mod tests {
    //! Native tests: `cargo test -p approval` answers the wait through
    //! `FlowTest::wait_value` instead of `cairn executions input`.

    use cairn_guest::testing::{FlowTest, json};

    use super::*;

    fn decision(approved: bool, note: Option<&str>) -> Decision {
        Decision {
            approved,
            reviewer: "ada".to_owned(),
            note: note.map(str::to_owned),
        }
    }

    #[test]
    fn an_approved_post_is_published() {
        let run = FlowTest::new()
            .wait_value("approve", decision(true, None))
            .run(|| publish_post("durable flows".to_owned()));
        let post = "Why durable flows matter: they survive crashes, retry what failed and remember everything.";
        assert_eq!(
            run.output,
            Ok(format!("published {} characters", post.chars().count()))
        );
        assert_eq!(run.call_ids(), ["draft", "publish"]);
        assert_eq!(run.waits.len(), 1);
        assert_eq!(run.waits[0].question, format!("Publish this post? {post}"));
    }

    #[test]
    fn a_refused_post_is_not_published() {
        let run = FlowTest::new()
            .wait_value("approve", decision(false, Some("too long")))
            .run(|| publish_post("durable flows".to_owned()));
        assert_eq!(
            run.output,
            Ok("not published: ada said no. too long".to_owned())
        );
        assert_eq!(run.call_ids(), ["draft"], "publish never runs");
    }

    #[test]
    fn without_an_answer_the_wait_fails_and_nothing_is_published() {
        let run = FlowTest::new().run(|| publish_post("durable flows".to_owned()));
        assert!(matches!(run.output, Err(Error::Context { .. })));
        assert_eq!(run.waits[0].name, "approve");
        assert_eq!(run.waits[0].value, None);
        assert_eq!(run.call_ids(), ["draft"]);
    }

    #[test]
    fn an_answer_of_the_wrong_shape_is_refused() {
        // `Decision` denies unknown fields and needs `reviewer`.
        let run = FlowTest::new()
            .wait_value("approve", json!({"approved": true, "by": "ada"}))
            .run(|| publish_post("durable flows".to_owned()));
        assert!(matches!(run.output, Err(Error::Context { .. })));
        assert_eq!(run.call_ids(), ["draft"]);
    }
}
