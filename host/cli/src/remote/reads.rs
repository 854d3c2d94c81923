//! What the CLI reads from a server, and the component it makes sure the
//! server holds.

use std::path::Path;

use cairn_host::{ComponentHash, ExecutionDetail, ExecutionId, ExecutionStatus, ExecutionSummary};
use cairn_serve::api::{ComponentView, ExecutionPage, MAX_PAGE};
use cairn_serve::{ApiClient, ClientError};

use super::connection::exit;
use crate::exit::Exit;

/// The most executions `executions list --server` collects: a server that
/// pages on and on (a hostile one) must not grow the CLI without bound.
const MAX_LISTED: usize = 1_000_000;

/// Every execution that matches, oldest first (as `executions list` on a
/// journal prints them), read a page at a time.
pub(crate) async fn executions(
    client: &ApiClient,
    status: Option<ExecutionStatus>,
    flow: Option<&str>,
) -> Result<Vec<ExecutionSummary>, Exit> {
    let mut query = String::new();
    if let Some(status) = status {
        query.push_str("&status=");
        query.push_str(&status.to_string());
    }
    if let Some(flow) = flow {
        query.push_str("&flow=");
        query.push_str(&percent_encode(flow));
    }
    let mut all = Vec::new();
    let mut cursor: Option<ExecutionId> = None;
    let mut limit = MAX_PAGE;
    loop {
        let path = match cursor {
            Some(id) => format!("/executions?limit={limit}{query}&cursor={id}"),
            None => format!("/executions?limit={limit}{query}"),
        };
        let page: ExecutionPage = match client.get(&path).await {
            Ok(page) => page,
            // A page larger than the client reads (executions with large
            // inputs or outputs): smaller pages hold the same executions.
            Err(ClientError::TooLarge { .. }) if limit > 1 => {
                limit /= 2;
                continue;
            }
            Err(e) => return Err(exit(e)),
        };
        let empty = page.executions.is_empty();
        all.extend(page.executions);
        if all.len() > MAX_LISTED {
            return Err(Exit::host(anyhow::anyhow!(
                "the server lists more than {MAX_LISTED} executions; narrow the list with --status or --flow"
            )));
        }
        // A server that handed back its own cursor, or pages of nothing,
        // would loop forever.
        match page.next_cursor {
            Some(next) if !empty && cursor.is_none_or(|last| next < last) => cursor = Some(next),
            _ => break,
        }
    }
    all.reverse();
    Ok(all)
}

/// One execution with its calls, attempts and waits.
pub(crate) async fn detail(client: &ApiClient, id: ExecutionId) -> Result<ExecutionDetail, Exit> {
    match client.get(&format!("/executions/{id}")).await {
        Ok(detail) => Ok(detail),
        Err(e) if e.kind() == Some("not_found") => Err(Exit::bad_input(anyhow::anyhow!(
            "no execution {id} on the server at {}",
            client.url()
        ))),
        Err(e) => Err(exit(e)),
    }
}

/// The component at `path` on the server, by hash: uploaded only when the
/// server does not have it yet. Returns its flows' names and its hash.
pub(crate) async fn component(
    client: &ApiClient,
    path: &Path,
) -> Result<(Vec<String>, String), Exit> {
    let bytes = cairn_host::read_regular_file(path, cairn_host::MAX_COMPONENT_BYTES)
        .map_err(Exit::bad_input)?;
    // The hash the server names components by (the journal's own).
    let hash = ComponentHash::of(&bytes).to_hex();
    let view = match client
        .get::<ComponentView>(&format!("/components/{hash}"))
        .await
    {
        Ok(view) => view,
        Err(e) if e.kind() == Some("not_found") => client
            .post_bytes::<ComponentView>("/components", bytes)
            .await
            .map_err(exit)?,
        Err(e) => return Err(exit(e)),
    };
    let flows = view
        .flows
        .as_array()
        .map(|flows| {
            flows
                .iter()
                .filter_map(|f| f.get("name")?.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok((flows, view.hash))
}

/// `text` as it may stand in a query string.
fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
