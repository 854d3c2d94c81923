//! `/components`: every uploaded component with its flows and checkpoints
//! and their options (what `cairn inspect` shows), and a form to start one
//! of its flows from fields made from its parameters.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cairn_host::FlowInfo;
use serde_json::{Value, json};

use super::wait_form::field;

use crate::components::view_of;
use crate::dashboard::Dashboard;
use crate::dashboard::format;
use crate::dashboard::html::Html;
use crate::dashboard::layout::{self, Nav};

/// `GET /components`.
pub(crate) async fn page(State(dashboard): State<Arc<Dashboard>>) -> Response {
    let components = &dashboard.app.components;
    let hashes = match components.hashes().await {
        Ok(hashes) => hashes,
        Err(e) => {
            return layout::problem(&dashboard, StatusCode::INTERNAL_SERVER_ERROR, &e.message);
        }
    };
    let mut body = Html::new();
    body.raw("<h1>Components</h1>");
    if hashes.is_empty() {
        body.raw("<p class=\"empty\">No component uploaded yet: <code>curl --data-binary @flow.wasm http://HOST/api/v1/components</code>.</p>");
    }
    for hash in hashes {
        let manifest = match components.manifest(hash).await {
            Ok(Some(manifest)) => manifest,
            Ok(None) => continue,
            Err(e) => {
                body.raw("<p class=\"problem\">")
                    .text(&format!("{hash}: {}", e.message))
                    .raw("</p>");
                continue;
            }
        };
        let shown = view_of(hash, &manifest);
        body.raw("<article class=\"component\"")
            .attr("id", &format!("c-{}", shown.hash))
            .raw("><h2 class=\"hash\">")
            .text(&shown.hash)
            .raw("</h2><p>Built with the guest SDK ")
            .text(&shown.sdk_version)
            .raw(".</p><h3>Flows</h3>");
        items(&mut body, &shown.flows);
        body.raw("<h3>Checkpoints</h3>");
        items(&mut body, &shown.checkpoints);
        body.raw("<details><summary>As JSON (<code>cairn inspect --json</code>)</summary><div class=\"io\"><div><h4>Flows</h4>");
        format::json(&mut body, &shown.flows);
        body.raw("</div><div><h4>Checkpoints</h4>");
        format::json(&mut body, &shown.checkpoints);
        body.raw("</div></div></details><h3>Start an execution</h3>");
        for flow in &manifest.flows {
            start_form(&mut body, &shown.hash, flow);
        }
        body.raw("</article>");
    }
    layout::page(&dashboard, "Components", Nav::Components, body)
}

/// The keys of a flow or checkpoint shown in their own columns.
const OWN_COLUMNS: [&str; 5] = ["name", "doc", "params", "param_types", "optional_params"];

/// Flows or checkpoints (the manifest's JSON) as a table: the signature,
/// the doc, and every other option as `key: value`.
fn items(body: &mut Html, list: &Value) {
    let Some(items) = list.as_array().filter(|a| !a.is_empty()) else {
        body.raw("<p class=\"empty\">none</p>");
        return;
    };
    body.raw("<div class=\"table-wrap\"><table class=\"manifest\"><thead><tr><th scope=\"col\">Signature</th><th scope=\"col\">Options</th></tr></thead><tbody>");
    for item in items {
        let text = |key: &str| item.get(key).and_then(Value::as_str).unwrap_or_default();
        let strings = |key: &str| -> Vec<&str> {
            item.get(key)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default()
        };
        let (params, types, optional) = (
            strings("params"),
            strings("param_types"),
            strings("optional_params"),
        );
        let signature = params
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mark = if optional.contains(p) { "?" } else { "" };
                match types.get(i) {
                    Some(t) => format!("{p}{mark}: {t}"),
                    None => format!("{p}{mark}"),
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        body.raw("<tr><td><code class=\"call-id\">")
            .text(text("name"))
            .raw("(")
            .text(&signature)
            .raw(")</code>");
        if !text("doc").is_empty() {
            body.raw("<p class=\"hint\">").text(text("doc")).raw("</p>");
        }
        body.raw("</td><td><ul class=\"options\">");
        if let Some(object) = item.as_object() {
            for (key, value) in object
                .iter()
                .filter(|(k, _)| !OWN_COLUMNS.contains(&k.as_str()))
            {
                if value.is_null() {
                    continue;
                }
                body.raw("<li><span class=\"kind\">")
                    .text(key)
                    .raw("</span> ")
                    .text(&value.to_string())
                    .raw("</li>");
            }
        }
        body.raw("</ul></td></tr>");
    }
    body.raw("</tbody></table></div>");
}

/// A fold with a form for `flow`'s parameters; the script posts them to
/// the API as the input object and goes to the new execution.
fn start_form(body: &mut Html, component: &str, flow: &FlowInfo) {
    body.raw("<details class=\"start\"><summary>")
        .text(&flow.name)
        .raw("</summary><form class=\"start-form\" novalidate data-shape=\"object\"")
        .attr("data-component", component)
        .attr("data-flow", &flow.name)
        .raw(">");
    let form_id = format!(
        "start-{}-{}",
        &component[..component.len().min(12)],
        flow.name
    );
    for (i, param) in flow.params.iter().enumerate() {
        let rust_type = flow.param_types.get(i).map_or("", String::as_str);
        let required = !flow.optional_params.contains(param);
        let schema = param_schema(rust_type);
        field(body, &form_id, param, &schema, required);
    }
    if flow.params.is_empty() {
        body.raw("<p class=\"hint\">It takes no input.</p>");
    }
    body.raw("<p class=\"field-error\" role=\"alert\" data-error-for=\"\"></p><button type=\"submit\">Start ")
        .text(&flow.name)
        .raw("</button></form></details>");
}

/// What a field needs to know of a parameter's Rust type: a checkbox for
/// `bool`, a number for integers and floats, text for strings, JSON for
/// anything else (with its type as the hint).
fn param_schema(rust_type: &str) -> Value {
    let inner = rust_type
        .strip_prefix("Option<")
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(rust_type)
        .trim();
    let kind = match inner {
        "bool" => "boolean",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64" | "u128"
        | "usize" => "integer",
        "f32" | "f64" => "number",
        "String" | "&str" | "str" | "char" => "string",
        _ => return json!({"description": format!("JSON for {rust_type}")}),
    };
    json!({"type": kind, "description": rust_type})
}

#[cfg(test)]
mod tests {
    use super::param_schema;
    use serde_json::json;

    #[test]
    fn parameter_types_pick_their_field() {
        assert_eq!(param_schema("bool")["type"], json!("boolean"));
        assert_eq!(param_schema("Option<u64>")["type"], json!("integer"));
        assert_eq!(param_schema("String")["type"], json!("string"));
        assert_eq!(param_schema("Vec<i64>").get("type"), None);
    }
}
