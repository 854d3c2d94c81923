//! `/executions/{id}`: one execution: what went in and came out, its
//! timeline, its calls with their attempts, its waits (with a form to
//! answer one), its log, and the actions the API offers on it. While it is
//! not final, the script follows its events and redraws the page's live
//! part.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_host::{CallView, ExecutionDetail, ExecutionStatus, TimerKind};
use serde_json::Value;

use super::{timeline, wait_form};
use crate::dashboard::Dashboard;
use crate::dashboard::format;
use crate::dashboard::html::Html;
use crate::dashboard::layout::{self, Nav};

/// The most calls a page lists (the API has all of them).
const MAX_CALLS: usize = 1000;
/// What a page may weigh before it stops showing more calls: guest text
/// (outputs, logs, errors, escaped) is most of it, and one value is cut at
/// [`format::MAX_JSON_CHARS`]; past this the rest is left to the API.
const PAGE_BUDGET: usize = 8 << 20;

/// `GET /executions/{id}`.
pub(crate) async fn page(
    State(dashboard): State<Arc<Dashboard>>,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse() else {
        return layout::problem(
            &dashboard,
            StatusCode::BAD_REQUEST,
            "that is not an execution id",
        );
    };
    let detail = match dashboard.app.host.client().execution(id).await {
        Ok(Some(detail)) => detail,
        Ok(None) => {
            return layout::problem(
                &dashboard,
                StatusCode::NOT_FOUND,
                &format!("no execution {id}"),
            );
        }
        Err(e) => {
            return layout::problem(
                &dashboard,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            );
        }
    };
    let e = &detail.execution;
    let mut body = Html::new();
    let finished = matches!(
        e.status,
        ExecutionStatus::Completed | ExecutionStatus::Cancelled
    );
    body.raw("<div id=\"execution-live\" data-live-region data-live=\"execution\" data-exec=\"")
        .num(e.id.0)
        .raw("\" data-status=\"")
        .raw(e.status.as_str())
        .raw("\" data-final=\"")
        .raw(if finished { "true" } else { "false" })
        .raw("\"><h1>Execution #")
        .num(e.id.0)
        .raw(" <span class=\"flow\">")
        .text(&e.flow)
        .raw("</span> ");
    format::status(&mut body, e.status);
    body.raw("</h1>");
    actions(&mut body, &detail);
    summary(&mut body, &detail);
    waits(&mut body, &detail);
    retries(&mut body, &detail, format::now_us());
    body.raw("<section aria-labelledby=\"timeline-h\"><h2 id=\"timeline-h\">Timeline</h2>");
    timeline::svg(&mut body, &detail, format::now_us());
    body.raw("</section>");
    calls(&mut body, &detail);
    body.raw("<section aria-labelledby=\"log-h\"><h2 id=\"log-h\">Flow log</h2>");
    if detail.flow_log.is_empty() {
        body.raw("<p class=\"empty\">The flow wrote nothing.</p>");
    } else {
        body.raw("<pre class=\"log\" id=\"flow-log\">")
            .text(&format::cut(&detail.flow_log))
            .raw("</pre>");
    }
    body.raw("</section></div>");
    layout::page(
        &dashboard,
        &format!("Execution {}", e.id),
        Nav::Executions,
        body,
    )
}

fn actions(body: &mut Html, detail: &ExecutionDetail) {
    let e = &detail.execution;
    body.raw("<div class=\"actions\">");
    let button = |body: &mut Html, action: &'static str, label: &'static str| {
        body.raw("<button type=\"button\" data-action=\"")
            .raw(action)
            .raw("\" data-exec=\"")
            .num(e.id.0)
            .raw("\">")
            .raw(label)
            .raw("</button>");
    };
    if matches!(
        e.status,
        ExecutionStatus::Running | ExecutionStatus::Waiting | ExecutionStatus::Failed
    ) {
        button(body, "cancel", "Cancel");
    }
    if matches!(e.status, ExecutionStatus::Failed | ExecutionStatus::Waiting) {
        button(body, "resume", "Resume");
    }
    if !matches!(e.status, ExecutionStatus::Running) {
        button(body, "replay", "Replay");
    }
    body.raw("<p class=\"action-error\" role=\"alert\" data-error-for=\"action\"></p></div>");
}

fn summary(body: &mut Html, detail: &ExecutionDetail) {
    let e = &detail.execution;
    body.raw("<dl class=\"summary\"><dt>Created</dt><dd>");
    format::time(body, &e.created_at);
    body.raw("</dd><dt>Updated</dt><dd>");
    format::time(body, &e.updated_at);
    body.raw("</dd><dt>Component</dt><dd>");
    match &e.component {
        Some(hash) => {
            body.raw("<a class=\"hash\" href=\"/components#c-")
                .text(hash)
                .raw("\">")
                .text(hash)
                .raw("</a>");
        }
        None => {
            body.raw("host-side flow");
        }
    }
    body.raw("</dd>");
    if let Some(source) = e.original_exec_id {
        body.raw("<dt>Replays</dt><dd><a href=\"/executions/")
            .num(source.0)
            .raw("\">#")
            .num(source.0)
            .raw("</a></dd>");
    }
    // Child flows' links, both ways: ids and seqs only, never guest text.
    if let Some(parent) = &detail.parent {
        body.raw("<dt>Parent</dt><dd id=\"parent\"><a href=\"/executions/")
            .num(parent.id.0)
            .raw("\">#")
            .num(parent.id.0)
            .raw("</a> (its step at seq ")
            .num(parent.seq)
            .raw(")</dd>");
    }
    if !detail.children.is_empty() {
        body.raw("<dt>Children</dt><dd id=\"children\">");
        for (i, child) in detail.children.iter().enumerate() {
            if i > 0 {
                body.raw(", ");
            }
            body.raw("<a href=\"/executions/")
                .num(child.id.0)
                .raw("\">#")
                .num(child.id.0)
                .raw("</a> (seq ")
                .num(child.seq)
                .raw(")");
        }
        body.raw("</dd>");
    }
    body.raw("</dl><section class=\"io\" aria-label=\"Input and output\"><div><h2>Input</h2>");
    format::json(body, &e.input);
    body.raw("</div><div><h2>Output</h2>");
    match &e.output {
        Some(output) => format::json(body, output),
        None if matches!(
            e.status,
            ExecutionStatus::Running | ExecutionStatus::Waiting
        ) =>
        {
            body.raw("<p class=\"empty\">none yet</p>");
        }
        None => {
            body.raw("<p class=\"empty\">none</p>");
        }
    }
    body.raw("</div></section>");
    if let Some(failure) = &e.failure {
        let kind = serde_json::to_value(failure.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        body.raw("<section class=\"failure\" aria-labelledby=\"failure-h\"><h2 id=\"failure-h\">Failure: ")
            .text(&kind)
            .raw("</h2><pre class=\"log\" id=\"failure-message\">")
            .text(&failure.message)
            .raw("</pre>");
        if let Some(d) = &failure.divergence {
            body.raw("<h3 id=\"divergence-h\">Non-determinism at seq ")
                .num(d.seq)
                .raw("</h3><p>The flow made another call than the one its journal holds at that seq, so its journal cannot be replayed into it.</p><dl class=\"summary divergence\"><dt>The journal has</dt><dd><pre class=\"log\" id=\"divergence-expected\">")
                .text(&d.expected)
                .raw("</pre></dd><dt>The flow called</dt><dd><pre class=\"log\" id=\"divergence-found\">")
                .text(&d.found)
                .raw("</pre></dd></dl>");
        }
        body.raw("</section>");
    }
}

fn waits(body: &mut Html, detail: &ExecutionDetail) {
    if detail.waits.is_empty() {
        return;
    }
    let e = &detail.execution;
    body.raw("<section aria-labelledby=\"waits-h\"><h2 id=\"waits-h\">Waits</h2>");
    for wait in &detail.waits {
        body.raw("<article class=\"wait\"><h3>")
            .text(&wait.name)
            .raw("</h3><p class=\"question\">")
            .text(&wait.question)
            .raw("</p>");
        match &wait.value {
            Some(value) => {
                body.raw("<p>Answered ");
                if let Some(at) = &wait.answered_at {
                    format::time(body, at);
                }
                if let Some(source) = wait.source {
                    let source = serde_json::to_value(source).unwrap_or(Value::Null);
                    body.raw(" (").text(source.as_str().unwrap_or("")).raw(")");
                }
                body.raw(":</p>");
                format::json(body, value);
            }
            None if e.status == ExecutionStatus::Waiting => {
                wait_form::form(body, e.id, &wait.name, &wait.schema);
            }
            None => {
                body.raw("<p class=\"empty\">Not answered.</p>");
            }
        }
        body.raw("<details><summary>Schema</summary>");
        format::json(body, &wait.schema);
        body.raw("</details></article>");
    }
    body.raw("</section>");
}

/// The retries the execution is parked on: it is `waiting` for their
/// time, with no wait to answer, and runs again by itself when they are due.
fn retries(body: &mut Html, detail: &ExecutionDetail, now: u64) {
    if detail.retries.is_empty() {
        return;
    }
    body.raw("<section aria-labelledby=\"retries-h\"><h2 id=\"retries-h\">Parked retries</h2><ul class=\"retries\">");
    for retry in &detail.retries {
        body.raw("<li").attr("data-retry", &retry.call_id);
        match retry.kind {
            TimerKind::Sleep => {
                body.raw(">The flow sleeps (<span class=\"call-id\">")
                    .text(&retry.call_id)
                    .raw("</span>) until ");
            }
            TimerKind::WaitDeadline => {
                body.raw(">The wait of <span class=\"call-id\">")
                    .text(&retry.call_id)
                    .raw("</span> times out, unless answered first, at ");
            }
            _ => {
                body.raw(">Retry of <span class=\"call-id\">")
                    .text(&retry.call_id)
                    .raw("</span> (attempt ")
                    .num(retry.attempt)
                    .raw(") due at ");
            }
        }
        format::time(body, &retry.due_at);
        if retry.due_at_us > now {
            body.raw(", in ")
                .text(&format::duration(retry.due_at_us - now));
        }
        body.raw("</li>");
    }
    body.raw("</ul><p class=\"hint\">Nothing to answer: the execution runs again by itself when its retry is due.</p></section>");
}

fn calls(body: &mut Html, detail: &ExecutionDetail) {
    body.raw("<section aria-labelledby=\"calls-h\"><h2 id=\"calls-h\">Calls</h2>");
    if detail.calls.is_empty() {
        body.raw("<p class=\"empty\">No calls yet.</p></section>");
        return;
    }
    if detail.calls.len() > MAX_CALLS {
        body.raw("<p>The first ")
            .num(MAX_CALLS)
            .raw(" of ")
            .num(detail.calls.len())
            .raw(" calls; the API has them all.</p>");
    }
    body.raw("<div class=\"table-wrap\"><table class=\"calls\"><thead><tr><th scope=\"col\" class=\"num\">Seq</th><th scope=\"col\">Call</th><th scope=\"col\">Runtime</th><th scope=\"col\">Status</th><th scope=\"col\">Source</th><th scope=\"col\" class=\"num\">Attempts</th><th scope=\"col\" class=\"num\">Duration</th></tr></thead><tbody>");
    let final_execution = detail.execution.status != ExecutionStatus::Running;
    for (shown, call) in detail.calls.iter().take(MAX_CALLS).enumerate() {
        if body.bytes_written() > PAGE_BUDGET {
            let id = detail.execution.id.0;
            body.raw("<tr class=\"calls-cut\"><td colspan=\"7\">")
                .num(detail.calls.len() - shown)
                .raw(" more calls are not shown: this page is at its size limit. The API has them all: <a href=\"/api/v1/executions/")
                .num(id)
                .raw("\">/api/v1/executions/")
                .num(id)
                .raw("</a>.</td></tr>");
            break;
        }
        call_rows(body, detail, call, final_execution);
    }
    body.raw("</tbody></table></div></section>");
}

fn word<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn call_rows(body: &mut Html, detail: &ExecutionDetail, call: &CallView, replayable: bool) {
    let source = word(call.source);
    let last = call.attempts.last();
    let took = last.and_then(|a| {
        Some(format::micros(a.ended_at.as_deref()?)?.saturating_sub(format::micros(&a.started_at)?))
    });
    body.raw("<tr data-call=\"")
        .text(&call.call_id)
        .raw("\"><td class=\"num\">")
        .num(call.seq)
        .raw("</td><td><span class=\"call-id\">")
        .text(&call.call_id)
        .raw("</span>");
    if let Some(kind) = &call.kind {
        body.raw(" <span class=\"kind\">").text(kind).raw("</span>");
    }
    body.raw("</td><td>")
        .text(&word(call.runtime))
        .raw("</td><td>");
    format::badge(body, &word(call.status));
    if let Some(retry) = detail.retries.iter().find(|r| r.seq == call.seq) {
        body.raw(" <span class=\"retry-due\">retry ")
            .num(retry.attempt)
            .raw(" due ");
        format::time(body, &retry.due_at);
        body.raw("</span>");
    }
    body.raw("</td><td><span class=\"source source-")
        .text(&source)
        .raw("\">")
        .text(&source)
        .raw("</span></td><td class=\"num\">")
        .num(call.attempts.len())
        .raw("</td><td class=\"num\">");
    match took {
        Some(us) => body.text(&format::duration(us)),
        None => body.raw("–"),
    };
    body.raw("</td></tr><tr class=\"call-detail\"><td colspan=\"7\"><details><summary>Input, output and attempts of ")
        .text(&call.call_id)
        .raw("</summary><div class=\"io\"><div><h4>Input</h4>");
    format::json(body, &call.input);
    body.raw("</div><div><h4>Output</h4>");
    match &call.output {
        Some(output) => format::json(body, output),
        None => {
            body.raw("<p class=\"empty\">none</p>");
        }
    }
    body.raw("</div></div>");
    if !call.attempts.is_empty() {
        body.raw("<table class=\"attempts\"><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Status</th><th scope=\"col\">Trap</th><th scope=\"col\" class=\"num\">Fuel</th><th scope=\"col\" class=\"num\">Duration</th><th scope=\"col\">Error</th></tr></thead><tbody>");
        for a in &call.attempts {
            body.raw("<tr><td class=\"num\">").num(a.n).raw("</td><td>");
            format::badge(body, &a.status);
            body.raw("</td><td>");
            match a.trap {
                Some(trap) => body.text(&trap.to_string()),
                None => body.raw("–"),
            };
            body.raw("</td><td class=\"num\">")
                .num(a.fuel_used)
                .raw("</td><td class=\"num\">");
            let took = a
                .ended_at
                .as_deref()
                .and_then(format::micros)
                .zip(format::micros(&a.started_at));
            match took {
                Some((end, start)) => body.text(&format::duration(end.saturating_sub(start))),
                None => body.raw("running"),
            };
            if body.bytes_written() > PAGE_BUDGET {
                body.raw(
                    "</td><td>not shown: this page is at its size limit (the API has it)</td></tr>",
                );
                continue;
            }
            body.raw("</td><td><pre class=\"log\">")
                .text(&format::cut(a.error.as_deref().unwrap_or("")))
                .raw("</pre></td></tr>");
            if !a.stdout.is_empty() || !a.stderr.is_empty() {
                body.raw("<tr><td></td><td colspan=\"5\"><div class=\"io\"><div><h5>stdout</h5><pre class=\"log\">")
                    .text(&format::cut(&a.stdout))
                    .raw("</pre></div><div><h5>stderr</h5><pre class=\"log\">")
                    .text(&format::cut(&a.stderr))
                    .raw("</pre></div></div></td></tr>");
            }
        }
        body.raw("</tbody></table>");
    }
    if replayable && let Some(output) = &call.output {
        let output = serde_json::to_string_pretty(output).unwrap_or_default();
        let id = detail.execution.id.0;
        body.raw("<form class=\"replay-override\" data-exec=\"")
            .num(id)
            .raw("\"")
            .attr("data-call", &call.call_id)
            .raw(">");
        // Prefilled with the whole output, or not at all: a cut value would
        // not be the output, and a huge one (escaping makes each `"` six
        // bytes) would make the page huge.
        if output.len() <= format::MAX_JSON_CHARS && body.bytes_written() <= PAGE_BUDGET {
            body.raw("<label>Replay with this output for ")
                .text(&call.call_id)
                .raw(" <textarea name=\"output\" rows=\"4\" spellcheck=\"false\">")
                .text(&output)
                .raw("</textarea></label><p class=\"field-error\" role=\"alert\" data-error-for=\"output\"></p>")
                .raw("<button type=\"submit\">Replay with this output</button> ");
        } else {
            body.raw("<p class=\"hint replay-too-large\">This output is too large to edit here; replay with another one from the CLI, <code>cairn executions replay ")
                .num(id)
                .raw(" --override ")
                .text(&call.call_id)
                .raw("=JSON</code>, or the API (<code>POST /api/v1/executions/")
                .num(id)
                .raw("/replay</code> with <code>overrides</code>).</p>");
        }
        body.raw("<button type=\"button\" data-action=\"replay-from\" data-exec=\"")
            .num(detail.execution.id.0)
            .raw("\"")
            .attr("data-call", &call.call_id)
            .raw(">Replay from this call</button></form>");
    }
    body.raw("</details></td></tr>");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An execution whose every call returned `output`, as the journal
    /// would show it.
    fn execution_with(calls: usize, output: &Value) -> ExecutionDetail {
        let calls: Vec<Value> = (0..calls)
            .map(|seq| {
                serde_json::json!({
                    "call_id": format!("big#{seq}"), "seq": seq, "name": "big",
                    "component": "c", "kind": null, "runtime": "isolated",
                    "status": "completed", "source": "executed",
                    "input": null, "output": output, "attempts": [],
                })
            })
            .collect();
        let detail = serde_json::json!({
            "id": 7, "flow": "run", "status": "completed", "input": null,
            "output": null, "failure": null, "original_exec_id": null,
            "component": null, "created_at": "2026-12-02T06:15:19Z",
            "updated_at": "2026-12-02T06:15:19Z",
            "calls": calls, "waits": [], "flow_log": "",
        });
        serde_json::from_value(detail).unwrap_or_else(|e| panic!("a detail: {e}"))
    }

    #[test]
    fn a_child_flow_links_to_its_parent_and_a_parent_to_its_children() {
        let mut detail = execution_with(0, &Value::Null);
        detail.parent = Some(cairn_host::ChildLinkView {
            id: cairn_host::ExecutionId(3),
            seq: 2,
        });
        detail.children = vec![
            cairn_host::ChildLinkView {
                id: cairn_host::ExecutionId(8),
                seq: 0,
            },
            cairn_host::ChildLinkView {
                id: cairn_host::ExecutionId(9),
                seq: 1,
            },
        ];
        let mut body = Html::new();
        summary(&mut body, &detail);
        let page = body.into_string();
        assert!(
            page.contains(
                r#"<dd id="parent"><a href="/executions/3">#3</a> (its step at seq 2)</dd>"#
            ),
            "{page}"
        );
        assert!(
            page.contains(
                r#"<a href="/executions/8">#8</a> (seq 0), <a href="/executions/9">#9</a> (seq 1)"#
            ),
            "{page}"
        );
    }

    #[test]
    fn a_huge_output_is_not_prefilled_for_editing() {
        // Quotes: six bytes each once escaped.
        let huge = Value::String("\"".repeat(format::MAX_JSON_CHARS));
        let mut body = Html::new();
        calls(&mut body, &execution_with(1, &huge));
        let page = body.into_string();
        assert!(!page.contains("<textarea"), "a textarea for a huge output");
        assert!(page.contains("cairn executions replay 7 --override big#0=JSON"));
        assert!(page.contains("data-action=\"replay-from\""));
        assert!(
            page.len() < 2 * format::MAX_JSON_CHARS * 6,
            "{} bytes",
            page.len()
        );

        let small = serde_json::json!({"ok": true});
        let mut body = Html::new();
        calls(&mut body, &execution_with(1, &small));
        assert!(body.into_string().contains("<textarea"));
    }

    #[test]
    fn many_large_outputs_keep_the_page_within_its_budget() {
        // Just under the cut, so each is shown whole: ~1.2 MB escaped.
        let large = Value::String("\"".repeat(format::MAX_JSON_CHARS / 2 - 10));
        let mut body = Html::new();
        calls(&mut body, &execution_with(MAX_CALLS, &large));
        let page = body.into_string();
        // One call past the budget at most: its input, output and prefill.
        let one_call = 3 * format::MAX_JSON_CHARS * 6;
        assert!(
            page.len() < PAGE_BUDGET + one_call,
            "{} bytes for {MAX_CALLS} calls",
            page.len()
        );
        assert!(page.contains("more calls are not shown"), "no summary");
        assert!(page.contains("href=\"/api/v1/executions/7\""));
    }
}
