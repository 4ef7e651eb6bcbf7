//! Every probe failure class, each against a local server on 127.0.0.1 that
//! misbehaves that way, plus the success paths (status ranges, body match,
//! `resolve` pinning, redirects, the 64 KiB body limit, TCP connects).
//!
//! No test talks to anything but loopback, and no name goes to the system
//! resolver: every prober here resolves through [`LocalNames`], which knows
//! a few `*.test` names and fails for everything else (`*.invalid`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dns_failover::config::{Check, Config, HttpCheck, StatusMatcher};
use dns_failover::probe::http::{HttpProber, BODY_LIMIT};
use dns_failover::probe::{Attempt, FailureClass, Health, Prober, TargetOutcome};
use reqwest::dns::{Name, Resolve, Resolving};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

/// Every test is bounded: none may hang the suite.
const TEST_LIMIT: Duration = Duration::from_secs(20);
/// Per-attempt timeout used by most tests.
const TIMEOUT_MS: u64 = 500;
/// How much later than its timeout an attempt may end on a busy machine.
const SLACK_MS: f64 = 1500.0;

// ---------------------------------------------------------------------------
// A resolver that never leaves the machine
// ---------------------------------------------------------------------------

/// Resolves `*.test` names to 127.0.0.1; fails for every other name.
struct LocalNames;

impl Resolve for LocalNames {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            if host.ends_with(".test") {
                let addrs: Box<dyn Iterator<Item = SocketAddr> + Send> =
                    Box::new(std::iter::once(SocketAddr::from(([127, 0, 0, 1], 0))));
                Ok(addrs)
            } else {
                Err(format!("{host}: no such name (test resolver)").into())
            }
        })
    }
}

fn resolver() -> Arc<dyn Resolve> {
    Arc::new(LocalNames)
}

// ---------------------------------------------------------------------------
// Misbehaving servers
// ---------------------------------------------------------------------------

#[derive(Clone)]
enum Behaviour {
    /// Accept, read the request, never answer (keep the socket open).
    Hang,
    /// Accept and reset (SO_LINGER 0, then close), before or after reading the request.
    Reset { read_first: bool },
    /// Read the request, wait `delay`, write `raw`, close.
    Respond { delay: Duration, raw: Vec<u8> },
}

/// Start a server with `behaviour`; request heads are sent to the receiver.
async fn server(behaviour: Behaviour) -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let b = behaviour.clone();
            let tx = tx.clone();
            match b {
                Behaviour::Hang => {
                    let head = read_head(&mut s).await;
                    let _ = tx.send(head);
                    held.push(s);
                }
                Behaviour::Reset { read_first } => {
                    if read_first {
                        let _ = tx.send(read_head(&mut s).await);
                    }
                    // Linger 0 makes close send RST at once; it does not block.
                    #[allow(deprecated)]
                    s.set_linger(Some(Duration::ZERO)).unwrap();
                    drop(s);
                }
                Behaviour::Respond { delay, raw } => {
                    tokio::spawn(async move {
                        let head = read_head(&mut s).await;
                        let _ = tx.send(head);
                        tokio::time::sleep(delay).await;
                        let _ = s.write_all(&raw).await;
                        let _ = s.shutdown().await;
                    });
                }
            }
        }
    });
    (addr, rx)
}

async fn read_head(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn response(status: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

async fn respond(status: &str, body: &[u8]) -> SocketAddr {
    respond_after(Duration::ZERO, status, "", body).await.0
}

async fn respond_after(
    delay: Duration,
    status: &str,
    headers: &str,
    body: &[u8],
) -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    server(Behaviour::Respond {
        delay,
        raw: response(status, headers, body),
    })
    .await
}

/// A port that refuses connections: bound but not listening, so connects
/// get RST and no other test's listener can be given the same port while the
/// returned socket lives.
async fn closed_port() -> (SocketAddr, TcpSocket) {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    (sock.local_addr().unwrap(), sock)
}

/// A listener whose accept queue is full and is never drained, so a new
/// connect gets no SYN-ACK and hangs (Linux drops the SYN). Keep both
/// returned values alive for the duration of the test.
async fn full_backlog() -> (SocketAddr, TcpListener, Vec<TcpStream>) {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let l = sock.listen(1).unwrap();
    let addr = l.local_addr().unwrap();
    let mut fill = Vec::new();
    // Fill the queue; the first connects that cannot get in time out here.
    for _ in 0..4 {
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await
        {
            fill.push(s);
        }
    }
    (addr, l, fill)
}

/// An HTTPS server with the self-signed certificate in tests/fixtures.
async fn tls_server() -> SocketAddr {
    use tokio_rustls::rustls;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let cert = std::fs::read(dir.join("tls-cert.der")).unwrap();
    let key = std::fs::read(dir.join("tls-key.der")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![rustls::pki_types::CertificateDer::from(cert)],
            rustls::pki_types::PrivateKeyDer::try_from(key).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // The client rejects the certificate, so this fails; were it
                // to succeed, answer 200 so the test would catch it.
                if let Ok(mut tls) = acceptor.accept(s).await {
                    let mut buf = [0u8; 4096];
                    let _ = tls.read(&mut buf).await;
                    let _ = tls.write_all(&response("200 OK", "", b"ok")).await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

// ---------------------------------------------------------------------------
// Probing through the public API
// ---------------------------------------------------------------------------

/// A config with one group holding `targets` (TOML of `[[group.target]]`s).
fn config(targets: &str) -> Config {
    let text = format!(
        r#"
[probe]
timeout = "{TIMEOUT_MS}ms"
attempts = 1
interval = "0s"
fail_threshold = 1
concurrency = 16

[dns]
provider = "file"
domain = "example.com"
path = "zone.json"

[[group]]
name = "g"
subdomain = "api"
type = "CNAME"
{targets}
"#
    );
    Config::from_toml(&text, std::path::Path::new("/nonexistent/probe-test.toml"))
        .unwrap_or_else(|e| panic!("test config is invalid: {e}\n{text}"))
}

/// One HTTP target; `extra` holds further keys.
fn http_target(region: &str, url: &str, extra: &str) -> String {
    format!(
        "\n[[group.target]]\nregion = \"{region}\"\nvalue = \"{region}.gw.example.com\"\nurl = \"{url}\"\n{extra}\n"
    )
}

async fn probe_all(cfg: &Config) -> Vec<TargetOutcome> {
    let prober = Prober::with_resolver(&cfg.probe, resolver()).unwrap();
    tokio::time::timeout(
        TEST_LIMIT,
        prober.probe_all(&cfg.groups, &|_, _| false, None),
    )
    .await
    .expect("probe_all did not finish in time")
}

/// Probe a single HTTP target and return its only attempt.
async fn probe_one(url: &str, extra: &str) -> Attempt {
    let cfg = config(&http_target("r1", url, extra));
    let mut out = probe_all(&cfg).await;
    assert_eq!(out.len(), 1);
    let o = out.remove(0);
    assert_eq!(o.attempts.len(), 1, "{o:?}");
    o.attempts.into_iter().next().unwrap()
}

#[track_caller]
fn assert_failure(a: &Attempt, class: FailureClass, status: Option<u16>) {
    assert!(!a.ok, "expected {class}, got success: {a:?}");
    assert_eq!(a.failure, Some(class), "{a:?}");
    assert_eq!(a.status, status, "{a:?}");
    assert!(a.detail.as_deref().is_some_and(|d| !d.is_empty()), "{a:?}");
}

#[track_caller]
fn assert_quick(a: &Attempt) {
    assert!(
        a.latency_ms < TIMEOUT_MS as f64,
        "should fail fast, well before the {TIMEOUT_MS}ms timeout: {a:?}"
    );
}

#[track_caller]
fn assert_timed_out_at(a: &Attempt, timeout_ms: u64) {
    assert!(
        a.latency_ms >= timeout_ms as f64 - 1.0 && a.latency_ms < timeout_ms as f64 + SLACK_MS,
        "latency {}ms is not consistent with a {timeout_ms}ms timeout: {a:?}",
        a.latency_ms
    );
}

#[track_caller]
fn assert_ok(a: &Attempt, status: Option<u16>) {
    assert!(a.ok, "expected success: {a:?}");
    assert_eq!(a.failure, None);
    assert_eq!(a.status, status);
}

// ---------------------------------------------------------------------------
// Failure classes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_server_that_hangs_after_accept_is_a_timeout() {
    let (addr, mut heads) = server(Behaviour::Hang).await;
    let a = probe_one(&format!("http://{addr}/health"), "").await;
    assert_failure(&a, FailureClass::Timeout, None);
    assert_timed_out_at(&a, TIMEOUT_MS);
    // The request did reach the server: it is the answer that never came.
    assert!(heads
        .try_recv()
        .unwrap()
        .starts_with("GET /health HTTP/1.1"));
}

#[tokio::test]
async fn a_target_timeout_overrides_the_probe_timeout() {
    let (addr, _heads) = server(Behaviour::Hang).await;
    let a = probe_one(&format!("http://{addr}/"), "timeout = \"150ms\"").await;
    assert_failure(&a, FailureClass::Timeout, None);
    assert_timed_out_at(&a, 150);
}

#[tokio::test]
async fn a_body_that_never_ends_is_a_timeout() {
    // Headers arrive at once, the promised body never does; the server
    // keeps the connection open.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = listener.accept().await {
            read_head(&mut s).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
                .await;
            held.push(s);
        }
    });
    let a = probe_one(&format!("http://{addr}/"), "body_contains = \"ok\"").await;
    assert_failure(&a, FailureClass::Timeout, None);
    assert_timed_out_at(&a, TIMEOUT_MS);
}

#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let (addr, _hold) = closed_port().await;
    let a = probe_one(&format!("http://{addr}/"), "").await;
    assert_failure(&a, FailureClass::ConnectionRefused, None);
    assert_quick(&a);
}

#[tokio::test]
async fn a_reset_after_the_request_is_connection_reset() {
    let (addr, mut heads) = server(Behaviour::Reset { read_first: true }).await;
    let a = probe_one(&format!("http://{addr}/"), "").await;
    assert_failure(&a, FailureClass::ConnectionReset, None);
    assert_quick(&a);
    assert!(heads.try_recv().is_ok(), "the request reached the server");
}

#[tokio::test]
async fn a_reset_right_after_accept_is_connection_reset() {
    let (addr, _heads) = server(Behaviour::Reset { read_first: false }).await;
    for _ in 0..5 {
        let a = probe_one(&format!("http://{addr}/"), "").await;
        assert_failure(&a, FailureClass::ConnectionReset, None);
        assert_quick(&a);
    }
}

#[tokio::test]
async fn a_close_without_answer_is_connection_reset() {
    // A clean FIN before any response: hyper's "connection closed before
    // message completed".
    let (addr, _heads) = server(Behaviour::Respond {
        delay: Duration::ZERO,
        raw: Vec::new(),
    })
    .await;
    let a = probe_one(&format!("http://{addr}/"), "").await;
    assert_failure(&a, FailureClass::ConnectionReset, None);
    assert_quick(&a);
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_dns() {
    let a = probe_one("http://region-gone.invalid/health", "").await;
    assert_failure(&a, FailureClass::Dns, None);
    assert_quick(&a);
    assert!(a.detail.unwrap().contains("region-gone.invalid"));
}

#[tokio::test]
async fn an_https_name_that_does_not_resolve_is_dns() {
    let a = probe_one("https://region-gone.invalid/", "").await;
    assert_failure(&a, FailureClass::Dns, None);
}

#[tokio::test]
async fn a_self_signed_certificate_is_tls() {
    let addr = tls_server().await;
    let a = probe_one(&format!("https://{addr}/health"), "").await;
    assert_failure(&a, FailureClass::Tls, None);
    assert_quick(&a);
    let detail = a.detail.unwrap().to_ascii_lowercase();
    assert!(detail.contains("certificate"), "{detail}");
}

#[tokio::test]
async fn a_self_signed_certificate_behind_a_pinned_name_is_tls() {
    let addr = tls_server().await;
    let a = probe_one(
        &format!("https://localhost:{}/", addr.port()),
        "resolve = \"127.0.0.1\"",
    )
    .await;
    assert_failure(&a, FailureClass::Tls, None);
}

#[tokio::test]
async fn speaking_http_to_a_tls_port_is_not_a_success() {
    let addr = tls_server().await;
    let a = probe_one(&format!("http://{addr}/"), "").await;
    assert!(!a.ok, "{a:?}");
}

#[tokio::test]
async fn a_502_is_unexpected_status() {
    let addr = respond("502 Bad Gateway", b"upstream down").await;
    let a = probe_one(&format!("http://{addr}/"), "").await;
    assert_failure(&a, FailureClass::UnexpectedStatus, Some(502));
    assert_quick(&a);
    assert!(a.detail.unwrap().contains("2xx"));
}

#[tokio::test]
async fn the_wrong_body_is_body_mismatch() {
    let addr = respond("200 OK", b"{\"status\":\"degraded\"}").await;
    let a = probe_one(&format!("http://{addr}/"), "body_contains = \"\\\"ok\\\"\"").await;
    assert_failure(&a, FailureClass::BodyMismatch, Some(200));
    assert_quick(&a);
}

#[tokio::test]
async fn a_slow_answer_is_too_slow() {
    let (addr, _) = respond_after(Duration::from_millis(300), "200 OK", "", b"ok").await;
    let a = probe_one(
        &format!("http://{addr}/"),
        "max_latency = \"100ms\"\nbody_contains = \"ok\"",
    )
    .await;
    assert_failure(&a, FailureClass::TooSlow, Some(200));
    assert!(
        a.latency_ms >= 300.0 && a.latency_ms < TIMEOUT_MS as f64,
        "{a:?}"
    );
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_a_timeout_not_too_slow() {
    let (addr, _) = respond_after(Duration::from_millis(900), "200 OK", "", b"ok").await;
    let a = probe_one(&format!("http://{addr}/"), "max_latency = \"100ms\"").await;
    assert_failure(&a, FailureClass::Timeout, None);
    assert_timed_out_at(&a, TIMEOUT_MS);
}

#[tokio::test]
async fn every_class_in_one_run_each_target_gets_its_own() {
    let hang = server(Behaviour::Hang).await.0;
    let (refused, _hold) = closed_port().await;
    let reset = server(Behaviour::Reset { read_first: true }).await.0;
    let tls = tls_server().await;
    let bad = respond("502 Bad Gateway", b"").await;
    let wrong = respond("200 OK", b"nope").await;
    let slow = respond_after(Duration::from_millis(250), "200 OK", "", b"ok")
        .await
        .0;
    let good = respond("200 OK", b"ok").await;
    let targets = [
        http_target("hang", &format!("http://{hang}/"), ""),
        http_target("refused", &format!("http://{refused}/"), ""),
        http_target("reset", &format!("http://{reset}/"), ""),
        http_target("dns", "http://gone.invalid/", ""),
        http_target("tls", &format!("https://{tls}/"), ""),
        http_target("bad", &format!("http://{bad}/"), ""),
        http_target(
            "wrong",
            &format!("http://{wrong}/"),
            "body_contains = \"ok\"",
        ),
        http_target("slow", &format!("http://{slow}/"), "max_latency = \"50ms\""),
        http_target("good", &format!("http://{good}/"), "body_contains = \"ok\""),
    ]
    .concat();
    let cfg = config(&targets);
    let started = std::time::Instant::now();
    let out = probe_all(&cfg).await;
    // Concurrent: the whole run takes about one timeout, not the sum.
    assert!(
        started.elapsed() < Duration::from_millis(TIMEOUT_MS + 1500),
        "{:?}",
        started.elapsed()
    );
    let by_region = |r: &str| out.iter().find(|o| o.region == r).unwrap().clone();
    for (region, class) in [
        ("hang", FailureClass::Timeout),
        ("refused", FailureClass::ConnectionRefused),
        ("reset", FailureClass::ConnectionReset),
        ("dns", FailureClass::Dns),
        ("tls", FailureClass::Tls),
        ("bad", FailureClass::UnexpectedStatus),
        ("wrong", FailureClass::BodyMismatch),
        ("slow", FailureClass::TooSlow),
    ] {
        let o = by_region(region);
        assert_eq!(o.health, Health::Down, "{region}: {o:?}");
        assert_eq!(o.attempts[0].failure, Some(class), "{region}: {o:?}");
    }
    let good = by_region("good");
    assert_eq!(good.health, Health::Healthy, "{good:?}");
    assert_eq!(by_region("bad").attempts[0].status, Some(502));
    // The JSON evidence names the class in snake_case.
    let json = serde_json::to_value(by_region("refused")).unwrap();
    assert_eq!(json["attempts"][0]["failure"], "connection_refused");
}

// ---------------------------------------------------------------------------
// Success paths and HTTP options
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_200_with_the_expected_body_is_healthy() {
    let (addr, mut heads) =
        respond_after(Duration::ZERO, "200 OK", "", b"{\"status\":\"ok\"}").await;
    let a = probe_one(
        &format!("http://{addr}/health"),
        "body_contains = \"ok\"\nheaders = { X-Probe = \"1\" }",
    )
    .await;
    assert_ok(&a, Some(200));
    assert!(a.latency_ms < TIMEOUT_MS as f64);
    let head = heads.try_recv().unwrap().to_ascii_lowercase();
    assert!(head.contains("\r\nx-probe: 1\r\n"), "{head}");
    assert!(head.contains("user-agent: dns-failover/"), "{head}");
}

#[tokio::test]
async fn status_classes_and_ranges_are_honoured() {
    let no_content = respond("204 No Content", b"").await;
    let found = respond("302 Found", b"").await;
    let missing = respond("404 Not Found", b"").await;
    let a = probe_one(&format!("http://{no_content}/"), "expect_status = \"2xx\"").await;
    assert_ok(&a, Some(204));
    let a = probe_one(&format!("http://{found}/"), "expect_status = \"200-399\"").await;
    assert_ok(&a, Some(302));
    let a = probe_one(&format!("http://{missing}/"), "expect_status = \"200-399\"").await;
    assert_failure(&a, FailureClass::UnexpectedStatus, Some(404));
    let a = probe_one(
        &format!("http://{missing}/"),
        "expect_status = [200, \"404\"]",
    )
    .await;
    assert_ok(&a, Some(404));
    let a = probe_one(&format!("http://{no_content}/"), "expect_status = 200").await;
    assert_failure(&a, FailureClass::UnexpectedStatus, Some(204));
}

#[tokio::test]
async fn method_is_sent_as_configured() {
    let (addr, mut heads) = respond_after(Duration::ZERO, "200 OK", "", b"").await;
    let a = probe_one(&format!("http://{addr}/ping"), "method = \"HEAD\"").await;
    assert_ok(&a, Some(200));
    assert!(heads.try_recv().unwrap().starts_with("HEAD /ping HTTP/1.1"));
}

#[tokio::test]
async fn resolve_pins_the_name_to_an_ip_and_keeps_the_host_header() {
    let (addr, mut heads) = respond_after(Duration::ZERO, "200 OK", "", b"ok").await;
    // `.example` is not a *.test name: LocalNames would fail it, so only the
    // pin can make this work.
    let url = format!("http://api.region-a.example:{}/health", addr.port());
    let a = probe_one(&url, "resolve = \"127.0.0.1\"\nbody_contains = \"ok\"").await;
    assert_ok(&a, Some(200));
    let head = heads.try_recv().unwrap().to_ascii_lowercase();
    assert!(
        head.contains(&format!(
            "\r\nhost: api.region-a.example:{}\r\n",
            addr.port()
        )),
        "{head}"
    );
    // The same URL without the pin is a DNS failure.
    let a = probe_one(&url, "").await;
    assert_failure(&a, FailureClass::Dns, None);
}

#[tokio::test]
async fn a_custom_resolver_serves_names_it_knows() {
    let (addr, mut heads) = respond_after(Duration::ZERO, "200 OK", "", b"ok").await;
    let a = probe_one(&format!("http://svc.test:{}/", addr.port()), "").await;
    assert_ok(&a, Some(200));
    assert!(heads.try_recv().unwrap().contains("svc.test"));
}

#[tokio::test]
async fn redirects_are_not_followed_unless_asked() {
    let target = respond("200 OK", b"arrived").await;
    let location = format!("Location: http://{target}/final\r\n");
    let (redirect, _) = respond_after(Duration::ZERO, "302 Found", &location, b"").await;
    let url = format!("http://{redirect}/start");

    let a = probe_one(&url, "").await;
    assert_failure(&a, FailureClass::UnexpectedStatus, Some(302));
    let a = probe_one(&url, "expect_status = \"3xx\"").await;
    assert_ok(&a, Some(302));
    let a = probe_one(&url, "follow_redirects = true\nbody_contains = \"arrived\"").await;
    assert_ok(&a, Some(200));
}

#[tokio::test]
async fn probe_follow_redirects_applies_to_every_target() {
    let target = respond("200 OK", b"arrived").await;
    let location = format!("Location: http://{target}/final\r\n");
    let (redirect, _) = respond_after(Duration::ZERO, "301 Moved", &location, b"").await;
    let text = config(&http_target("r1", &format!("http://{redirect}/"), ""));
    let mut cfg = text;
    // Same as `[probe] follow_redirects = true`, which the config copies into
    // each HTTP check.
    for g in &mut cfg.groups {
        for t in &mut g.targets {
            if let Check::Http(h) = &mut t.check {
                h.follow_redirects = true;
            }
        }
    }
    let out = probe_all(&cfg).await;
    assert_ok(&out[0].attempts[0], Some(200));
}

#[tokio::test]
async fn at_most_64_kib_of_body_is_read() {
    let mut late = vec![b'a'; BODY_LIMIT];
    late.extend_from_slice(b"NEEDLE");
    let mut early = vec![b'a'; BODY_LIMIT - 6];
    early.extend_from_slice(b"NEEDLE");
    early.extend_from_slice(&vec![b'b'; 4 * BODY_LIMIT]);
    let late = respond("200 OK", &late).await;
    let early = respond("200 OK", &early).await;

    let a = probe_one(&format!("http://{late}/"), "body_contains = \"NEEDLE\"").await;
    assert_failure(&a, FailureClass::BodyMismatch, Some(200));
    assert!(
        a.detail.as_deref().unwrap().contains("first 65536 bytes"),
        "{a:?}"
    );
    let a = probe_one(&format!("http://{early}/"), "body_contains = \"NEEDLE\"").await;
    assert_ok(&a, Some(200));
}

#[tokio::test]
async fn a_needle_split_across_chunks_is_found() {
    // Written in two pieces with a pause, so the client sees two chunks.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                read_head(&mut s).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nstatus: he")
                    .await;
                let _ = s.flush().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = s.write_all(b"al").await;
            });
        }
    });
    let a = probe_one(&format!("http://{addr}/"), "body_contains = \"heal\"").await;
    assert_ok(&a, Some(200));
}

#[tokio::test]
async fn an_unbounded_body_is_cut_at_the_limit_not_read_to_the_end() {
    // A chunked body that never ends: the probe must stop at 64 KiB and
    // report a mismatch rather than reading until the timeout.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                read_head(&mut s).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await;
                let chunk = format!("1000\r\n{}\r\n", "x".repeat(0x1000));
                while s.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    let a = probe_one(&format!("http://{addr}/"), "body_contains = \"ok\"").await;
    assert_failure(&a, FailureClass::BodyMismatch, Some(200));
    assert_quick(&a);
}

#[tokio::test]
async fn attempts_and_threshold_make_the_health() {
    // The server alternates: 200, 502, 200, ...
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut n = 0u32;
        while let Ok((mut s, _)) = listener.accept().await {
            let status = if n.is_multiple_of(2) {
                "200 OK"
            } else {
                "502 Bad Gateway"
            };
            n += 1;
            read_head(&mut s).await;
            let _ = s.write_all(&response(status, "", b"")).await;
        }
    });
    let text = format!(
        r#"
[probe]
timeout = "500ms"
attempts = 3
interval = "10ms"
fail_threshold = 2
[dns]
provider = "file"
domain = "example.com"
path = "zone.json"
[[group]]
name = "g"
subdomain = "api"
type = "CNAME"
{}"#,
        http_target("r1", &format!("http://{addr}/"), "")
    );
    let cfg = Config::from_toml(&text, std::path::Path::new("/nonexistent/t.toml")).unwrap();
    let out = probe_all(&cfg).await;
    let statuses: Vec<_> = out[0].attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(200), Some(502), Some(200)]);
    assert_eq!(out[0].health, Health::Degraded);
}

// ---------------------------------------------------------------------------
// TCP probes
// ---------------------------------------------------------------------------

fn tcp_target(region: &str, addr: &str, extra: &str) -> String {
    format!(
        "\n[[group.target]]\nregion = \"{region}\"\nvalue = \"{region}.gw.example.com\"\ntcp = \"{addr}\"\n{extra}\n"
    )
}

async fn probe_tcp(addr: &str, extra: &str) -> Attempt {
    let cfg = config(&tcp_target("r1", addr, extra));
    let out = probe_all(&cfg).await;
    out[0].attempts[0].clone()
}

#[tokio::test]
async fn tcp_connect_to_a_listening_port_succeeds() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let a = probe_tcp(&addr.to_string(), "").await;
    assert_ok(&a, None);
    assert_quick(&a);
    // Through the custom resolver as well.
    let a = probe_tcp(&format!("svc.test:{}", addr.port()), "").await;
    assert_ok(&a, None);
}

#[tokio::test]
async fn tcp_connect_to_a_closed_port_is_refused() {
    let (addr, _hold) = closed_port().await;
    let a = probe_tcp(&addr.to_string(), "").await;
    assert_failure(&a, FailureClass::ConnectionRefused, None);
    assert_quick(&a);
}

#[tokio::test]
async fn tcp_connect_that_gets_no_answer_is_a_timeout() {
    let (addr, _l, _fill) = full_backlog().await;
    let a = probe_tcp(&addr.to_string(), "timeout = \"300ms\"").await;
    assert_failure(&a, FailureClass::Timeout, None);
    assert_timed_out_at(&a, 300);
}

#[tokio::test]
async fn http_connect_that_gets_no_answer_is_a_timeout() {
    let (addr, _l, _fill) = full_backlog().await;
    let a = probe_one(&format!("http://{addr}/"), "timeout = \"300ms\"").await;
    assert_failure(&a, FailureClass::Timeout, None);
    assert_timed_out_at(&a, 300);
}

#[tokio::test]
async fn tcp_connect_to_a_name_that_does_not_resolve_is_dns() {
    let a = probe_tcp("db.region-gone.invalid:5432", "").await;
    assert_failure(&a, FailureClass::Dns, None);
    assert_quick(&a);
}

// ---------------------------------------------------------------------------
// HttpProber used directly
// ---------------------------------------------------------------------------

fn check(url: String) -> HttpCheck {
    HttpCheck {
        url: url.into(),
        method: "GET".into(),
        headers: Vec::new(),
        expect_status: StatusMatcher(vec![(200, 299)]),
        body_contains: None,
        max_latency: None,
        resolve: None,
        follow_redirects: false,
    }
}

#[tokio::test]
async fn http_prober_classifies_hand_built_checks() {
    let settings = dns_failover::config::ProbeSettings::default();
    let p = HttpProber::with_resolver(&settings, resolver()).unwrap();
    let t = Duration::from_millis(TIMEOUT_MS);

    let good = respond("200 OK", b"ok").await;
    assert_ok(
        &p.check(&check(format!("http://{good}/")), t).await,
        Some(200),
    );

    let (refused, _hold) = closed_port().await;
    let a = p.check(&check(format!("http://{refused}/")), t).await;
    assert_failure(&a, FailureClass::ConnectionRefused, None);

    let a = p.check(&check("http://nowhere.invalid/".into()), t).await;
    assert_failure(&a, FailureClass::Dns, None);

    let mut pinned = check(format!("http://pinned.example:{}/", good.port()));
    pinned.resolve = Some("127.0.0.1".parse().unwrap());
    assert_ok(&p.check(&pinned, t).await, Some(200));
    // A second attempt reuses the cached pinned client.
    assert_ok(&p.check(&pinned, t).await, Some(200));
}

#[tokio::test]
async fn a_deadline_leaves_targets_unknown_instead_of_probing_late() {
    let good = respond("200 OK", b"ok").await;
    let cfg = config(&http_target("r1", &format!("http://{good}/"), ""));
    let prober = Prober::with_resolver(&cfg.probe, resolver()).unwrap();
    // A deadline closer than one timeout: no attempt may start.
    let deadline = std::time::Instant::now() + Duration::from_millis(100);
    let out = prober
        .probe_all(&cfg.groups, &|_, _| false, Some(deadline))
        .await;
    assert_eq!(out[0].health, Health::Unknown);
    assert!(out[0].attempts.is_empty());
}

/// `probe_each` hands a group over as soon as its own targets are done:
/// a group whose target hangs for the whole timeout comes last, a group
/// with nothing to probe comes at once (empty), and every group comes
/// exactly once, with the outcomes `probe_all` would give.
#[tokio::test]
async fn probe_each_hands_over_each_group_when_its_own_targets_are_done() {
    let (hang, _r1) = server(Behaviour::Hang).await;
    let good = respond("200 OK", b"ok").await;
    let mut cfg = config(&format!(
        "{}{}",
        http_target("hangs", &format!("http://{hang}/"), ""),
        http_target("ok", &format!("http://{good}/"), "")
    ));
    // Three groups: "g" (one hanging, one good target), "quick" (good),
    // "skipped" (nothing probed).
    let mut quick = cfg.groups[0].clone();
    quick.name = "quick".into();
    quick.targets.remove(0);
    let mut skipped = quick.clone();
    skipped.name = "skipped".into();
    cfg.groups.push(quick);
    cfg.groups.push(skipped);
    let prober = Prober::with_resolver(&cfg.probe, resolver()).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let skip =
        |g: &dns_failover::config::Group, _: &dns_failover::config::Target| g.name == "skipped";
    let t0 = std::time::Instant::now();
    let kept = tokio::time::timeout(
        TEST_LIMIT,
        prober.probe_each(&cfg.groups, &skip, None, Some(&tx)),
    )
    .await
    .unwrap();
    assert!(kept.is_empty(), "with `each`, nothing is kept");
    drop(tx);
    let mut got = Vec::new();
    while let Some(x) = rx.recv().await {
        got.push(x);
    }
    let order: Vec<usize> = got.iter().map(|(gi, _)| *gi).collect();
    assert_eq!(order, vec![2, 1, 0], "skipped at once, quick before g");
    assert!(got[0].1.is_empty());
    assert_eq!(got[1].1.len(), 1);
    assert_eq!(got[1].1[0].health, Health::Healthy);
    let g = &got[2].1;
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].region, "hangs");
    assert_eq!(g[0].health, Health::Down);
    assert_eq!(g[0].attempts[0].failure, Some(FailureClass::Timeout));
    assert_eq!(g[1].health, Health::Healthy);
    assert!(t0.elapsed() >= Duration::from_millis(TIMEOUT_MS));
    // Without `each`: the same outcomes, every group in config order.
    let all = tokio::time::timeout(TEST_LIMIT, prober.probe_all(&cfg.groups, &skip, None))
        .await
        .unwrap();
    let names: Vec<(&str, &str)> = all
        .iter()
        .map(|o| (o.group.as_str(), o.region.as_str()))
        .collect();
    assert_eq!(names, vec![("g", "hangs"), ("g", "ok"), ("quick", "ok")]);
}

// ---------------------------------------------------------------------------
// Reading the body to its end (issue 14)
// ---------------------------------------------------------------------------

/// A server that writes `raw` after reading the request, then keeps the
/// connection open without another byte.
async fn write_then_stall(raw: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = listener.accept().await {
            read_head(&mut s).await;
            let _ = s.write_all(raw).await;
            held.push(s);
        }
    });
    addr
}

/// A server that writes `raw` after reading the request, then closes.
async fn write_then_close(raw: &'static [u8]) -> SocketAddr {
    server(Behaviour::Respond {
        delay: Duration::ZERO,
        raw: raw.to_vec(),
    })
    .await
    .0
}

const SHORT: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n20 bytes of 1000 ok.";

#[tokio::test]
async fn headers_then_a_stalled_body_is_a_timeout_without_body_contains() {
    let addr = write_then_stall(SHORT).await;
    let a = probe_one(&format!("http://{addr}/"), "").await;
    assert_failure(&a, FailureClass::Timeout, None);
    assert_timed_out_at(&a, TIMEOUT_MS);
    assert!(a.detail.as_deref().unwrap().contains("body"), "{a:?}");
}

#[tokio::test]
async fn a_body_that_stalls_after_the_needle_is_a_timeout() {
    let addr = write_then_stall(SHORT).await;
    let a = probe_one(&format!("http://{addr}/"), "body_contains = \"ok\"").await;
    assert_failure(&a, FailureClass::Timeout, None);
    assert_timed_out_at(&a, TIMEOUT_MS);
}

#[tokio::test]
async fn a_body_closed_before_its_content_length_is_connection_reset() {
    let addr = write_then_close(SHORT).await;
    let a = probe_one(&format!("http://{addr}/"), "").await;
    assert_failure(&a, FailureClass::ConnectionReset, Some(200));
    assert_quick(&a);
    // The needle is in the 20 bytes that came; the body is still short.
    let a = probe_one(&format!("http://{addr}/"), "body_contains = \"ok\"").await;
    assert_failure(&a, FailureClass::ConnectionReset, Some(200));
}

#[tokio::test]
async fn a_chunked_body_closed_before_its_last_chunk_is_connection_reset() {
    let addr =
        write_then_close(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            .await;
    let a = probe_one(&format!("http://{addr}/"), "").await;
    assert_failure(&a, FailureClass::ConnectionReset, Some(200));
}

#[tokio::test]
async fn a_complete_body_read_to_its_end_is_healthy() {
    let addr = write_then_close(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine").await;
    assert_ok(&probe_one(&format!("http://{addr}/"), "").await, Some(200));
    // A body closed by the server (no length, no chunks) ends at the close.
    let addr = write_then_close(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nfine").await;
    assert_ok(&probe_one(&format!("http://{addr}/"), "").await, Some(200));
}

#[tokio::test]
async fn a_body_past_the_read_limit_is_not_read_further() {
    // Endless chunks, no needle: read up to the cap, then judged on that.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                read_head(&mut s).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await;
                let chunk = format!("1000\r\n{}\r\n", "x".repeat(0x1000));
                while s.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    let a = probe_one(&format!("http://{addr}/"), "").await;
    assert_ok(&a, Some(200));
    assert_quick(&a);
}

// ---------------------------------------------------------------------------
// Redirects past the limit (issue 14)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_redirect_loop_is_unexpected_status_with_the_last_3xx() {
    let (addr, _) = respond_after(
        Duration::ZERO,
        "307 Temporary Redirect",
        "Location: /again\r\n",
        b"",
    )
    .await;
    let a = probe_one(&format!("http://{addr}/"), "follow_redirects = true").await;
    assert_failure(&a, FailureClass::UnexpectedStatus, Some(307));
    assert!(a.detail.as_deref().unwrap().contains("redirects"), "{a:?}");
    assert_quick(&a);
}

#[tokio::test]
async fn five_redirects_are_followed_and_a_sixth_is_not() {
    // /0 -> /1 -> ... -> /N, then 200 "arrived".
    async fn chain(n: usize) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let head = read_head(&mut s).await;
                let path = head.split_whitespace().nth(1).unwrap_or("/0").to_string();
                let i: usize = path.trim_start_matches('/').parse().unwrap_or(0);
                let raw = if i < n {
                    response("302 Found", &format!("Location: /{}\r\n", i + 1), b"")
                } else {
                    response("200 OK", "", b"arrived")
                };
                let _ = s.write_all(&raw).await;
            }
        });
        addr
    }
    let five = chain(5).await;
    let a = probe_one(
        &format!("http://{five}/0"),
        "follow_redirects = true\nbody_contains = \"arrived\"",
    )
    .await;
    assert_ok(&a, Some(200));
    let six = chain(6).await;
    let a = probe_one(&format!("http://{six}/0"), "follow_redirects = true").await;
    assert_failure(&a, FailureClass::UnexpectedStatus, Some(302));
}

// ---------------------------------------------------------------------------
// Timing phases (issue 14)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_http_attempt_records_each_phase() {
    let good = respond("200 OK", b"ok").await;
    // A name: resolved through the test resolver.
    let a = probe_one(&format!("http://svc.test:{}/", good.port()), "").await;
    assert_ok(&a, Some(200));
    let p = a.phases.clone().expect("phases");
    for (name, v) in [
        ("resolve", p.resolve_ms),
        ("connect", p.connect_ms),
        ("ttfb", p.ttfb_ms),
        ("body", p.body_ms),
    ] {
        assert!(v.is_some_and(|v| v >= 0.0), "{name}: {p:?}");
    }
    assert_eq!(p.tls_ms, None, "plain HTTP has no TLS phase");
    assert_eq!(p.total_ms, Some(a.latency_ms));
    // In the JSON evidence, absent phases are left out.
    let json = serde_json::to_value(&a).unwrap();
    assert!(json["phases"]["connect_ms"].is_number(), "{json}");
    assert!(json["phases"].get("tls_ms").is_none(), "{json}");

    // An IP literal is not resolved.
    let a = probe_one(&format!("http://{good}/"), "").await;
    assert_eq!(a.phases.unwrap().resolve_ms, None);
}

#[tokio::test]
async fn a_stalled_body_books_its_time_to_the_body_phase() {
    let addr = write_then_stall(SHORT).await;
    let a = probe_one(&format!("http://{addr}/"), "").await;
    let p = a.phases.clone().expect("phases");
    assert!(p.ttfb_ms.is_some(), "{p:?}");
    assert!(
        p.body_ms.is_some_and(|b| b >= TIMEOUT_MS as f64 - 50.0),
        "{p:?}"
    );
}

#[tokio::test]
async fn a_failed_handshake_books_its_time_to_the_tls_phase() {
    let addr = tls_server().await;
    let a = probe_one(&format!("https://{addr}/"), "").await;
    assert_failure(&a, FailureClass::Tls, None);
    let p = a.phases.expect("phases");
    assert!(p.connect_ms.is_some() && p.tls_ms.is_some(), "{p:?}");
    assert_eq!(p.ttfb_ms, None, "{p:?}");
}

#[tokio::test]
async fn a_tcp_attempt_records_resolve_and_connect() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let a = probe_tcp(&format!("svc.test:{}", addr.port()), "").await;
    let p = a.phases.expect("phases");
    assert!(p.resolve_ms.is_some() && p.connect_ms.is_some(), "{p:?}");
    assert_eq!((p.tls_ms, p.ttfb_ms, p.body_ms), (None, None, None));
    let a = probe_tcp(&addr.to_string(), "").await;
    assert_eq!(a.phases.unwrap().resolve_ms, None);
}

// ---------------------------------------------------------------------------
// TLS: ca_file and the certificate's expiry (issue 14)
// ---------------------------------------------------------------------------

/// tests/fixtures/tls-cert.der as a PEM bundle in a temporary directory.
fn test_ca_pem() -> (tempfile::TempDir, std::path::PathBuf) {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let der = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls-cert.der"),
    )
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    let path = dir.path().join("company-ca.pem");
    std::fs::write(&path, pem).unwrap();
    (dir, path)
}

#[tokio::test]
async fn a_ca_file_makes_a_private_certificate_trusted_and_its_expiry_is_recorded() {
    let addr = tls_server().await;
    let (_dir, pem) = test_ca_pem();
    let url = format!("https://localhost:{}/health", addr.port());
    let extra = format!("resolve = \"127.0.0.1\"\nca_file = \"{}\"", pem.display());
    let a = probe_one(&url, &extra).await;
    assert_ok(&a, Some(200));
    // openssl x509 -enddate of the fixture: notAfter=Oct 29 18:28:21 2126 GMT
    assert_eq!(
        a.cert_not_after.map(|t| t.to_rfc3339()).as_deref(),
        Some("2126-10-29T18:28:21+00:00")
    );
    assert!(a.phases.as_ref().unwrap().tls_ms.is_some(), "{a:?}");
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["cert_not_after"], "2126-10-29T18:28:21Z");

    // A name the certificate does not cover stays a TLS failure.
    let url = format!("https://other.test:{}/", addr.port());
    let a = probe_one(&url, &format!("ca_file = \"{}\"", pem.display())).await;
    assert_failure(&a, FailureClass::Tls, None);
}

#[tokio::test]
async fn a_probe_ca_file_applies_to_every_target() {
    let addr = tls_server().await;
    let (_dir, pem) = test_ca_pem();
    let text = format!(
        r#"
[probe]
timeout = "{TIMEOUT_MS}ms"
attempts = 1
fail_threshold = 1
ca_file = "{}"
cert_expiry_warning = "14d"
[dns]
provider = "file"
domain = "example.com"
path = "zone.json"
[[group]]
name = "g"
subdomain = "api"
type = "CNAME"
{}"#,
        pem.display(),
        http_target("r1", &format!("https://127.0.0.1:{}/", addr.port()), "")
    );
    let cfg = Config::from_toml(&text, std::path::Path::new("/nonexistent/t.toml")).unwrap();
    let t = &cfg.groups[0].targets[0];
    assert_eq!(
        t.tls.cert_expiry_warning,
        Some(Duration::from_secs(14 * 86400))
    );
    let out = probe_all(&cfg).await;
    assert_ok(&out[0].attempts[0], Some(200));
    assert!(out[0].attempts[0].cert_not_after.is_some());
}

#[test]
fn tls_keys_are_checked_with_their_key_path() {
    let try_target = |extra: &str| {
        let text = format!(
            "[dns]\nprovider = \"file\"\ndomain = \"example.com\"\npath = \"z.json\"\n[[group]]\nname = \"g\"\nsubdomain = \"api\"\ntype = \"CNAME\"\n{extra}"
        );
        Config::from_toml(&text, std::path::Path::new("/nonexistent/t.toml"))
            .err()
            .map(|e| e.to_string())
    };
    let https = |k: &str| try_target(&http_target("r1", "https://a.example/", k));
    let e = https("ca_file = \"/nonexistent/ca.pem\"").expect("missing file");
    assert!(e.contains("group[0].target[0].ca_file"), "{e}");
    assert!(e.contains("cannot read"), "{e}");
    let e = https("cert_expiry_warning = \"0s\"").expect("zero");
    assert!(e.contains("cert_expiry_warning"), "{e}");
    let e = https("cert_expiry_warning = \"400d\"").expect("too long");
    assert!(e.contains("cert_expiry_warning"), "{e}");
    let (_dir, pem) = test_ca_pem();
    let not_pem = pem.with_file_name("empty.pem");
    std::fs::write(&not_pem, "no certificate here\n").unwrap();
    let e = https(&format!("ca_file = \"{}\"", not_pem.display())).expect("empty");
    assert!(e.contains("no PEM certificate"), "{e}");
    assert_eq!(https(&format!("ca_file = \"{}\"", pem.display())), None);
    let e = try_target(&tcp_target(
        "r1",
        "127.0.0.1:9",
        "cert_expiry_warning = \"14d\"",
    ))
    .expect("tcp");
    assert!(e.contains("only applies to HTTP"), "{e}");
    let text = format!(
        "[probe]\nca_file = \"/nonexistent/ca.pem\"\n[dns]\nprovider = \"file\"\ndomain = \"example.com\"\npath = \"z.json\"\n[[group]]\nname = \"g\"\nsubdomain = \"api\"\ntype = \"CNAME\"\n{}",
        http_target("r1", "https://a.example/", "")
    );
    let e = Config::from_toml(&text, std::path::Path::new("/nonexistent/t.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("probe.ca_file"), "{e}");
}
