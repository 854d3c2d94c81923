//! The frame of every page: head, navigation, the CSRF token for scripts.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use super::Dashboard;
use super::html::Html;

/// Which navigation entry is the current page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    None,
    Executions,
    Components,
}

/// A whole page around `body`, for a browser the session gate let in: it
/// carries the CSRF token the scripts send with actions.
pub(crate) fn page(dashboard: &Dashboard, title: &str, nav: Nav, body: Html) -> Response {
    frame(dashboard, title, nav, body, true)
}

/// A page anyone may load (the login form): no navigation, and no CSRF
/// token, which is only for those who are logged in.
pub(crate) fn public_page(dashboard: &Dashboard, title: &str, body: Html) -> Response {
    frame(dashboard, title, Nav::None, body, false)
}

fn frame(dashboard: &Dashboard, title: &str, nav: Nav, body: Html, csrf: bool) -> Response {
    let mut html = Html::new();
    html.raw("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .raw("<meta name=\"color-scheme\" content=\"light dark\">");
    if csrf {
        html.raw("<meta name=\"cairn-csrf\"")
            .attr("content", dashboard.keys.csrf())
            .raw(">");
    }
    html.raw("<title>")
        .text(title)
        .raw(" · Cairn</title><link rel=\"stylesheet\" href=\"/assets/dashboard.css\">")
        .raw("<script src=\"/assets/dashboard.js\" defer></script></head><body>")
        .raw("<a class=\"skip\" href=\"#main\">Skip to content</a><header class=\"top\"><a class=\"brand\" href=\"/\">Cairn</a>");
    if nav != Nav::None {
        html.raw("<nav aria-label=\"Main\">");
        entry(&mut html, "/", "Executions", nav == Nav::Executions);
        entry(
            &mut html,
            "/components",
            "Components",
            nav == Nav::Components,
        );
        html.raw("</nav>");
        if dashboard.keys.needs_login() {
            html.raw("<form class=\"logout\" method=\"post\" action=\"/logout\"><button type=\"submit\" class=\"link\">Log out</button></form>");
        }
    }
    html.raw("</header><main id=\"main\">")
        .fragment(body)
        .raw("</main></body></html>\n");
    (
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        html.into_string(),
    )
        .into_response()
}

fn entry(html: &mut Html, href: &'static str, label: &'static str, current: bool) {
    html.raw("<a href=\"").raw(href).raw("\"");
    if current {
        html.raw(" aria-current=\"page\"");
    }
    html.raw(">").raw(label).raw("</a>");
}

/// A page that says what went wrong (an unknown execution, a journal
/// error), with its status.
pub(crate) fn problem(
    dashboard: &Dashboard,
    status: axum::http::StatusCode,
    message: &str,
) -> Response {
    let mut body = Html::new();
    body.raw("<h1>")
        .text(status.canonical_reason().unwrap_or("Error"))
        .raw("</h1><p class=\"problem\">")
        .text(message)
        .raw("</p><p><a href=\"/\">All executions</a></p>");
    let mut response = page(dashboard, "Error", Nav::Executions, body);
    *response.status_mut() = status;
    response
}
