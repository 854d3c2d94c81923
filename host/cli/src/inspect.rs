//! `cairn inspect`: what a component contains.

use std::process::ExitCode;

use cairn_host::Component;

use crate::args::{Global, InspectArgs};
use crate::exit::Exit;
use crate::terminal::line;
use crate::{render, setup};

pub async fn inspect(global: &Global, args: &InspectArgs) -> Result<ExitCode, Exit> {
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
    println!("\nflows");
    for flow in &manifest.flows {
        println!(
            "  {}({})  retries={} cache={}",
            line(&flow.name),
            line(&flow.params.join(", ")),
            flow.retries,
            flow.cache
        );
    }
    println!("\ncheckpoints");
    for c in &manifest.checkpoints {
        println!(
            "  {}({})  runtime={} retries={} cache={} kind={}",
            line(&c.name),
            line(&c.params.join(", ")),
            c.runtime,
            c.retries,
            c.cache
                .map_or_else(|| "flow default".to_owned(), |b| b.to_string()),
            line(c.kind.as_deref().unwrap_or("-")),
        );
    }
    Ok(ExitCode::SUCCESS)
}
