//! How the CLI builds its engine and host from the global options.

use std::path::PathBuf;

use cairn_host::{Durability, Engine, EventSink, Host, Policy};

use crate::args::{DurabilityArg, Global};
use crate::exit::Exit;

/// Compiled components are cached beside the journal unless told otherwise.
fn artifact_dir(global: &Global) -> PathBuf {
    if let Some(dir) = &global.artifacts {
        return dir.clone();
    }
    global
        .journal
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("artifacts"), |p| p.join("artifacts"))
}

pub fn engine(global: &Global) -> Result<Engine, Exit> {
    Ok(Engine::builder()
        .artifact_cache(artifact_dir(global))
        .build()?)
}

pub fn policy(global: &Global) -> Policy {
    let mut policy = Policy::default();
    if let Some(fuel) = global.fuel {
        policy = policy.fuel(fuel);
    }
    if let Some(memory) = global.memory {
        policy = policy.memory_bytes(memory);
    }
    if let Some(timeout) = global.timeout {
        policy = policy.timeout(timeout);
    }
    for dir in &global.allow_dirs {
        policy = policy.allow_dir(&dir.host, &dir.guest, dir.read_only);
    }
    policy
}

pub fn host(global: &Global, events: Option<EventSink>) -> Result<Host, Exit> {
    let mut builder = Host::builder()
        .journal(&global.journal)
        .engine(engine(global)?)
        .policy(policy(global))
        .durability(match global.durability {
            DurabilityArg::Immediate => Durability::Immediate,
            DurabilityArg::Eventual => Durability::Eventual,
        });
    if let Some(events) = events {
        builder = builder.events(events);
    }
    Ok(builder.open()?)
}
