//! The command line, as clap sees it.

use std::path::PathBuf;
use std::time::Duration;

use cairn_host::{ExecutionId, ExecutionStatus};
use clap::{Args, Parser, Subcommand};

use crate::limits;

/// `--journal` when neither the flag nor `CAIRN_JOURNAL` is given.
pub(crate) const DEFAULT_JOURNAL: &str = ".cairn/journal.redb";

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "Run durable flows of sandboxed WebAssembly checkpoints"
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Args)]
pub(crate) struct Global {
    /// The journal file.
    #[arg(
        long,
        global = true,
        env = "CAIRN_JOURNAL",
        default_value = DEFAULT_JOURNAL
    )]
    pub journal: PathBuf,
    /// Where compiled components are cached [default: beside the journal, in artifacts/].
    #[arg(long, global = true, env = "CAIRN_ARTIFACTS", value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print a flow output that is a JSON string as its text (unquoted,
    /// escapes decoded; control characters still shown escaped); any other
    /// output as JSON.
    #[arg(long, global = true, conflicts_with = "json")]
    pub raw: bool,
    /// Fuel per checkpoint attempt (about one unit per WebAssembly instruction; at least 1).
    #[arg(long, global = true, value_name = "N", value_parser = limits::fuel_text)]
    pub fuel: Option<u64>,
    /// Memory per checkpoint store, e.g. 64MiB (64KiB to 1GiB).
    #[arg(long, global = true, value_name = "SIZE", value_parser = limits::memory)]
    pub memory: Option<u64>,
    /// Wall-clock time per checkpoint attempt, e.g. 500ms, 30s, 2m (1ms to 24h).
    #[arg(long, global = true, value_name = "DURATION", value_parser = limits::timeout)]
    pub timeout: Option<Duration>,
    /// Let checkpoints send HTTP requests to HOST (any port) or HOST:PORT.
    #[arg(long = "allow-http", global = true, value_name = "HOST[:PORT]")]
    pub allow_http: Vec<String>,
    /// Pass a host environment variable through to checkpoints, by name.
    #[arg(long = "allow-env", global = true, value_name = "NAME")]
    pub allow_env: Vec<String>,
    /// The largest output a checkpoint may return, e.g. 1MiB (1B to 1GiB).
    #[arg(long, global = true, value_name = "SIZE", value_parser = limits::max_output)]
    pub max_output: Option<u64>,
    /// The most checkpoint calls (and clock readings) one execution may make (default 100000).
    #[arg(long, global = true, value_name = "N", value_parser = limits::count)]
    pub max_calls: Option<u32>,
    /// The most items one map may submit (default 10000).
    #[arg(long, global = true, value_name = "N", value_parser = limits::count)]
    pub max_map_items: Option<u32>,
    /// The most calls a flow may have running or unread at once (default 10000).
    #[arg(long, global = true, value_name = "N", value_parser = limits::count)]
    pub max_pending: Option<u32>,
    /// The most durable waits one execution may ask (default 100).
    #[arg(long, global = true, value_name = "N", value_parser = limits::count)]
    pub max_waits: Option<u32>,
    /// The most bytes of call inputs and outputs one execution may hold at once, e.g. 512MiB (default).
    #[arg(long, global = true, value_name = "SIZE", value_parser = limits::max_held)]
    pub max_held: Option<u64>,
    /// The longest error message or question a guest hands over, e.g. 64KiB (64B to 16MiB); longer ones are cut.
    #[arg(long, global = true, value_name = "SIZE", value_parser = limits::max_message)]
    pub max_message: Option<u64>,
    /// Captured stdout and stderr per attempt, each, e.g. 64KiB (at most 64MiB).
    #[arg(long, global = true, value_name = "SIZE", value_parser = limits::log_bytes)]
    pub log_bytes: Option<u64>,
    /// The most native stack WebAssembly may use, e.g. 512KiB (64KiB to 64MiB).
    #[arg(long, global = true, value_name = "SIZE", value_parser = limits::stack)]
    pub stack: Option<u64>,
    /// Read the policy from a TOML file (at most 1MiB); flags given as well override it.
    #[arg(long, global = true, value_name = "FILE.toml")]
    pub policy: Option<PathBuf>,
    /// Grant checkpoints a host folder: HOST[:GUEST][:ro] (GUEST defaults to HOST).
    #[arg(long = "allow-dir", global = true, value_name = "HOST[:GUEST][:ro]", value_parser = parse_dir)]
    pub allow_dirs: Vec<DirArg>,
    /// immediate: a completed call is fsynced before the flow sees it;
    /// eventual: faster, a crash may lose the calls of the last 200 ms (they run again on resume).
    #[arg(long, global = true, value_enum, default_value_t = DurabilityArg::Immediate)]
    pub durability: DurabilityArg,
}

impl Global {
    /// The journal to name in a command suggested to the operator: none when
    /// it is the default one.
    pub(crate) fn journal_to_suggest(&self) -> Option<&std::path::Path> {
        (self.journal != std::path::Path::new(DEFAULT_JOURNAL)).then_some(self.journal.as_path())
    }
}

/// `--durability`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DurabilityArg {
    Immediate,
    Eventual,
}

/// One `--allow-dir`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DirArg {
    pub host: PathBuf,
    pub guest: String,
    pub read_only: bool,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run a flow of a component as a new execution.
    Run(RunArgs),
    /// Show the flows and checkpoints of a component.
    Inspect(InspectArgs),
    /// List and show executions.
    Executions {
        #[command(subcommand)]
        command: ExecutionsCommand,
    },
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// The component (.wasm).
    pub component: PathBuf,
    /// The flow to run; may be left out when the component has one flow.
    #[arg(long)]
    pub flow: Option<String>,
    /// The input: a JSON object of the flow's named parameters.
    #[arg(long, conflicts_with = "input_file")]
    pub input: Option<String>,
    /// Read the input JSON from a file (at most 64MiB).
    #[arg(long, value_name = "FILE")]
    pub input_file: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct InspectArgs {
    /// The component (.wasm).
    pub component: PathBuf,
}

#[derive(Subcommand)]
pub(crate) enum ExecutionsCommand {
    /// List executions (without their calls).
    List(ListArgs),
    /// Show an execution with its calls and attempts.
    #[command(alias = "get")]
    Show(ShowArgs),
    /// Resume an execution: completed calls are reused, the rest run again.
    #[command(alias = "retry")]
    Resume(ShowArgs),
    /// Replay an execution as a new one, with changes.
    Replay(ReplayArgs),
    /// Supply the value a waiting execution asked for.
    Input(InputArgs),
    /// Cancel an execution, so that it cannot be resumed.
    Cancel(ShowArgs),
    /// Show the captured output of an execution's flow and calls.
    Logs(LogsArgs),
}

#[derive(Args)]
pub(crate) struct ReplayArgs {
    /// The source execution.
    pub id: ExecutionId,
    /// Run this call live (call id, checkpoint name, or seq); calls before it reuse outputs.
    #[arg(long, value_name = "SELECTOR")]
    pub from: Option<String>,
    /// Replace a call's output: SELECTOR=JSON (repeatable).
    #[arg(long = "override", value_name = "SELECTOR=JSON", value_parser = parse_override)]
    pub overrides: Vec<(String, String)>,
    /// A new flow input (JSON object); default: the source's.
    #[arg(long)]
    pub input: Option<String>,
    /// Replay with another version of the component.
    #[arg(long, value_name = "COMPONENT")]
    pub component: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct InputArgs {
    /// The waiting execution.
    pub id: ExecutionId,
    /// The wait's name.
    #[arg(long)]
    pub wait: String,
    /// The value (JSON), checked against the wait's schema.
    #[arg(long)]
    pub value: String,
}

#[derive(Args)]
pub(crate) struct LogsArgs {
    /// The execution.
    pub id: ExecutionId,
    /// Only this call (call id, checkpoint name, or seq).
    #[arg(long, value_name = "SELECTOR")]
    pub call: Option<String>,
}

#[derive(Args)]
pub(crate) struct ListArgs {
    /// Only executions with this status (running, waiting, completed, failed, cancelled).
    #[arg(long)]
    pub status: Option<ExecutionStatus>,
    /// Only executions of this flow.
    #[arg(long)]
    pub flow: Option<String>,
}

#[derive(Args)]
pub(crate) struct ShowArgs {
    /// The execution id.
    pub id: ExecutionId,
}

/// `SELECTOR=JSON`: the selector never holds `=`, so the first one splits.
fn parse_override(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((selector, json)) if !selector.trim().is_empty() => {
            Ok((selector.trim().to_owned(), json.to_owned()))
        }
        _ => Err(format!("`{text}` is not SELECTOR=JSON")),
    }
}

/// `HOST`, `HOST:GUEST`, `HOST:ro` or `HOST:GUEST:ro`.
fn parse_dir(text: &str) -> Result<DirArg, String> {
    let (rest, read_only) = match text.strip_suffix(":ro") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let (host, guest) = match rest.split_once(':') {
        Some((host, guest)) => (host, guest.to_owned()),
        None => (rest, rest.to_owned()),
    };
    if host.is_empty() || guest.is_empty() {
        return Err(format!("`{text}` is not HOST[:GUEST][:ro]"));
    }
    Ok(DirArg {
        host: PathBuf::from(host),
        guest,
        read_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirs() {
        assert_eq!(
            parse_dir("/tmp/data:/data:ro"),
            Ok(DirArg {
                host: "/tmp/data".into(),
                guest: "/data".to_owned(),
                read_only: true
            })
        );
        assert_eq!(
            parse_dir("/srv").map(|d| (d.guest, d.read_only)),
            Ok(("/srv".to_owned(), false))
        );
    }
}
