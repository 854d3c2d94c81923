//! The web dashboard of `cairn serve`, in a real browser: a real server
//! process and Debian's headless Chromium driven over WebDriver. A run
//! appears live and completes; the keyboard reaches the page; a waiting
//! execution is answered through its form (a value the schema refuses
//! first, its error beside the field, then Enter); a running one is
//! cancelled; a map folds on the timeline; a failed one is replayed from a
//! call and with an overridden output; a failed one is resumed from the
//! keyboard (Tab to its button, Enter) and completes; a resume that takes
//! another path shows its non-determinism; a filter with 51 rows pages on
//! with `Older →`; a parked retry shows when it is due; a guest's markup
//! and escapes stay text; the dark scheme applies; a flow starts from the components page.
//! Screenshots of the main pages are saved under
//! `target/dashboard-screenshots/`. A second test checks the login, cookie,
//! CSRF and cross-origin rules over raw HTTP.

mod webdriver;

use std::time::{Duration, Instant};

use cairn_host::{ExecutionDetail, ExecutionId, ExecutionStatus};
use cairn_serve::ApiClient;
use cairn_serve::api::{Accepted, ComponentView};
use cairn_tests::{guest, temp};
use serde_json::{Value, json};

use self::webdriver::{Browser, ENTER, screenshot_dir};
use crate::guests;
use crate::serve::Served;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The API, for what the test sets up (the browser does the rest).
struct Api {
    runtime: tokio::runtime::Runtime,
    client: ApiClient,
}

impl Api {
    fn upload(&self, g: cairn_tests::Guest) -> String {
        let bytes = std::fs::read(guest(g)).expect("the guest");
        let view: ComponentView = self
            .runtime
            .block_on(self.client.post_bytes("/components", bytes))
            .expect("uploads");
        view.hash
    }

    fn start(&self, component: &str, flow: &str, input: Value) -> ExecutionId {
        let accepted: Accepted = self
            .runtime
            .block_on(self.client.post(
                "/executions",
                &json!({"component": component, "flow": flow, "input": input}),
            ))
            .expect("starts");
        accepted.id
    }

    fn detail(&self, id: ExecutionId) -> ExecutionDetail {
        self.runtime
            .block_on(self.client.get(&format!("/executions/{id}")))
            .expect("shows")
    }

    /// Waits until the execution is `status`.
    fn reaches(&self, id: ExecutionId, status: ExecutionStatus) -> ExecutionDetail {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let detail = self.detail(id);
            if detail.execution.status == status {
                return detail;
            }
            assert!(
                Instant::now() < deadline,
                "execution {id} is {:?}, not {status:?}",
                detail.execution.status
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The status badge of execution `id` on the page (a row on `/`, the
/// heading on its own page).
const STATUS_OF_ROW: &str = "const b = document.querySelector(`tr[data-execution=\"${arguments[0]}\"] [data-status]`); return b ? b.dataset.status : null;";
const ROW_COMPLETED: &str = "return document.querySelector(`tr[data-execution=\"${arguments[0]}\"] [data-status=\"ok\"]`) !== null;";
/// The id of the execution page the browser is on, once it is not
/// `arguments[0]`'s.
const LANDED_ELSEWHERE: &str = "const m = /^\\/executions\\/(\\d+)$/.exec(location.pathname); return m && m[1] !== String(arguments[0]) ? Number(m[1]) : null;";
const PAGE_STATUS: &str = "const b = document.querySelector('h1 [data-status]'); return b && b.dataset.status === arguments[0] ? b.dataset.status : null;";

#[test]
fn the_dashboard_follows_answers_cancels_replays_and_keeps_guest_text_inert() {
    let dir = temp();
    let marks = cairn_tests::marks(dir.path());
    let grant = format!("{}:/marks", marks.display());
    let served = Served::start(dir.path(), &["--allow-dir", grant.as_str()]);
    let url = served.url().to_owned();
    let api = Api {
        runtime: runtime(),
        client: served.client(),
    };
    let hello = api.upload(guests::HELLO);
    let approval = api.upload(guests::APPROVAL);
    let probe = api.upload(guests::PROBE);
    let dashboard = api.upload(guests::DASHBOARD);
    let shots = screenshot_dir();
    let browser = Browser::start(dir.path(), 1280, 900);

    // ---- a run appears live and completes, without a reload -------------
    browser.goto(&format!("{url}/"));
    browser.wait_for(
        "the event stream",
        "return document.documentElement.dataset.sse === 'open'",
        &[],
    );
    browser.eval("window.__sameDocument = true", &[]);
    let run = api.start(&hello, "hello", json!({"name": "Ada"}));
    browser.wait_for(
        "the new run's row to appear and say completed",
        ROW_COMPLETED,
        &[json!(run.0)],
    );
    assert_eq!(
        browser.eval("return window.__sameDocument === true", &[]),
        json!(true),
        "the page reloaded instead of updating"
    );
    let row = browser.eval(
        "return document.querySelector(`tr[data-execution=\"${arguments[0]}\"]`).innerText",
        &[json!(run.0)],
    );
    let row = row.as_str().unwrap_or_default();
    assert!(row.contains("hello") && row.contains("completed"), "{row}");
    browser.screenshot(&shots.join("executions.png"));

    // The keyboard reaches the page: the first Tab lands on the skip link,
    // the next ones on the navigation.
    browser.press_tab();
    let focused = browser.eval("return document.activeElement.textContent", &[]);
    assert_eq!(focused, json!("Skip to content"));
    browser.press_tab();
    browser.press_tab();
    let focused = browser.eval("return document.activeElement.getAttribute('href')", &[]);
    assert_eq!(focused, json!("/"), "Tab reaches the navigation");

    // Filters: by status and flow, and the search by id.
    browser.goto(&format!("{url}/?status=failed&flow=hello"));
    let rows = browser.eval(
        "return document.querySelectorAll('tr[data-execution]').length",
        &[],
    );
    assert_eq!(rows, json!(0));
    browser.goto(&format!("{url}/?id={}", run.0));
    browser.wait_for("the searched row", STATUS_OF_ROW, &[json!(run.0)]);

    // ---- a waiting execution is answered through its form --------------
    let waiting = api.start(&approval, "publish_post", json!({"topic": "wasm"}));
    api.reaches(waiting, ExecutionStatus::Waiting);
    browser.goto(&format!("{url}/executions/{}", waiting.0));
    browser.wait_for(
        "the form",
        "return document.querySelector('form.wait-form') !== null",
        &[],
    );
    // The reviewer is left out: the server's schema check says so, beside
    // that field, and nothing resumes.
    browser.click_on("form.wait-form [data-field=\"approved\"] input");
    browser.click_on("form.wait-form button[type=\"submit\"]");
    let error = browser.wait_for(
        "the server's validation error beside the field",
        "const e = document.querySelector('form.wait-form [data-error-for=\"reviewer\"]'); return e && e.textContent ? e.textContent : null;",
        &[],
    );
    assert!(
        error.as_str().unwrap_or_default().contains("reviewer"),
        "{error}"
    );
    assert_eq!(
        api.detail(waiting).execution.status,
        ExecutionStatus::Waiting
    );
    browser.screenshot(&shots.join("wait-form-error.png"));
    // From the keyboard this time: Enter in the field submits the form.
    browser.type_into(
        &browser.find("form.wait-form [data-field=\"reviewer\"] input"),
        "ada\u{E007}",
    );
    browser.wait_for("the answered run to complete", PAGE_STATUS, &[json!("ok")]);
    let done = api.reaches(waiting, ExecutionStatus::Completed);
    assert_eq!(
        done.waits[0].value,
        Some(json!({"approved": true, "reviewer": "ada"}))
    );
    let text = browser.eval("return document.body.innerText", &[]);
    assert!(
        text.as_str().unwrap_or_default().contains("published"),
        "{text}"
    );
    browser.screenshot(&shots.join("execution.png"));

    // ---- a running execution is cancelled ------------------------------
    let long = api.start(&probe, "steps", json!({"count": 50_000, "work": 2_000_000}));
    browser.goto(&format!("{url}/executions/{}", long.0));
    browser.wait_for(
        "a call on the timeline",
        "return document.querySelector('.timeline rect.bar') !== null",
        &[],
    );
    browser.click_on("button[data-action=\"cancel\"]");
    browser.wait_for("the cancelled status", PAGE_STATUS, &[json!("cancelled")]);
    let cancelled = api.reaches(long, ExecutionStatus::Cancelled);
    assert!(cancelled.calls.len() < 50_000);
    browser.screenshot(&shots.join("cancelled.png"));

    // ---- a map's items fold together on the timeline ------------------
    let mapped = api.start(&probe, "squares", json!({"n": 5}));
    api.reaches(mapped, ExecutionStatus::Completed);
    browser.goto(&format!("{url}/executions/{}", mapped.0));
    let group = browser.eval(
        "const g = document.querySelector('.timeline details.map-group'); \
         return g ? [g.querySelector('summary').textContent, g.querySelectorAll('g.row').length] : null",
        &[],
    );
    assert_eq!(group, json!(["square: a map of 5 items", 5]));

    // ---- a failed run, replayed with an overridden output --------------
    let failed = api.start(&dashboard, "judged", json!({"case": "c1"}));
    api.reaches(failed, ExecutionStatus::Failed);
    browser.goto(&format!("{url}/executions/{}", failed.0));
    let message = browser.eval(
        "return document.getElementById('failure-message').textContent",
        &[],
    );
    assert!(
        message.as_str().unwrap_or_default().contains("rejected"),
        "{message}"
    );
    // Replayed from its one call, the verdict runs again, live: the same
    // failure, in a new execution the page lands on.
    browser.click_on("tr.call-detail summary");
    browser.click_on("button[data-action=\"replay-from\"]");
    let again = browser.wait_for("the replay's page", LANDED_ELSEWHERE, &[json!(failed.0)]);
    let again = ExecutionId(again.as_u64().expect("an id"));
    browser.wait_for("the live replay to fail", PAGE_STATUS, &[json!("failed")]);
    let rerun = api.reaches(again, ExecutionStatus::Failed);
    assert_eq!(rerun.execution.original_exec_id, Some(failed));
    assert_eq!(rerun.calls[0].source, cairn_host::CallSource::Executed);
    // With an edited output instead, it completes.
    browser.goto(&format!("{url}/executions/{}", failed.0));
    browser.click_on("tr.call-detail summary");
    let output = browser.find("form.replay-override textarea");
    browser.clear(&output);
    // Not JSON first: said beside the editor, nothing is sent.
    browser.type_into(&output, "\"accept");
    browser.click_on("form.replay-override button[type=\"submit\"]");
    browser.wait_for(
        "the JSON error beside the editor",
        "const e = document.querySelector('form.replay-override [data-error-for=\"output\"]'); return e && e.textContent.includes('not JSON') ? true : null;",
        &[],
    );
    browser.type_into(&output, "\"");
    browser.click_on("form.replay-override button[type=\"submit\"]");
    let landed = browser.wait_for("the replay's page", LANDED_ELSEWHERE, &[json!(failed.0)]);
    let replay = ExecutionId(landed.as_u64().expect("an id"));
    browser.wait_for("the replay to complete", PAGE_STATUS, &[json!("ok")]);
    let replayed = api.reaches(replay, ExecutionStatus::Completed);
    assert_eq!(replayed.execution.original_exec_id, Some(failed));
    assert_eq!(replayed.execution.output, Some(json!("case c1 accepted")));
    assert_eq!(
        browser.eval(
            "return document.querySelector('.source-overridden') !== null",
            &[]
        ),
        json!(true)
    );
    browser.screenshot(&shots.join("replayed.png"));

    // ---- Resume, from the keyboard: a failed run completes -------------
    let gated = api.start(&probe, "gated", json!({"flag": "resume-me"}));
    api.reaches(gated, ExecutionStatus::Failed);
    std::fs::write(marks.join("resume-me"), b"").expect("the flag");
    browser.goto(&format!("{url}/executions/{}", gated.0));
    // Tab from the top of the page reaches the Resume button; Enter on it
    // resumes, and the page follows the run to its end.
    let mut tabs = 0;
    while browser.eval(
        "return document.activeElement.dataset.action === 'resume'",
        &[],
    ) != json!(true)
    {
        tabs += 1;
        assert!(tabs <= 30, "Tab never reached the Resume button");
        browser.press_tab();
    }
    browser.press_key(ENTER);
    browser.wait_for("the resumed run to complete", PAGE_STATUS, &[json!("ok")]);
    let resumed = api.reaches(gated, ExecutionStatus::Completed);
    assert_eq!(resumed.execution.output, Some(json!(5)));
    assert_eq!(
        resumed.calls[1].attempts.len(),
        2,
        "the gate ran again, the step before it did not"
    );

    // ---- non-determinism, with what diverged ---------------------------
    // Resumed once its flag exists, `fickle` takes the other branch and
    // calls `add` with other input than its journal holds at seq 1.
    let fickle = api.start(&probe, "fickle", json!({"flag": "fickle-open"}));
    api.reaches(fickle, ExecutionStatus::Failed);
    std::fs::write(marks.join("fickle-open"), b"").expect("the flag");
    browser.goto(&format!("{url}/executions/{}", fickle.0));
    browser.click_on("button[data-action=\"resume\"]");
    browser.wait_for(
        "the divergence",
        "return document.getElementById('divergence-found') !== null",
        &[],
    );
    let shown = browser.eval(
        "return ['failure-h', 'divergence-h', 'divergence-expected', 'divergence-found']\
         .map(id => document.getElementById(id).textContent)",
        &[],
    );
    assert_eq!(
        shown,
        json!([
            "Failure: non_determinism",
            "Non-determinism at seq 1",
            "`add` (add) with {\"a\":2,\"b\":2}",
            "`add` (add) with {\"a\":1,\"b\":1}",
        ])
    );
    browser.screenshot(&shots.join("non-determinism.png"));

    // ---- past the first page: 51 runs of one flow ----------------------
    let sums: Vec<ExecutionId> = (0..51)
        .map(|i| api.start(&probe, "sum", json!({"a": i, "b": 1})))
        .collect();
    browser.goto(&format!("{url}/?flow=sum"));
    let ids = "return [...document.querySelectorAll('tr[data-execution]')].map(r => Number(r.dataset.execution))";
    let first: Vec<u64> = sums.iter().rev().take(50).map(|id| id.0).collect();
    assert_eq!(browser.eval(ids, &[]), json!(first), "the newest 50");
    browser.click_on("a[rel=\"next\"]");
    browser.wait_for(
        "the older page",
        "return location.search.includes('cursor=') ? true : null",
        &[],
    );
    assert_eq!(browser.eval(ids, &[]), json!([sums[0].0]), "the oldest one");
    let pager = browser.eval(
        "return [...document.querySelectorAll('nav.pager a')].map(a => a.textContent)",
        &[],
    );
    assert_eq!(pager, json!(["← Newest"]), "no page after the last");

    // ---- a parked retry: its due time, and its mark on the timeline ----
    parked_retry(&browser, &shots);

    // ---- the guest's markup stays text ---------------------------------
    let xss = api.start(&dashboard, "inject", json!({"ask": false}));
    api.reaches(xss, ExecutionStatus::Completed);
    let asking = api.start(&dashboard, "inject", json!({"ask": true}));
    api.reaches(asking, ExecutionStatus::Waiting);
    for id in [xss, asking] {
        browser.goto(&format!("{url}/executions/{}", id.0));
        // Open every fold, so that what is inside is rendered too.
        browser.eval(
            "document.querySelectorAll('details').forEach(d => d.open = true)",
            &[],
        );
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(browser.alert_text(), None, "an alert opened");
        let inert = browser.eval(
            "return {pwned: window.__pwned === undefined ? null : window.__pwned, \
             images: document.querySelectorAll('img').length, \
             scripts: [...document.scripts].map(s => s.getAttribute('src')), \
             text: document.body.innerText}",
            &[],
        );
        assert_eq!(inert["pwned"], Value::Null, "guest script ran");
        assert_eq!(inert["images"], json!(0), "a guest image became an element");
        assert_eq!(inert["scripts"], json!(["/assets/dashboard.js"]));
        let text = inert["text"].as_str().unwrap_or_default();
        assert!(
            text.contains("<script>window.__pwned=1;alert(1)</script>"),
            "{text}"
        );
        assert!(
            text.contains("<img src=x onerror=\"window.__pwned=2;alert(2)\">"),
            "{text}"
        );
        // ANSI escapes are shown, not swallowed or obeyed.
        assert!(text.contains("\\u{1b}[31mred\\u{1b}[0m"), "{text}");
    }
    // The hostile field name and description are in the form, as text.
    let field = browser.eval(
        "const f = document.querySelector('form.wait-form .field'); return f ? f.dataset.field : null",
        &[],
    );
    assert!(
        field.as_str().unwrap_or_default().starts_with("<script>"),
        "{field}"
    );
    browser.screenshot(&shots.join("hostile-guest.png"));

    // The Calls column, counted without reading the calls: from the record
    // of an ended execution, from the journal's keys for a waiting one; in
    // a list and when found by id.
    let calls_cell = "const r = document.querySelector(`tr[data-execution=\"${arguments[0]}\"]`); \
                      return r ? r.querySelector('td:last-child').textContent : null";
    for page in ["/?flow=inject".to_owned(), format!("/?id={}", asking.0)] {
        browser.goto(&format!("{url}{page}"));
        for id in [xss, asking] {
            if page.contains("id=") && id != asking {
                continue;
            }
            let calls = api.detail(id).calls.len();
            assert!(calls >= 2, "{calls}");
            let shown = browser.eval(calls_cell, &[json!(id.0)]);
            assert_eq!(shown, json!(calls.to_string()), "{page}, execution {id}");
        }
    }

    // ---- dark, narrow, and the components page ------------------------
    browser.color_scheme("dark");
    browser.goto(&format!("{url}/executions/{}", replay.0));
    let background = browser.eval(
        "return getComputedStyle(document.body).backgroundColor",
        &[],
    );
    assert_eq!(
        background,
        json!("rgb(13, 17, 23)"),
        "the dark scheme applies"
    );
    browser.screenshot(&shots.join("execution-dark.png"));
    browser.color_scheme("light");
    browser.set_size(420, 900);
    browser.goto(&format!("{url}/"));
    browser.screenshot(&shots.join("executions-narrow.png"));
    browser.set_size(1280, 900);
    browser.goto(&format!("{url}/components"));
    let hello_forms = browser.eval(
        "return document.querySelectorAll(`form.start-form[data-component=\"${arguments[0]}\"]`).length",
        &[json!(hello)],
    );
    assert_eq!(hello_forms, json!(1), "one form per flow");
    browser.screenshot(&shots.join("components.png"));
    // Start a flow from the fields made from its parameters, and land on
    // the new run.
    let form = format!("form.start-form[data-component=\"{hello}\"]");
    browser.click_on(&format!("details.start:has({form}) > summary"));
    let name = browser.find(&format!("{form} [data-field=\"name\"] input"));
    browser.type_into(&name, "Bo");
    browser.click_on(&format!("{form} button[type=\"submit\"]"));
    browser.wait_for("the started run to complete", PAGE_STATUS, &[json!("ok")]);
    let text = browser.eval(
        "return document.getElementById('execution-live').innerText",
        &[],
    );
    assert!(text.as_str().unwrap_or_default().contains("Bo"), "{text}");
}

/// On a server of its own whose retries wait a minute: `patience` fails its
/// first try and is parked, and its page says which retry is due when.
fn parked_retry(browser: &Browser, shots: &std::path::Path) {
    let dir = temp();
    let marks = cairn_tests::marks(dir.path());
    let grant = format!("{}:/marks", marks.display());
    let args = ["--allow-dir", grant.as_str(), "--retry-delay", "60s"];
    let served = Served::start(dir.path(), &args);
    let api = Api {
        runtime: runtime(),
        client: served.client(),
    };
    let probe = api.upload(guests::PROBE);
    let parked = api.start(&probe, "patience", json!({"tries": 2}));
    let detail = api.reaches(parked, ExecutionStatus::Waiting);
    assert_eq!(detail.retries.len(), 1, "{:?}", detail.retries);
    let retry = &detail.retries[0];
    browser.goto(&format!("{}/executions/{}", served.url(), parked.0));
    let shown = browser.eval(
        "const li = document.querySelector('li[data-retry]'); \
         return li ? [li.dataset.retry, li.textContent, li.querySelector('time').getAttribute('datetime')] : null",
        &[],
    );
    let text = shown[1].as_str().unwrap_or_default();
    assert_eq!(shown[0], json!(retry.call_id), "{shown}");
    assert!(
        text.starts_with(&format!("Retry of {} (attempt 2) due at ", retry.call_id)),
        "{text}"
    );
    assert_eq!(shown[2], json!(retry.due_at));
    let marked = browser.eval(
        "return [document.querySelector(`.timeline [data-retry-mark=\"${arguments[0]}\"]`) !== null, \
         document.querySelector(`tr[data-call=\"${arguments[1]}\"] .retry-due`) !== null]",
        &[json!(retry.seq), json!(retry.call_id)],
    );
    assert_eq!(
        marked,
        json!([true, true]),
        "marked on the timeline and in the calls"
    );
    browser.screenshot(&shots.join("parked-retry.png"));
}

/// One raw HTTP request to the server: status, head (lower case) and body.
fn raw(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    use std::fmt::Write as _;
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a timeout");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n");
    for (name, value) in headers {
        let _ = write!(request, "{name}: {value}\r\n");
    }
    let _ = write!(request, "content-length: {}\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes()).expect("writes");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[test]
fn with_a_token_the_dashboard_wants_a_login_and_actions_want_the_csrf_token() {
    let dir = temp();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "0123456789abcdef0123456789abcdef\n").expect("the token");
    let mut permissions = std::fs::metadata(&token_file).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o600);
    std::fs::set_permissions(&token_file, permissions).expect("chmod");
    let token_arg = token_file.display().to_string();
    let served = Served::start(dir.path(), &["--token-file", token_arg.as_str()]);
    let url = served.url();

    // No cookie: to the login page, which carries the policy.
    let (status, head, _) = raw(url, "GET", "/executions/1", &[], "");
    assert_eq!(status, 303, "{head}");
    assert!(
        head.contains("location: /login?next=/executions/1"),
        "{head}"
    );
    let (status, head, body) = raw(url, "GET", "/login", &[], "");
    assert_eq!(status, 200);
    assert!(
        head.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{head}"
    );
    assert!(head.contains("frame-ancestors 'none'"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(body.contains("type=\"password\""), "{body}");
    assert!(
        !body.contains("cairn-csrf"),
        "the CSRF token is only for those logged in: {body}"
    );

    // A wrong token is refused; the right one gives the cookie and goes on
    // to where the browser wanted, but never off the server.
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let wrong = "token=nope&next=%2Fexecutions%2F1";
    let (status, head, _) = raw(url, "POST", "/login", &form, wrong);
    assert_eq!(status, 401, "{head}");
    assert!(!head.contains("set-cookie"), "{head}");
    // Browsers drop tabs and newlines in a Location, and read `\` as `/`.
    for elsewhere in [
        "%2F%2Fevil.example",
        "%2F%09%2Fevil.example",
        "%2F%0A%2Fevil.example",
        "%2F%0D%2Fevil.example",
        "%2F%5Cevil.example",
        "%2F%252F%2Fevil.example",
        "https%3A%2F%2Fevil.example",
        "javascript%3Aalert(1)",
    ] {
        let right = format!("token=0123456789abcdef0123456789abcdef&next={elsewhere}");
        let (status, head, _) = raw(url, "POST", "/login", &form, &right);
        assert_eq!(status, 303, "{head}");
        assert!(head.contains("location: /\r\n"), "next={elsewhere}: {head}");
    }
    let right = "token=0123456789abcdef0123456789abcdef&next=%2Fexecutions%3Fstatus%3Dfailed";
    let (status, head, _) = raw(url, "POST", "/login", &form, right);
    assert_eq!(status, 303, "{head}");
    assert!(
        head.contains("location: /executions?status=failed\r\n"),
        "{head}"
    );
    // Cookies ignore ports: the cookie is named after this server's port,
    // so another server on this host neither reads nor overwrites it.
    let port = url.rsplit(':').next().expect("a port");
    let name = format!("cairn_session_{port}");
    let cookie_line = head
        .lines()
        .find(|l| l.starts_with(&format!("set-cookie: {name}=")))
        .unwrap_or_else(|| panic!("no cookie {name} in {head}"));
    assert!(
        cookie_line.contains("httponly") && cookie_line.contains("samesite=strict"),
        "{cookie_line}"
    );
    let session = cookie_line
        .trim_start_matches("set-cookie: ")
        .split(';')
        .next()
        .expect("the cookie")
        .to_owned();
    let cookie = [("cookie", session.as_str())];

    let (status, _, page) = raw(url, "GET", "/", &cookie, "");
    assert_eq!(status, 200, "{page}");
    // A cookie of the same name tossed in first by a page on another port
    // does not lock the browser out; one for another port lets no one in.
    let value = session.split_once('=').map(|(_, v)| v).expect("a value");
    let tossed = format!("{name}=forged; {session}");
    let (status, _, _) = raw(url, "GET", "/", &[("cookie", tossed.as_str())], "");
    assert_eq!(status, 200, "any copy of the cookie counts");
    let other_port = format!("cairn_session_1{port}={value}; cairn_session={value}");
    let (status, head, _) = raw(url, "GET", "/", &[("cookie", other_port.as_str())], "");
    assert_eq!(status, 303, "another port's cookie: {head}");
    let (status, head, _) = raw(url, "POST", "/logout", &cookie, "");
    assert_eq!(status, 303, "{head}");
    assert!(
        head.contains(&format!("set-cookie: {name}=;")) && head.contains("max-age=0"),
        "logging out forgets this port's cookie: {head}"
    );
    let csrf = page
        .split("name=\"cairn-csrf\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's CSRF token")
        .to_owned();
    // The page's script reads the API with the cookie alone...
    let (status, _, _) = raw(url, "GET", "/api/v1/executions", &cookie, "");
    assert_eq!(status, 200);
    // ...but changes nothing without the CSRF token, nor from another origin.
    let (status, _, body) = raw(url, "POST", "/api/v1/executions/1/cancel", &cookie, "");
    assert_eq!(status, 401, "{body}");
    let with_csrf = [cookie[0], ("x-cairn-csrf", csrf.as_str())];
    let (status, _, body) = raw(url, "POST", "/api/v1/executions/1/cancel", &with_csrf, "");
    assert_eq!(
        status, 404,
        "authorised, and there is no execution 1: {body}"
    );
    let elsewhere = [
        cookie[0],
        ("x-cairn-csrf", csrf.as_str()),
        ("origin", "http://evil.example"),
    ];
    let (status, _, body) = raw(url, "POST", "/api/v1/executions/1/cancel", &elsewhere, "");
    assert_eq!(status, 403, "{body}");
    // Another site's `<img src=.../components>` gets nothing (nor makes the
    // server load every component); a link from there opens the page.
    let embedded = [
        cookie[0],
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-mode", "no-cors"),
        ("sec-fetch-dest", "image"),
    ];
    let (status, _, body) = raw(url, "GET", "/components", &embedded, "");
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = raw(url, "GET", "/api/v1/components", &embedded, "");
    assert_eq!(status, 403, "{body}");
    let linked = [
        cookie[0],
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-dest", "document"),
    ];
    let (status, _, body) = raw(url, "GET", "/components", &linked, "");
    assert_eq!(status, 200, "{body}");
    // The bearer token still works on its own, and no cookie is no access.
    let bearer = "Bearer 0123456789abcdef0123456789abcdef";
    let (status, _, _) = raw(url, "GET", "/", &[("authorization", bearer)], "");
    assert_eq!(status, 200);
    let (status, _, _) = raw(url, "GET", "/api/v1/executions", &[], "");
    assert_eq!(status, 401);
}

#[test]
fn a_huge_guest_output_keeps_the_execution_page_small() {
    let dir = temp();
    let served = Served::start(dir.path(), &[]);
    let api = Api {
        runtime: runtime(),
        client: served.client(),
    };
    let probe = api.upload(guests::PROBE);
    // A million quotes: each is `\"` in the JSON and `\&quot;` (seven
    // bytes) once escaped for the page. Shown cut in the input, the output
    // and the call's; the replay-override's prefill took it whole (7 MB).
    let text = "\"".repeat(1_000_000);
    let id = api.start(&probe, "talk", json!({"text": text}));
    let detail = api.reaches(id, ExecutionStatus::Completed);
    let call = &detail.calls[0];
    assert_eq!(call.output, Some(json!(text)), "the journal keeps it whole");

    let (status, _, page) = raw(served.url(), "GET", &format!("/executions/{id}"), &[], "");
    assert_eq!(status, 200);
    assert!(
        page.len() < 8 << 20,
        "{} bytes: past the page's budget",
        page.len()
    );
    assert!(
        !page.contains("<textarea name=\"output\""),
        "a huge output is not prefilled for editing"
    );
    assert!(
        page.contains(&format!(
            "cairn executions replay {id} --override {}=JSON",
            call.call_id
        )),
        "the page says how to override it instead"
    );
    assert!(page.contains("data-action=\"replay-from\""));
    assert!(page.contains("(cut: the API has all of it)"));
}
