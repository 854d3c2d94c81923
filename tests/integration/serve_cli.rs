//! The `cairn` CLI as a client of a real `cairn serve` (`--server URL`):
//! every command through the API, the same output and exit codes as on the
//! journal file, suggested commands that paste back through the server,
//! Ctrl-C that detaches while the execution goes on, and the messages when
//! the server cannot be reached or holds the journal a direct command wants.

use std::path::Path;
use std::process::{Command, Output};

use cairn_host::{ExecutionDetail, ExecutionId, ExecutionStatus};
use cairn_tests::{cairn, cairn_bin, guest, temp};

use crate::guests;
use crate::serve::Served;

/// `cairn` with no journal, server or token from the environment, in `cwd`.
pub(crate) fn bare(cwd: &Path) -> Command {
    let mut command = Command::new(cairn_bin());
    command
        .current_dir(cwd)
        .env("CAIRN_ARTIFACTS", cairn_tests::artifact_dir())
        .env_remove("CAIRN_JOURNAL")
        .env_remove("CAIRN_SERVER")
        .env_remove("CAIRN_TOKEN")
        .env_remove("CAIRN_TOKEN_FILE");
    command
}

/// `cairn --server URL ARGS` from a folder that holds no journal.
fn through(served: &Served, cwd: &Path, args: &[&str]) -> Output {
    bare(cwd)
        .args(["--server", served.url()])
        .args(args)
        .output()
        .expect("cairn starts")
}

/// `cairn --journal DIR/journal.redb ARGS`.
fn direct(dir: &Path, args: &[&str]) -> Output {
    cairn(dir).args(args).output().expect("cairn starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

/// Progress with the one thing two runs cannot share, how long each call
/// took, taken out.
fn without_durations(stderr: &str) -> String {
    stderr
        .lines()
        .map(|line| match line.find(" seq ") {
            Some(at) if line.trim_start().starts_with('✓') => {
                let rest = &line[at + 5..];
                let seq = rest.split_whitespace().next().unwrap_or_default();
                format!("{} seq {seq} <took>", &line[..at])
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The command after `label` on a line of `stderr`.
fn hint(stderr: &str, label: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` line in {stderr}"))
        .trim()
        .to_owned()
}

/// Runs a suggested command line as a shell would, with this build's
/// `cairn` first on the PATH.
fn paste(cwd: &Path, line: &str) -> Output {
    let bin = cairn_bin();
    let bin_dir = bin.parent().expect("a folder").to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("a PATH");
    let mut shell = Command::new("sh");
    shell.arg("-c").arg(line).env("PATH", path);
    for (key, value) in bare(cwd).get_envs() {
        match value {
            Some(value) => shell.env(key, value),
            None => shell.env_remove(key),
        };
    }
    shell.current_dir(cwd).output().expect("sh starts")
}

/// Polls the server until execution `id` is no longer running.
fn settled(served: &Served, id: u64) -> ExecutionDetail {
    let client = served.client();
    cairn_tests::block_on(crate::serve::settled(&client, ExecutionId(id)))
}

#[test]
fn run_list_show_and_logs_print_what_they_print_on_the_journal() {
    let (local, remote, cwd) = (temp(), temp(), temp());
    let hello = guest(guests::HELLO);
    let hello = hello.to_str().expect("utf8");
    let probe = guest(guests::PROBE);
    let probe = probe.to_str().expect("utf8");
    let runs: [&[&str]; 4] = [
        &["run", hello, "--input", r#"{"name":"Ada"}"#],
        &[
            "--raw",
            "run",
            probe,
            "--flow",
            "logged",
            "--input",
            r#"{"text":"hi"}"#,
        ],
        &[
            "run",
            probe,
            "--flow",
            "sum",
            "--input",
            r#"{"a":1,"b":"x"}"#,
        ],
        &[
            "--json",
            "run",
            probe,
            "--flow",
            "sum",
            "--input",
            r#"{"a":1,"b":2}"#,
        ],
    ];
    let served = Served::start(remote.path(), &[]);
    for args in runs {
        let on_journal = direct(local.path(), args);
        let on_server = through(&served, cwd.path(), args);
        assert_eq!(code(&on_server), code(&on_journal), "{args:?}");
        assert_eq!(
            without_durations(&text(&on_server.stderr)),
            without_durations(&text(&on_journal.stderr)),
            "{args:?}"
        );
        if !args.contains(&"--json") {
            assert_eq!(
                text(&on_server.stdout),
                text(&on_journal.stdout),
                "{args:?}"
            );
        }
    }
    // The uploaded component is not sent again: the server has it by hash.
    let again = through(&served, cwd.path(), runs[0]);
    assert_eq!(code(&again), 0, "{}", text(&again.stderr));
    assert!(
        !cwd.path().join(".cairn").exists(),
        "a client creates no journal"
    );

    // On the same journal, read through the server and then directly once
    // the server is gone: the same bytes.
    let reads: [&[&str]; 9] = [
        &["executions", "list"],
        &["--json", "executions", "list"],
        &[
            "executions",
            "list",
            "--status",
            "completed",
            "--flow",
            "sum",
        ],
        &["executions", "show", "2"],
        &["--json", "executions", "show", "1"],
        &["executions", "show", "3"],
        &["executions", "logs", "2"],
        &["--json", "executions", "logs", "2", "--call", "1"],
        &["executions", "show", "99"],
    ];
    let through_server: Vec<Output> = reads
        .iter()
        .map(|args| through(&served, cwd.path(), args))
        .collect();
    let missing = text(&through_server[8].stderr);
    let (status, _) = served.stop("-TERM");
    assert!(status.success());
    for (args, on_server) in reads.iter().zip(through_server) {
        let on_journal = direct(remote.path(), args);
        assert_eq!(code(&on_server), code(&on_journal), "{args:?}");
        assert_eq!(
            text(&on_server.stdout),
            text(&on_journal.stdout),
            "{args:?}"
        );
        if code(&on_journal) == 0 {
            assert_eq!(
                text(&on_server.stderr),
                text(&on_journal.stderr),
                "{args:?}"
            );
        }
    }
    assert!(
        missing.contains("error: no execution 99 on the server at http://127.0.0.1:"),
        "{missing}"
    );
}

#[test]
fn waits_failures_replays_and_cancels_go_through_the_server_and_paste_back() {
    let (dir, cwd) = (temp(), temp());
    let served = Served::start(dir.path(), &[]);
    let url = served.url().to_owned();
    let probe = guest(guests::PROBE);
    let probe = probe.to_str().expect("utf8");

    // A wait: the hints name the server, and pasted they go through it.
    let asked = through(
        &served,
        cwd.path(),
        &[
            "run",
            probe,
            "--flow",
            "ask",
            "--input",
            r#"{"question":"how many?"}"#,
        ],
    );
    assert_eq!(code(&asked), 3, "{}", text(&asked.stderr));
    let stderr = text(&asked.stderr);
    assert!(
        stderr.contains("cairn: execution 1 is waiting for `number`: how many?"),
        "{stderr}"
    );
    let answer = hint(&stderr, "answer:");
    let then = hint(&stderr, "then:");
    assert_eq!(
        answer,
        format!("cairn --server {url} executions input 1 --wait number --value '<JSON>'")
    );
    assert_eq!(then, format!("cairn --server {url} executions resume 1"));
    let stored = paste(cwd.path(), &answer.replace("'<JSON>'", "21"));
    assert_eq!(code(&stored), 0, "{}", text(&stored.stderr));
    assert_eq!(
        text(&stored.stderr),
        format!(
            "cairn: stored the value of `number`; continue with: cairn --server {url} executions resume 1\n"
        )
    );
    let resumed = paste(cwd.path(), &then);
    assert_eq!(code(&resumed), 0, "{}", text(&resumed.stderr));
    assert_eq!(text(&resumed.stdout), "44\n", "(1 + 1) + (21 + 21)");
    assert!(
        text(&resumed.stderr).contains("cairn: execution 1 resumed"),
        "{}",
        text(&resumed.stderr)
    );

    // Answered already: refused, exit 2, as on a journal.
    let again = through(
        &served,
        cwd.path(),
        &[
            "executions",
            "input",
            "1",
            "--wait",
            "number",
            "--value",
            "5",
        ],
    );
    assert_eq!(code(&again), 2, "{}", text(&again.stderr));

    // `input --resume` in one step.
    let asked = through(
        &served,
        cwd.path(),
        &[
            "run",
            probe,
            "--flow",
            "ask",
            "--input",
            r#"{"question":"n?"}"#,
        ],
    );
    assert_eq!(code(&asked), 3, "{}", text(&asked.stderr));
    let answered = through(
        &served,
        cwd.path(),
        &[
            "executions",
            "input",
            "2",
            "--wait",
            "number",
            "--value",
            "4",
            "--resume",
        ],
    );
    assert_eq!(code(&answered), 0, "{}", text(&answered.stderr));
    assert_eq!(text(&answered.stdout), "10\n");
    let stderr = text(&answered.stderr);
    assert!(
        stderr.starts_with("cairn: stored the value of `number` for execution 2\n"),
        "{stderr}"
    );
    assert!(stderr.contains("cairn: execution 2 completed"), "{stderr}");

    // A replay keeps the source's answer.
    let replayed = through(&served, cwd.path(), &["executions", "replay", "1"]);
    assert_eq!(code(&replayed), 0, "{}", text(&replayed.stderr));
    assert_eq!(text(&replayed.stdout), "44\n");
    let stderr = text(&replayed.stderr);
    assert!(
        stderr.contains("cairn: execution 3 replays execution 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cairn: wait `number` keeps its answer from execution 1"),
        "{stderr}"
    );
    let changed = through(
        &served,
        cwd.path(),
        &["executions", "replay", "1", "--answer", "number=1"],
    );
    assert_eq!(code(&changed), 0, "{}", text(&changed.stderr));
    assert_eq!(text(&changed.stdout), "4\n", "(1 + 1) + (1 + 1)");

    // A failure: exit 1, and its resume hint goes through the server.
    let failed = through(&served, cwd.path(), &["run", probe, "--flow", "retrying"]);
    assert_eq!(code(&failed), 1, "{}", text(&failed.stderr));
    let resume = hint(&text(&failed.stderr), "resume:");
    assert_eq!(resume, format!("cairn --server {url} executions resume 5"));
    let out = paste(cwd.path(), &resume);
    assert_eq!(code(&out), 1, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cairn: execution 5 resumed"),
        "{}",
        text(&out.stderr)
    );

    // Cancel a waiting execution; cancelled is final.
    let asked = through(
        &served,
        cwd.path(),
        &[
            "run",
            probe,
            "--flow",
            "ask",
            "--input",
            r#"{"question":"?"}"#,
        ],
    );
    assert_eq!(code(&asked), 3);
    let cancelled = through(&served, cwd.path(), &["executions", "cancel", "6"]);
    assert_eq!(code(&cancelled), 0, "{}", text(&cancelled.stderr));
    assert_eq!(text(&cancelled.stderr), "cairn: execution 6 cancelled\n");
    for args in [
        &["executions", "cancel", "6"][..],
        &["executions", "resume", "6"],
        &["executions", "resume", "77"],
    ] {
        let refused = through(&served, cwd.path(), args);
        assert_eq!(code(&refused), 2, "{args:?}: {}", text(&refused.stderr));
        assert!(text(&refused.stderr).starts_with("error: "), "{args:?}");
    }

    // `inspect` reads the component here and the waits seen on the server.
    let inspected = through(&served, cwd.path(), &["--json", "inspect", probe]);
    assert_eq!(code(&inspected), 0, "{}", text(&inspected.stderr));
    let json: serde_json::Value = serde_json::from_slice(&inspected.stdout).expect("json");
    let flows = json["flows"].as_array().expect("flows");
    let ask = flows.iter().find(|f| f["name"] == "ask").expect("ask");
    assert_eq!(ask["waits"], serde_json::json!(["number"]), "{ask}");
    let sum = flows.iter().find(|f| f["name"] == "sum").expect("sum");
    assert!(sum.get("waits").is_none(), "never run: {sum}");
    assert!(!cwd.path().join(".cairn").exists());
}

#[test]
fn policy_flags_and_serve_are_refused_with_server() {
    let (dir, cwd) = (temp(), temp());
    let served = Served::start(dir.path(), &[]);
    let hello = guest(guests::HELLO);
    let hello = hello.to_str().expect("utf8");
    let cases: [&[&str]; 5] = [
        &["run", hello, "--fuel", "1000"],
        &["run", hello, "--allow-dir", "/"],
        &["executions", "resume", "1", "--allow-env", "HOME"],
        &["executions", "replay", "1", "--timeout", "1s"],
        &[
            "executions",
            "input",
            "1",
            "--wait",
            "w",
            "--value",
            "1",
            "--resume",
            "--max-calls",
            "3",
        ],
    ];
    for args in cases {
        let out = through(&served, cwd.path(), args);
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("with --server the policy is the server's"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let listed = through(&served, cwd.path(), &["--json", "executions", "list"]);
    assert_eq!(text(&listed.stdout).trim(), "[]", "nothing ran");
    let serve = through(&served, cwd.path(), &["serve"]);
    assert_eq!(code(&serve), 2, "{}", text(&serve.stderr));
}

#[test]
fn an_unreachable_server_a_bad_url_and_a_missing_token_are_clear() {
    let cwd = temp();
    // A port nobody listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = bare(cwd.path())
        .args(["--server", &url, "executions", "list"])
        .output()
        .expect("cairn starts");
    assert_eq!(code(&out), 4, "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!("error: cannot reach the server at {url}: ")),
        "{stderr}"
    );
    assert!(
        stderr.contains("is `cairn serve` running there?"),
        "{stderr}"
    );
    // The same through the environment, for `run`.
    let hello = guest(guests::HELLO);
    let out = bare(cwd.path())
        .env("CAIRN_SERVER", &url)
        .arg("run")
        .arg(&hello)
        .output()
        .expect("cairn starts");
    assert_eq!(code(&out), 4, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot reach the server"));

    for bad in ["https://127.0.0.1:1", "127.0.0.1:7080", "http://h:1/api"] {
        let out = bare(cwd.path())
            .args(["--server", bad, "executions", "list"])
            .output()
            .expect("cairn starts");
        assert_eq!(code(&out), 2, "{bad}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("is not a server URL"),
            "{bad}: {}",
            text(&out.stderr)
        );
    }

    // Beyond loopback the server needs its token.
    let dir = temp();
    let served = Served::start_on(dir.path(), "0.0.0.0:0", &[]);
    let port = served.url().rsplit(':').next().expect("a port").to_owned();
    let url = format!("http://127.0.0.1:{port}");
    let anonymous = bare(cwd.path())
        .args(["--server", &url, "executions", "list"])
        .output()
        .expect("cairn starts");
    assert_eq!(code(&anonymous), 2, "{}", text(&anonymous.stderr));
    assert!(
        text(&anonymous.stderr).contains("--token-file or CAIRN_TOKEN"),
        "{}",
        text(&anonymous.stderr)
    );
    let token_file = dir.path().join("journal.redb.token");
    let with_file = bare(cwd.path())
        .args(["--server", &url, "--token-file"])
        .arg(&token_file)
        .args(["executions", "list"])
        .output()
        .expect("cairn starts");
    assert_eq!(code(&with_file), 0, "{}", text(&with_file.stderr));
    let token = std::fs::read_to_string(&token_file).expect("the token");
    let with_env = bare(cwd.path())
        .env("CAIRN_SERVER", &url)
        .env("CAIRN_TOKEN", token.trim())
        .args(["executions", "list"])
        .output()
        .expect("cairn starts");
    assert_eq!(code(&with_env), 0, "{}", text(&with_env.stderr));
}

#[test]
fn a_direct_command_on_a_journal_a_server_holds_names_the_server() {
    let dir = temp();
    let served = Served::start(dir.path(), &[]);
    let journal = dir.path().join("journal.redb");
    let pid = cairn_serve::ServerAddress::read(&journal)
        .expect("the server's address file")
        .pid;
    let out = direct(dir.path(), &["executions", "list"]);
    assert_eq!(code(&out), 4, "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: journal {} is in use by `cairn serve` at {url} (pid {pid}); go through it with --server {url} (or CAIRN_SERVER={url})\n",
            journal.display(),
            url = served.url()
        )
    );
    // `run` opens the journal to write: the same.
    let hello = guest(guests::HELLO);
    let out = cairn(dir.path())
        .arg("run")
        .arg(&hello)
        .output()
        .expect("cairn starts");
    assert_eq!(code(&out), 4, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("in use by `cairn serve` at {}", served.url())),
        "{}",
        text(&out.stderr)
    );
    let (status, _) = served.stop("-TERM");
    assert!(status.success());

    // A forged address file beside a journal another process holds is not
    // believed when its URL is not a plain http://HOST:PORT (terminal
    // escapes; user info that hides the host the token would go to), when
    // others may write it, or when its pid is dead.
    let forged = temp();
    let _holder = cairn_tests::host(forged.path(), Default::default());
    let address = cairn_serve::ServerAddress::path_for(&forged.path().join("journal.redb"));
    let alive = std::process::id();
    for url in [
        "http://x\u{1b}]0;pwned\u{7}",
        "http://127.0.0.1@evil.example:7080",
    ] {
        let evil = serde_json::json!({"url": url, "pid": alive});
        std::fs::write(&address, evil.to_string()).expect("writes");
        let out = direct(forged.path(), &["executions", "list"]);
        assert_eq!(code(&out), 4);
        let stderr = text(&out.stderr);
        assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
        assert!(
            !stderr.contains("evil") && !stderr.contains("pwned"),
            "{stderr}"
        );
        assert!(stderr.contains("is in use by another process"), "{stderr}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let plain = serde_json::json!({"url": "http://127.0.0.1:7", "pid": alive});
        std::fs::write(&address, plain.to_string()).expect("writes");
        let out = direct(forged.path(), &["executions", "list"]);
        assert!(text(&out.stderr).contains("in use by `cairn serve` at http://127.0.0.1:7"));
        std::fs::set_permissions(&address, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let out = direct(forged.path(), &["executions", "list"]);
        assert!(text(&out.stderr).contains("is in use by another process"));
        std::fs::remove_file(&address).expect("removed");
    }
    let dead = serde_json::json!({"url": "http://127.0.0.1:1", "pid": u32::MAX - 1});
    std::fs::write(&address, dead.to_string()).expect("writes");
    let out = direct(forged.path(), &["executions", "list"]);
    assert_eq!(code(&out), 4);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("is in use by another process"), "{stderr}");
    assert!(!stderr.contains("cairn serve"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_detaches_from_a_run_and_the_server_finishes_it() {
    let (dir, cwd) = (temp(), temp());
    let marks = cairn_tests::marks(dir.path());
    let grant = format!("{}:/marks", marks.display());
    let served = Served::start(dir.path(), &["--allow-dir", grant.as_str()]);
    let probe = guest(guests::PROBE);
    let mut command = bare(cwd.path());
    command
        .args(["--server", served.url(), "run", "--flow", "held", "--input"])
        .arg(r#"{"flag": "release"}"#)
        .arg(&probe);
    // The flow holds its second call until `marks/release` exists, so the
    // run is surely going on when the signal lands.
    let (out, stderr) = cairn_tests::signal_when(command, "✓ step ", "-INT");
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(out.stdout.is_empty());
    let url = served.url();
    assert!(
        stderr.contains(&format!(
            "cairn: detached by SIGINT: execution 1 goes on on the server at {url}\n"
        )),
        "{stderr}"
    );
    let show = hint(&stderr, "show:");
    assert_eq!(show, format!("cairn --server {url} executions show 1"));

    // Released, the server runs it to its end, each step once.
    std::fs::write(marks.join("release"), b"").expect("releases the hold");
    let detail = settled(&served, 1);
    assert_eq!(detail.execution.status, ExecutionStatus::Completed);
    assert_eq!(detail.execution.output, Some(serde_json::json!(5)));
    for step in ["step-0", "held", "step-2"] {
        assert_eq!(cairn_tests::count_marks(&marks, step), 1, "{step}");
    }
    let shown = paste(cwd.path(), &show);
    assert_eq!(code(&shown), 0, "{}", text(&shown.stderr));
    assert!(
        text(&shown.stdout).starts_with("execution 1  flow held  completed"),
        "{}",
        text(&shown.stdout)
    );
}
