//! Outgoing HTTP (`wasi:http`) for checkpoints, gated by the policy's
//! allowlist of hosts: a request to any other host is refused before a
//! connection is made. Flows get a gate that refuses everything.

use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// Decides, per request, whether it may leave the sandbox.
pub(crate) struct HttpGate {
    /// `host` (any port) or `host:port` entries.
    allowed: Vec<String>,
}

impl HttpGate {
    pub(crate) fn new(allowed: &[String]) -> HttpGate {
        HttpGate {
            allowed: allowed.iter().map(|h| h.to_ascii_lowercase()).collect(),
        }
    }

    /// A gate that lets nothing through.
    pub(crate) fn closed() -> HttpGate {
        HttpGate {
            allowed: Vec::new(),
        }
    }

    fn allows(&self, uri: &http::Uri) -> bool {
        let Some(host) = uri.host().map(str::to_ascii_lowercase) else {
            return false;
        };
        let port = uri.port_u16().or_else(|| match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        self.allowed
            .iter()
            .any(|entry| match entry.rsplit_once(':') {
                Some((h, p)) if p.parse::<u16>().is_ok() => h == host && port == p.parse().ok(),
                _ => *entry == host,
            })
    }
}

type Sent = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Sent {
        if !self.allows(request.uri()) {
            tracing::info!(uri = %request.uri(), "refused an HTTP request to a host the policy does not allow");
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        // wasmtime's own client, through the hooks that keep every default.
        let mut defaults: [(); 0] = [];
        defaults.send_request(request, options, fut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_with_and_without_a_port() {
        let gate = HttpGate::new(&["api.example.com".to_owned(), "127.0.0.1:8080".to_owned()]);
        let allows = |uri: &str| gate.allows(&uri.parse().expect("a uri"));
        assert!(allows("https://api.example.com/v1"));
        assert!(allows("http://API.example.com:9000/"));
        assert!(allows("http://127.0.0.1:8080/x"));
        assert!(!allows("http://127.0.0.1:8081/x"));
        assert!(!allows("https://example.com/"));
        assert!(!allows("https://api.example.com.evil.net/"));
        assert!(!HttpGate::closed().allows(&"http://127.0.0.1:8080/".parse().expect("a uri")));
    }
}
