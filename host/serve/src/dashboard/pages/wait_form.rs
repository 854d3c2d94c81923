//! A form for a wait's value, made from its JSON schema: an object's
//! properties become fields (a checkbox for a boolean, a number field, a
//! choice for an enum, text, or JSON for anything else); any other schema
//! is one field. The script turns the fields back into JSON and posts it to
//! the API, which checks it against the schema and says where it does not
//! fit; the message goes beside that field.

use cairn_host::ExecutionId;
use serde_json::Value;

use crate::dashboard::html::Html;

/// Fields made at most; the rest of an object is a JSON field.
const MAX_FIELDS: usize = 50;

pub(crate) fn form(body: &mut Html, exec: ExecutionId, wait: &str, schema: &Value) {
    body.raw("<form class=\"wait-form\" novalidate data-exec=\"")
        .num(exec.0)
        .raw("\"")
        .attr("data-wait", wait);
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .filter(|p| is_type(schema, "object") && p.len() <= MAX_FIELDS);
    match properties {
        Some(properties) => {
            body.raw(" data-shape=\"object\">");
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for (name, property) in properties {
                field(
                    body,
                    wait,
                    name,
                    property,
                    required.contains(&name.as_str()),
                );
            }
        }
        None => {
            body.raw(" data-shape=\"single\">");
            field(body, &format!("wait-{wait}"), "", schema, true);
        }
    }
    body.raw("<p class=\"field-error\" role=\"alert\" data-error-for=\"\"></p><button type=\"submit\">Answer and resume</button></form>");
}

fn is_type(schema: &Value, name: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(types)) => types.iter().any(|t| t == name),
        _ => false,
    }
}

/// One field for `name`, whose value `schema` describes; `form` makes its
/// id unique on the page.
pub(crate) fn field(body: &mut Html, form: &str, name: &str, schema: &Value, required: bool) {
    let id = format!("{form}-{name}");
    let kind = if schema.get("enum").and_then(Value::as_array).is_some() {
        "enum"
    } else if is_type(schema, "boolean") {
        "boolean"
    } else if is_type(schema, "integer") {
        "integer"
    } else if is_type(schema, "number") {
        "number"
    } else if is_type(schema, "string") {
        "string"
    } else {
        "json"
    };
    body.raw("<div class=\"field\"")
        .attr("data-field", name)
        .raw(" data-kind=\"")
        .raw(kind)
        .raw("\"")
        .raw(if required { " data-required" } else { "" })
        .raw("><label")
        .attr("for", &id)
        .raw(">")
        .text(if name.is_empty() { "Value" } else { name });
    if required {
        body.raw(" <span class=\"required\" title=\"required\">*</span>");
    }
    body.raw("</label>");
    match kind {
        "boolean" => {
            body.raw("<input type=\"checkbox\"")
                .attr("id", &id)
                .raw(">");
        }
        "integer" | "number" => {
            body.raw("<input type=\"number\"")
                .attr("id", &id)
                .raw(if kind == "integer" {
                    " step=\"1\""
                } else {
                    " step=\"any\""
                })
                .raw(">");
        }
        "enum" => {
            body.raw("<select")
                .attr("id", &id)
                .raw("><option value=\"\"></option>");
            for (i, option) in schema
                .get("enum")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                // The option's JSON travels as its value: the script parses
                // it back, so a number stays a number.
                body.raw("<option")
                    .attr("value", &option.to_string())
                    .raw(">")
                    .text(&match option {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .raw("</option>");
                if i >= MAX_FIELDS * 4 {
                    break;
                }
            }
            body.raw("</select>");
        }
        "string" => {
            body.raw("<input type=\"text\"").attr("id", &id).raw(">");
        }
        _ => {
            body.raw("<textarea rows=\"3\" spellcheck=\"false\" placeholder=\"JSON\"")
                .attr("id", &id)
                .raw("></textarea>");
        }
    }
    if let Some(description) = schema.get("description").and_then(Value::as_str) {
        body.raw("<p class=\"hint\">").text(description).raw("</p>");
    }
    body.raw("<p class=\"field-error\" role=\"alert\"")
        .attr("data-error-for", name)
        .raw("></p></div>");
}
