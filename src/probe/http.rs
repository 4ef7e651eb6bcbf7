//! HTTP(S) probes on hyper's HTTP/1.1 connection API.
//!
//! Every attempt opens its own `tokio::net::TcpStream` (plus a rustls
//! handshake for HTTPS, against the same webpki roots reqwest uses), sends
//! one request with `hyper::client::conn::http1`, reads the answer and
//! closes: no pool, no proxy, as a user's first request would see the
//! endpoint. Redirects are followed here, hop by hop, when the check asks
//! for it. Each phase (resolve, connect, tls, time to first byte, body) is
//! timed ([`super::timing`]).
//!
//! The body is read to its end, up to [`BODY_READ_LIMIT`], inside the
//! attempt's timeout; `body_contains` is searched in the first
//! [`BODY_LIMIT`] bytes. Name resolution goes through the system resolver
//! unless a custom [`reqwest::dns::Resolve`] is given
//! ([`HttpProber::with_resolver`]); tests use that to produce DNS failures
//! without sending a query off the machine.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use reqwest::dns::Resolve;
use reqwest::Url;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use super::timing::{Phase, Stopwatch};
use super::{Attempt, FailureClass};
use crate::model::target::{HttpCheck, ProbeSettings, TlsOptions};

/// The most body searched for `body_contains`.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The most body read from one response (1 MiB). A body that is still
/// going past this is not read further: the attempt is judged on what came,
/// and the connection is closed. Every body shorter than this is read to
/// its end, so a stall or an early close shows up.
pub const BODY_READ_LIMIT: usize = 1024 * 1024;

/// Redirects followed when a check asks for it; one more is
/// `unexpected_status` with that last 3xx.
pub const MAX_REDIRECTS: usize = 5;

#[derive(Clone)]
pub struct HttpProber {
    /// The public roots only.
    tls: tokio_rustls::TlsConnector,
    /// The public roots plus a `ca_file`, by the file's path; built on first
    /// use, so a run over many targets sharing a bundle builds it once.
    with_ca: Arc<Mutex<HashMap<PathBuf, tokio_rustls::TlsConnector>>>,
    user_agent: HeaderValue,
    resolver: Option<Arc<dyn Resolve>>,
}

/// A failed attempt before it becomes an [`Attempt`].
struct Fail {
    class: FailureClass,
    status: Option<u16>,
    detail: String,
}

impl Fail {
    fn new(class: FailureClass, detail: impl Into<String>) -> Self {
        Fail {
            class,
            status: None,
            detail: detail.into(),
        }
    }
}

/// How one hop (one request on one connection) ended.
enum Hop {
    /// A 3xx to follow.
    Redirect { status: u16, location: Url },
    /// The answer to judge.
    Final { status: u16, body: BodyRead },
}

/// What reading a body found.
enum BodyRead {
    /// Not read: the status already failed the check.
    Skipped,
    /// Read to its end, or to [`BODY_READ_LIMIT`], with the needle (if any)
    /// in the first [`BODY_LIMIT`] bytes.
    Read,
    /// The needle was not in the first [`BODY_LIMIT`] bytes (`read` of them);
    /// reading stopped there, the verdict being settled.
    Mismatch { read: usize },
}

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
        let user_agent = HeaderValue::from_str(&settings.user_agent)
            .map_err(|e| super::Error(format!("user_agent: {e}")))?;
        Ok(HttpProber {
            tls: tls_connector(&[])?,
            with_ca: Arc::default(),
            user_agent,
            resolver,
        })
    }

    /// The custom resolver, when one was given.
    pub fn resolver(&self) -> Option<&Arc<dyn Resolve>> {
        self.resolver.as_ref()
    }

    /// One attempt against `check`, bounded by `timeout` end to end
    /// (name resolution, connect, TLS, the response head and the body),
    /// trusting the public roots.
    pub async fn check(&self, check: &HttpCheck, timeout: Duration) -> Attempt {
        self.check_tls(check, timeout, &TlsOptions::default()).await
    }

    /// As [`HttpProber::check`], with a target's TLS options (`ca_file`).
    pub async fn check_tls(
        &self,
        check: &HttpCheck,
        timeout: Duration,
        tls: &TlsOptions,
    ) -> Attempt {
        let start = Instant::now();
        let connector = match self.connector(tls) {
            Ok(c) => c,
            Err(e) => return Attempt::failure(start.elapsed(), None, FailureClass::Other, e),
        };
        let mut sw = Stopwatch::default();
        // Boxed: the attempt's state is several KB (hyper's connection, the
        // TLS stream); on the heap it is not copied into the timeout and
        // into every spawned probe task.
        let attempt = Box::pin(self.attempt(check, &connector, start, &mut sw));
        let r = tokio::time::timeout(timeout, attempt).await;
        let stalled = sw.current();
        let cert_not_after = sw.cert_not_after;
        let phases = sw.finish();
        let a = match r {
            Ok(a) => a,
            Err(_) => Attempt::failure(
                start.elapsed(),
                None,
                FailureClass::Timeout,
                match stalled {
                    Some(p) => format!(
                        "no complete answer within {}ms (stalled in {})",
                        timeout.as_millis(),
                        p.as_str()
                    ),
                    None => format!("no complete answer within {}ms", timeout.as_millis()),
                },
            ),
        };
        let mut a = a.with_phases(phases);
        a.cert_not_after = cert_not_after;
        // No URL and no detail here: both may hold a secret before
        // `redact_attempt` runs. The caller logs the redacted evidence.
        tracing::debug!(
            ok = a.ok,
            status = a.status,
            failure = a.failure.map(|f| f.as_str()),
            latency_ms = a.latency_ms,
            phases = a.phases.as_ref().map(|p| p.short()),
            "http attempt"
        );
        a
    }

    /// The TLS connector for `tls`: the shared one, or one with its CA bundle.
    fn connector(&self, tls: &TlsOptions) -> Result<tokio_rustls::TlsConnector, String> {
        let Some(path) = tls.ca_file.as_ref().filter(|_| !tls.ca_certs.is_empty()) else {
            return Ok(self.tls.clone());
        };
        // A poisoned lock only means another probe panicked mid-insert; the
        // map is still a valid cache.
        let mut cache = self.with_ca.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.get(path) {
            return Ok(c.clone());
        }
        let certs: Vec<_> = tls
            .ca_certs
            .iter()
            .map(|c| rustls::pki_types::CertificateDer::from(c.clone()))
            .collect();
        let c = tls_connector(&certs).map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        cache.insert(path.clone(), c.clone());
        Ok(c)
    }

    async fn attempt(
        &self,
        check: &HttpCheck,
        tls: &tokio_rustls::TlsConnector,
        start: Instant,
        sw: &mut Stopwatch,
    ) -> Attempt {
        match self.hops(check, tls, sw).await {
            Ok((status, body)) => judge(check, start, status, body),
            Err(f) => Attempt::failure(start.elapsed(), f.status, f.class, f.detail),
        }
    }

    /// Send the request, following redirects when the check asks for it,
    /// and return the final status and what its body held.
    async fn hops(
        &self,
        check: &HttpCheck,
        tls: &tokio_rustls::TlsConnector,
        sw: &mut Stopwatch,
    ) -> Result<(u16, BodyRead), Fail> {
        let mut url = Url::parse(check.url.value())
            .map_err(|e| Fail::new(FailureClass::Other, format!("invalid URL: {e}")))?;
        let first_host = url.host_str().map(str::to_owned);
        // The config validated the method against a fixed list, so this
        // fallback only guards hand-built checks.
        let mut method = Method::from_bytes(check.method.as_bytes()).unwrap_or(Method::GET);
        let mut headers = self.headers(check)?;
        let needle = check.body_contains.as_ref().map(|n| n.value().as_bytes());
        let mut redirects = 0;
        loop {
            // `resolve` pins the configured host; a redirect elsewhere resolves.
            let pin = check
                .resolve
                .filter(|_| url.host_str().map(str::to_owned) == first_host);
            let follow = check.follow_redirects;
            match self
                .hop(&url, &method, &headers, pin, follow, check, needle, tls, sw)
                .await?
            {
                Hop::Final { status, body } => return Ok((status, body)),
                Hop::Redirect { status, location } => {
                    if redirects == MAX_REDIRECTS {
                        return Err(Fail {
                            class: FailureClass::UnexpectedStatus,
                            status: Some(status),
                            detail: format!(
                                "more than {MAX_REDIRECTS} redirects; the last answer was {status}"
                            ),
                        });
                    }
                    redirects += 1;
                    // As browsers and reqwest do: 303 turns into a GET, and
                    // so does a POST answered with 301 or 302.
                    if (status == 303 && method != Method::HEAD)
                        || ((status == 301 || status == 302) && method == Method::POST)
                    {
                        method = Method::GET;
                    }
                    // Credentials go only to the origin they were written for.
                    if location.origin() != url.origin() {
                        for h in [
                            header::AUTHORIZATION,
                            header::COOKIE,
                            header::PROXY_AUTHORIZATION,
                            header::WWW_AUTHENTICATE,
                        ] {
                            headers.remove(h);
                        }
                        headers.remove("cookie2");
                    }
                    url = location;
                }
            }
        }
    }

    /// The check's own headers, plus `User-Agent` and `Accept` unless the
    /// check sets them.
    fn headers(&self, check: &HttpCheck) -> Result<HeaderMap, Fail> {
        let mut h = HeaderMap::new();
        h.insert(header::USER_AGENT, self.user_agent.clone());
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        let mut seen: Vec<HeaderName> = Vec::new();
        for (name, value) in &check.headers {
            // Neither the name nor the value goes into the detail: the
            // value may be a secret.
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Fail::new(FailureClass::Other, "invalid header name"))?;
            let value = HeaderValue::from_str(value.expose())
                .map_err(|_| Fail::new(FailureClass::Other, "invalid header value"))?;
            if !seen.contains(&name) {
                h.remove(&name);
                seen.push(name.clone());
            }
            h.append(name, value);
        }
        Ok(h)
    }

    /// One request on one fresh connection.
    #[allow(clippy::too_many_arguments)]
    async fn hop(
        &self,
        url: &Url,
        method: &Method,
        headers: &HeaderMap,
        pin: Option<std::net::IpAddr>,
        follow: bool,
        check: &HttpCheck,
        needle: Option<&[u8]>,
        connector: &tokio_rustls::TlsConnector,
        sw: &mut Stopwatch,
    ) -> Result<Hop, Fail> {
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            s => {
                return Err(Fail::new(
                    FailureClass::Other,
                    format!("scheme {s} is not http(s)"),
                ))
            }
        };
        let host = url
            .host()
            .ok_or_else(|| Fail::new(FailureClass::Other, "URL has no host"))?;
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        let addrs = match (pin, &host) {
            (Some(ip), _) => vec![SocketAddr::new(ip, port)],
            (None, url::Host::Ipv4(ip)) => vec![SocketAddr::new((*ip).into(), port)],
            (None, url::Host::Ipv6(ip)) => vec![SocketAddr::new((*ip).into(), port)],
            (None, url::Host::Domain(name)) => {
                sw.begin(Phase::Resolve);
                let a = self.resolve(name, port).await?;
                sw.end();
                a
            }
        };
        sw.begin(Phase::Connect);
        let tcp = connect(&addrs, https).await?;
        sw.end();

        let mut req = Request::new(Empty::<Bytes>::new());
        *req.method_mut() = method.clone();
        let mut target = url.path().to_string();
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        *req.uri_mut() = target
            .parse()
            .map_err(|e| Fail::new(FailureClass::Other, format!("request target: {e}")))?;
        *req.headers_mut() = headers.clone();
        let host_header = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => String::new(),
        };
        let host_header = HeaderValue::from_str(&host_header)
            .map_err(|_| Fail::new(FailureClass::Other, "invalid Host"))?;
        req.headers_mut().insert(header::HOST, host_header);

        if https {
            let server_name = match host {
                url::Host::Domain(d) => rustls::pki_types::ServerName::try_from(d.to_string())
                    .map_err(|e| Fail::new(FailureClass::Tls, format!("server name: {e}")))?,
                url::Host::Ipv4(ip) => rustls::pki_types::ServerName::IpAddress(ip.into()),
                url::Host::Ipv6(ip) => rustls::pki_types::ServerName::IpAddress(ip.into()),
            };
            sw.begin(Phase::Tls);
            let tls = connector
                .connect(server_name, tcp)
                .await
                .map_err(|e| classify_io(&e, "TLS handshake"))?;
            sw.end();
            sw.cert_not_after = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| super::cert::not_after(c));
            // Boxed, so that the plain and the TLS exchange do not both take
            // room in every hop's state.
            Box::pin(exchange(tls, req, follow, url, check, needle, sw)).await
        } else {
            let tcp = super::io::NoShutdown(tcp);
            Box::pin(exchange(tcp, req, follow, url, check, needle, sw)).await
        }
    }

    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Fail> {
        let dns = |m: String| Fail::new(FailureClass::Dns, format!("resolve {host}: {m}"));
        let addrs: Vec<SocketAddr> = match &self.resolver {
            Some(r) => {
                let name = host
                    .parse::<reqwest::dns::Name>()
                    .map_err(|_| dns("invalid host name".into()))?;
                r.resolve(name)
                    .await
                    .map_err(|e| dns(e.to_string()))?
                    .map(|a| SocketAddr::new(a.ip(), port))
                    .collect()
            }
            None => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| dns(e.to_string()))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(dns("no address".into()));
        }
        Ok(addrs)
    }
}

/// Connect to the first address that answers, as reqwest did (in order;
/// the last error is the one reported).
async fn connect(addrs: &[SocketAddr], tls: bool) -> Result<TcpStream, Fail> {
    let mut last = None;
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => {
                // TLS writes its last handshake flight and the request back
                // to back: no Nagle delay between them. Plain HTTP writes
                // the request once, which Nagle never holds (no syscall).
                if tls {
                    let _ = s.set_nodelay(true);
                }
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| std::io::Error::other("no address"));
    Err(classify_io(&e, "connect"))
}

/// Send `req` on `io` and read the answer, driving the connection in this
/// task (no spawned connection task per attempt).
async fn exchange<T>(
    io: T,
    req: Request<Empty<Bytes>>,
    follow: bool,
    url: &Url,
    check: &HttpCheck,
    needle: Option<&[u8]>,
    sw: &mut Stopwatch,
) -> Result<Hop, Fail>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| classify_hyper(&e, ""))?;
    let work = async {
        sw.begin(Phase::Ttfb);
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| classify_hyper(&e, ""))?;
        sw.end();
        let status = resp.status().as_u16();
        if follow && matches!(status, 301 | 302 | 303 | 307 | 308) {
            // A 3xx without a usable Location is the answer, as in reqwest.
            let location = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .filter(|l| matches!(l.scheme(), "http" | "https"));
            if let Some(location) = location {
                return Ok(Hop::Redirect { status, location });
            }
        }
        if !check.expect_status.matches(status) {
            return Ok(Hop::Final {
                status,
                body: BodyRead::Skipped,
            });
        }
        sw.begin(Phase::Body);
        let body = read_body(resp.into_body(), needle).await.map_err(|e| {
            let mut f = classify_hyper(&e, "reading body: ");
            f.status = Some(status);
            f
        })?;
        sw.end();
        Ok(Hop::Final { status, body })
    };
    tokio::pin!(work);
    tokio::pin!(conn);
    tokio::select! {
        // The answer first: when the connection ends with an error, the
        // request or the body sees that error too, with its status.
        biased;
        r = &mut work => r,
        c = &mut conn => match c {
            Err(e) => Err(classify_hyper(&e, "")),
            // Closed cleanly: the request side has its answer, or its error.
            Ok(()) => work.await,
        },
    }
}

/// Read `body` to its end (or [`BODY_READ_LIMIT`]), looking for `needle`
/// in the first [`BODY_LIMIT`] bytes.
async fn read_body(mut body: Incoming, needle: Option<&[u8]>) -> Result<BodyRead, hyper::Error> {
    let needle = needle.unwrap_or_default();
    let mut found = needle.is_empty();
    let mut head: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while total < BODY_READ_LIMIT {
        let Some(frame) = body.frame().await else {
            break;
        };
        let Ok(chunk) = frame?.into_data() else {
            continue; // trailers
        };
        total += chunk.len();
        if found {
            continue;
        }
        // Only the new bytes, plus the tail that a match could straddle,
        // need searching.
        let from = head.len().saturating_sub(needle.len() - 1);
        let room = BODY_LIMIT - head.len();
        head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if contains(&head[from..], needle) {
            found = true;
            head = Vec::new();
        } else if head.len() >= BODY_LIMIT {
            return Ok(BodyRead::Mismatch { read: head.len() });
        }
    }
    if !found {
        return Ok(BodyRead::Mismatch { read: head.len() });
    }
    Ok(BodyRead::Read)
}

/// The verdict on a complete answer: status, body, latency.
fn judge(check: &HttpCheck, start: Instant, status: u16, body: BodyRead) -> Attempt {
    if !check.expect_status.matches(status) {
        return Attempt::failure(
            start.elapsed(),
            Some(status),
            FailureClass::UnexpectedStatus,
            format!("status {status}, expected {}", check.expect_status),
        );
    }
    if let (BodyRead::Mismatch { read }, Some(needle)) = (&body, &check.body_contains) {
        return Attempt::failure(
            start.elapsed(),
            Some(status),
            FailureClass::BodyMismatch,
            format!(
                "body (first {read} bytes) does not contain {}",
                needle.quoted()
            ),
        );
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

/// The TLS client for probes: the webpki roots (as reqwest's
/// `rustls-tls-webpki-roots`) plus `extra`, ring, TLS 1.2 and 1.3, ALPN
/// `http/1.1` only.
pub fn tls_connector(
    extra: &[rustls::pki_types::CertificateDer<'static>],
) -> Result<tokio_rustls::TlsConnector, super::Error> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for c in extra {
        roots
            .add(c.clone())
            .map_err(|e| super::Error(format!("CA certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| super::Error(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Class of an I/O error from connect or the TLS handshake. A rustls error
/// inside (a certificate the roots do not vouch for, a name mismatch, an
/// expired certificate, a protocol error) is `tls`.
fn classify_io(e: &std::io::Error, what: &str) -> Fail {
    let tls = e
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
    let class = if tls {
        FailureClass::Tls
    } else {
        class_of_kind(e.kind()).unwrap_or(FailureClass::Other)
    };
    Fail::new(class, format!("{what}: {e}"))
}

fn class_of_kind(kind: std::io::ErrorKind) -> Option<FailureClass> {
    use std::io::ErrorKind as K;
    Some(match kind {
        K::ConnectionRefused => FailureClass::ConnectionRefused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            FailureClass::ConnectionReset
        }
        K::TimedOut => FailureClass::Timeout,
        _ => return None,
    })
}

/// Class of a hyper error, by its source chain: an I/O error's kind first
/// (a body cut short by the peer is `UnexpectedEof`: `connection_reset`),
/// then hyper's own "connection closed before message completed"
/// (`connection_reset`); anything else (a malformed answer) is `other`.
fn classify_hyper(e: &hyper::Error, prefix: &str) -> Fail {
    let mut detail = format!("{prefix}{e}");
    let mut nodes: Vec<&(dyn std::error::Error + 'static)> = Vec::new();
    collect_chain(std::error::Error::source(e), &mut nodes);
    let mut class = None;
    for n in &nodes {
        let msg = n.to_string();
        if !detail.ends_with(&msg) {
            detail.push_str(": ");
            detail.push_str(&msg);
        }
        if n.downcast_ref::<rustls::Error>().is_some() {
            class.get_or_insert(FailureClass::Tls);
        }
        if let Some(io) = n.downcast_ref::<std::io::Error>() {
            if let Some(c) = class_of_kind(io.kind()) {
                class.get_or_insert(c);
            }
        }
    }
    let class = class.unwrap_or(if e.is_incomplete_message() {
        FailureClass::ConnectionReset
    } else {
        FailureClass::Other
    });
    Fail::new(class, detail)
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
