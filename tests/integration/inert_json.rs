//! JSON that leaves the host for people: guest text with terminal and bidi
//! controls (ESC, C1, U+202E, isolates) is escaped as `\uXXXX` in every API
//! answer and in `--json` output, and parses back to exactly the same
//! string. And the CLI as a client reads no more of a server's answer than
//! the API can legitimately send.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cairn_host::json_out::is_unsafe_char;
use cairn_serve::api::ComponentView;
use cairn_tests::{cairn, cairn_bin, guest, temp};
use serde_json::{Value, json};

use crate::guests;
use crate::input_check::{raw_get, raw_post};
use crate::serve::Served;

/// A tag the probe's `tagged_steps` puts in its output (`{tag}={sum}`):
/// an override, an ANSI erase, a C1 CSI, an isolate pair and NEL.
const HOSTILE: &str = "\u{202e}gnp.exe\u{1b}[2J\u{9b}31m\u{2066}x\u{2069}\u{85}";

/// `text` holds none of the characters a terminal would act on, bar the
/// line breaks of pretty JSON, and holds the escapes instead.
fn assert_inert(what: &str, text: &str) {
    let raw = text.chars().find(|&c| is_unsafe_char(c) && c != '\n');
    assert_eq!(raw, None, "{what} holds a raw control: {text:?}");
    for escape in [
        r"\u202e", r"\u001b", r"\u009b", r"\u2066", r"\u2069", r"\u0085",
    ] {
        assert!(text.contains(escape), "{what} lacks {escape}: {text}");
    }
}

/// The output of `tagged_steps` in `value`, the same string as the guest's.
fn assert_same_output(what: &str, output: &Value) {
    let output = output
        .as_str()
        .unwrap_or_else(|| panic!("{what}: {output}"));
    let sum = output
        .strip_prefix(HOSTILE)
        .and_then(|rest| rest.strip_prefix('='))
        .unwrap_or_else(|| panic!("{what}: {output:?}"));
    assert!(sum.parse::<u64>().is_ok(), "{what}: {output:?}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn guest_text_with_terminal_controls_is_escaped_in_api_answers_and_json_output() {
    let dir = temp();
    // `tagged_step` leaves a mark outside the sandbox.
    let marks = cairn_tests::marks(dir.path());
    let grant = format!("{}:/marks", marks.display());
    let served = Served::start(dir.path(), &["--allow-dir", grant.as_str()]);
    let hash = runtime().block_on(async {
        let view: ComponentView = served
            .client()
            .post_bytes(
                "/components",
                std::fs::read(guest(guests::PROBE)).expect("the guest"),
            )
            .await
            .expect("uploads");
        view.hash
    });
    let input = json!({"tag": HOSTILE, "count": 1, "work": 0});
    let (status, body) = raw_post(
        served.url(),
        "/executions?wait=60s",
        &json!({"component": hash, "flow": "tagged_steps", "input": input}),
    );
    assert_eq!(status, 200, "{body}");
    assert_inert("the start's answer", &body);
    let summary: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(summary["status"], "completed", "{body}");
    assert_same_output("the start's answer", &summary["output"]);
    let id = summary["id"].as_u64().expect("an id");

    for path in [format!("/executions/{id}"), "/executions".to_owned()] {
        let (status, body) = raw_get(served.url(), &path);
        assert_eq!(status, 200, "{body}");
        assert_inert(&path, &body);
        let value: Value = serde_json::from_str(&body).expect("JSON");
        let execution = value.get("executions").map_or(&value, |list| &list[0]);
        assert_same_output(&path, &execution["output"]);
        assert_eq!(execution["input"]["tag"], HOSTILE, "{path}");
    }

    // `--json` through the server, then on the journal itself.
    let elsewhere = temp();
    let through = std::process::Command::new(cairn_bin())
        .current_dir(elsewhere.path())
        .env("CAIRN_ARTIFACTS", cairn_tests::artifact_dir())
        .env_remove("CAIRN_JOURNAL")
        .env_remove("CAIRN_SERVER")
        .args(["--server", served.url(), "--json", "executions", "show"])
        .arg(id.to_string())
        .output()
        .expect("cairn runs");
    let shown = String::from_utf8(through.stdout).expect("UTF-8");
    assert!(
        through.status.success(),
        "{}",
        String::from_utf8_lossy(&through.stderr)
    );
    assert_inert("show --json --server", &shown);
    let value: Value = serde_json::from_str(&shown).expect("JSON");
    assert_same_output("show --json --server", &value["output"]);
    assert_eq!(value["calls"][0]["input"]["tag"], HOSTILE);

    served.stop("-TERM");
    for args in [
        vec!["--json", "executions", "show", "1"],
        vec!["--json", "executions", "list"],
    ] {
        let direct = cairn(dir.path()).args(&args).output().expect("cairn runs");
        let shown = String::from_utf8(direct.stdout).expect("UTF-8");
        assert!(
            direct.status.success(),
            "{}",
            String::from_utf8_lossy(&direct.stderr)
        );
        assert_inert(&args.join(" "), &shown);
        let value: Value = serde_json::from_str(&shown).expect("JSON");
        let execution = value.as_array().map_or(&value, |list| &list[0]);
        assert_same_output(&args.join(" "), &execution["output"]);
    }
}

/// A server that answers every request with a `200` whose body never ends
/// (chunked), or declares `declared` bytes; the counter is how many body
/// bytes it got written before the client stopped reading.
fn endless_server(declared: Option<u64>) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let written = Arc::new(AtomicU64::new(0));
    let counter = written.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let counter = counter.clone();
            std::thread::spawn(move || answer_endlessly(stream, declared, &counter));
        }
    });
    (url, written)
}

fn answer_endlessly(mut stream: TcpStream, declared: Option<u64>, written: &AtomicU64) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read_exact(&mut byte).is_err() {
            return;
        }
        head.push(byte[0]);
    }
    let framing = match declared {
        Some(n) => format!("content-length: {n}"),
        None => "transfer-encoding: chunked".to_owned(),
    };
    let answer = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{framing}\r\n\r\n");
    if stream.write_all(answer.as_bytes()).is_err() {
        return;
    }
    let chunk = vec![b' '; 1 << 20];
    loop {
        let sent = match declared {
            Some(_) => stream.write_all(&chunk),
            None => stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .and_then(|()| stream.write_all(&chunk))
                .and_then(|()| stream.write_all(b"\r\n")),
        };
        if sent.is_err() {
            return;
        }
        written.fetch_add(chunk.len() as u64, Ordering::SeqCst);
    }
}

#[test]
fn the_cli_refuses_an_oversized_answer_from_a_hostile_server() {
    const MAX_ANSWER: u64 = cairn_serve::MAX_ANSWER as u64;
    let cwd = temp();
    for declared in [None, Some(1 << 30)] {
        let (url, written) = endless_server(declared);
        let began = Instant::now();
        let show = std::process::Command::new(cairn_bin())
            .current_dir(cwd.path())
            .env("CAIRN_ARTIFACTS", cairn_tests::artifact_dir())
            .env_remove("CAIRN_JOURNAL")
            .env_remove("CAIRN_SERVER")
            .args(["--server", &url, "executions", "show", "1"])
            .output()
            .expect("cairn runs");
        let stderr = String::from_utf8_lossy(&show.stderr);
        assert_eq!(show.status.code(), Some(4), "{declared:?}: {stderr}");
        assert!(
            stderr.contains(&format!("sent an answer larger than {MAX_ANSWER} bytes")),
            "{declared:?}: {stderr}"
        );
        assert!(began.elapsed() < Duration::from_secs(60));
        // The client stopped reading at its bound (what the sockets'
        // buffers hold aside), or before any of it when the length said.
        let sent = written.load(Ordering::SeqCst);
        match declared {
            None => assert!(sent < MAX_ANSWER + (16 << 20), "{sent}"),
            Some(_) => assert!(sent < 16 << 20, "{sent}"),
        }
    }
}

/// A server whose page of 1000 executions is larger than the client reads
/// (it says so in its `content-length`), and whose smaller pages are fine:
/// `executions list` reads the same executions in smaller pages. Answers
/// the request path's `limit` it saw, one line per request, in `seen`.
#[test]
fn a_page_too_large_to_read_is_read_again_in_smaller_pages() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if stream.read_exact(&mut byte).is_err() {
                    break;
                }
                head.push(byte[0]);
            }
            let line = String::from_utf8_lossy(&head)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            log.lock().expect("not poisoned").push(line.clone());
            let answer = if line.contains("limit=1000") {
                "HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\n".to_owned()
            } else {
                let body = json!({"executions": [{
                    "id": 1, "flow": "f", "status": "completed", "input": {}, "output": 1,
                    "failure": null, "original_exec_id": null, "component": null,
                    "created_at": "2026-12-02T10:00:00Z", "updated_at": "2026-12-02T10:00:00Z",
                    "call_count": 0
                }], "next_cursor": null})
                .to_string();
                format!(
                    "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )
            };
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    let cwd = temp();
    let list = std::process::Command::new(cairn_bin())
        .current_dir(cwd.path())
        .env_remove("CAIRN_JOURNAL")
        .env_remove("CAIRN_SERVER")
        .args(["--server", &url, "--json", "executions", "list"])
        .output()
        .expect("cairn runs");
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let listed: Value = serde_json::from_slice(&list.stdout).expect("JSON");
    assert_eq!(listed[0]["id"], 1, "{listed}");
    let seen = seen.lock().expect("not poisoned").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].contains("limit=1000") && seen[1].contains("limit=500"),
        "{seen:?}"
    );
}
