//! A flow input of the wrong type is refused before anything is written,
//! at every entry point that makes an execution of an input: the library's
//! start and replay, `cairn run`, the API's start and replay (`400
//! bad_input`), the CLI through a server. The error names the parameter
//! and the JSON pointer of the offending value. The probe's `steps` takes
//! `count: u64, work: u64`; `sum` takes `a: i64, b: i64`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use cairn_host::{ExecutionFilter, ExecutionStatus, ReplayError, ReplayRequest, RunError};
use cairn_serve::api::{ComponentView, ExecutionPage};
use cairn_tests::{cairn, guest, host, load, temp};
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

/// `POST path` with a JSON body on a connection of its own: the status and
/// the body as the server wrote it.
pub(crate) fn raw_post(url: &str, path: &str, body: &Value) -> (u16, String) {
    raw(url, "POST", path, body.to_string().as_bytes())
}

/// `GET path`: the status and the body as the server wrote it.
pub(crate) fn raw_get(url: &str, path: &str) -> (u16, String) {
    raw(url, "GET", path, b"")
}

fn raw(url: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let address = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let head = format!(
        "{method} /api/v1{path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("sends");
    stream.write_all(body).expect("sends");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("reads");
    let text = String::from_utf8(answer).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, body.to_owned())
}

#[tokio::test]
async fn a_replay_with_an_input_of_the_wrong_type_is_refused_before_it_writes() {
    let dir = temp();
    let host = host(dir.path(), cairn_host::Policy::default());
    let probe = load(&host, guests::PROBE).await;
    let source = host
        .run(&probe, "sum", r#"{"a": 1, "b": 2}"#)
        .await
        .expect("runs");
    assert_eq!(source.status, ExecutionStatus::Completed);
    for (input, param, pointer) in [
        (r#"{"a": 1, "b": "2"}"#, "b", "/b"),
        (r#"{"a": 9223372036854775808, "b": 2}"#, "a", "/a"),
        (r#"{"a": [1], "b": 2}"#, "a", "/a"),
    ] {
        let replay = host
            .replay(source.id, ReplayRequest::default().input(input))
            .await;
        match replay {
            Err(ReplayError::Run(RunError::InputType {
                param: found,
                pointer: at,
                reason,
                ..
            })) => {
                assert_eq!((&*found, &*at), (param, pointer), "{input}");
                assert!(reason.contains("expected an integer"), "{reason}");
            }
            other => panic!("{input}: {other:?}"),
        }
    }
    let all = host
        .client()
        .executions(&ExecutionFilter::default())
        .await
        .expect("reads");
    assert_eq!(all.len(), 1, "only the source: {all:?}");
    // A well-typed one replays.
    let replayed = host
        .replay(
            source.id,
            ReplayRequest::default().input(r#"{"a": 5, "b": 2}"#),
        )
        .await
        .expect("replays");
    assert_eq!(replayed.status, ExecutionStatus::Completed);
    assert_ne!(replayed.output, source.output, "it ran on the new input");
}

#[test]
fn cairn_run_refuses_an_input_of_the_wrong_type_with_exit_2_and_writes_nothing() {
    let dir = temp();
    let probe = guest(guests::PROBE);
    let run = cairn(dir.path())
        .arg("run")
        .arg(&probe)
        .args([
            "--flow",
            "steps",
            "--input",
            r#"{"count": "ten", "work": 0}"#,
        ])
        .output()
        .expect("cairn runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("parameter `count` at /count: expected an integer"),
        "{stderr}"
    );
    assert!(stderr.contains("`count` is a u64"), "{stderr}");
    let list = cairn(dir.path())
        .args(["--json", "executions", "list"])
        .output()
        .expect("cairn runs");
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let listed: Value = serde_json::from_slice(&list.stdout).expect("JSON");
    assert_eq!(listed, json!([]), "nothing was written");
}

#[test]
fn the_api_refuses_a_start_or_replay_input_of_the_wrong_type_with_bad_input() {
    let dir = temp();
    let served = Served::start(dir.path(), &[]);
    let client = served.client();
    let rt = runtime();
    let hash = rt.block_on(async {
        let view: ComponentView = client
            .post_bytes(
                "/components",
                std::fs::read(guest(guests::PROBE)).expect("the guest"),
            )
            .await
            .expect("uploads");
        view.hash
    });
    let list = || {
        rt.block_on(async {
            let page: ExecutionPage = client.get("/executions").await.expect("lists");
            page.executions.len()
        })
    };
    for (input, pointer) in [
        (json!({"count": "ten", "work": 0}), "/count"),
        (json!({"count": 1, "work": -1}), "/work"),
        (json!({"count": 1.5, "work": 0}), "/count"),
    ] {
        let (status, body) = raw_post(
            served.url(),
            "/executions",
            &json!({"component": hash, "flow": "steps", "input": input}),
        );
        assert_eq!(status, 400, "{input}: {body}");
        let error: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(error["error"], "bad_input", "{body}");
        let message = error["message"].as_str().expect("a message");
        assert!(message.contains(&format!("at {pointer}:")), "{message}");
    }
    assert_eq!(list(), 0, "nothing was written");

    // Replay with a new input goes through the same check.
    let (status, body) = raw_post(
        served.url(),
        "/executions?wait=60s",
        &json!({"component": hash, "flow": "steps", "input": {"count": 1, "work": 0}}),
    );
    assert_eq!(status, 200, "{body}");
    let source: Value = serde_json::from_str(&body).expect("JSON");
    let id = source["id"].as_u64().expect("an id");
    let (status, body) = raw_post(
        served.url(),
        &format!("/executions/{id}/replay"),
        &json!({"input": {"count": [1], "work": 0}}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("\"bad_input\"") && body.contains("/count"),
        "{body}"
    );
    assert_eq!(list(), 1, "only the source");

    // The CLI through the server: the exit code of bad input.
    let elsewhere = temp();
    let run = std::process::Command::new(cairn_tests::cairn_bin())
        .current_dir(elsewhere.path())
        .env("CAIRN_ARTIFACTS", cairn_tests::artifact_dir())
        .env_remove("CAIRN_JOURNAL")
        .env_remove("CAIRN_SERVER")
        .args(["--server", served.url(), "run"])
        .arg(guest(guests::PROBE))
        .args([
            "--flow",
            "steps",
            "--input",
            r#"{"count": true, "work": 0}"#,
        ])
        .output()
        .expect("cairn runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("parameter `count` at /count"), "{stderr}");
    assert_eq!(list(), 1, "still only the source");
}
