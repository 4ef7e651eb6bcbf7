//! HTTP(S) probes through reqwest with rustls.
//!
//! One client per redirect policy, built once; connection pooling is off so
//! every attempt measures a fresh connect + TLS handshake, as a user's first
//! request would. At most the first 64 KiB of a body is read.

use std::time::{Duration, Instant};

use super::{Attempt, FailureClass};
use crate::config::{HttpCheck, ProbeSettings};

/// The most body we read looking for `body_contains`.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub struct HttpProber {
    no_redirect: reqwest::Client,
    follow: reqwest::Client,
    user_agent: String,
}

fn builder(user_agent: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(user_agent.to_string())
        // A probe must see the endpoint as a new client would: no reuse.
        .pool_max_idle_per_host(0)
        .tcp_nodelay(true)
        // Proxies from the environment would probe the proxy, not the region.
        .no_proxy()
}

impl HttpProber {
    pub fn new(settings: &ProbeSettings) -> Result<Self, String> {
        let no_redirect = builder(&settings.user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        let follow = builder(&settings.user_agent)
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        Ok(HttpProber {
            no_redirect,
            follow,
            user_agent: settings.user_agent.clone(),
        })
    }

    /// One attempt against `check`, bounded by `timeout` end to end
    /// (connect, TLS, headers and the body we read).
    pub async fn check(&self, check: &HttpCheck, timeout: Duration) -> Attempt {
        let start = Instant::now();
        match tokio::time::timeout(timeout, self.attempt(check, start)).await {
            Ok(a) => a,
            Err(_) => Attempt::failure(
                start.elapsed(),
                None,
                FailureClass::Timeout,
                format!("no complete answer within {}ms", timeout.as_millis()),
            ),
        }
    }

    async fn attempt(&self, check: &HttpCheck, start: Instant) -> Attempt {
        let client = match self.client_for(check) {
            Ok(c) => c,
            Err(e) => return Attempt::failure(start.elapsed(), None, FailureClass::Other, e),
        };
        let method =
            reqwest::Method::from_bytes(check.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = client.request(method, &check.url);
        for (name, value) in &check.headers {
            req = req.header(name.as_str(), value.expose());
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let (class, detail) = classify(&e);
                return Attempt::failure(start.elapsed(), None, class, detail);
            }
        };
        let status = resp.status().as_u16();
        if !check.expect_status.matches(status) {
            return Attempt::failure(
                start.elapsed(),
                Some(status),
                FailureClass::UnexpectedStatus,
                format!("status {status}, expected {}", check.expect_status),
            );
        }
        if let Some(needle) = &check.body_contains {
            let mut body = Vec::with_capacity(4096);
            let mut found = false;
            loop {
                match resp.chunk().await {
                    Ok(Some(chunk)) => {
                        let room = BODY_LIMIT - body.len();
                        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                        if contains(&body, needle.as_bytes()) {
                            found = true;
                            break;
                        }
                        if body.len() >= BODY_LIMIT {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let (class, detail) = classify(&e);
                        return Attempt::failure(
                            start.elapsed(),
                            Some(status),
                            class,
                            format!("reading body: {detail}"),
                        );
                    }
                }
            }
            if !found {
                return Attempt::failure(
                    start.elapsed(),
                    Some(status),
                    FailureClass::BodyMismatch,
                    format!(
                        "body (first {} bytes) does not contain {:?}",
                        body.len(),
                        needle
                    ),
                );
            }
        }
        let latency = start.elapsed();
        if let Some(max) = check.max_latency {
            if latency > max {
                return Attempt::failure(
                    latency,
                    Some(status),
                    FailureClass::TooSlow,
                    format!(
                        "answered in {}ms, limit {}ms",
                        latency.as_millis(),
                        max.as_millis()
                    ),
                );
            }
        }
        Attempt::success(latency, Some(status))
    }

    fn client_for(&self, check: &HttpCheck) -> Result<reqwest::Client, String> {
        match check.resolve {
            None if check.follow_redirects => Ok(self.follow.clone()),
            None => Ok(self.no_redirect.clone()),
            Some(ip) => {
                // Pin the URL's host to this IP; Host header and SNI stay the URL's.
                let url = reqwest::Url::parse(&check.url).map_err(|e| e.to_string())?;
                let host = url.host_str().ok_or("URL has no host")?.to_string();
                let port = url.port_or_known_default().unwrap_or(443);
                let policy = if check.follow_redirects {
                    reqwest::redirect::Policy::limited(5)
                } else {
                    reqwest::redirect::Policy::none()
                };
                builder(&self.user_agent)
                    .redirect(policy)
                    .resolve(&host, std::net::SocketAddr::new(ip, port))
                    .build()
                    .map_err(|e| format!("cannot build HTTP client: {e}"))
            }
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Map a reqwest error to a failure class by walking its source chain.
pub fn classify(e: &reqwest::Error) -> (FailureClass, String) {
    use std::error::Error as _;
    let mut chain = e.to_string();
    let mut io_kind = None;
    let mut src = e.source();
    while let Some(s) = src {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
        }
        src = s.source();
    }
    let lower = chain.to_ascii_lowercase();
    use std::io::ErrorKind as K;
    let class = if e.is_timeout() {
        FailureClass::Timeout
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        FailureClass::Dns
    } else if lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("handshake")
        || lower.contains("invalid peer")
    {
        FailureClass::Tls
    } else {
        match io_kind {
            Some(K::ConnectionRefused) => FailureClass::ConnectionRefused,
            Some(K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof) => {
                FailureClass::ConnectionReset
            }
            Some(K::TimedOut) => FailureClass::Timeout,
            _ if lower.contains("connection refused") => FailureClass::ConnectionRefused,
            _ if lower.contains("reset")
                || lower.contains("connection closed")
                || lower.contains("incomplete message")
                || lower.contains("broken pipe") =>
            {
                FailureClass::ConnectionReset
            }
            _ => FailureClass::Other,
        }
    };
    (class, chain)
}
