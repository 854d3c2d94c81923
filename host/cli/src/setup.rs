//! How the CLI builds its engine, policy and host from the global options:
//! the defaults, then the policy file (`--policy`), then the flags.

use std::path::PathBuf;

use cairn_host::{Durability, Engine, EventSink, Host, Policy};

use crate::args::{DurabilityArg, Global};
use crate::exit::Exit;
use crate::policy_file::PolicyFile;
use crate::terminal;

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

/// Commands about existing executions refuse a journal that is not there,
/// instead of creating an empty one.
pub(crate) fn existing_journal(global: &Global) -> Result<(), Exit> {
    match global.journal.try_exists() {
        Ok(true) => Ok(()),
        Ok(false) => Err(Exit::bad_input(anyhow::anyhow!(
            "no journal at {}",
            terminal::line(&global.journal.to_string_lossy())
        ))),
        Err(e) => Err(Exit::host(anyhow::anyhow!(
            "cannot look for the journal at {}: {e}",
            terminal::line(&global.journal.to_string_lossy())
        ))),
    }
}

fn usize_of(bytes: u64) -> usize {
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

pub(crate) fn engine(global: &Global) -> Result<Engine, Exit> {
    let file = policy_file(global)?;
    let mut builder = Engine::builder().artifact_cache(artifact_dir(global));
    if let Some(bytes) = global.stack.or(file.stack) {
        builder = builder.max_wasm_stack(usize_of(bytes));
    }
    Ok(builder.build()?)
}

pub(crate) fn policy(global: &Global) -> Result<Policy, Exit> {
    let file = policy_file(global)?;
    let mut policy = Policy::default();
    if let Some(fuel) = global.fuel.or(file.fuel) {
        policy = policy.fuel(fuel);
    }
    if let Some(bytes) = global.memory.or(file.memory) {
        policy = policy.memory_bytes(bytes);
    }
    if let Some(timeout) = global.timeout.or(file.timeout) {
        policy = policy.timeout(timeout);
    }
    if let Some(bytes) = global.max_output.or(file.max_output) {
        policy = policy.max_output_bytes(usize_of(bytes));
    }
    if let Some(bytes) = global.log_bytes.or(file.log_bytes) {
        policy = policy.log_bytes(usize_of(bytes));
    }
    if let Some(n) = global.max_calls.or(file.max_calls) {
        policy = policy.max_calls(n);
    }
    if let Some(n) = global.max_map_items.or(file.max_map_items) {
        policy = policy.max_map_items(n);
    }
    if let Some(n) = global.max_pending.or(file.max_pending) {
        policy = policy.max_pending(n);
    }
    if let Some(n) = global.max_waits.or(file.max_waits) {
        policy = policy.max_waits(n);
    }
    if let Some(bytes) = global.max_held.or(file.max_held) {
        policy = policy.max_held_bytes(bytes);
    }
    if let Some(bytes) = global.max_message.or(file.max_message) {
        policy = policy.max_message_bytes(usize_of(bytes));
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

pub(crate) fn host(global: &Global, events: Option<EventSink>) -> Result<Host, Exit> {
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
