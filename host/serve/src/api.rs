//! What travels over the API: request bodies and the answers that are not
//! the host library's own types (an execution is
//! [`cairn_host::ExecutionDetail`], exactly as `cairn executions show --json`
//! prints it; an event is [`cairn_host::Event`]).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_host::{ExecutionId, ExecutionStatus, ExecutionSummary};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every JSON answer of the API: the value written by
/// [`cairn_host::json_out`], so that guest text in it (outputs, errors,
/// logs, names) carries no raw terminal or bidi control to whoever reads
/// it; it parses to the same value as plain JSON would.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonAnswer<T>(pub T);

impl<T: Serialize> IntoResponse for JsonAnswer<T> {
    fn into_response(self) -> Response {
        match cairn_host::json_out::to_vec(&self.0) {
            Ok(bytes) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                bytes,
            )
                .into_response(),
            // Only a map with non-string keys fails, which no answer has.
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the answer does not serialize: {e}"),
            )
                .into_response(),
        }
    }
}

/// The API's path prefix.
pub const PREFIX: &str = "/api/v1";

/// The most executions one page of `GET /executions` holds.
pub const MAX_PAGE: usize = 1000;

/// A page's size when the request does not say.
pub const DEFAULT_PAGE: usize = 100;

/// The longest a request that starts work may wait for it to end
/// (`?wait=`): a request held longer would rather follow the events.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// A `?wait=` duration: `250ms`, `30s`, `2m`; a bare number is seconds.
/// `None` when it is not one, or is past [`MAX_WAIT`].
pub fn parse_wait(text: &str) -> Option<Duration> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(end);
    let number: u64 = digits.parse().ok()?;
    let wait = match unit {
        "ms" => Duration::from_millis(number),
        "" | "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.checked_mul(60)?),
        _ => return None,
    };
    (wait <= MAX_WAIT).then_some(wait)
}

/// `POST /executions`: start a flow of an uploaded component.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The component's hash (64 hex digits), as the upload answered it.
    pub component: String,
    /// The flow; may be left out when the component has exactly one.
    #[serde(default)]
    pub flow: Option<String>,
    /// The flow's input: a JSON object of its named parameters (default
    /// `{}`).
    #[serde(default = "empty_object")]
    pub input: Value,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// The answer to a request that started work in the background (start,
/// resume, replay, an answered wait that resumes): which execution, and
/// where it stands at the moment of the answer. Follow it with
/// `GET /events?execution=ID` or `GET /executions/ID`. Such a request
/// given `?wait=30s` answers instead, once the execution stops running
/// within that time, `200` with its [`ExecutionSummary`] (output or
/// failure included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The execution.
    pub id: ExecutionId,
    /// Its status when the request was answered.
    pub status: ExecutionStatus,
}

/// One page of `GET /executions`, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionPage {
    /// The executions, newest first, without their calls.
    pub executions: Vec<ExecutionSummary>,
    /// Pass it as `cursor` for the next (older) page; absent on the last.
    pub next_cursor: Option<ExecutionId>,
}

/// `POST /executions/{id}/input`: the value of a wait.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// The wait's name.
    pub wait: String,
    /// Its value, checked against the wait's schema.
    pub value: Value,
    /// Resume the execution once the value is stored (default `true`).
    #[serde(default = "yes")]
    pub resume: bool,
}

fn yes() -> bool {
    true
}

/// `POST /executions/{id}/replay`: what to replay and what to change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    /// The call to run live (a selector); calls before it reuse outputs.
    #[serde(default)]
    pub from: Option<String>,
    /// Outputs that replace the source's, by call selector.
    #[serde(default)]
    pub overrides: BTreeMap<String, Value>,
    /// A new flow input; default: the source's.
    #[serde(default)]
    pub input: Option<Value>,
    /// Another uploaded component (its hash); default: the source's code.
    #[serde(default)]
    pub component: Option<String>,
    /// Values for waits, by name, instead of the source's answers or of
    /// asking.
    #[serde(default)]
    pub answers: BTreeMap<String, Value>,
}

/// An uploaded component: its hash and what `describe` says it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComponentView {
    /// The blake3 hash of its bytes (64 hex digits).
    pub hash: String,
    /// The version of the guest SDK that built it.
    pub sdk_version: String,
    /// Its flows, with their options (as `cairn inspect --json` shows them).
    pub flows: Value,
    /// Its checkpoints, with their options.
    pub checkpoints: Value,
}

/// `GET /components`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComponentList {
    /// Every component the journal holds, by hash.
    pub components: Vec<ComponentView>,
}

/// Every error's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What kind of error, stable for programs (`not_found`,
    /// `unknown_flow`, `bad_input`, `conflict`, ...).
    pub error: String,
    /// What happened, for people.
    pub message: String,
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    /// `ok`, or `draining` while the server shuts down.
    pub status: String,
    /// The server's version.
    pub version: String,
    /// The journal it owns.
    pub journal: String,
    /// Executions running now.
    pub running: usize,
}
