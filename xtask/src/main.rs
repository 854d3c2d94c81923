//! `cargo xtask <task>`: the project's two commands and their parts.
//!
//! - `demo`: builds the example guests and the CLI, runs the hello flow on
//!   the default journal (`.cairn/journal.redb`) and shows its checkpoints.
//! - `test`: fmt check, clippy with warnings denied, guests, every test.
//! - `build-guests`: builds every guest component for wasm32-wasip2.
//!
//! Each installs the `wasm32-wasip2` target with rustup when it is missing;
//! `test` installs Chromium and its driver with apt-get for the dashboard,
//! and PostgreSQL for the PostgreSQL journal, whose tests get a throwaway
//! server ([`postgres`]).

mod postgres;
mod python;
mod step_times;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const TARGET: &str = "wasm32-wasip2";
const GUEST_PROFILE: &str = "guest";
const GUEST_FOLDERS: [&str; 3] = ["examples", "tests/guests", "tests/zoo"];

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let started = std::time::Instant::now();
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "demo" => demo(),
        "test" => test(),
        "build-guests" => build_guests().map(|_| ()),
        "bench" => bench(),
        "python" => python::task(),
        "with-postgres" => with_postgres(std::env::args().skip(2).collect()),
        _ => Err(format!(
            "unknown task `{task}`\n\nusage: cargo xtask <task>\n  demo          build the examples and run the hello flow\n  test          fmt, clippy, guests and all tests\n  build-guests  build every guest component for {TARGET}\n  python        the Python SDK's virtualenv, unit tests and guest components\n  bench         measure Cairn beside bare wasmtime and redb (figures, then divan micro-benchmarks); writes target/bench.json\n  with-postgres CMD...  run CMD with a throwaway PostgreSQL, its URL in {}",
            postgres::URL_VAR
        )),
    };
    // Last, so that the end of a CI log (all it keeps) says where the time
    // went.
    step_times::print(started);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `command` with a throwaway PostgreSQL server's URL in
/// [`postgres::URL_VAR`] (say, one test binary: `cargo xtask with-postgres
/// cargo test -p cairn-tests --test integration -- journal`).
fn with_postgres(command: Vec<String>) -> Result {
    let (program, args) = command
        .split_first()
        .ok_or("usage: cargo xtask with-postgres CMD [ARGS...]")?;
    let server = postgres::Server::start()?;
    run(Command::new(program)
        .args(args)
        .env(postgres::URL_VAR, server.url()))
}

fn demo() -> Result {
    let guests = build_guests()?;
    cargo(&["build", "--quiet", "-p", "cairn-cli"])?;
    let cairn = target_dir().join("debug/cairn");
    let hello = guests.join("hello.wasm");
    eprintln!(
        "\n$ cairn run {} --input '{{\"name\": \"world\"}}'",
        relative(&hello)
    );
    run(Command::new(&cairn)
        .args(["run"])
        .arg(&hello)
        .args(["--input", r#"{"name": "world"}"#]))?;
    let list = Command::new(&cairn)
        .args(["executions", "list", "--json"])
        .output()
        .map_err(|e| format!("cannot run cairn: {e}"))?;
    let executions: serde_json::Value = serde_json::from_slice(&list.stdout)
        .map_err(|e| format!("cairn executions list --json: {e}"))?;
    let last = executions
        .as_array()
        .and_then(|all| all.last())
        .and_then(|e| e["id"].as_u64())
        .ok_or("the journal has no execution")?;
    eprintln!("\n$ cairn executions show {last}");
    run(Command::new(&cairn).args(["executions", "show", &last.to_string()]))?;
    eprintln!(
        "\nThe journal is .cairn/journal.redb; run the demo again and the execution ids go on."
    );
    Ok(())
}

fn bench() -> Result {
    build_guests()?;
    python::build_guests(&python::ensure_venv()?)?;
    cargo(&[
        "build",
        "--quiet",
        "-p",
        "cairn-cli",
        "-p",
        "cairn-tests",
        "--bin",
        "cairn",
        "--bin",
        "cairn-figures",
    ])?;
    let json = target_dir().join("bench.json");
    // Figures 14 and 15 measure the PostgreSQL journal on a throwaway
    // server, stopped once the figures are done.
    let server = postgres::Server::start()?;
    run(Command::new(target_dir().join("debug/cairn-figures"))
        .arg("--json")
        .arg(&json)
        .env(postgres::URL_VAR, server.url()))?;
    drop(server);
    // The micro-benchmarks of the hot paths, in the same profile.
    cargo(&[
        "bench",
        "--profile",
        "dev",
        "-p",
        "cairn-tests",
        "--bench",
        "hot_paths",
    ])
}

fn test() -> Result {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    // The libraries' docs build without a warning (broken links, missing
    // docs); the doc tests run with the tests.
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("xtask: cargo doc --no-deps -p cairn-host -p cairn-guest (warnings denied)");
    run(Command::new(cargo_bin)
        .args(["doc", "--no-deps", "-p", "cairn-host", "-p", "cairn-guest"])
        .env("RUSTDOCFLAGS", "-D warnings")
        .current_dir(root()))?;
    build_guests()?;
    // The Python SDK: its unit tests, then the components its tests run.
    let python = python::ensure_venv()?;
    python::unit_tests(&python)?;
    python::build_guests(&python)?;
    // The examples' own native tests (`cairn_guest::testing`) run; the test
    // guests have none, so building them natively would only cost time.
    let guests = guest_crates()?;
    let examples = examples()?;
    let mut excluded = Vec::new();
    for guest in guests.iter().filter(|g| !examples.contains(g)) {
        excluded.extend(["--exclude", guest.as_str()]);
    }
    // The tests run the binaries (`cairn`, `cairn-embed`) as real
    // processes. They are built with the tests, in one build: the
    // workspace's tests turn on features of shared dependencies (serde_json,
    // clap, cairn-host's `bench`) that a build of the binaries alone would
    // not, and two feature sets would build wasmtime and everything above it
    // twice.
    let mut build = vec!["build", "--workspace", "--bins", "--tests"];
    build.extend(&excluded);
    cargo(&build)?;
    ensure_browser()?;
    let mut args = vec!["test", "--workspace", "--no-fail-fast"];
    args.extend(&excluded);
    // The PostgreSQL journal's tests run against a real, throwaway server,
    // stopped and removed when `server` drops, whether the tests passed.
    let server = postgres::Server::start()?;
    cargo_test(
        &args,
        &[
            (postgres::URL_VAR, server.url()),
            ("CAIRN_TEST_POSTGRES_REQUIRED", "1"),
        ],
    )
}

/// Runs `cargo test`, passing its output through, and ends with one line
/// that adds up every test binary's result.
fn cargo_test(args: &[&str], envs: &[(&str, &str)]) -> Result {
    use std::io::{BufRead, BufReader};
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("xtask: cargo {}", args.join(" "));
    let started = std::time::Instant::now();
    let mut child = Command::new(cargo)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start cargo test: {e}"))?;
    let (mut passed, mut failed) = (0, 0);
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::io::Result::ok)
        {
            println!("{line}");
            if let Some(result) = line.strip_prefix("test result: ") {
                passed += count(result, "passed");
                failed += count(result, "failed");
            }
        }
    }
    let status = child.wait().map_err(|e| format!("cargo test: {e}"))?;
    step_times::record("cargo test", started.elapsed());
    println!("summary: {passed} passed, {failed} failed");
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo test failed ({status})"))
    }
}

/// The number before `label` in a `test result: ok. 8 passed; 0 failed; ...`
/// line.
fn count(result: &str, label: &str) -> u64 {
    result
        .split(';')
        .filter_map(|part| part.trim().rsplit_once(' '))
        .find(|(_, word)| *word == label)
        .and_then(|(number, _)| number.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// Builds every guest crate (a cdylib under examples/ or tests/guests/) and
/// returns the folder holding the components.
fn build_guests() -> Result<PathBuf> {
    ensure_target()?;
    let mut args = vec![
        "build",
        "--quiet",
        "--profile",
        GUEST_PROFILE,
        "--target",
        TARGET,
    ];
    let names = guest_crates()?;
    for name in &names {
        args.extend(["-p", name.as_str()]);
    }
    cargo(&args)?;
    let dir = target_dir().join(TARGET).join(GUEST_PROFILE);
    eprintln!(
        "xtask: built {} guests into {}",
        names.len(),
        relative(&dir)
    );
    Ok(dir)
}

fn guest_crates() -> Result<Vec<String>> {
    let mut names = Vec::new();
    for folder in GUEST_FOLDERS {
        let entries =
            std::fs::read_dir(root().join(folder)).map_err(|e| format!("{folder}: {e}"))?;
        let mut found: Vec<String> = entries
            .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("Cargo.toml")).ok())
            .filter(|manifest| manifest.contains("\"cdylib\""))
            .filter_map(|manifest| package_name(&manifest))
            .collect();
        found.sort();
        names.extend(found);
    }
    Ok(names)
}

/// The guest crates under `examples/`.
fn examples() -> Result<Vec<String>> {
    let entries =
        std::fs::read_dir(root().join("examples")).map_err(|e| format!("examples: {e}"))?;
    Ok(entries
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("Cargo.toml")).ok())
        .filter(|manifest| manifest.contains("\"cdylib\""))
        .filter_map(|manifest| package_name(&manifest))
        .collect())
}

fn package_name(manifest: &str) -> Option<String> {
    manifest
        .lines()
        .find_map(|line| line.trim().strip_prefix("name = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .map(str::to_owned)
}

fn ensure_target() -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("cannot run rustup (needed to add the {TARGET} target): {e}"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == TARGET)
    {
        return Ok(());
    }
    eprintln!("xtask: installing the {TARGET} target");
    run(Command::new("rustup").args(["target", "add", TARGET]))
}

/// The dashboard's tests drive Debian's headless Chromium through
/// chromedriver; apt-get installs both when they are missing.
fn ensure_browser() -> Result {
    if ["/usr/bin/chromium", "/usr/bin/chromedriver"]
        .iter()
        .all(|p| Path::new(p).exists())
    {
        return Ok(());
    }
    eprintln!("xtask: installing chromium and chromium-driver (for the dashboard's browser tests)");
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get")
        .args([
            "install",
            "-y",
            "--no-install-recommends",
            "chromium",
            "chromium-driver",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn cargo(args: &[&str]) -> Result {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("xtask: cargo {}", args.join(" "));
    run(Command::new(cargo).args(args).current_dir(root()))
}

fn run(command: &mut Command) -> Result {
    let started = std::time::Instant::now();
    let status = command
        .status()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    step_times::record(&step_times::name(command), started.elapsed());
    if status.success() {
        Ok(())
    } else {
        Err(format!("{:?} failed ({status})", command.get_program()))
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}
