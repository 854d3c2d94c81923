//! How the CLI builds its engine, policy and host from its options: the
//! defaults, then the policy file (`--policy`), then the flags.

use std::path::PathBuf;

use cairn_host::{Durability, Engine, EventSink, Host, Policy};

use crate::args::{DurabilityArg, Global, PolicyArgs};
use crate::exit::Exit;
use crate::policy_file::PolicyFile;
use crate::terminal;

/// Compiled components are cached beside the journal unless told otherwise.
fn artifact_dir(global: &Global) -> PathBuf {
    if let Some(dir) = &global.artifacts {
        return dir.clone();
    }
    // A database has no folder: the default folder's cache serves.
    if crate::journal::is_url(&global.journal) {
        return PathBuf::from(".cairn/artifacts");
    }
    global
        .journal
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("artifacts"), |p| p.join("artifacts"))
}

fn policy_file(args: &PolicyArgs) -> Result<PolicyFile, Exit> {
    match &args.policy {
        Some(path) => PolicyFile::read(path).map_err(|e| Exit::bad_input(anyhow::anyhow!(e))),
        None => Ok(PolicyFile::default()),
    }
}

/// Commands about existing executions refuse a journal that is not there,
/// instead of creating an empty one.
pub(crate) fn existing_journal(global: &Global) -> Result<(), Exit> {
    // A database is checked when opened (read-only: it must hold a journal).
    if crate::journal::is_url(&global.journal) {
        return Ok(());
    }
    match global.journal.try_exists() {
        Ok(true) => Ok(()),
        Ok(false) => Err(Exit::bad_input(anyhow::anyhow!(
            "no journal at {} (only `cairn run` creates one)",
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

/// The engine, with `stack` as its most native stack for WebAssembly
/// (default: the engine's).
pub(crate) fn engine(global: &Global, stack: Option<u64>) -> Result<Engine, Exit> {
    let mut builder = Engine::builder().artifact_cache(artifact_dir(global));
    if let Some(bytes) = stack {
        builder = builder.max_wasm_stack(usize_of(bytes));
    }
    Ok(builder.build()?)
}

/// The policy of `args` over the one of its file.
fn policy(args: &PolicyArgs, file: PolicyFile) -> Policy {
    let mut policy = Policy::default();
    if let Some(fuel) = args.fuel.or(file.fuel) {
        policy = policy.fuel(fuel);
    }
    if let Some(fuel) = args.flow_fuel.or(file.flow_fuel) {
        policy = policy.flow_fuel(fuel);
    }
    if let Some(bytes) = args.memory.or(file.memory) {
        policy = policy.memory_bytes(bytes);
    }
    if let Some(timeout) = args.timeout.or(file.timeout) {
        policy = policy.timeout(timeout);
    }
    if let Some(delay) = args.retry_delay.or(file.retry_delay) {
        policy = policy.retry_delay(delay);
    }
    if let Some(bytes) = args.max_output.or(file.max_output) {
        policy = policy.max_output_bytes(usize_of(bytes));
    }
    if let Some(bytes) = args.log_bytes.or(file.log_bytes) {
        policy = policy.log_bytes(usize_of(bytes));
    }
    if let Some(n) = args.max_calls.or(file.max_calls) {
        policy = policy.max_calls(n);
    }
    if let Some(n) = args.max_map_items.or(file.max_map_items) {
        policy = policy.max_map_items(n);
    }
    if let Some(n) = args.max_pending.or(file.max_pending) {
        policy = policy.max_pending(n);
    }
    if let Some(n) = args.max_waits.or(file.max_waits) {
        policy = policy.max_waits(n);
    }
    if let Some(n) = args.max_children.or(file.max_children) {
        policy = policy.max_children(n);
    }
    if let Some(n) = args.max_child_depth.or(file.max_child_depth) {
        policy = policy.max_child_depth(n);
    }
    if let Some(bytes) = args.max_held.or(file.max_held) {
        policy = policy.max_held_bytes(bytes);
    }
    if let Some(bytes) = args.max_message.or(file.max_message) {
        policy = policy.max_message_bytes(usize_of(bytes));
    }
    for name in file.allow_env.iter().chain(&args.allow_env) {
        policy = policy.allow_env(name);
    }
    for host in file.allow_http.iter().chain(&args.allow_http) {
        policy = policy.allow_http(host);
    }
    for dir in file.allow_dir {
        let guest = dir.guest.unwrap_or_else(|| dir.host.display().to_string());
        policy = policy.allow_dir(dir.host, guest, dir.read_only);
    }
    for dir in &args.allow_dirs {
        policy = policy.allow_dir(&dir.host, &dir.guest, dir.read_only);
    }
    policy
}

/// A host on the journal of `global` (created if missing: callers about
/// existing executions check [`existing_journal`] first), running code under
/// the policy of `args`.
pub(crate) fn host(
    global: &Global,
    args: &PolicyArgs,
    events: Option<EventSink>,
) -> Result<Host, Exit> {
    let file = policy_file(args)?;
    let engine = engine(global, args.stack.or(file.stack))?;
    let durability = match args.durability.unwrap_or(DurabilityArg::Immediate) {
        DurabilityArg::Immediate => Durability::Immediate,
        DurabilityArg::Eventual => Durability::Eventual,
    };
    let mut builder = Host::builder()
        .journal(&global.journal)
        .lease(global.lease)
        .engine(engine)
        .policy(policy(args, file))
        .durability(durability);
    if let Some(events) = events {
        builder = builder.events(events);
    }
    Ok(builder.open()?)
}
