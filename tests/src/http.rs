//! A minimal HTTP/1.1 client for the embedding example's tests: one request
//! per connection, bodies with a length, JSON answers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

/// An answer: its status code and its body as JSON (`Null` if empty).
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Value,
}

/// Sends one request to `addr` (`host:port`) and reads the whole answer.
pub fn request(addr: &str, method: &str, path: &str, body: &[u8], json: bool) -> Answer {
    let mut stream = TcpStream::connect(addr).expect("the service accepts connections");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("a read timeout");
    let content_type = if json {
        "application/json"
    } else {
        "application/octet-stream"
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\
         content-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("request sent");
    stream.write_all(body).expect("body sent");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("answer read");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(body)
    } else {
        body.to_owned()
    };
    let body = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or(Value::String(body))
    };
    Answer { status, body }
}

/// `GET path`.
pub fn get(addr: &str, path: &str) -> Answer {
    request(addr, "GET", path, b"", false)
}

/// `POST path` with a JSON body.
pub fn post_json(addr: &str, path: &str, body: &Value) -> Answer {
    request(addr, "POST", path, body.to_string().as_bytes(), true)
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
