//! The floor under `bench/probe-10k.sh`: the least work any prober can do
//! for the same targets on the same machine, to tell the tool's own cost
//! from the machine's.
//!
//! ```text
//! probe-floor CONFIG [--concurrency N]
//! ```
//!
//! Reads the config that `bench-targets` wrote (its `url`, `max_latency`
//! and `[probe].timeout` lines only) and probes every target once, with
//! nothing but a bare tokio `TcpStream`: connect, write a fixed `GET`,
//! read until the head parses (httparse) and the `Content-Length` body is
//! in, look for `ok`, close. No HTTP client library, no TLS, no config
//! model, no report: one current-thread runtime that starts every probe at
//! once, which measured faster here than any bounded or multi-threaded
//! arrangement. It prints when the last probe started, the probe phase,
//! the total, and the outcome classes.
//!
//! With `--concurrency N`, at most N probes are in flight at once (a
//! semaphore permit taken before each spawn, as the tool does): the floor
//! for a prober held to the same `[probe].concurrency` as the tool. Without
//! it, every probe starts at once (the floor issue 14 compares against).
//!
//! This is a measuring stick, not a product path: see docs/performance.md.
//! Everything connects to the config's URLs, which `bench-targets` puts on
//! 127.0.0.1; anything else is refused.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Target {
    addr: SocketAddr,
    host: String,
    path: String,
    max_latency: Option<Duration>,
}

fn parse(text: &str) -> (Duration, Vec<Target>) {
    let mut timeout = Duration::from_secs(2);
    let mut targets: Vec<Target> = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(" = ") else {
            continue;
        };
        let value = value.trim_matches('"');
        match key {
            "timeout" if targets.is_empty() => {
                timeout = humantime::parse_duration(value).expect("[probe].timeout")
            }
            "url" => {
                let rest = value.strip_prefix("http://").expect("an http:// URL");
                let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                let addr: SocketAddr = host.parse().expect("an IP:port URL");
                assert!(addr.ip().is_loopback(), "{addr} is not a loopback address");
                targets.push(Target {
                    addr,
                    host: host.to_string(),
                    path: if path.is_empty() { "/" } else { path }.to_string(),
                    max_latency: None,
                });
            }
            "max_latency" => {
                if let Some(t) = targets.last_mut() {
                    t.max_latency = Some(humantime::parse_duration(value).expect("max_latency"));
                }
            }
            _ => {}
        }
    }
    (timeout, targets)
}

/// One probe: the outcome class.
async fn probe(t: &Target) -> Result<(), &'static str> {
    let mut s = TcpStream::connect(t.addr)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection_refused",
            // The reset targets accept and RST at once, sometimes before the
            // connect is seen to complete.
            std::io::ErrorKind::ConnectionReset => "connection_reset",
            _ => "connect_error",
        })?;
    let req = format!(
        "GET {} HTTP/1.1\r\nhost: {}\r\nuser-agent: probe-floor\r\naccept: */*\r\n\r\n",
        t.path, t.host
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|_| "connection_reset")?;
    let mut buf = Vec::with_capacity(512);
    loop {
        let n = s.read_buf(&mut buf).await.map_err(|_| "connection_reset")?;
        if n == 0 {
            return Err("connection_reset");
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        let Ok(httparse::Status::Complete(head)) = resp.parse(&buf) else {
            continue;
        };
        let len = resp
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok())
            .unwrap_or(0);
        let code = resp.code.unwrap_or(0);
        while buf.len() < head + len {
            if s.read_buf(&mut buf).await.map_err(|_| "connection_reset")? == 0 {
                break;
            }
        }
        if !(200..300).contains(&code) {
            return Err("unexpected_status");
        }
        if !buf[head..].windows(2).any(|w| w == b"ok") {
            return Err("body_mismatch");
        }
        return Ok(());
    }
}

fn main() {
    let t_process = Instant::now();
    let usage = "usage: probe-floor CONFIG [--concurrency N]";
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| panic!("{usage}"));
    let limit = match (args.next().as_deref(), args.next()) {
        (None, _) => None,
        (Some("--concurrency"), Some(n)) => {
            Some(n.parse::<usize>().unwrap_or_else(|_| panic!("{usage}")))
        }
        _ => panic!("{usage}"),
    };
    let text = std::fs::read_to_string(&path).expect("read the config");
    let (timeout, targets) = parse(&text);
    let n = targets.len();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let t0 = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        // Unbounded: no semaphore at all, so that floor stays what it was.
        let permits = limit.map(|l| std::sync::Arc::new(tokio::sync::Semaphore::new(l)));
        for t in targets {
            let permit = match &permits {
                // Never closed, so acquiring cannot fail.
                Some(p) => Some(p.clone().acquire_owned().await.expect("semaphore")),
                None => None,
            };
            set.spawn(async move {
                let _permit = permit;
                let started = t0.elapsed();
                let begin = Instant::now();
                let class = match tokio::time::timeout(timeout, probe(&t)).await {
                    Err(_) => "timeout",
                    Ok(Err(c)) => c,
                    Ok(Ok(())) if t.max_latency.is_some_and(|m| begin.elapsed() > m) => "too_slow",
                    Ok(Ok(())) => "ok",
                };
                (started, class)
            });
        }
        let mut last_start = Duration::ZERO;
        let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
        while let Some(r) = set.join_next().await {
            let (started, class) = r.expect("probe task");
            last_start = last_start.max(started);
            *classes.entry(class).or_default() += 1;
        }
        let classes: Vec<String> = classes.iter().map(|(c, k)| format!("{c}={k}")).collect();
        let bound = limit.map_or("unbounded".to_string(), |l| format!("concurrency {l}"));
        println!(
            "floor ({bound}): {n} targets; last probe started at {:.3}s; probe phase {:.3}s; total {:.3}s; {}",
            last_start.as_secs_f64(),
            t0.elapsed().as_secs_f64(),
            t_process.elapsed().as_secs_f64(),
            classes.join(",")
        );
    });
}
