//! The embedding example end to end: the real `cairn-embed` service on
//! loopback, real components uploaded over HTTP, flows run under its strict
//! policy, and its host-side batch flow resumed after the service is killed
//! with SIGKILL and started again.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::guests;
use cairn_tests::http::{get, post_json, request};
use cairn_tests::{Guest, artifact_dir, embed_bin, temp};
use serde_json::{Value, json};

/// A running service and its address.
struct Service {
    child: Child,
    addr: String,
}

impl Service {
    fn start(dir: &Path) -> Service {
        let mut child = Command::new(embed_bin())
            .arg("--journal")
            .arg(dir.join("service.redb"))
            .args(["--listen", "127.0.0.1:0"])
            .env("CAIRN_ARTIFACTS", artifact_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the service starts");
        let stdout = child.stdout.take().expect("its stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("it says where it listens");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        Service { child, addr }
    }

    fn upload(&self, component: Guest) -> String {
        let bytes = std::fs::read(component.path()).expect("a guest");
        let answer = request(&self.addr, "POST", "/components", &bytes, false);
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["hash"].as_str().expect("a hash").to_owned()
    }

    fn kill(mut self) {
        // SIGKILL: no chance to clean up.
        self.child.kill().expect("killed");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_service_runs_uploaded_components_under_its_strict_policy() {
    let dir = temp();
    let service = Service::start(dir.path());
    let hello = service.upload(guests::HELLO);
    let answer = post_json(
        &service.addr,
        "/executions",
        &json!({ "component": hello, "flow": "hello", "input": { "name": "Ada" } }),
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["status"], "completed");
    assert_eq!(
        answer.body["output"]["text"],
        "HELLO, ADA, FROM A DURABLE FLOW!"
    );
    let id = answer.body["id"].as_u64().expect("an id");

    let shown = get(&service.addr, &format!("/executions/{id}"));
    assert_eq!(shown.status, 200);
    let calls = shown.body["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 3);
    // Every attempt ran under the service's policy, which grants nothing.
    let policy = &calls[0]["attempts"][0]["policy"];
    assert_eq!(policy["memory_bytes"], 64 << 20);
    assert_eq!(policy["dirs"], json!([]));
    assert_eq!(policy["env"], json!([]));

    // A hostile checkpoint hits the policy's limits and fails its flow; the
    // service goes on.
    let probe = service.upload(guests::PROBE);
    for (which, expected) in [("memory", "out of memory"), ("loop", "out of fuel")] {
        let answer = post_json(
            &service.addr,
            "/executions",
            &json!({ "component": probe, "flow": "hostile", "input": { "which": which } }),
        );
        assert_eq!(answer.body["status"], "failed", "{answer:?}");
        let message = answer.body["failure"]["message"].as_str().unwrap_or("");
        assert!(message.contains(expected), "{which}: {message}");
    }

    // Bad requests get a clear error and a 4xx status.
    let garbage = request(&service.addr, "POST", "/components", b"garbage", false);
    assert_eq!(garbage.status, 400);
    assert!(
        garbage.body["error"]
            .as_str()
            .unwrap_or("")
            .contains("not a valid WebAssembly")
    );
    let unknown = post_json(
        &service.addr,
        "/executions",
        &json!({ "component": "00".repeat(32), "flow": "hello" }),
    );
    assert_eq!(unknown.status, 404, "{unknown:?}");
    let bad_input = post_json(
        &service.addr,
        "/executions",
        &json!({ "component": hello, "flow": "hello", "input": { "nom": 1 } }),
    );
    assert_eq!(bad_input.status, 400, "{bad_input:?}");
    assert_eq!(get(&service.addr, "/executions/999").status, 404);
}

/// `busy(n)` returns the sum of 0..n.
fn busy(n: u64) -> u64 {
    n * (n - 1) / 2
}

/// Enough items that some are still unstarted when the service is killed,
/// even when the tests around this one (one binary, run in parallel) slow
/// the kill down.
const ITEMS: u64 = 150;

#[test]
fn a_batch_is_a_host_side_flow_that_resumes_after_the_service_is_killed() {
    let dir = temp();
    let service = Service::start(dir.path());
    let probe = service.upload(guests::PROBE);
    let items: Vec<Value> = (0..ITEMS).map(|i| json!({ "n": 20_000_000 + i })).collect();
    let batch = json!({ "component": probe, "checkpoint": "busy", "items": items });
    let addr = service.addr.clone();
    // The request blocks until the batch ends, which it will not.
    let _waiting = std::thread::spawn(move || post_json(&addr, "/batches", &batch));

    // Kill the service once some calls have completed and others have not.
    let deadline = Instant::now() + Duration::from_secs(60);
    let done_before = loop {
        assert!(Instant::now() < deadline, "the batch never got going");
        let shown = get(&service.addr, "/executions/1");
        if shown.status == 200 {
            let done: Vec<String> = completed_calls(&shown.body);
            if done.len() >= 6 {
                break done;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    service.kill();

    // Started again, the service resumes the batch on its own.
    let service = Service::start(dir.path());
    let deadline = Instant::now() + Duration::from_secs(120);
    let detail = loop {
        assert!(Instant::now() < deadline, "the batch was not resumed");
        let shown = get(&service.addr, "/executions/1");
        if shown.body["status"] == "completed" {
            break shown.body;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(detail["flow"], "batch");
    assert_eq!(detail["component"], Value::Null, "a host-side flow");
    let expected: Vec<u64> = (0..ITEMS).map(|i| busy(20_000_000 + i)).collect();
    assert_eq!(detail["output"], json!(expected));
    let calls = detail["calls"].as_array().expect("calls");
    assert_eq!(calls.len() as u64, ITEMS);
    for call in calls {
        let id = call["call_id"].as_str().unwrap_or("");
        let attempts = call["attempts"].as_array().expect("attempts");
        if done_before.iter().any(|d| d == id) {
            assert_eq!(
                attempts.len(),
                1,
                "{id} completed before the kill and ran once"
            );
        }
        let last = attempts.last().expect("an attempt");
        assert_eq!(last["status"], "ok", "{id}");
        for earlier in &attempts[..attempts.len() - 1] {
            assert!(
                earlier["error"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("interrupted"),
                "{id}: {earlier}"
            );
        }
    }
    assert!(
        calls
            .iter()
            .any(|c| c["attempts"].as_array().map_or(0, Vec::len) == 1
                && !done_before
                    .iter()
                    .any(|d| Some(d.as_str()) == c["call_id"].as_str())),
        "some calls ran only after the restart"
    );
}

fn completed_calls(detail: &Value) -> Vec<String> {
    detail["calls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .filter(|c| c["status"] == "completed")
                .filter_map(|c| c["call_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
