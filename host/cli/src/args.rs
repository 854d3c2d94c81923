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
    /// The journal file, or a PostgreSQL database (postgres://USER@HOST:PORT/DB) that
    /// several processes may share.
    #[arg(
        long,
        global = true,
        env = "CAIRN_JOURNAL",
        default_value = DEFAULT_JOURNAL
    )]
    pub journal: PathBuf,
    /// With a PostgreSQL journal: how long this process's claim of an execution lasts
    /// without a heartbeat, e.g. 10s; another process resumes the executions of one that
    /// died this long after its last heartbeat (300ms to 24h).
    #[arg(
        long,
        global = true,
        env = "CAIRN_LEASE",
        default_value = "10s",
        value_name = "DURATION",
        value_parser = limits::timeout
    )]
    pub lease: Duration,
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
    /// The bearer token file of `cairn serve`: the one it requires (made
    /// with mode 0600 when missing; needed beyond loopback, default
    /// `<journal>.token` there).
    #[arg(long, global = true, env = "CAIRN_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Go through the API of the `cairn serve` at URL (http://HOST:PORT)
    /// instead of opening a journal: `run` and `executions …` then use the
    /// server's journal and policy (policy flags are refused). The token is
    /// read from --token-file or CAIRN_TOKEN.
    #[arg(long, global = true, env = "CAIRN_SERVER", value_name = "URL")]
    pub server: Option<String>,
}

/// What the code a command runs may use: the sandbox policy of its
/// checkpoints, the limits of its flows, and how its journal is written.
/// Only the commands that run guest code take these (`run`, `executions
/// resume`, `executions replay`, `executions input --resume`); anywhere else
/// they would be silently ignored, so clap refuses them there.
#[derive(Args, Clone, Debug, Default, PartialEq)]
#[command(next_help_heading = "Policy (what the code may use)")]
pub(crate) struct PolicyArgs {
    /// Fuel per checkpoint attempt (about one unit per WebAssembly instruction; at least 1).
    #[arg(long, value_name = "N", value_parser = limits::fuel_text)]
    pub fuel: Option<u64>,
    /// Fuel for a flow's own code per run, checkpoint calls not counted (at least 1; default
    /// 20000000000); past it the execution fails as trapped (out_of_fuel).
    #[arg(long, value_name = "N", value_parser = limits::flow_fuel_text)]
    pub flow_fuel: Option<u64>,
    /// Memory per checkpoint store, e.g. 64MiB (64KiB to 1GiB).
    #[arg(long, value_name = "SIZE", value_parser = limits::memory)]
    pub memory: Option<u64>,
    /// Wall-clock time per checkpoint attempt, e.g. 500ms, 30s, 2m (1ms to 24h).
    #[arg(long, value_name = "DURATION", value_parser = limits::timeout)]
    pub timeout: Option<Duration>,
    /// The pause before a checkpoint's first retry, doubling for each further one, e.g. 5s
    /// (0 to 60s; default none). From 1s on, the execution parks until the retry is due.
    #[arg(long, value_name = "DURATION", value_parser = limits::retry_delay)]
    pub retry_delay: Option<Duration>,
    /// Let checkpoints send HTTP requests to HOST (any port) or HOST:PORT.
    #[arg(long = "allow-http", value_name = "HOST[:PORT]")]
    pub allow_http: Vec<String>,
    /// Pass a host environment variable through to checkpoints, by name.
    #[arg(long = "allow-env", value_name = "NAME")]
    pub allow_env: Vec<String>,
    /// The largest output a checkpoint may return, e.g. 1MiB (1B to 1GiB).
    #[arg(long, value_name = "SIZE", value_parser = limits::max_output)]
    pub max_output: Option<u64>,
    /// The most checkpoint calls (and clock readings) one execution may make (default 100000).
    #[arg(long, value_name = "N", value_parser = limits::count)]
    pub max_calls: Option<u32>,
    /// The most items one map may submit (default 10000).
    #[arg(long, value_name = "N", value_parser = limits::count)]
    pub max_map_items: Option<u32>,
    /// The most calls a flow may have running or unread at once (default 10000).
    #[arg(long, value_name = "N", value_parser = limits::count)]
    pub max_pending: Option<u32>,
    /// The most durable waits one execution may ask (default 100).
    #[arg(long, value_name = "N", value_parser = limits::count)]
    pub max_waits: Option<u32>,
    /// The most child flows one run of an execution and its children may start (default 1000).
    #[arg(long, value_name = "N", value_parser = limits::count)]
    pub max_children: Option<u32>,
    /// How deep child flows may nest below a root execution (default 4).
    #[arg(long, value_name = "N", value_parser = limits::count)]
    pub max_child_depth: Option<u32>,
    /// The most bytes of call inputs and outputs one execution may hold at once, e.g. 512MiB (default).
    #[arg(long, value_name = "SIZE", value_parser = limits::max_held)]
    pub max_held: Option<u64>,
    /// The longest error message or question a guest hands over, e.g. 64KiB (64B to 16MiB); longer ones are cut.
    #[arg(long, value_name = "SIZE", value_parser = limits::max_message)]
    pub max_message: Option<u64>,
    /// Captured stdout and stderr per attempt, each, e.g. 64KiB (at most 64MiB).
    #[arg(long, value_name = "SIZE", value_parser = limits::log_bytes)]
    pub log_bytes: Option<u64>,
    /// The most native stack WebAssembly may use, e.g. 512KiB (64KiB to 64MiB).
    #[arg(long, value_name = "SIZE", value_parser = limits::stack)]
    pub stack: Option<u64>,
    /// Read the policy from a TOML file (at most 1MiB); flags given as well override it.
    #[arg(long, value_name = "FILE.toml")]
    pub policy: Option<PathBuf>,
    /// Grant checkpoints a host folder: HOST[:GUEST][:ro] (GUEST defaults to HOST).
    #[arg(long = "allow-dir", value_name = "HOST[:GUEST][:ro]", value_parser = parse_dir)]
    pub allow_dirs: Vec<DirArg>,
    /// immediate (the default): a completed call is fsynced before the flow sees it;
    /// eventual: faster, a crash may lose the calls of the last 200 ms (they run again on resume).
    #[arg(long, value_enum, value_name = "MODE")]
    pub durability: Option<DurabilityArg>,
}

impl PolicyArgs {
    /// The flags as they would be typed again, in a command suggested to the
    /// operator (`cairn executions resume 7 --allow-dir …`): a resume runs
    /// under the policy it is given, not the one of the first run, so the
    /// suggestion carries the same one. Values come out in a form that
    /// parses back to the same value.
    pub(crate) fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        let mut push = |flag: &str, value: String| {
            args.push(format!("--{flag}"));
            args.push(value);
        };
        let sizes = [
            ("memory", self.memory),
            ("max-output", self.max_output),
            ("max-held", self.max_held),
            ("max-message", self.max_message),
            ("log-bytes", self.log_bytes),
            ("stack", self.stack),
        ];
        let counts = [
            ("max-calls", self.max_calls),
            ("max-map-items", self.max_map_items),
            ("max-pending", self.max_pending),
            ("max-waits", self.max_waits),
            ("max-children", self.max_children),
            ("max-child-depth", self.max_child_depth),
        ];
        if let Some(path) = &self.policy {
            push("policy", path.to_string_lossy().into_owned());
        }
        if let Some(fuel) = self.fuel {
            push("fuel", fuel.to_string());
        }
        if let Some(fuel) = self.flow_fuel {
            push("flow-fuel", fuel.to_string());
        }
        if let Some(timeout) = self.timeout {
            push("timeout", limits::duration_name(timeout));
        }
        if let Some(delay) = self.retry_delay {
            push("retry-delay", limits::duration_name(delay));
        }
        for (flag, bytes) in sizes {
            if let Some(bytes) = bytes {
                push(flag, limits::size_name(bytes));
            }
        }
        for (flag, n) in counts {
            if let Some(n) = n {
                push(flag, n.to_string());
            }
        }
        for name in &self.allow_env {
            push("allow-env", name.clone());
        }
        for host in &self.allow_http {
            push("allow-http", host.clone());
        }
        for dir in &self.allow_dirs {
            push("allow-dir", dir.to_arg());
        }
        if let Some(durability) = self.durability {
            let mode = match durability {
                DurabilityArg::Immediate => "immediate",
                DurabilityArg::Eventual => "eventual",
            };
            push("durability", mode.to_owned());
        }
        args
    }
}

impl Global {
    /// What a command suggested to the operator must say first to reach the
    /// same executions: `--server URL` (and the token file it was given)
    /// through a server, `--journal PATH` on a journal other than the
    /// default one, else nothing.
    pub(crate) fn place_to_suggest(&self) -> Vec<String> {
        let mut place = Vec::new();
        if let Some(url) = &self.server {
            place.extend(["--server".to_owned(), url.clone()]);
            if let Some(file) = &self.token_file {
                place.extend([
                    "--token-file".to_owned(),
                    file.to_string_lossy().into_owned(),
                ]);
            }
        } else if self.journal != std::path::Path::new(DEFAULT_JOURNAL) {
            place.extend([
                "--journal".to_owned(),
                self.journal.to_string_lossy().into_owned(),
            ]);
        }
        place
    }
}

/// `--durability`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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

impl DirArg {
    /// The grant as `--allow-dir` takes it.
    fn to_arg(&self) -> String {
        let host = self.host.to_string_lossy();
        let mut arg = host.clone().into_owned();
        if self.guest != host {
            arg.push(':');
            arg.push_str(&self.guest);
        }
        if self.read_only {
            arg.push_str(":ro");
        }
        arg
    }
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
    /// Run a long-lived service that owns the journal, runs executions
    /// concurrently and answers an HTTP JSON API under /api/v1.
    Serve(ServeArgs),
    /// The builds the journal keeps: remove those no execution refers to.
    Components {
        #[command(subcommand)]
        command: crate::components::ComponentsCommand,
    },
    /// The journal itself: make or update a PostgreSQL journal's tables.
    Journal {
        #[command(subcommand)]
        command: crate::journal::JournalCommand,
    },
    /// Check a new build of a component against the journal of its flows'
    /// executions, without running anything (exit 1 if any diverges or fails).
    Check(CheckArgs),
    /// Schedules that start executions on a cron expression (in `cairn serve`).
    Schedules {
        #[command(subcommand)]
        command: crate::schedules::ScheduleCommand,
    },
}

#[derive(Args)]
pub(crate) struct CheckArgs {
    /// The new build of the component (.wasm).
    pub component: PathBuf,
    /// Only the executions of this flow [default: every flow of the component].
    #[arg(long)]
    pub flow: Option<String>,
    /// Only executions with this status (repeatable) [default: all but cancelled].
    #[arg(long)]
    pub status: Vec<ExecutionStatus>,
    /// Only executions created since: seconds since the Unix epoch, or a duration ago (90m, 2h).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
}

#[derive(Args)]
pub(crate) struct UpgradeArgs {
    /// The execution to move.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub id: Option<ExecutionId>,
    /// The new build of its component (.wasm).
    #[arg(long, value_name = "COMPONENT")]
    pub component: PathBuf,
    /// Move every waiting or failed execution of --flow (and, with --server, running) that the build is compatible with.
    #[arg(long, requires = "flow")]
    pub all: bool,
    /// With --all: the flow whose executions to move.
    #[arg(long)]
    pub flow: Option<String>,
}

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Where to listen. Any address but loopback needs a bearer token (see --token-file).
    #[arg(long, default_value = cairn_serve::DEFAULT_LISTEN, value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// Flows running at once; more start requests wait for a slot [default: 8 per core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_executions: Option<u32>,
    /// How long running executions get to finish on SIGTERM or Ctrl-C, e.g. 10s
    /// (1ms to 24h); the rest are resumed by the next start.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = limits::timeout)]
    pub grace: Duration,
    #[command(flatten)]
    pub limits: crate::serve::LimitArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
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
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Args)]
pub(crate) struct InspectArgs {
    /// The component (.wasm).
    pub component: PathBuf,
    /// The most native stack WebAssembly may use while the component
    /// describes itself, e.g. 512KiB (64KiB to 64MiB). Its other code does not
    /// run here, so no other policy flag applies.
    #[arg(long, value_name = "SIZE", value_parser = limits::stack)]
    pub stack: Option<u64>,
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
    Resume(ResumeArgs),
    /// Replay an execution as a new one, with changes.
    Replay(ReplayArgs),
    /// Supply the value a waiting execution asked for.
    Input(InputArgs),
    /// Cancel an execution, so that it cannot be resumed.
    Cancel(ShowArgs),
    /// Show the captured output of an execution's flow and calls.
    Logs(LogsArgs),
    /// Move an execution to a new build of its component, if `cairn check` finds it compatible.
    Upgrade(UpgradeArgs),
    /// Remove ended executions older than an age, with their calls, attempts and cache entries.
    Prune(PruneArgs),
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
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Answer a wait: NAME=JSON (repeatable); by default a wait before the
    /// root keeps the source's answer and one after it is asked again.
    #[arg(long = "answer", value_name = "NAME=JSON", value_parser = |text: &str| {
        match text.split_once('=') {
            Some((name, json)) if !name.trim().is_empty() => {
                Ok((name.trim().to_owned(), json.to_owned()))
            }
            _ => Err(format!("`{text}` is not NAME=JSON")),
        }
    })]
    pub answers: Vec<(String, String)>,
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
    /// Then resume the execution, as `executions resume` does (same output
    /// and exit codes), under the policy flags below (only taken with it).
    #[arg(long)]
    pub resume: bool,
    // With --resume: the policy the resumed execution runs under; refused
    // without it (see `executions::input`).
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Args)]
pub(crate) struct ResumeArgs {
    /// The execution id.
    pub id: ExecutionId,
    #[command(flatten)]
    pub policy: PolicyArgs,
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
pub(crate) struct PruneArgs {
    /// Remove executions that ended longer ago than this: 45s, 90m, 12h, 30d, 2w (0: every ended one).
    #[arg(long, value_name = "AGE", value_parser = crate::prune::age)]
    pub older_than: std::time::Duration,
    /// Only executions with this status (repeatable): completed, failed or cancelled [default: all three].
    #[arg(long)]
    pub status: Vec<ExecutionStatus>,
    /// Count what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// At most this many executions per transaction [default: 64].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub step_executions: Option<u32>,
    /// At most this many calls per transaction, unless one execution holds more [default: 10000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub step_calls: Option<u64>,
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

    fn run_policy(args: &[&str]) -> PolicyArgs {
        let argv = ["cairn", "run", "x.wasm"].iter().chain(args);
        match Cli::try_parse_from(argv).map(|cli| cli.command) {
            Ok(Command::Run(run)) => run.policy,
            Ok(_) => panic!("not a run"),
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    #[test]
    fn policy_flags_are_suggested_as_they_parse_back() {
        let given = run_policy(&[
            "--fuel=1000",
            "--flow-fuel",
            "2000",
            "--memory",
            "65536",
            "--timeout",
            "1500ms",
            "--max-output",
            "1536",
            "--max-held",
            "2GiB",
            "--max-message",
            "64KiB",
            "--log-bytes",
            "0",
            "--stack",
            "1MiB",
            "--max-calls",
            "7",
            "--max-map-items",
            "8",
            "--max-pending",
            "9",
            "--max-waits",
            "10",
            "--policy",
            "p o.toml",
            "--allow-env",
            "A",
            "--allow-env",
            "B",
            "--allow-http",
            "example.com:8080",
            "--allow-dir",
            "/data",
            "--allow-dir",
            "/srv:/in:ro",
            "--durability",
            "eventual",
        ]);
        let suggested = given.to_args();
        let args: Vec<&str> = suggested.iter().map(String::as_str).collect();
        assert_eq!(run_policy(&args), given, "{suggested:?}");
        assert!(
            run_policy(&[]).to_args().is_empty(),
            "nothing given, nothing said"
        );
    }

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
