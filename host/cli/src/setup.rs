//! How the CLI builds its engine, policy and host from the global options:
//! the defaults, then the policy file (`--policy`), then the flags.

use std::path::PathBuf;

use cairn_host::{Durability, Engine, EventSink, Host, Policy};

use crate::args::{DurabilityArg, Global, parse_duration, parse_size};
use crate::exit::Exit;
use crate::policy_file::PolicyFile;

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

fn policy_file(global: &Global) -> Result<PolicyFile, Exit> {
    match &global.policy {
        Some(path) => PolicyFile::read(path).map_err(|e| Exit::bad_input(anyhow::anyhow!(e))),
        None => Ok(PolicyFile::default()),
    }
}

/// A size from the file (already checked when it was read).
fn size(text: Option<&str>) -> Option<u64> {
    text.and_then(|t| parse_size(t).ok())
}

fn usize_of(bytes: u64) -> usize {
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

pub fn engine(global: &Global) -> Result<Engine, Exit> {
    let file = policy_file(global)?;
    let mut builder = Engine::builder().artifact_cache(artifact_dir(global));
    if let Some(bytes) = global.stack.or(size(file.stack.as_deref())) {
        builder = builder.max_wasm_stack(usize_of(bytes));
    }
    Ok(builder.build()?)
}

pub fn policy(global: &Global) -> Result<Policy, Exit> {
    let file = policy_file(global)?;
    let mut policy = Policy::default();
    if let Some(fuel) = global.fuel.or(file.fuel) {
        policy = policy.fuel(fuel);
    }
    if let Some(bytes) = global.memory.or(size(file.memory.as_deref())) {
        policy = policy.memory_bytes(bytes);
    }
    let file_timeout = file.timeout.as_deref().and_then(|t| parse_duration(t).ok());
    if let Some(timeout) = global.timeout.or(file_timeout) {
        policy = policy.timeout(timeout);
    }
    if let Some(bytes) = global.max_output.or(size(file.max_output.as_deref())) {
        policy = policy.max_output_bytes(usize_of(bytes));
    }
    if let Some(bytes) = global.log_bytes.or(size(file.log_bytes.as_deref())) {
        policy = policy.log_bytes(usize_of(bytes));
    }
    for name in file.allow_env.iter().chain(&global.allow_env) {
        policy = policy.allow_env(name);
    }
    for host in file.allow_http.iter().chain(&global.allow_http) {
        policy = policy.allow_http(host);
    }
    for dir in file.allow_dir {
        let guest = dir.guest.unwrap_or_else(|| dir.host.display().to_string());
        policy = policy.allow_dir(dir.host, guest, dir.read_only);
    }
    for dir in &global.allow_dirs {
        policy = policy.allow_dir(&dir.host, &dir.guest, dir.read_only);
    }
    Ok(policy)
}

pub fn host(global: &Global, events: Option<EventSink>) -> Result<Host, Exit> {
    let mut builder = Host::builder()
        .journal(&global.journal)
        .engine(engine(global)?)
        .policy(policy(global)?)
        .durability(match global.durability {
            DurabilityArg::Immediate => Durability::Immediate,
            DurabilityArg::Eventual => Durability::Eventual,
        });
    if let Some(events) = events {
        builder = builder.events(events);
    }
    Ok(builder.open()?)
}
