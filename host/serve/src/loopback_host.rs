//! The `Host` check of a server without a token: it answers only requests
//! addressed to a loopback name.
//!
//! Without it, any web page the operator opens could read and drive the
//! API through DNS rebinding: the page's own name is made to resolve to
//! 127.0.0.1, so the browser sends the page's requests to the server as
//! same-origin ones, with `Host: attacker.example`. A loopback server has
//! no token to stop them; the name it was reached by is what gives them
//! away. (With a token, a rebound page has no token to send, and the
//! dashboard's cookie belongs to the loopback origin, not the page's.)

use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::HOST;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Lets a request through when its one `Host` is a loopback name
/// (`localhost`, `127.x.x.x`, `[::1]`, with or without a port) and its
/// target names no other host; `403 foreign_host` otherwise.
///
/// A request without `Host`, with two, or with a full URL as its target is
/// refused before this (`request_target`, with `400`); this check refuses
/// them too, so that it holds wherever it is mounted.
pub(crate) async fn require_loopback_host(request: Request, next: Next) -> Response {
    let mut hosts = request.headers().get_all(HOST).iter();
    let host = match (hosts.next().map(|v| v.to_str()), hosts.next()) {
        (Some(Ok(host)), None) => Some(host),
        _ => None,
    };
    let target_is_loopback = request
        .uri()
        .authority()
        .is_none_or(|authority| is_loopback_name(authority.as_str()));
    match host {
        Some(host) if is_loopback_name(host) && target_is_loopback => next.run(request).await,
        _ => ApiError::new(
            StatusCode::FORBIDDEN,
            "foreign_host",
            "this server has no token and answers only requests addressed to a loopback \
             name (localhost, 127.0.0.1, [::1]); to serve other names, give it a token \
             (--token-file) and listen on their address",
        )
        .into_response(),
    }
}

/// Whether `host` (a `Host` header: a name or address and maybe a port) names
/// this machine's loopback interface.
fn is_loopback_name(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // `[::1]:7080`: the address is inside the brackets.
        Some(rest) => match rest.split_once(']') {
            Some((address, "")) => address,
            Some((address, port)) if port.strip_prefix(':').is_some_and(is_port) => address,
            _ => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        },
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// A port number: digits only (`u16` parsing alone would take `+80`).
fn is_port(port: &str) -> bool {
    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::is_loopback_name;

    #[test]
    fn loopback_names_pass_and_every_other_name_does_not() {
        for host in [
            "localhost",
            "LOCALHOST:7080",
            "localhost.:7080",
            "127.0.0.1",
            "127.0.0.1:7080",
            "127.3.2.1:1",
            "[::1]",
            "[::1]:7080",
        ] {
            assert!(is_loopback_name(host), "{host}");
        }
        for host in [
            "attacker.example",
            "attacker.example:7080",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "10.0.0.1:7080",
            "0.0.0.0:7080",
            "[::1]x",
            "[::1]7080",
            "localhost:+80",
            "[::2]:7080",
            "localhost:port",
            "localhost:99999",
            "",
            "::1",
        ] {
            assert!(!is_loopback_name(host), "{host}");
        }
    }
}
