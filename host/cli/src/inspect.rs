//! `cairn inspect`: what a component contains.

use std::process::ExitCode;

use cairn_host::Component;

use crate::args::{Global, InspectArgs};
use crate::exit::Exit;
use crate::table::Columns;
use crate::terminal::line;
use crate::{render, setup};

pub(crate) async fn inspect(global: &Global, args: &InspectArgs) -> Result<ExitCode, Exit> {
    let engine = setup::engine(global)?;
    let component = Component::from_file(&engine, &args.component).await?;
    let manifest = component.manifest();
    if global.json {
        render::json(&serde_json::json!({
            "component": component.hash().to_hex(),
            "sdk_version": manifest.sdk_version,
            "flows": manifest.flows,
            "checkpoints": manifest.checkpoints,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "component {}  (cairn-guest {})",
        component.hash(),
        line(&manifest.sdk_version)
    );
    println!();
    let mut flows = Columns::new(&["FLOW", "PARAMS", "RETRIES", "CACHE"]);
    for flow in &manifest.flows {
        flows.row([
            &flow.name,
            &params(&flow.params),
            &flow.retries.to_string(),
            &flow.cache.to_string(),
        ]);
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
            &params(&c.params),
            &c.runtime.to_string(),
            &c.retries.to_string(),
            &c.cache
                .map_or_else(|| "flow default".to_owned(), |b| b.to_string()),
            c.kind.as_deref().unwrap_or("-"),
        ]);
    }
    checkpoints.print();
    Ok(ExitCode::SUCCESS)
}

/// A flow's or checkpoint's parameter names, `-` for none.
fn params(names: &[String]) -> String {
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(", ")
    }
}
