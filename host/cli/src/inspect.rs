//! `cairn inspect`: what a component contains: its flows and checkpoints
//! with their parameters' types, options and doc comments, and, when the
//! journal has run the component, the waits its flows were seen to ask.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use cairn_host::{
    Component, ComponentHash, Engine, ExecutionFilter, ExecutionSummary, Host, Policy,
};

use crate::args::{Global, InspectArgs};
use crate::exit::Exit;
use crate::table::Columns;
use crate::terminal::line;
use crate::{remote, render, setup};

/// The most executions of the component whose waits are read: the newest.
const EXECUTIONS_READ: usize = 1_000;

/// The most characters of a doc comment's first line shown in the table.
const DOC_SHOWN: usize = 100;

/// The wait names seen per flow, for the flows the journal ran.
type WaitsSeen = BTreeMap<String, BTreeSet<String>>;

pub(crate) async fn inspect(global: &Global, args: &InspectArgs) -> Result<ExitCode, Exit> {
    let engine = setup::engine(global, args.stack)?;
    let component = Component::from_file(&engine, &args.component).await?;
    let manifest = component.manifest();
    let sdk = crate::producers::sdk_name(&component.bytes(), &manifest.sdk_version);
    let waits = waits_seen(global, &engine, component.hash()).await;
    if global.json {
        let flows: Vec<serde_json::Value> = manifest
            .flows
            .iter()
            .map(|flow| {
                let mut value = serde_json::to_value(flow).unwrap_or_default();
                // Only what the journal saw: a flow it never ran may wait
                // or not.
                if let (Some(seen), Some(object)) = (
                    waits.as_ref().and_then(|w| w.get(&flow.name)),
                    value.as_object_mut(),
                ) {
                    object.insert("waits".to_owned(), serde_json::json!(seen));
                }
                value
            })
            .collect();
        render::json(&serde_json::json!({
            "component": component.hash().to_hex(),
            "sdk_version": manifest.sdk_version,
            "sdk": sdk,
            "flows": flows,
            "checkpoints": manifest.checkpoints,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("component {}  ({})", component.hash(), line(&sdk));
    println!();
    let mut header = vec!["FLOW", "PARAMS", "RETRIES", "CACHE"];
    if waits.is_some() {
        header.push("WAITS SEEN");
    }
    let mut flows = Columns::new(&header);
    for flow in &manifest.flows {
        let params = params(&flow.signature(), flow.params.is_empty());
        let (retries, cache) = (flow.retries.to_string(), flow.cache.to_string());
        match &waits {
            Some(waits) => {
                let seen = match waits.get(&flow.name) {
                    None => "(not run)".to_owned(),
                    Some(names) if names.is_empty() => "-".to_owned(),
                    Some(names) => names.iter().cloned().collect::<Vec<_>>().join(", "),
                };
                flows.row([&flow.name, &params, &retries, &cache, &seen]);
            }
            None => flows.row([&flow.name, &params, &retries, &cache]),
        }
    }
    flows.print();
    println!();
    let mut checkpoints = Columns::new(&[
        "CHECKPOINT",
        "PARAMS",
        "RUNTIME",
        "RETRIES",
        "CACHE",
        "KIND",
    ]);
    for c in &manifest.checkpoints {
        checkpoints.row([
            &c.name,
            &params(&c.signature(), c.params.is_empty()),
            &c.runtime.to_string(),
            &c.retries.to_string(),
            &c.cache
                .map_or_else(|| "flow default".to_owned(), |b| b.to_string()),
            c.kind.as_deref().unwrap_or("-"),
        ]);
    }
    checkpoints.print();
    let docs = manifest
        .flows
        .iter()
        .map(|f| (&f.name, &f.doc))
        .chain(manifest.checkpoints.iter().map(|c| (&c.name, &c.doc)));
    let mut table = Columns::new(&["NAME", "DOC"]);
    let mut any = false;
    for (name, doc) in docs {
        if let Some(doc) = doc {
            table.row([name, &summary(doc)]);
            any = true;
        }
    }
    if any {
        println!();
        table.print();
    }
    Ok(ExitCode::SUCCESS)
}

/// `name: Type, ...`, or `-` for none.
fn params(signature: &str, none: bool) -> String {
    if none {
        "-".to_owned()
    } else {
        signature.to_owned()
    }
}

/// A doc comment's first line, cut to [`DOC_SHOWN`] characters, with `…`
/// when there is more (`--json` has all of it).
fn summary(doc: &str) -> String {
    let mut lines = doc.lines();
    let first = lines.next().unwrap_or_default().trim();
    let more = lines.next().is_some();
    let mut shown: String = first.chars().take(DOC_SHOWN).collect();
    if more || first.chars().count() > DOC_SHOWN {
        shown.push('…');
    }
    shown
}

/// The waits each flow of the component asked in the executions of it (the
/// newest [`EXECUTIONS_READ`]) in the journal, or on the server with
/// `--server`; `None` when the journal does not exist, they cannot be read
/// or none ran the component. The journal is opened read-only: nothing is
/// created, repaired or locked for writing. What cannot be read only costs
/// the column, with a note on stderr.
async fn waits_seen(global: &Global, engine: &Engine, hash: ComponentHash) -> Option<WaitsSeen> {
    let (read, place) = match &global.server {
        Some(url) => (
            seen_on_server(global, url, hash).await,
            format!("the server at {}", line(url)),
        ),
        None => {
            if !global.journal.try_exists().unwrap_or(false) {
                return None;
            }
            (
                seen_in_journal(global, engine, hash).await,
                format!("the journal {}", line(&global.journal.to_string_lossy())),
            )
        }
    };
    match read {
        Ok(seen) => seen,
        Err(e) => {
            eprintln!(
                "cairn: the waits seen are not shown: {place} cannot be read: {}",
                line(&format!("{e:#}"))
            );
            None
        }
    }
}

async fn seen_in_journal(
    global: &Global,
    engine: &Engine,
    hash: ComponentHash,
) -> anyhow::Result<Option<WaitsSeen>> {
    let host = Host::builder()
        .journal(&global.journal)
        .read_only(true)
        .engine(engine.clone())
        .policy(Policy::default())
        .open()?;
    let client = host.client();
    let executions = client.executions(&ExecutionFilter::default()).await?;
    let mine = newest_of(executions, hash);
    if mine.is_empty() {
        return Ok(None);
    }
    let mut seen = WaitsSeen::new();
    for execution in mine {
        let names = seen.entry(execution.flow).or_default();
        for wait in client.waits(execution.id).await? {
            names.insert(wait.name);
        }
    }
    Ok(Some(seen))
}

async fn seen_on_server(
    global: &Global,
    url: &str,
    hash: ComponentHash,
) -> anyhow::Result<Option<WaitsSeen>> {
    let failed = |exit: crate::exit::Exit| exit.error;
    let client = remote::connect(global, url).map_err(failed)?;
    let executions = remote::reads::executions(&client, None, None)
        .await
        .map_err(failed)?;
    let mine = newest_of(executions, hash);
    if mine.is_empty() {
        return Ok(None);
    }
    let mut seen = WaitsSeen::new();
    for execution in mine {
        let detail = remote::reads::detail(&client, execution.id)
            .await
            .map_err(failed)?;
        let names = seen.entry(execution.flow).or_default();
        names.extend(detail.waits.into_iter().map(|w| w.name));
    }
    Ok(Some(seen))
}

/// The newest [`EXECUTIONS_READ`] executions of the component.
fn newest_of(executions: Vec<ExecutionSummary>, hash: ComponentHash) -> Vec<ExecutionSummary> {
    let hex = hash.to_hex();
    let mut mine: Vec<_> = executions
        .into_iter()
        .filter(|e| e.component.as_deref() == Some(hex.as_str()))
        .collect();
    mine.sort_by_key(|e| std::cmp::Reverse(e.id));
    mine.truncate(EXECUTIONS_READ);
    mine
}
