//! `/`: the executions, newest first, filtered and paged by the journal's
//! id cursor (a page reads one id range, so a journal of 100,000
//! executions answers as fast as one of ten); page one follows the event
//! stream and redraws its rows.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_host::{ExecutionFilter, ExecutionId, ExecutionStatus, ExecutionSummary};
use serde::Deserialize;

use crate::dashboard::Dashboard;
use crate::dashboard::format;
use crate::dashboard::html::Html;
use crate::dashboard::layout::{self, Nav};
use crate::dashboard::session::percent_encode;

/// Rows on a page.
const PAGE: usize = 50;

const STATUSES: [ExecutionStatus; 5] = [
    ExecutionStatus::Running,
    ExecutionStatus::Waiting,
    ExecutionStatus::Completed,
    ExecutionStatus::Failed,
    ExecutionStatus::Cancelled,
];

/// The page's query: the filter form's fields and the cursor.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    flow: String,
    /// An execution id to find.
    #[serde(default)]
    id: String,
    /// The last id of the previous page.
    #[serde(default)]
    cursor: String,
}

/// `GET /?status=&flow=&id=&cursor=`.
pub(crate) async fn page(
    State(dashboard): State<Arc<Dashboard>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let bad = |message: String| layout::problem(&dashboard, StatusCode::BAD_REQUEST, &message);
    let status = match query.status.as_str() {
        "" => None,
        s => match s.parse::<ExecutionStatus>() {
            Ok(status) => Some(status),
            Err(e) => return bad(e),
        },
    };
    let flow = Some(query.flow.trim().to_owned()).filter(|f| !f.is_empty());
    let cursor = match query.cursor.as_str() {
        "" => None,
        c => match c.parse::<ExecutionId>() {
            Ok(id) => Some(id),
            Err(_) => return bad("the cursor is not an execution id".to_owned()),
        },
    };
    let searched = query.id.trim();
    let client = dashboard.app.host.client();
    let (rows, next) = if searched.is_empty() {
        let filter = ExecutionFilter {
            status,
            flow: flow.clone(),
            before: cursor,
            limit: Some(PAGE + 1),
            newest_first: true,
            ..ExecutionFilter::default()
        };
        match client.executions(&filter).await {
            Ok(mut rows) => {
                let next = (rows.len() > PAGE).then(|| {
                    rows.truncate(PAGE);
                    rows.last().map(|r| r.id)
                });
                (rows, next.flatten())
            }
            Err(e) => {
                return layout::problem(
                    &dashboard,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &e.to_string(),
                );
            }
        }
    } else {
        let found = match searched.trim_start_matches('#').parse::<ExecutionId>() {
            Ok(id) => client.summary(id).await.ok().flatten(),
            Err(_) => None,
        };
        (found.into_iter().collect(), None)
    };

    let mut body = Html::new();
    body.raw("<h1>Executions</h1>");
    filters(&mut body, &query, status);
    // Only the newest page, unfiltered by id, changes with new executions.
    let live = cursor.is_none() && searched.is_empty();
    body.raw("<div class=\"table-wrap\"><table class=\"executions\"><caption class=\"visually-hidden\">Executions, newest first</caption>")
        .raw("<thead><tr><th scope=\"col\">Id</th><th scope=\"col\">Flow</th><th scope=\"col\">Status</th><th scope=\"col\" class=\"created\">Created (UTC)</th><th scope=\"col\" class=\"num\">Duration</th><th scope=\"col\" class=\"num\">Calls</th></tr></thead>")
        .raw("<tbody id=\"execution-rows\"");
    if live {
        body.raw(" data-live-region");
    }
    body.raw(">");
    let now = format::now_us();
    for summary in &rows {
        row(&mut body, summary, now);
    }
    if rows.is_empty() {
        body.raw("<tr><td colspan=\"6\" class=\"empty\">");
        if searched.is_empty() {
            body.raw("No executions match.");
        } else {
            body.raw("No execution ").text(searched).raw(".");
        }
        body.raw("</td></tr>");
    }
    body.raw("</tbody></table></div><nav class=\"pager\" aria-label=\"Pages\">");
    if cursor.is_some() {
        body.raw("<a href=\"").raw("/").raw("?");
        filter_query(&mut body, &query);
        body.raw("\">← Newest</a>");
    }
    if let Some(next) = next {
        body.raw("<a rel=\"next\" href=\"/?");
        filter_query(&mut body, &query);
        body.raw("&amp;cursor=").num(next.0).raw("\">Older →</a>");
    }
    body.raw("</nav>");
    if live {
        body.raw("<div hidden data-live=\"all\"></div>");
    }
    layout::page(&dashboard, "Executions", Nav::Executions, body)
}

fn filters(body: &mut Html, query: &ListQuery, status: Option<ExecutionStatus>) {
    body.raw("<form class=\"filters\" method=\"get\" action=\"/\" role=\"search\">")
        .raw("<label>Status <select name=\"status\"><option value=\"\">any</option>");
    for s in STATUSES {
        body.raw("<option value=\"").raw(s.as_str()).raw("\"");
        if status == Some(s) {
            body.raw(" selected");
        }
        body.raw(">").raw(s.as_str()).raw("</option>");
    }
    body.raw("</select></label><label>Flow <input name=\"flow\" size=\"16\"")
        .attr("value", &query.flow)
        .raw("></label><label>Id <input name=\"id\" inputmode=\"numeric\" size=\"8\"")
        .attr("value", &query.id)
        .raw("></label><button type=\"submit\">Show</button>")
        .raw("<a class=\"reset\" href=\"/\">Reset</a></form>");
}

/// `status=..&flow=..` of the current filter, for the pager's links.
fn filter_query(body: &mut Html, query: &ListQuery) {
    let text = format!(
        "status={}&flow={}",
        percent_encode(&query.status),
        percent_encode(query.flow.trim())
    );
    body.text(&text);
}

fn row(body: &mut Html, e: &ExecutionSummary, now: u64) {
    body.raw("<tr data-execution=\"")
        .num(e.id.0)
        .raw("\"><td><a href=\"/executions/")
        .num(e.id.0)
        .raw("\">#")
        .num(e.id.0)
        .raw("</a></td><td class=\"flow\">")
        .text(&e.flow)
        .raw("</td><td>");
    format::status(body, e.status);
    body.raw("</td><td class=\"created\">");
    format::time(body, &e.created_at);
    body.raw("</td><td class=\"num\">");
    let end = match e.status {
        ExecutionStatus::Running => Some(now),
        _ => format::micros(&e.updated_at),
    };
    match end {
        Some(end) => body.text(&format::duration(end.saturating_sub(e.created_at_us))),
        None => body.raw("–"),
    };
    body.raw("</td><td class=\"num\">");
    body.num(e.call_count).raw("</td></tr>");
}
