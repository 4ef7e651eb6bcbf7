//! HTTP(S) probes through reqwest with rustls.
//!
//! One client per redirect policy, built once; connection pooling is off so
//! every attempt measures a fresh connect + TLS handshake, as a user's first
//! request would. At most the first 64 KiB of a body is read. Name
//! resolution goes through the system resolver unless a custom
//! [`reqwest::dns::Resolve`] is given ([`HttpProber::with_resolver`]); tests
//! use that to produce DNS failures without sending a query off the machine.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::dns::Resolve;

use super::{Attempt, FailureClass};
use crate::model::target::{HttpCheck, ProbeSettings};

/// The most body we read looking for `body_contains`.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Redirects followed when a check asks for it.
const MAX_REDIRECTS: usize = 5;

#[derive(Clone)]
pub struct HttpProber {
    no_redirect: reqwest::Client,
    follow: reqwest::Client,
    user_agent: String,
    resolver: Option<Arc<dyn Resolve>>,
    /// Clients for checks with `resolve` (host pinned to an IP), keyed by
    /// (host, pinned address, follow redirects); built on first use so a
    /// run over many pinned targets does not rebuild a TLS config per attempt.
    pinned: Arc<Mutex<HashMap<PinKey, reqwest::Client>>>,
}

/// (host, pinned address, follow redirects).
type PinKey = (String, SocketAddr, bool);

impl HttpProber {
    /// A prober resolving names through the system resolver.
    pub fn new(settings: &ProbeSettings) -> Result<Self, super::Error> {
        Self::build(settings, None)
    }

    /// A prober resolving names through `resolver` instead of the system's.
    /// A `resolve` pin in a check still wins over it.
    pub fn with_resolver(
        settings: &ProbeSettings,
        resolver: Arc<dyn Resolve>,
    ) -> Result<Self, super::Error> {
        Self::build(settings, Some(resolver))
    }

    fn build(
        settings: &ProbeSettings,
        resolver: Option<Arc<dyn Resolve>>,
    ) -> Result<Self, super::Error> {
        let ua = &settings.user_agent;
        Ok(HttpProber {
            no_redirect: client(ua, &resolver, false, None)?,
            follow: client(ua, &resolver, true, None)?,
            user_agent: ua.clone(),
            resolver,
            pinned: Arc::default(),
        })
    }

    /// The custom resolver, when one was given.
    pub fn resolver(&self) -> Option<&Arc<dyn Resolve>> {
        self.resolver.as_ref()
    }

    /// One attempt against `check`, bounded by `timeout` end to end
    /// (name resolution, connect, TLS, headers and the body we read).
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
        // The config validated the method against a fixed list, so this
        // fallback only guards hand-built checks.
        let method =
            reqwest::Method::from_bytes(check.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = client.request(method, check.url.value());
        for (name, value) in &check.headers {
            req = req.header(name.as_str(), value.expose());
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let (class, detail) = classify(e);
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
            match read_until(&mut resp, needle.value().as_bytes()).await {
                Ok((true, _)) => {}
                Ok((false, read)) => {
                    return Attempt::failure(
                        start.elapsed(),
                        Some(status),
                        FailureClass::BodyMismatch,
                        format!(
                            "body (first {read} bytes) does not contain {}",
                            needle.quoted()
                        ),
                    )
                }
                Err(e) => {
                    let (class, detail) = classify(e);
                    return Attempt::failure(
                        start.elapsed(),
                        Some(status),
                        class,
                        format!("reading body: {detail}"),
                    );
                }
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
        let Some(ip) = check.resolve else {
            return Ok(if check.follow_redirects {
                self.follow.clone()
            } else {
                self.no_redirect.clone()
            });
        };
        // Pin the URL's host to this IP; Host header and SNI stay the URL's.
        let url = reqwest::Url::parse(check.url.value()).map_err(|e| e.to_string())?;
        let host = url.host_str().ok_or("URL has no host")?.to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        let key = (host, SocketAddr::new(ip, port), check.follow_redirects);
        // A poisoned lock only means another probe panicked mid-insert; the
        // map is still a valid cache.
        let mut pinned = self.pinned.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = pinned.get(&key) {
            return Ok(c.clone());
        }
        let c = client(
            &self.user_agent,
            &self.resolver,
            key.2,
            Some((&key.0, key.1)),
        )
        .map_err(|e| e.to_string())?;
        pinned.insert(key, c.clone());
        Ok(c)
    }
}

fn client(
    user_agent: &str,
    resolver: &Option<Arc<dyn Resolve>>,
    follow: bool,
    pin: Option<(&str, SocketAddr)>,
) -> Result<reqwest::Client, super::Error> {
    let mut b = reqwest::Client::builder()
        .user_agent(user_agent.to_string())
        // A probe must see the endpoint as a new client would: no reuse.
        .pool_max_idle_per_host(0)
        .tcp_nodelay(true)
        // One request per connection: TCP keepalive and user-timeout options
        // would only cost syscalls per probe. reqwest enables keepalive when
        // any of time, interval or retries is set, and sets the last two by
        // default, so all three go (strace: three setsockopt calls fewer).
        .tcp_keepalive(None)
        .tcp_keepalive_interval(None)
        .tcp_keepalive_retries(None)
        .tcp_user_timeout(None)
        // Proxies from the environment would probe the proxy, not the region.
        .no_proxy()
        .redirect(if follow {
            reqwest::redirect::Policy::limited(MAX_REDIRECTS)
        } else {
            reqwest::redirect::Policy::none()
        });
    if let Some(r) = resolver {
        b = b.dns_resolver2(r.clone());
    }
    if let Some((host, addr)) = pin {
        b = b.resolve(host, addr);
    }
    b.build()
        .map_err(|e| super::Error(format!("HTTP client: {e}")))
}

/// Read the body until `needle` shows up or [`BODY_LIMIT`] bytes were read.
/// Returns whether it was found and how many bytes were read.
async fn read_until(
    resp: &mut reqwest::Response,
    needle: &[u8],
) -> Result<(bool, usize), reqwest::Error> {
    if needle.is_empty() {
        return Ok((true, 0));
    }
    let mut body = Vec::with_capacity(4096.min(BODY_LIMIT));
    while body.len() < BODY_LIMIT {
        let Some(chunk) = resp.chunk().await? else {
            break;
        };
        // Only the new bytes, plus the tail that a match could straddle,
        // need searching.
        let from = body.len().saturating_sub(needle.len() - 1);
        let room = BODY_LIMIT - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if contains(&body[from..], needle) {
            return Ok((true, body.len()));
        }
    }
    Ok((false, body.len()))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Map a reqwest error to a failure class by walking its source chain.
///
/// Typed checks come first: reqwest's own timeout flag, a rustls error (TLS),
/// then the kind of the first `io::Error`. Only errors that carry no type we
/// can reach (hyper-util's "dns error" wrapper, hyper's "connection closed
/// before message completed") are matched by their message, and only the
/// messages of the *sources*.
///
/// The detail leaves the URL out: it may carry a secret (`?token=...`), and
/// the report shows the endpoint, as written, beside it.
pub fn classify(e: reqwest::Error) -> (FailureClass, String) {
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut nodes: Vec<&(dyn std::error::Error + 'static)> = Vec::new();
    collect_chain(std::error::Error::source(&e), &mut nodes);
    let mut io_kind = None;
    let mut tls = false;
    let mut dns = false;
    let mut closed = false;
    for n in &nodes {
        let msg = n.to_string();
        if !detail.ends_with(&msg) {
            detail.push_str(": ");
            detail.push_str(&msg);
        }
        if n.downcast_ref::<rustls::Error>().is_some() {
            tls = true;
        }
        if let Some(io) = n.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
        }
        // hyper-util's ConnectError (not exported) displays exactly this.
        if msg == "dns error" {
            dns = true;
        }
        // hyper's IncompleteMessage: the peer closed before a full response.
        if msg.starts_with("connection closed before message completed") {
            closed = true;
        }
    }
    use std::io::ErrorKind as K;
    let class = if e.is_timeout() {
        FailureClass::Timeout
    } else if dns {
        FailureClass::Dns
    } else if tls {
        FailureClass::Tls
    } else {
        match io_kind {
            Some(K::ConnectionRefused) => FailureClass::ConnectionRefused,
            Some(K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof) => {
                FailureClass::ConnectionReset
            }
            Some(K::TimedOut) => FailureClass::Timeout,
            _ if closed => FailureClass::ConnectionReset,
            _ => FailureClass::Other,
        }
    };
    (class, detail)
}

/// Flatten an error's source chain. `io::Error::source` skips the error it
/// wraps (it returns the wrapped error's *source*), so a rustls error inside
/// an `io::Error` is reached through `get_ref` instead.
fn collect_chain<'a>(
    mut src: Option<&'a (dyn std::error::Error + 'static)>,
    out: &mut Vec<&'a (dyn std::error::Error + 'static)>,
) {
    // Bounded: a chain is a few levels deep; this guards against cycles.
    while let Some(s) = src {
        if out.len() >= 32 {
            return;
        }
        out.push(s);
        if let Some(inner) = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            let inner: &(dyn std::error::Error + 'static) = inner;
            collect_chain(Some(inner), out);
            return;
        }
        src = s.source();
    }
}

#[cfg(test)]
mod tests {
    use super::contains;

    #[test]
    fn contains_finds_needles_anywhere() {
        assert!(contains(b"hello world", b"o w"));
        assert!(contains(b"abc", b""));
        assert!(!contains(b"ab", b"abc"));
        assert!(!contains(b"hello", b"world"));
    }
}
