//! What every request must look like before any route sees it: a path
//! (origin form, not a full URL), exactly one valid `Host`, no second copy
//! of a header that has one meaning, and well-formed percent-encoding.
//!
//! These are the tricks that get a request past checks that read one
//! header or one form of the URI: a full URL (`GET http://evil.example/...`)
//! names a host of its own beside `Host`; two `Host`s (or two
//! `Authorization`s) let one check read the first and another the last;
//! `%zz` or `%ff` is decoded differently (or silently replaced) by each
//! reader. Refusing them leaves one reading of every request.

use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN};
use axum::http::uri::Authority;
use axum::http::{HeaderName, Request, StatusCode};

use crate::error::ApiError;
use crate::routes::cut;

/// Headers a request may carry once at most (a `Cookie` may come more
/// than once: the dashboard's session reads every copy).
const SINGLE: [HeaderName; 5] = [HOST, AUTHORIZATION, CONTENT_TYPE, CONTENT_LENGTH, ORIGIN];

/// `Ok` when `request` may go on to the routes; the `400` to answer
/// otherwise.
pub(crate) fn check<B>(request: &Request<B>) -> Result<(), ApiError> {
    let uri = request.uri();
    if uri.scheme().is_some() || uri.authority().is_some() || !uri.path().starts_with('/') {
        return Err(ApiError::bad_request(
            "bad_target",
            format!(
                "the request target must be a path (/api/v1/...), not `{}`: this server is no proxy",
                cut(&uri.to_string())
            ),
        ));
    }
    for name in &SINGLE {
        if request.headers().get_all(name).iter().nth(1).is_some() {
            return Err(ApiError::bad_request(
                "duplicate_header",
                format!("the request has more than one `{name}` header"),
            ));
        }
    }
    let Some(host) = request.headers().get(HOST) else {
        return Err(ApiError::bad_request(
            "missing_host",
            "the request has no `Host` header (HTTP/1.1 requires one)",
        ));
    };
    let valid = host
        .to_str()
        .ok()
        .filter(|h| !h.is_empty() && !h.contains('@'))
        .is_some_and(|h| h.parse::<Authority>().is_ok());
    if !valid {
        return Err(ApiError::bad_request(
            "bad_host",
            format!(
                "the `Host` header is not a host and port: `{}`",
                cut(&String::from_utf8_lossy(host.as_bytes()))
            ),
        ));
    }
    percent_encoded(uri.path(), "path", "bad_path")?;
    if let Some(query) = uri.query() {
        percent_encoded(query, "query", "bad_query")?;
    }
    Ok(())
}

/// Every `%` in `text` starts an escape of two hex digits
/// (`bad_encoding`), and what the escapes decode to is UTF-8 (`not_utf8`,
/// the kind the route's own reading of a path or query would give).
fn percent_encoded(text: &str, what: &str, not_utf8: &'static str) -> Result<(), ApiError> {
    let bad = |kind: &'static str, why: &str| {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            kind,
            format!("the request's {what} `{}` {why}", cut(text)),
        ))
    };
    if !text.contains('%') {
        return Ok(());
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(byte) = hex else {
                return bad(
                    "bad_encoding",
                    "has a `%` that is not followed by two hex digits",
                );
            };
            decoded.push(byte);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    if std::str::from_utf8(&decoded).is_err() {
        return bad(not_utf8, "percent-decodes to bytes that are not UTF-8");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().uri(target);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).expect("a request")
    }

    fn kind(target: &str, headers: &[(&str, &str)]) -> Option<&'static str> {
        check(&request(target, headers)).err().map(|e| e.kind)
    }

    #[test]
    fn one_reading_of_every_request() {
        let host = [("host", "127.0.0.1:7080")];
        assert_eq!(kind("/api/v1/executions?flow=a%20b", &host), None);
        assert_eq!(kind("/api/v1/executions/%31", &host), None);
        assert_eq!(kind("/api/v1/executions?flow=%C3%A9", &host), None);
        assert_eq!(
            kind("http://evil.example/api/v1/health", &host),
            Some("bad_target")
        );
        assert_eq!(kind("*", &host), Some("bad_target"));
        assert_eq!(kind("/api/v1/health", &[]), Some("missing_host"));
        assert_eq!(
            kind(
                "/api/v1/health",
                &[("host", "127.0.0.1"), ("host", "evil.example")]
            ),
            Some("duplicate_header")
        );
        assert_eq!(
            kind(
                "/api/v1/health",
                &[
                    ("host", "127.0.0.1"),
                    ("authorization", "a"),
                    ("authorization", "b")
                ]
            ),
            Some("duplicate_header")
        );
        assert_eq!(kind("/api/v1/health", &[("host", "")]), Some("bad_host"));
        assert_eq!(
            kind("/api/v1/health", &[("host", "user@127.0.0.1")]),
            Some("bad_host")
        );
        for bad in [
            "/api/v1/executions/%zz",
            "/api/v1/executions/%4",
            "/api/v1/executions/1%",
            "/api/v1/executions?flow=%",
            "/api/v1/executions?flow=%g1",
        ] {
            assert_eq!(kind(bad, &host), Some("bad_encoding"), "{bad}");
        }
        assert_eq!(kind("/api/v1/executions/%ff", &host), Some("bad_path"));
        assert_eq!(
            kind("/api/v1/executions?flow=%C3", &host),
            Some("bad_query")
        );
    }
}
