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
