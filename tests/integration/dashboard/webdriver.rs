//! Just enough of the W3C WebDriver protocol to drive Debian's headless
//! Chromium through `chromedriver`: plain HTTP/1.1 over a `TcpStream`, one
//! connection per command. Both processes run in a process group of their
//! own, which [`Browser`]'s `Drop` ends whatever the test did.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key of an element reference in WebDriver's JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium and its driver.
pub(crate) struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

/// An element on the page.
pub(crate) struct Element {
    id: String,
}

impl Browser {
    /// Starts `chromedriver` on a free port and a headless Chromium session
    /// with a `width`×`height` window.
    pub(crate) fn start(dir: &Path, width: u32, height: u32) -> Browser {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: `cargo xtask test` installs Debian's chromium and chromium-driver, or run `apt-get install -y chromium chromium-driver`"
            );
        }
        let port = free_port();
        // Beside the screenshots: what to read when a step fails.
        let log = screenshot_dir().join("chromedriver.log");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group: the Drop below ends the driver and every
            // browser process it started, even if a step panicked.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver does not answer");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = dir.join("chromium-profile");
        let created = browser.command(
            "POST",
            "/session",
            &json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--no-first-run",
                        format!("--window-size={width},{height}"),
                        format!("--user-data-dir={}", profile.display()),
                    ],
                },
            }}}),
        );
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session in {created}"))
            .to_owned();
        browser
    }

    /// Sends a command; the answer's `value`, or a panic with WebDriver's
    /// error.
    fn command(&self, method: &str, path: &str, body: &Value) -> Value {
        match self.try_command(method, path, body) {
            Ok(value) => value,
            Err(error) => panic!("WebDriver {method} {path}: {error}"),
        }
    }

    fn try_command(&self, method: &str, path: &str, body: &Value) -> Result<Value, Value> {
        let (status, text) = http(self.port, method, path, body);
        let answer: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("WebDriver answered {status} with no JSON ({e}): {text}"));
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        if status == 200 { Ok(value) } else { Err(value) }
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub(crate) fn goto(&self, url: &str) {
        self.command("POST", &self.session_path("/url"), &json!({"url": url}));
    }

    pub(crate) fn set_size(&self, width: u32, height: u32) {
        self.command(
            "POST",
            &self.session_path("/window/rect"),
            &json!({"width": width, "height": height}),
        );
    }

    /// Runs `script` (a function body) in the page with `args`.
    pub(crate) fn eval(&self, script: &str, args: &[Value]) -> Value {
        self.command(
            "POST",
            &self.session_path("/execute/sync"),
            &json!({"script": script, "args": args}),
        )
    }

    /// Runs `script` until it returns something other than `null` or
    /// `false`, and returns that.
    pub(crate) fn wait_for(&self, what: &str, script: &str, args: &[Value]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let value = self.eval(script, args);
            if !value.is_null() && value != Value::Bool(false) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "waited a minute for {what}; the page says: {}",
                self.eval("return document.body.innerText", &[])
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn find(&self, css: &str) -> Element {
        let found = self.command(
            "POST",
            &self.session_path("/element"),
            &json!({"using": "css selector", "value": css}),
        );
        Element {
            id: found[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("no element for {css}: {found}"))
                .to_owned(),
        }
    }

    /// Finds and clicks the element `css` selects; again when a live
    /// redraw replaced it in between.
    pub(crate) fn click_on(&self, css: &str) {
        for _ in 0..20 {
            let element = self.find(css);
            let path = self.session_path(&format!("/element/{}/click", element.id));
            match self.try_command("POST", &path, &json!({})) {
                Ok(_) => return,
                Err(e) if e["error"] == "stale element reference" => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("WebDriver click on {css}: {e}"),
            }
        }
        panic!("{css} kept being redrawn");
    }

    pub(crate) fn type_into(&self, element: &Element, text: &str) {
        self.command(
            "POST",
            &self.session_path(&format!("/element/{}/value", element.id)),
            &json!({"text": text}),
        );
    }

    pub(crate) fn clear(&self, element: &Element) {
        self.command(
            "POST",
            &self.session_path(&format!("/element/{}/clear", element.id)),
            &json!({}),
        );
    }

    /// Presses the Tab key, as a person moving through the page would.
    pub(crate) fn press_tab(&self) {
        self.press_key(TAB);
    }

    /// Presses `key` (a WebDriver key code such as [`ENTER`]) on whatever
    /// has the focus.
    pub(crate) fn press_key(&self, key: &str) {
        self.command(
            "POST",
            &self.session_path("/actions"),
            &json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                {"type": "keyDown", "value": key},
                {"type": "keyUp", "value": key},
            ]}]}),
        );
    }

    /// Makes the page see `prefers-color-scheme: scheme` (Chromium's
    /// DevTools command through chromedriver).
    pub(crate) fn color_scheme(&self, scheme: &str) {
        self.command(
            "POST",
            &self.session_path("/goog/cdp/execute"),
            &json!({"cmd": "Emulation.setEmulatedMedia", "params": {
                "features": [{"name": "prefers-color-scheme", "value": scheme}],
            }}),
        );
    }

    /// The text of the open alert, if one is open.
    pub(crate) fn alert_text(&self) -> Option<String> {
        self.try_command("GET", &self.session_path("/alert/text"), &Value::Null)
            .ok()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
    }

    /// Saves a PNG of the window to `path`.
    pub(crate) fn screenshot(&self, path: &Path) {
        let data = self.command("GET", &self.session_path("/screenshot"), &Value::Null);
        let png = base64(data.as_str().expect("base64 text"));
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).expect("the screenshot is written");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = self.session_path("");
            let _ = std::panic::catch_unwind(|| http(self.port, "DELETE", &path, &Value::Null));
        }
        // The whole group: the driver and any browser left behind.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

/// Where a test's screenshots go: `target/dashboard-screenshots/`.
/// WebDriver's code for the Tab key.
const TAB: &str = "\u{E004}";
/// WebDriver's code for the Enter key.
pub(crate) const ENTER: &str = "\u{E007}";

pub(crate) fn screenshot_dir() -> PathBuf {
    let dir = cairn_tests::target_dir().join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot folder");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One request to the driver: the status and the body.
fn http(port: u16, method: &str, path: &str, body: &Value) -> (u16, String) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects to chromedriver");
    stream
        .set_read_timeout(Some(Duration::from_secs(90)))
        .expect("a timeout");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("writes");
    // chromedriver keeps the connection open whatever the request says:
    // read the head, then exactly the body it announces.
    let mut answer = Vec::new();
    let mut buffer = [0u8; 64 * 1024];
    let head_end = loop {
        if let Some(at) = find(&answer, b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut buffer).expect("reads the head");
        assert!(n > 0, "chromedriver closed the connection");
        answer.extend_from_slice(&buffer[..n]);
    };
    let head = String::from_utf8_lossy(&answer[..head_end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let length: Option<usize> = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    let mut body = answer[head_end + 4..].to_vec();
    loop {
        let complete = match length {
            Some(length) => body.len() >= length,
            None if chunked => {
                find(&body, b"0\r\n\r\n").is_some_and(|at| at == 0 || body[..at].ends_with(b"\r\n"))
            }
            None => false,
        };
        if complete {
            break;
        }
        let n = stream.read(&mut buffer).expect("reads the body");
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let body = if chunked { unchunk(&text) } else { text };
    (status, body)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        let digit = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        Some(u32::from(digit))
    };
    let digits: Vec<u32> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | d << (18 - 6 * i));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}
