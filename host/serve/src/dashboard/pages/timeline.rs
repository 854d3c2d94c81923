//! The timeline: an SVG Gantt chart with a row per call in seq order and a
//! bar per attempt along the execution's time, coloured by outcome (by CSS
//! class, so both colour schemes apply); calls whose output was reused
//! (cached, replayed, overridden) ran nothing and get a marked row instead;
//! a map's items are grouped under a fold of their own.

use cairn_host::{CallSource, CallView, ExecutionDetail, ExecutionStatus, RetryView};

use crate::dashboard::format;
use crate::dashboard::html::Html;

/// Rows drawn at most; the calls table and the API have the rest.
const MAX_ROWS: usize = 500;
const WIDTH: u64 = 1000;
const LABEL: u64 = 200;
const ROW: u64 = 22;
const AXIS: u64 = 24;

/// The time scale every part of the chart shares.
struct Scale {
    start: u64,
    span: u64,
    now: u64,
}

impl Scale {
    fn x(&self, t: u64) -> u64 {
        let plot = WIDTH - LABEL - 10;
        LABEL + t.saturating_sub(self.start).min(self.span) * plot / self.span
    }
}

/// Consecutive calls drawn together: plain calls, or the items of one map
/// (`name[0]`, `name[1]`, ...), which fold.
enum Segment<'a> {
    Calls(&'a [CallView]),
    Map(&'a str, &'a [CallView]),
}

/// `name` when `call_id` is a map item `name[i]`.
fn map_name(call_id: &str) -> Option<&str> {
    let (name, index) = call_id.strip_suffix(']')?.rsplit_once('[')?;
    (!index.is_empty() && index.bytes().all(|b| b.is_ascii_digit())).then_some(name)
}

fn segments(calls: &[CallView]) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    let mut from = 0;
    while from < calls.len() {
        let group = map_name(&calls[from].call_id);
        let mut to = from + 1;
        while to < calls.len() && map_name(&calls[to].call_id) == group {
            to += 1;
        }
        // Plain calls run until the next map item.
        if group.is_none() {
            while to < calls.len() && map_name(&calls[to].call_id).is_none() {
                to += 1;
            }
        }
        segments.push(match group {
            Some(name) => Segment::Map(name, &calls[from..to]),
            None => Segment::Calls(&calls[from..to]),
        });
        from = to;
    }
    segments
}

pub(crate) fn svg(body: &mut Html, detail: &ExecutionDetail, now: u64) {
    let e = &detail.execution;
    if detail.calls.is_empty() {
        body.raw("<p class=\"empty\">No calls yet.</p>");
        return;
    }
    let start = e.created_at_us;
    let mut end = format::micros(&e.updated_at).unwrap_or(start);
    for call in &detail.calls {
        for a in &call.attempts {
            let t = match a.ended_at.as_deref() {
                Some(t) => format::micros(t).unwrap_or(start),
                None => now,
            };
            end = end.max(t);
        }
    }
    if e.status == ExecutionStatus::Running {
        end = end.max(now);
    }
    // A parked retry is drawn where it is due, so the chart reaches it.
    for retry in &detail.retries {
        end = end.max(retry.due_at_us);
    }
    let scale = Scale {
        start,
        span: end.saturating_sub(start).max(1),
        now,
    };
    let shown = &detail.calls[..detail.calls.len().min(MAX_ROWS)];
    body.raw("<figure class=\"timeline\" aria-labelledby=\"timeline-caption\">");
    axis(body, &scale);
    for segment in segments(shown) {
        match segment {
            Segment::Calls(calls) => rows(body, calls, &detail.retries, &scale),
            Segment::Map(name, calls) => {
                body.raw("<details class=\"map-group\" open><summary>")
                    .text(name)
                    .raw(": a map of ")
                    .num(calls.len())
                    .raw(" items</summary>");
                rows(body, calls, &detail.retries, &scale);
                body.raw("</details>");
            }
        }
    }
    body.raw("<figcaption id=\"timeline-caption\">");
    if detail.calls.len() > MAX_ROWS {
        body.raw("The first ")
            .num(MAX_ROWS)
            .raw(" of ")
            .num(detail.calls.len())
            .raw(" calls. ");
    }
    body.raw("One row per call, one bar per attempt over ")
        .text(&format::duration(scale.span))
        .raw(": <span class=\"key key-ok\">ok</span> <span class=\"key key-failed\">failed</span> <span class=\"key key-trapped\">trapped</span> <span class=\"key key-running\">running</span> <span class=\"key key-reused\">reused output</span>");
    if !detail.retries.is_empty() {
        body.raw(" <span class=\"key key-retry\">retry due</span>");
    }
    body.raw("</figcaption></figure>");
}

/// The time axis: start, middle, end.
fn axis(body: &mut Html, scale: &Scale) {
    let plot = WIDTH - LABEL - 10;
    body.raw("<svg aria-hidden=\"true\" viewBox=\"0 0 ")
        .num(WIDTH)
        .raw(" ")
        .num(AXIS)
        .raw("\" preserveAspectRatio=\"xMinYMin meet\" width=\"100%\">");
    for (i, anchor) in [(0u64, "start"), (1, "middle"), (2, "end")] {
        body.raw("<text class=\"axis\" y=\"16\" x=\"")
            .num(LABEL + plot * i / 2)
            .raw("\" text-anchor=\"")
            .raw(anchor)
            .raw("\">+")
            .text(&format::duration(scale.span * i / 2))
            .raw("</text>");
    }
    body.raw("</svg>");
}

/// One SVG with a row per call; every SVG of the chart has the same width
/// and scale, so their bars line up.
fn rows(body: &mut Html, calls: &[CallView], retries: &[RetryView], scale: &Scale) {
    let height = ROW * calls.len() as u64;
    body.raw("<svg role=\"img\" aria-label=\"calls over time\" viewBox=\"0 0 ")
        .num(WIDTH)
        .raw(" ")
        .num(height)
        .raw("\" preserveAspectRatio=\"xMinYMin meet\" width=\"100%\">");
    for (row, call) in calls.iter().enumerate() {
        let y = ROW * row as u64;
        body.raw("<g class=\"row\"><text class=\"label\" x=\"4\" y=\"")
            .num(y + 15)
            .raw("\">")
            .num(call.seq)
            .raw(" ")
            .text(&call.call_id)
            .raw("</text>");
        let reused = match call.source {
            CallSource::Executed => None,
            CallSource::Cached => Some("cached"),
            CallSource::Replayed => Some("replayed"),
            CallSource::Overridden => Some("overridden"),
            _ => Some("reused"),
        };
        if let Some(how) = reused {
            body.raw("<rect class=\"bar bar-reused\" x=\"")
                .num(LABEL)
                .raw("\" y=\"")
                .num(y + 4)
                .raw("\" width=\"14\" height=\"14\" rx=\"7\"><title>")
                .text(&call.call_id)
                .raw(": ")
                .raw(how)
                .raw(", nothing ran</title></rect><text class=\"mark\" x=\"")
                .num(LABEL + 20)
                .raw("\" y=\"")
                .num(y + 15)
                .raw("\">")
                .raw(how)
                .raw("</text>");
        }
        for a in &call.attempts {
            let from = format::micros(&a.started_at).unwrap_or(scale.start);
            let to = a
                .ended_at
                .as_deref()
                .and_then(format::micros)
                .unwrap_or(scale.now)
                .max(from);
            let left = scale.x(from);
            let width = scale.x(to).saturating_sub(left).max(3);
            let class = match a.status.as_str() {
                "ok" => "ok",
                "failed" => "failed",
                "trapped" => "trapped",
                "running" => "running",
                _ => "other",
            };
            body.raw("<rect class=\"bar bar-")
                .raw(class)
                .raw("\" x=\"")
                .num(left)
                .raw("\" y=\"")
                .num(y + 4)
                .raw("\" width=\"")
                .num(width)
                .raw("\" height=\"14\"><title>")
                .text(&call.call_id)
                .raw(" attempt ")
                .num(a.n)
                .raw(": ")
                .text(&a.status)
                .raw(", ")
                .text(&format::duration(to - from))
                .raw("</title></rect>");
        }
        if let Some(retry) = retries.iter().find(|r| r.seq == call.seq) {
            retry_mark(body, call, retry, y, scale);
        }
        body.raw("</g>");
    }
    body.raw("</svg>");
}

/// A parked retry: a dashed span from now to when it is due, ending in a
/// mark, so the wait is seen beside the attempts that led to it.
fn retry_mark(body: &mut Html, call: &CallView, retry: &RetryView, y: u64, scale: &Scale) {
    let due = scale.x(retry.due_at_us);
    let from = scale.x(scale.now).min(due);
    body.raw("<g class=\"retry\" data-retry-mark=\"")
        .num(retry.seq)
        .raw("\"><line class=\"retry-wait\" x1=\"")
        .num(from)
        .raw("\" x2=\"")
        .num(due)
        .raw("\" y1=\"")
        .num(y + 11)
        .raw("\" y2=\"")
        .num(y + 11)
        .raw("\"></line><rect class=\"bar bar-retry\" x=\"")
        .num(due.saturating_sub(5))
        .raw("\" y=\"")
        .num(y + 4)
        .raw("\" width=\"10\" height=\"14\"><title>")
        .text(&call.call_id)
        .raw(": retry (attempt ")
        .num(retry.attempt)
        .raw(") due at ")
        .text(&retry.due_at)
        .raw("</title></rect></g>");
}

#[cfg(test)]
mod tests {
    use super::map_name;

    #[test]
    fn map_items_are_told_by_their_index() {
        assert_eq!(map_name("square[3]"), Some("square"));
        assert_eq!(map_name("square[]"), None);
        assert_eq!(map_name("square_2"), None);
        assert_eq!(map_name("a[b]"), None);
    }
}
