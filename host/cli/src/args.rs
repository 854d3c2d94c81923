//! The command line, as clap sees it.

use std::path::PathBuf;
use std::time::Duration;

use cairn_host::{ExecutionId, ExecutionStatus};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "Run durable flows of sandboxed WebAssembly checkpoints"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Args)]
pub struct Global {
    /// The journal file.
    #[arg(
        long,
        global = true,
        env = "CAIRN_JOURNAL",
        default_value = ".cairn/journal.redb"
    )]
    pub journal: PathBuf,
    /// Where compiled components are cached [default: beside the journal, in artifacts/].
    #[arg(long, global = true, env = "CAIRN_ARTIFACTS", value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Fuel per checkpoint attempt (about one unit per WebAssembly instruction).
    #[arg(long, global = true, value_name = "N")]
    pub fuel: Option<u64>,
    /// Memory per checkpoint store, e.g. 64MiB.
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,
    /// Wall-clock time per checkpoint attempt, e.g. 500ms, 30s, 2m.
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Let checkpoints send HTTP requests to HOST (any port) or HOST:PORT.
    #[arg(long = "allow-http", global = true, value_name = "HOST[:PORT]")]
    pub allow_http: Vec<String>,
    /// Pass a host environment variable through to checkpoints, by name.
    #[arg(long = "allow-env", global = true, value_name = "NAME")]
    pub allow_env: Vec<String>,
    /// The largest output a checkpoint may return, e.g. 1MiB.
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    pub max_output: Option<u64>,
    /// Captured stdout and stderr per attempt, each, e.g. 64KiB.
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    pub log_bytes: Option<u64>,
    /// The most native stack WebAssembly may use, e.g. 512KiB.
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    pub stack: Option<u64>,
    /// Read the policy from a TOML file; flags given as well override it.
    #[arg(long, global = true, value_name = "FILE.toml")]
    pub policy: Option<PathBuf>,
    /// Grant checkpoints a host folder: HOST[:GUEST][:ro] (GUEST defaults to HOST).
    #[arg(long = "allow-dir", global = true, value_name = "HOST[:GUEST][:ro]", value_parser = parse_dir)]
    pub allow_dirs: Vec<DirArg>,
    /// immediate: a completed call is fsynced before the flow sees it;
    /// eventual: faster, a crash may lose the last calls (they run again on resume).
    #[arg(long, global = true, value_enum, default_value_t = DurabilityArg::Immediate)]
    pub durability: DurabilityArg,
}

/// `--durability`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DurabilityArg {
    Immediate,
    Eventual,
}

/// One `--allow-dir`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirArg {
    pub host: PathBuf,
    pub guest: String,
    pub read_only: bool,
}

#[derive(Subcommand)]
pub enum Command {
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
pub struct RunArgs {
    /// The component (.wasm).
    pub component: PathBuf,
    /// The flow to run; may be left out when the component has one flow.
    #[arg(long)]
    pub flow: Option<String>,
    /// The input: a JSON object of the flow's named parameters.
    #[arg(long, conflicts_with = "input_file")]
    pub input: Option<String>,
    /// Read the input JSON from a file.
    #[arg(long, value_name = "FILE")]
    pub input_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct InspectArgs {
    /// The component (.wasm).
    pub component: PathBuf,
}

#[derive(Subcommand)]
pub enum ExecutionsCommand {
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
pub struct ReplayArgs {
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
pub struct InputArgs {
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
pub struct LogsArgs {
    /// The execution.
    pub id: ExecutionId,
    /// Only this call (call id, checkpoint name, or seq).
    #[arg(long, value_name = "SELECTOR")]
    pub call: Option<String>,
}

#[derive(Args)]
pub struct ListArgs {
    /// Only executions with this status (running, waiting, completed, failed, cancelled).
    #[arg(long)]
    pub status: Option<ExecutionStatus>,
    /// Only executions of this flow.
    #[arg(long)]
    pub flow: Option<String>,
}

#[derive(Args)]
pub struct ShowArgs {
    /// The execution id.
    pub id: ExecutionId,
}

/// `1024`, `64KiB`, `64MiB`, `1GiB` (also `KB`/`MB`/`GB` as powers of 1000).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 64MiB"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit `{other}`; use B, KiB, MiB or GiB"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
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

/// `250ms`, `30s`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30s"))?;
    Ok(match unit.trim() {
        "ms" => Duration::from_millis(number),
        "" | "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        "h" => Duration::from_secs(number.saturating_mul(3600)),
        other => {
            return Err(format!(
                "unknown duration unit `{other}`; use ms, s, m or h"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("12 parsecs").is_err());
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
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
