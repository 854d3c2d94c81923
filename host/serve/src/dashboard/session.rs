//! Who may open the dashboard, and how a browser proves it.
//!
//! A browser cannot add `Authorization: Bearer` to a page load or to an
//! `EventSource`, so beyond loopback (where the server has a token) the
//! dashboard asks for the token once, on `/login`, and answers with a
//! session cookie: `HttpOnly` (no script reads it), `SameSite=Strict` (no
//! other site's page sends it). The cookie's value is derived from the
//! token (blake3 `derive_key`), so it needs no server-side store, survives a
//! restart, and dies when the token changes.
//!
//! The dashboard's JavaScript calls the real API under `/api/v1`; for such
//! a request that carries the cookie instead of a bearer token, [`gate`]
//! adds the bearer token itself, and for any state-changing method it first
//! wants the page's CSRF token in `X-Cairn-Csrf` (a header no cross-site
//! form can set). On every path, a state-changing request that a browser
//! marks as coming from another origin (`Origin`, `Sec-Fetch-Site`) is
//! refused, with or without a token: that also keeps other sites' pages
//! from driving a token-less server on loopback. Nor may another site's page
//! load anything of it as a part of itself (an `<img>`, a `fetch`): a read
//! can cost work too. Only a link to a page leads here from elsewhere.

use std::io::Read;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Dashboard;
use super::html::Html;
use super::layout;
use crate::api::PREFIX;
use crate::token;

/// The cookie's name, before the port (see [`cookie_name`]).
const COOKIE_NAME: &str = "cairn_session";
/// The header the dashboard's scripts put the CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-cairn-csrf";
/// The longest login form read.
const MAX_LOGIN_BODY: usize = 8 * 1024;

/// The secrets of one server's dashboard.
pub(crate) struct Keys {
    /// The bearer token, when the server has one.
    token: Option<Arc<str>>,
    /// The cookie value a logged-in browser holds.
    session: Option<String>,
    /// What state-changing requests from the pages carry.
    csrf: String,
}

impl Keys {
    pub(crate) fn new(token: Option<Arc<str>>) -> Keys {
        let (session, csrf) = match token.as_deref() {
            Some(token) => {
                let session =
                    blake3::derive_key("cairn serve dashboard session v1", token.as_bytes());
                let csrf = blake3::keyed_hash(&session, b"csrf");
                (Some(hex(&session)), hex(csrf.as_bytes()))
            }
            // Without a token nothing is secret; the CSRF token is still
            // unguessable so that the pages behave the same.
            None => (None, hex(&random_bytes())),
        };
        Keys {
            token,
            session,
            csrf,
        }
    }

    /// The CSRF token the pages carry.
    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether the dashboard asks who you are (the server has a token).
    pub(crate) fn needs_login(&self) -> bool {
        self.token.is_some()
    }

    fn has_session(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = self.session.as_deref() else {
            return true;
        };
        // Any of them: a page on another port of the same host can set a
        // cookie of this name too (cookies ignore ports), and a stale one
        // sent first must not lock the real session out.
        cookies(headers, &cookie_name(headers)).any(|given| token::matches(expected, given))
    }

    fn has_bearer(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = self.token.as_deref() else {
            return true;
        };
        bearer(headers).is_some_and(|given| token::matches(expected, given))
    }

    fn has_csrf(&self, headers: &HeaderMap) -> bool {
        headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|given| token::matches(&self.csrf, given))
    }
}

/// What every request passes first (see the module's comment).
pub(crate) async fn gate(
    State(dashboard): State<Arc<Dashboard>>,
    mut request: Request,
    next: Next,
) -> Response {
    let keys = &dashboard.keys;
    let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes_state && from_another_origin(request.headers()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "a state-changing request from another origin is refused",
        );
    }
    if embedded_by_another_site(request.headers()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "the dashboard and the API are not to be embedded in another site's page",
        );
    }
    let path = request.uri().path();
    if path == PREFIX || path.starts_with(&format!("{PREFIX}/")) {
        let headers = request.headers();
        if keys.needs_login()
            && !headers.contains_key(AUTHORIZATION)
            && keys.has_session(headers)
            && (!changes_state || keys.has_csrf(headers))
            && let Some(token) = keys.token.as_deref()
            && let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}"))
        {
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        // Anything else is the API's to accept or refuse.
        return next.run(request).await;
    }
    let public = path == "/login" || path.starts_with("/assets/");
    let headers = request.headers();
    if public || keys.has_session(headers) || keys.has_bearer(headers) {
        return next.run(request).await;
    }
    if request.method() == Method::GET {
        let wanted = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        return redirect(&format!("/login?next={}", percent_encode(&wanted)));
    }
    refuse(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "log in first, on /login",
    )
}

/// Whether a browser says the request comes from a page of another origin.
/// Tools that send neither header (the CLI, curl) are not browsers and are
/// the API's token's business.
fn from_another_origin(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    // `same-site` is another port or subdomain: another origin still.
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return true;
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return false;
    };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
    });
    !matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// Whether a browser says another site's page loads this as a part of
/// itself (`<img>`, `<script>`, `<iframe>`, `fetch`): nothing here is
/// meant for that, and even a read costs work (a page that lists every
/// component, a thousand executions) that any page could otherwise make a
/// browser ask a token-less server on loopback for. Following a link to
/// the dashboard stays possible.
fn embedded_by_another_site(headers: &HeaderMap) -> bool {
    let field = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let from_elsewhere = field("sec-fetch-site").is_some_and(|s| s != "same-origin" && s != "none");
    let opens_a_page = field("sec-fetch-mode") == Some("navigate")
        && field("sec-fetch-dest").is_none_or(|d| d == "document");
    from_elsewhere && !opens_a_page
}

fn refuse(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": kind, "message": message});
    (status, axum::Json(body)).into_response()
}

fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// `GET /login`: the form (or straight to the dashboard when the server
/// has no token).
pub(crate) async fn login_page(
    State(dashboard): State<Arc<Dashboard>>,
    request: Request,
) -> Response {
    if !dashboard.keys.needs_login() {
        return redirect("/");
    }
    let next = request
        .uri()
        .query()
        .and_then(|q| form_value(q, "next"))
        .unwrap_or_default();
    login_form(&dashboard, &next, None, StatusCode::OK)
}

fn login_form(
    dashboard: &Dashboard,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let mut body = Html::new();
    body.raw("<section class=\"login\"><h1>Log in to Cairn</h1>")
        .raw("<p>This server needs its bearer token (the file given with <code>--token-file</code>, or <code>&lt;journal&gt;.token</code>).</p>")
        .raw("<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"next\"")
        .attr("value", next)
        .raw("><label for=\"token\">Token</label> <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" autofocus>");
    if let Some(error) = error {
        body.raw(" <p class=\"field-error\" role=\"alert\">")
            .text(error)
            .raw("</p>");
    }
    body.raw(" <button type=\"submit\">Log in</button></form></section>");
    let mut response = layout::public_page(dashboard, "Log in", body);
    *response.status_mut() = status;
    response
}

/// `POST /login` with `token=...&next=...`: the cookie, and on to `next`.
pub(crate) async fn login(
    State(dashboard): State<Arc<Dashboard>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, MAX_LOGIN_BODY).await else {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the login form is too large",
        );
    };
    let form = String::from_utf8_lossy(&bytes);
    let given = form_value(&form, "token").unwrap_or_default();
    let next = form_value(&form, "next").unwrap_or_default();
    let keys = &dashboard.keys;
    let (Some(expected), Some(session)) = (keys.token.as_deref(), keys.session.as_deref()) else {
        return redirect("/");
    };
    if !token::matches(expected, given.trim()) {
        return login_form(
            &dashboard,
            &next,
            Some("That is not this server's token."),
            StatusCode::UNAUTHORIZED,
        );
    }
    let mut response = redirect(local_path(&next));
    let name = cookie_name(&headers);
    let cookie = format!("{name}={session}; Path=/; HttpOnly; SameSite=Strict");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

/// `POST /logout`: forgets the cookie.
pub(crate) async fn logout(headers: HeaderMap) -> Response {
    let mut response = redirect("/login");
    let name = cookie_name(&headers);
    let cookie = format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

/// `next` when it is a path of this server, else `/`: a login link cannot
/// send the browser elsewhere. Browsers drop tabs and newlines from a
/// `Location` and read `\` as `/`, so `/<TAB>/evil.example` would be
/// `//evil.example`, another host: only plain URL characters pass, and the
/// path must start with exactly one `/`, before and after percent-decoding.
fn local_path(next: &str) -> &str {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"/_.~?=&%#-".contains(b);
    let harmless = |b: &u8| (0x21..0x7f).contains(b) && *b != b'\\';
    let one_slash =
        |path: &[u8]| path.first() == Some(&b'/') && !matches!(path.get(1), Some(b'/' | b'\\'));
    let decoded = percent_decode(next);
    let local = one_slash(next.as_bytes())
        && next.bytes().all(|b| plain(&b))
        && one_slash(decoded.as_bytes())
        && decoded.bytes().all(|b| harmless(&b));
    if local { next } else { "/" }
}

/// The session cookie's name for the port the browser reached: cookies
/// ignore ports, so two servers on one host would otherwise share (and
/// overwrite) one cookie.
fn cookie_name(headers: &HeaderMap) -> String {
    let port = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|host| host.rsplit_once(':'))
        .map(|(_, port)| port)
        .filter(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    match port {
        Some(port) => format!("{COOKIE_NAME}_{port}"),
        None => COOKIE_NAME.to_owned(),
    }
}

/// Every value of the cookie `name` the request carries.
fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The value of `name` in an `application/x-www-form-urlencoded` text.
pub(crate) fn form_value(form: &str, name: &str) -> Option<String> {
    form.split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| percent_decode(key) == name)
        .map(|(_, value)| percent_decode(value))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` safe in a query value.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    // Without /dev/urandom (never on Linux) the CSRF token falls back to a
    // hash of the time and pid: only a token-less server uses this one.
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let seed = format!("{} {}", super::format::now_us(), std::process::id());
        bytes = *blake3::hash(seed.as_bytes()).as_bytes();
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_next_stays_local() {
        assert_eq!(
            form_value("token=a%2Bb+c&next=%2Fx", "token").as_deref(),
            Some("a+b c")
        );
        assert_eq!(
            form_value("token=a&next=%2Fx", "next").as_deref(),
            Some("/x")
        );
        assert_eq!(form_value("bad=%zz%", "bad").as_deref(), Some("%zz%"));
        assert_eq!(local_path("/executions/3"), "/executions/3");
        assert_eq!(local_path("//evil.example"), "/");
        assert_eq!(local_path("https://evil.example"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
    }

    #[test]
    fn next_cannot_leave_the_server_by_any_spelling() {
        assert_eq!(local_path("/"), "/");
        assert_eq!(
            local_path("/executions/3?tab=calls#c-1"),
            "/executions/3?tab=calls#c-1"
        );
        assert_eq!(local_path("/executions%2F3"), "/executions%2F3");
        for hostile in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/\t\n/evil.example",
            "/%09/evil.example",
            "/%0A/evil.example",
            "/%0d/evil.example",
            "/\\evil.example",
            "/%5Cevil.example",
            "//evil.example",
            "/%2F/evil.example",
            "/%2fevil.example",
            "https://evil.example",
            "https:evil.example",
            "javascript:alert(1)",
            "/x\u{7f}",
            "/é",
            "/%C3%A9",
            "/ /evil.example",
            "/%20/evil.example",
            "",
        ] {
            assert_eq!(local_path(hostile), "/", "{hostile:?}");
        }
        // What the browser sent, decoded once by the form reader.
        let next = form_value("next=%2F%09%2Fevil.example", "next").unwrap_or_default();
        assert_eq!(local_path(&next), "/");
    }

    #[test]
    fn the_session_cookie_is_per_port_and_any_copy_counts() {
        let keys = Keys::new(Some(Arc::from("secret")));
        let session = keys.session.clone().unwrap_or_default();
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:7080"));
        assert_eq!(cookie_name(&headers), "cairn_session_7080");
        let tossed = format!("cairn_session_7080=forged; cairn_session_7080={session}");
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&tossed).unwrap_or(HeaderValue::from_static("")),
        );
        assert!(keys.has_session(&headers));
        // Another port's cookie is not this server's session.
        let other = format!("cairn_session_7081={session}; cairn_session={session}");
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&other).unwrap_or(HeaderValue::from_static("")),
        );
        assert!(!keys.has_session(&headers));
        headers.insert(HOST, HeaderValue::from_static("[::1]"));
        assert_eq!(cookie_name(&headers), "cairn_session");
        headers.insert(HOST, HeaderValue::from_static("[::1]:9"));
        assert_eq!(cookie_name(&headers), "cairn_session_9");
    }

    #[test]
    fn other_origins_are_told_apart() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:7080"));
        assert!(!from_another_origin(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:7080"));
        assert!(!from_another_origin(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(from_another_origin(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:7080"));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(from_another_origin(&headers));
    }

    #[test]
    fn other_sites_may_link_to_the_dashboard_but_not_embed_it() {
        let with = |fields: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in fields {
                headers.insert(*name, HeaderValue::from_static(value));
            }
            embedded_by_another_site(&headers)
        };
        // The CLI and curl send none of these.
        assert!(!with(&[]));
        assert!(!with(&[
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-mode", "cors"),
            ("sec-fetch-dest", "empty")
        ]));
        assert!(!with(&[
            ("sec-fetch-site", "none"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-dest", "document")
        ]));
        assert!(!with(&[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-dest", "document")
        ]));
        // `<img src=http://127.0.0.1:7080/components>` on another site.
        assert!(with(&[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "no-cors"),
            ("sec-fetch-dest", "image")
        ]));
        assert!(with(&[
            ("sec-fetch-site", "same-site"),
            ("sec-fetch-mode", "cors"),
            ("sec-fetch-dest", "empty")
        ]));
        assert!(with(&[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-dest", "iframe")
        ]));
    }
}
