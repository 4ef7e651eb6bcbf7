//! TCP connect probes: the port accepts a connection within the timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::Resolve;

use super::timing::{Phase, Stopwatch};
use super::{Attempt, FailureClass};

/// One connect attempt to `addr` ("host:port"), bounded by `timeout`
/// including name resolution (through the system resolver).
pub async fn check(addr: &str, timeout: Duration) -> Attempt {
    check_with(addr, timeout, None).await
}

/// As [`check`], resolving a host name through `resolver` when one is given
/// (the same resolver the HTTP probes use).
pub async fn check_with(
    addr: &str,
    timeout: Duration,
    resolver: Option<&Arc<dyn Resolve>>,
) -> Attempt {
    let start = Instant::now();
    let mut sw = Stopwatch::default();
    let r = tokio::time::timeout(timeout, connect(addr, resolver, &mut sw)).await;
    let phases = sw.finish();
    let a = match r {
        Ok(Ok(())) => Attempt::success(start.elapsed(), None),
        Ok(Err((class, detail))) => Attempt::failure(start.elapsed(), None, class, detail),
        Err(_) => Attempt::failure(
            start.elapsed(),
            None,
            FailureClass::Timeout,
            format!("connect {addr}: no answer within {}ms", timeout.as_millis()),
        ),
    };
    a.with_phases(phases)
}

async fn connect(
    addr: &str,
    resolver: Option<&Arc<dyn Resolve>>,
    sw: &mut Stopwatch,
) -> Result<(), (FailureClass, String)> {
    let addrs = match (addr.parse::<SocketAddr>(), resolver) {
        // An IP literal needs no resolver.
        (Ok(sa), _) => vec![sa],
        (Err(_), Some(r)) => {
            sw.begin(Phase::Resolve);
            resolve(addr, r.as_ref()).await?
        }
        (Err(_), None) => {
            sw.begin(Phase::Resolve);
            match tokio::net::lookup_host(addr).await {
                Ok(a) => {
                    let addrs: Vec<SocketAddr> = a.collect();
                    if addrs.is_empty() {
                        return Err((FailureClass::Dns, format!("{addr}: no address")));
                    }
                    addrs
                }
                Err(e) => return Err((FailureClass::Dns, format!("resolve {addr}: {e}"))),
            }
        }
    };
    sw.begin(Phase::Connect);
    let res = tokio::net::TcpStream::connect(&addrs[..]).await.map(drop);
    sw.end();
    res.map_err(|e| {
        use std::io::ErrorKind as K;
        let class = match e.kind() {
            K::ConnectionRefused => FailureClass::ConnectionRefused,
            K::ConnectionReset | K::ConnectionAborted => FailureClass::ConnectionReset,
            K::TimedOut => FailureClass::Timeout,
            _ => FailureClass::Other,
        };
        (class, format!("connect {addr}: {e}"))
    })
}

async fn resolve(addr: &str, r: &dyn Resolve) -> Result<Vec<SocketAddr>, (FailureClass, String)> {
    let dns = |m: String| (FailureClass::Dns, format!("resolve {addr}: {m}"));
    // The config checked the "host:port" shape; a bracketed IPv6 literal
    // parsed as a SocketAddr above, so the host here is a name.
    let (host, port) = addr
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .ok_or_else(|| dns("not host:port".into()))?;
    let name = host
        .parse::<reqwest::dns::Name>()
        .map_err(|_| dns("invalid host name".into()))?;
    let addrs: Vec<SocketAddr> = r
        .resolve(name)
        .await
        .map_err(|e| dns(e.to_string()))?
        .map(|a| SocketAddr::new(a.ip(), port))
        .collect();
    if addrs.is_empty() {
        return Err(dns("no address".into()));
    }
    Ok(addrs)
}
