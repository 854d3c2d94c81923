//! Upgrading an execution a real `cairn serve` is running, through the
//! CLI (`cairn executions upgrade ID --component new.wasm --server URL`,
//! and `--all --flow F`): the execution pauses at its next request to the
//! runner (the step it is in finishes and is journaled), the new build is
//! checked against its journal, and it goes on with the new build, or with
//! its own when the check refuses, answering with the divergence. Never
//! cancelled, never failed, no step run twice.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cairn_host::{CallStatus, ExecutionDetail, ExecutionId, ExecutionStatus};
use cairn_serve::ApiClient;
use cairn_serve::api::{Accepted, ComponentView};
use cairn_tests::{on_backends, temp};
use serde_json::{Value, json};

use crate::guests;
use crate::serve::Served;

/// How many steps a march takes. Its steps are held behind a [`Gate`], so
/// an upgrade lands mid-run however long it takes: this many leaves room
/// for [`upgrade_paced`] to let dozens through while it waits.
pub(crate) const STEPS: i64 = 60;

/// How long [`upgrade_paced`] leaves a march at each step while the
/// upgrade is on its way.
const PACE: Duration = Duration::from_millis(500);

/// The files a march's steps wait for (see `upgrade_v1`'s `step`), in the
/// folder its server grants as `/marks`: the test lets its steps through.
pub(crate) struct Gate {
    folder: PathBuf,
    name: String,
    let_through: i64,
}

impl Gate {
    /// A gate named `name` (one per march) in `folder`; every step held.
    pub(crate) fn new(folder: &Path, name: &str) -> Gate {
        Gate {
            folder: folder.to_owned(),
            name: name.to_owned(),
            let_through: 0,
        }
    }

    /// Lets the steps before step `n` through.
    pub(crate) fn through(&mut self, n: i64) {
        for i in self.let_through..n {
            let file = self.folder.join(format!("{}-{i}", self.name));
            std::fs::write(file, b"").expect("a gate file");
        }
        self.let_through = self.let_through.max(n);
    }

    /// How many steps are let through.
    pub(crate) fn let_through(&self) -> i64 {
        self.let_through
    }

    /// Lets every step through.
    pub(crate) fn open(&mut self) {
        std::fs::write(self.folder.join(&self.name), b"").expect("a gate file");
        self.let_through = STEPS;
    }

    /// The input of a `march` of [`STEPS`] behind this gate.
    pub(crate) fn march_input(&self) -> Value {
        json!({"steps": STEPS, "ms": 0, "gate": self.name})
    }
}

/// The folder granted to a server as `/marks` for its marches' gates, and
/// the `--allow-dir` value that grants it.
pub(crate) fn gates(dir: &Path) -> (PathBuf, String) {
    let folder = cairn_tests::marks(dir);
    let grant = format!("{}:/marks", folder.display());
    (folder, grant)
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

pub(crate) fn path_of(guest: cairn_tests::Guest) -> String {
    guest.path().to_str().expect("UTF-8").to_owned()
}

/// `cairn --server URL ARGS`.
pub(crate) fn cli(served: &Served, cwd: &Path, args: &[&str]) -> Output {
    crate::serve_cli::bare(cwd)
        .args(["--server", served.url()])
        .args(args)
        .output()
        .expect("cairn starts")
}

/// `cairn --server URL ARGS`, an upgrade of running `marches`, each held
/// at a step behind its gate. A running execution is moved once the step
/// it is in ends, so while the command is on its way each march is let
/// one step further every [`PACE`], once the steps let through have run:
/// the upgrade lands mid-run however slow the command or the server is,
/// with steps left for the new build. Read on `client`, the server running
/// the marches.
pub(crate) fn upgrade_paced(
    served: &Served,
    cwd: &Path,
    args: &[&str],
    (runtime, client): (&tokio::runtime::Runtime, &ApiClient),
    marches: &mut [(ExecutionId, &mut Gate)],
) -> Output {
    // A march moved already goes on with the new build at its pace.
    let moves: Vec<usize> = (marches.iter())
        .map(|(id, _)| show(runtime, client, *id).upgrades.len())
        .collect();
    let mut command = crate::serve_cli::bare(cwd);
    command.args(["--server", served.url()]).args(args);
    let (done, answer) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(command.output().expect("cairn starts"));
    });
    let mut paced = Instant::now();
    let deadline = paced + Duration::from_secs(120);
    loop {
        match answer.recv_timeout(Duration::from_millis(20)) {
            Ok(output) => return output,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the command's thread ended"),
        }
        assert!(
            Instant::now() < deadline,
            "`cairn {}` did not answer",
            args.join(" ")
        );
        if paced.elapsed() < PACE {
            continue;
        }
        for ((id, gate), moved) in marches.iter_mut().zip(&moves) {
            let detail = show(runtime, client, *id);
            let ran = (detail.calls.iter())
                .filter(|c| c.status == CallStatus::Completed)
                .count();
            if (ran as i64) < gate.let_through() || detail.upgrades.len() > *moved {
                continue;
            }
            assert!(
                gate.let_through() < STEPS - 2,
                "`cairn {}` did not land while execution {id} made {} steps, one every {PACE:?}",
                args.join(" "),
                gate.let_through()
            );
            gate.through(gate.let_through() + 1);
        }
        paced = Instant::now();
    }
}

pub(crate) fn show(
    runtime: &tokio::runtime::Runtime,
    client: &ApiClient,
    id: ExecutionId,
) -> ExecutionDetail {
    runtime
        .block_on(client.get(&format!("/executions/{id}")))
        .expect("shows")
}

/// Waits until execution `id` has completed `calls` calls while running.
pub(crate) fn marched(
    runtime: &tokio::runtime::Runtime,
    client: &ApiClient,
    id: ExecutionId,
    calls: usize,
) -> ExecutionDetail {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let detail = show(runtime, client, id);
        assert_eq!(
            detail.execution.status,
            ExecutionStatus::Running,
            "execution {id} still runs: {detail:?}"
        );
        let done = (detail.calls.iter())
            .filter(|c| c.status == CallStatus::Completed)
            .count();
        if done >= calls {
            return detail;
        }
        assert!(Instant::now() < deadline, "execution {id} made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts v1's `march` through the API, behind `gate`.
/// Two marches of `v1` behind gates `a` and `b` in `folder`, each let
/// through its first step and seen to take it: both run, mid-march.
pub(crate) fn two_marches(
    runtime: &tokio::runtime::Runtime,
    client: &ApiClient,
    v1: &str,
    folder: &Path,
) -> [(ExecutionId, Gate); 2] {
    ["a", "b"].map(|name| {
        let mut gate = Gate::new(folder, name);
        let id = start_march(runtime, client, v1, &gate);
        gate.through(1);
        marched(runtime, client, id, 1);
        (id, gate)
    })
}

pub(crate) fn start_march(
    runtime: &tokio::runtime::Runtime,
    client: &ApiClient,
    v1: &str,
    gate: &Gate,
) -> ExecutionId {
    let body = json!({"component": v1, "flow": "march", "input": gate.march_input()});
    let started: Accepted = runtime
        .block_on(client.post("/executions", &body))
        .expect("starts");
    started.id
}

/// Checks an execution moved mid-run from `v1` to `v2` ended well: every
/// step made once, in order, one attempt each, the first ones under v1 and
/// the last under v2, then v2's report.
pub(crate) fn assert_moved_mid_run(detail: &ExecutionDetail, v1: &str, v2: &str) {
    let id = detail.execution.id;
    assert_eq!(
        detail.execution.status,
        ExecutionStatus::Completed,
        "{detail:?}"
    );
    let total: i64 = (0..STEPS).sum();
    assert_eq!(
        detail.execution.output,
        Some(json!(format!("marched {total} on v2"))),
        "execution {id} ended with v2's report"
    );
    assert_eq!(detail.calls.len(), STEPS as usize + 1, "{:?}", detail.calls);
    for (i, call) in detail.calls.iter().take(STEPS as usize).enumerate() {
        assert_eq!(call.name, "step");
        assert_eq!(call.input["i"], json!(i), "steps in order");
        assert_eq!(call.attempts.len(), 1, "no step runs twice: {call:?}");
    }
    let under = |build: &str| detail.calls.iter().filter(|c| c.component == build).count();
    assert!(
        under(v1) >= 1 && under(v2) >= 2,
        "steps ran under both builds: v1 {}, v2 {}",
        under(v1),
        under(v2)
    );
    let last = detail.calls.last().expect("calls");
    assert_eq!(
        (last.name.as_str(), last.component.as_str()),
        ("report_march", v2)
    );
    assert_eq!(detail.upgrades.len(), 1, "{:?}", detail.upgrades);
    assert_eq!(
        (
            detail.upgrades[0].from.as_str(),
            detail.upgrades[0].to.as_str()
        ),
        (v1, v2)
    );
}

on_backends! {
    #[test]
    fn a_server_moves_a_running_execution_to_a_compatible_build_and_goes_on_after_a_refusal(backend) {
        let dir = temp();
        let journal = backend.journal(dir.path());
        let (folder, grant) = gates(dir.path());
        let served = Served::start_journal(&journal, dir.path(), &["--allow-dir", grant.as_str()]);
        let runtime = runtime();
        let client = served.client();
        let upload = |guest: cairn_tests::Guest| {
            let bytes = std::fs::read(guest.path()).expect("the guest");
            let view: ComponentView = runtime
                .block_on(client.post_bytes("/components", bytes))
                .expect("uploads");
            view.hash.to_string()
        };
        let v1 = upload(guests::UPGRADE_V1);
        let v2 = upload(guests::UPGRADE_V2);
        let (v2_file, reordered_file) = (
            path_of(guests::UPGRADE_V2),
            path_of(guests::UPGRADE_V2_REORDERED),
        );
        let reading = (&runtime, &client);

        let mut gate = Gate::new(&folder, "march");
        let id = start_march(&runtime, &client, &v1, &gate);
        let shown = id.to_string();
        gate.through(2);
        marched(&runtime, &client, id, 2);

        // A build that takes the steps in another order is refused with
        // the divergence; the execution goes on with v1, still running.
        let out = upgrade_paced(&served, dir.path(), &["executions", "upgrade", &shown, "--component", &reordered_file], reading, &mut [(id, &mut gate)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(stderr.contains("diverges at seq 0"), "{stderr}");
        gate.through(gate.let_through() + 2);
        let later = marched(&runtime, &client, id, gate.let_through() as usize);
        assert!(later.upgrades.is_empty(), "a refused upgrade changes nothing");
        assert!(
            later.calls.iter().all(|c| c.component == v1),
            "it went on with v1: {:?}",
            later.calls
        );

        // The compatible build takes it over mid-run.
        let out = upgrade_paced(&served, dir.path(), &["executions", "upgrade", &shown, "--component", &v2_file], reading, &mut [(id, &mut gate)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert!(stderr.contains("while it ran; it goes on with the new build"), "{stderr}");
        gate.open();
        let ended = runtime.block_on(crate::serve::settled(&client, id));
        assert_moved_mid_run(&ended, &v1, &v2);
        assert!(
            ended.upgrades[0].by.contains("upgrade"),
            "{:?}",
            ended.upgrades
        );

        // An ended execution is refused.
        let out = cli(&served, dir.path(), &["executions", "upgrade", &shown, "--component", &reordered_file]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("completed"), "{out:?}");

        // --all --flow moves every march the server is running.
        let [(a, mut gate_a), (b, mut gate_b)] = two_marches(&runtime, &client, &v1, &folder);
        let out = upgrade_paced(&served, dir.path(), &["--json", "executions", "upgrade", "--all", "--flow", "march", "--component", &v2_file], reading, &mut [(a, &mut gate_a), (b, &mut gate_b)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert!(stderr.contains("moved 2 executions to the new build, refused 0"), "{stderr}");
        let moved: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let moved = moved.as_array().expect("an array");
        assert_eq!(moved.len(), 2, "{moved:?}");
        for one in moved {
            assert_eq!((&one["to"], &one["running"]), (&json!(v2), &json!(true)), "{one}");
            assert_eq!(one["check"]["verdict"], json!("compatible"), "{one}");
        }
        gate_a.open();
        gate_b.open();
        for id in [a, b] {
            let ended = runtime.block_on(crate::serve::settled(&client, id));
            assert_moved_mid_run(&ended, &v1, &v2);
        }
    }
}
