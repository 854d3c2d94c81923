//! Schedules through a real `cairn serve` and the real CLI: a schedule due
//! every second starts one execution per due time, a pause stops it, a
//! restart keeps it (paused or not), runs missed while no server ran follow
//! the schedule's catch-up policy, and hostile input gets a clear 4xx (and
//! exit code 2 from the CLI). On both journals.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use cairn_host::{Clock, ExecutionStatus, ScheduleView, SystemClock};
use cairn_serve::ApiClient;
use cairn_serve::api::{ComponentView, ExecutionPage};
use cairn_tests::{on_backends, temp};
use serde_json::{Value, json};

use crate::guests;
use crate::serve::Served;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn probe() -> String {
    guests::PROBE.path().to_str().expect("UTF-8").to_owned()
}

/// `cairn --server URL ARGS`.
fn through(served: &Served, cwd: &Path, args: &[&str]) -> Output {
    crate::serve_cli::bare(cwd)
        .args(["--server", served.url()])
        .args(args)
        .output()
        .expect("cairn starts")
}

/// `cairn --journal JOURNAL ARGS`, on the journal directly.
fn direct(journal: &Path, cwd: &Path, args: &[&str]) -> Output {
    cairn_tests::backend::cairn_on(journal)
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("cairn starts")
}

fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn schedule(served: &Served, cwd: &Path, name: &str) -> ScheduleView {
    let all: Vec<ScheduleView> =
        serde_json::from_str(&ok(&through(served, cwd, &["--json", "schedules", "list"])))
            .expect("JSON");
    all.into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("schedule {name} is listed"))
}

/// The executions of `flow`, newest first.
fn executions(runtime: &tokio::runtime::Runtime, client: &ApiClient, flow: &str) -> ExecutionPage {
    runtime
        .block_on(client.get(&format!("/executions?flow={flow}&limit=1000")))
        .expect("lists")
}

on_backends! {
    #[test]
    fn a_schedule_every_second_starts_runs_a_pause_stops_them_and_a_restart_keeps_it(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let served = Served::start_journal(&journal, dir.path(), &[]);
        let runtime = runtime();
        let cwd = dir.path();

        let out = through(&served, cwd, &[
            "--json", "schedules", "add", "tick", "--component", &probe(), "--flow", "sum",
            "--input", r#"{"a": 1, "b": 2}"#, "--cron", "* * * * * *",
        ]);
        let added: ScheduleView = serde_json::from_str(&ok(&out)).expect("JSON");
        assert_eq!((added.paused, added.runs, added.flow.as_str()), (false, 0, "sum"));

        // One run per second: wait for three.
        let client = served.client();
        let deadline = Instant::now() + Duration::from_secs(30);
        while schedule(&served, cwd, "tick").runs < 3 {
            assert!(Instant::now() < deadline, "three runs in 30 s: {}", served.log_text());
            std::thread::sleep(Duration::from_millis(200));
        }
        let out = through(&served, cwd, &["schedules", "pause", "tick"]);
        ok(&out);
        assert!(String::from_utf8_lossy(&out.stderr).contains("paused"), "{out:?}");
        let paused = schedule(&served, cwd, "tick");
        assert!(paused.paused);
        let page = executions(&runtime, &client, "sum");
        assert_eq!(
            page.executions.len() as u64,
            paused.runs,
            "one execution per run, none twice: {page:?}"
        );
        assert_eq!(
            page.executions.first().map(|e| e.id),
            paused.last_execution,
            "the last run is the newest execution"
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let page = executions(&runtime, &client, "sum");
            if page.executions.iter().all(|e| e.status == ExecutionStatus::Completed) {
                assert!(page.executions.iter().all(|e| e.output == Some(json!(5))), "{page:?}");
                break;
            }
            assert!(Instant::now() < deadline, "the runs complete: {page:?}");
            std::thread::sleep(Duration::from_millis(50));
        }

        // Paused: nothing starts, across a restart too.
        std::thread::sleep(Duration::from_millis(2500));
        assert_eq!(executions(&runtime, &client, "sum").executions.len() as u64, paused.runs);
        let (status, _) = served.stop("-TERM");
        assert!(status.success(), "{status:?}");
        let served = Served::start_journal(&journal, dir.path(), &[]);
        let client = served.client();
        let kept = schedule(&served, cwd, "tick");
        assert_eq!((kept.paused, kept.runs, kept.cron.as_str()), (true, paused.runs, "* * * * * *"));
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(executions(&runtime, &client, "sum").executions.len() as u64, paused.runs);

        // Resumed: runs again; deleted: stops, its executions stay.
        ok(&through(&served, cwd, &["schedules", "resume", "tick"]));
        let deadline = Instant::now() + Duration::from_secs(30);
        while schedule(&served, cwd, "tick").runs < paused.runs + 2 {
            assert!(Instant::now() < deadline, "runs again after resume: {}", served.log_text());
            std::thread::sleep(Duration::from_millis(200));
        }
        ok(&through(&served, cwd, &["schedules", "delete", "tick"]));
        let left = executions(&runtime, &client, "sum").executions.len();
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(executions(&runtime, &client, "sum").executions.len(), left);
        let listed: Vec<ScheduleView> =
            serde_json::from_str(&ok(&through(&served, cwd, &["--json", "schedules", "list"]))).expect("JSON");
        assert!(listed.is_empty(), "{listed:?}");
    }

    #[test]
    fn runs_missed_while_no_server_ran_are_skipped_or_run_once(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let cwd = dir.path();
        // The journal exists before the schedules are added to it directly.
        let (status, _) = Served::start_journal(&journal, dir.path(), &[]).stop("-TERM");
        assert!(status.success(), "{status:?}");
        // Due once a minute, at a second a few seconds from now: added
        // directly on the journal while no server runs, it is missed. The
        // due time each add planned is read back: if an add came after that
        // second (a slow machine), the schedule is due next minute, so both
        // are deleted and added again with more lead.
        let mut planned_us = 0;
        for lead_s in [4, 15, 40] {
            let now_s = SystemClock.now_us() / 1_000_000;
            planned_us = (now_s + lead_s) * 1_000_000;
            let cron = format!("{} * * * * *", (now_s + lead_s) % 60);
            for (name, catch_up) in [("skipper", "skip"), ("catcher", "once")] {
                let out = direct(&journal, cwd, &[
                    "schedules", "add", name, "--component", &probe(), "--flow", "sum",
                    "--input", r#"{"a": 2, "b": 3}"#, "--cron", &cron, "--catch-up", catch_up,
                ]);
                ok(&out);
                assert!(
                    String::from_utf8_lossy(&out.stderr).contains("while `cairn serve` runs"),
                    "{out:?}"
                );
            }
            let added: Vec<ScheduleView> =
                serde_json::from_str(&ok(&direct(&journal, cwd, &["--json", "schedules", "list"])))
                    .expect("JSON");
            assert_eq!(added.len(), 2, "{added:?}");
            if added.iter().all(|s| s.next_due_us == planned_us) {
                break;
            }
            assert!(lead_s < 40, "due at the planned second: {added:?}");
            for name in ["skipper", "catcher"] {
                ok(&direct(&journal, cwd, &["schedules", "delete", name]));
            }
        }
        // More than `LATE_AFTER_US` late when the server starts: missed.
        // The wait is measured from the due time, on the same clock.
        let start_at = planned_us + cairn_host::LATE_AFTER_US + 1_000_000;
        std::thread::sleep(Duration::from_micros(start_at.saturating_sub(SystemClock.now_us())));

        let served = Served::start_journal(&journal, dir.path(), &[]);
        let deadline = Instant::now() + Duration::from_secs(60);
        let (skipper, catcher) = loop {
            let (skipper, catcher) = (schedule(&served, cwd, "skipper"), schedule(&served, cwd, "catcher"));
            if skipper.skipped >= 1 && catcher.runs >= 1 {
                break (skipper, catcher);
            }
            assert!(Instant::now() < deadline, "{skipper:?} {catcher:?}: {}", served.log_text());
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!((skipper.runs, skipper.skipped), (0, 1), "{skipper:?}");
        assert_eq!((catcher.runs, catcher.skipped), (1, 0), "{catcher:?}");
        for s in [&skipper, &catcher] {
            assert_eq!(
                s.next_due_us,
                planned_us + 60_000_000,
                "the next run is next minute's: {s:?}"
            );
        }
        let runtime = runtime();
        let page = executions(&runtime, &served.client(), "sum");
        assert_eq!(page.executions.len(), 1, "one catch-up run: {page:?}");
        assert_eq!(Some(page.executions[0].id), catcher.last_execution);
    }

    #[test]
    fn hostile_schedules_are_refused_with_a_clear_4xx(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let served = Served::start_journal(&journal, dir.path(), &[]);
        let runtime = runtime();
        let client = served.client();
        let bytes = std::fs::read(guests::PROBE.path()).expect("the guest");
        let view: ComponentView = runtime
            .block_on(client.post_bytes("/components", bytes))
            .expect("uploads");
        let hash = view.hash;
        let add = |body: Value| -> (u16, String, String) {
            match runtime.block_on(client.post::<_, Value>("/schedules", &body)) {
                Ok(answer) => (200, String::new(), answer.to_string()),
                Err(cairn_serve::ClientError::Api { status, body }) => {
                    (status.as_u16(), body.error, body.message)
                }
                Err(other) => panic!("an answer: {other:?}"),
            }
        };
        let good = json!({"name": "s", "component": hash, "flow": "sum",
            "input": {"a": 1, "b": 2}, "cron": "0 0 * * *"});
        let with = |key: &str, value: Value| {
            let mut body = good.clone();
            body[key] = value;
            body
        };
        let cases = [
            (with("cron", json!("every day")), 400, "bad_cron", "bad cron expression"),
            (with("cron", json!("61 * * * *")), 400, "bad_cron", "bad cron expression"),
            (with("cron", json!("0 0 30 2 *")), 400, "bad_cron", "bad cron expression"),
            (with("cron", json!("* ".repeat(400))), 400, "bad_cron", "at most 256"),
            (with("flow", json!("nope")), 400, "unknown_flow", "unknown flow `nope`"),
            (with("input", json!({"a": "one", "b": 2})), 400, "bad_input", "parameter `a`"),
            (with("input", json!([1, 2])), 400, "bad_input", "bad input for flow `sum`"),
            (with("name", json!("")), 400, "bad_input", "empty name"),
            (with("name", json!("a\u{1b}[31mred")), 400, "bad_input", "bad schedule name"),
            (with("catch_up", json!("sometimes")), 400, "bad_json", "sometimes"),
            (with("component", json!("0".repeat(64))), 404, "not_found", "upload it first"),
            (with("component", json!("zz")), 400, "", ""),
        ];
        for (body, status, kind, words) in cases {
            let (got, got_kind, message) = add(body.clone());
            assert_eq!(got, status, "{body}: {got_kind} {message}");
            if !kind.is_empty() {
                assert_eq!(got_kind, kind, "{body}: {message}");
                assert!(message.contains(words), "{body}: {message}");
            }
            assert!(!message.contains('\u{1b}'), "escaped: {message}");
        }
        assert_eq!(add(good.clone()).0, 200);
        let (status, kind, message) = add(good);
        assert_eq!((status, kind.as_str()), (409, "exists"), "{message}");
        for path in ["/schedules/nope/pause", "/schedules/nope/resume", "/schedules/nope/delete"] {
            match runtime.block_on(client.post::<_, Value>(path, &json!({}))) {
                Err(cairn_serve::ClientError::Api { status, body }) => {
                    assert_eq!(status.as_u16(), 404, "{path}: {body:?}");
                    assert!(body.message.contains("no schedule `nope`"), "{body:?}");
                }
                other => panic!("{path} is refused: {other:?}"),
            }
        }

        // The CLI: a clear message and exit code 2.
        let out = through(&served, dir.path(), &[
            "schedules", "add", "t", "--component", &probe(), "--flow", "sum",
            "--cron", "every day",
        ]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("bad cron expression"), "{out:?}");
        let out = through(&served, dir.path(), &[
            "schedules", "add", "t", "--component", &probe(), "--flow", "sum",
            "--cron", "* * * * *", "--catch-up", "sometimes",
        ]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
    }
}
