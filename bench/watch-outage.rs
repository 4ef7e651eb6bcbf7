//! Outage to DNS write in watch mode, with three probers voting
//! ([consensus], quorum 2 of 3) on one file zone: how long from the moment a
//! region starts failing to the moment its record is disabled.
//!
//! ```text
//! cargo build --release && cargo run --release --example watch-outage -- \
//!     --bin target/release/dns-failover --targets 100 --hanging 5 --runs 10
//! ```
//!
//! It starts the targets on 127.0.0.1 (groups of three; one target of the
//! first group is the victim; `--hanging` targets of other groups accept and
//! never answer), writes three prober configs (`[watch] interval`, `fall`,
//! `[probe] timeout` as given), starts three `dns-failover watch` processes,
//! waits until every record is in, breaks the victim (503) and polls the
//! zone file every 5 ms until its record is disabled. Each run starts afresh.
//! Prints min/median/max. A benchmark tool, not part of the product: see
//! docs/performance.md.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

struct Args {
    bin: String,
    targets: usize,
    hanging: usize,
    runs: usize,
    interval: String,
    fall: u32,
    timeout: String,
}

fn args() -> Args {
    let mut a = Args {
        bin: "target/release/dns-failover".into(),
        targets: 3,
        hanging: 0,
        runs: 10,
        interval: "1s".into(),
        fall: 2,
        timeout: "1s".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--bin" => a.bin = v,
            "--targets" => a.targets = v.parse().expect("--targets N"),
            "--hanging" => a.hanging = v.parse().expect("--hanging N"),
            "--runs" => a.runs = v.parse().expect("--runs N"),
            "--interval" => a.interval = v,
            "--fall" => a.fall = v.parse().expect("--fall N"),
            "--timeout" => a.timeout = v,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// An HTTP endpoint answering 200, or 503 once `broken`, or never (`hang`).
async fn endpoint(broken: Arc<AtomicBool>, hang: bool) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let broken = broken.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                if hang {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                }
                let (code, body) = if broken.load(Ordering::Relaxed) {
                    ("503 Service Unavailable", "down")
                } else {
                    ("200 OK", "ok")
                };
                let r = format!(
                    "HTTP/1.1 {code}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(r.as_bytes()).await;
            });
        }
    });
    port
}

fn config(a: &Args, prober: &str, zone: &str, ports: &[u16]) -> String {
    let mut s = format!(
        r#"prober = "{prober}"
[probe]
timeout = "{}"
attempts = 1
fail_threshold = 1
concurrency = 256
[watch]
interval = "{}"
fall = {}
[consensus]
probers = ["p1", "p2", "p3"]
quorum = 2
stale_after = "30s"
heartbeat = "10s"
[dns]
provider = "file"
domain = "example.com"
ttl = 60
path = "{zone}"
"#,
        a.timeout, a.interval, a.fall
    );
    for (g, chunk) in ports.chunks(3).enumerate() {
        s.push_str(&format!(
            "\n[[group]]\nname = \"g{g}\"\nsubdomain = \"g{g}\"\ntype = \"A\"\nmode = \"active\"\nmax_changes = 3\n"
        ));
        for (i, p) in chunk.iter().enumerate() {
            s.push_str(&format!(
                "[[group.target]]\nregion = \"r{i}\"\nvalue = \"10.{}.{}.{}\"\nurl = \"http://127.0.0.1:{p}/health\"\n",
                g / 250,
                g % 250,
                i + 1
            ));
        }
    }
    s
}

fn record_enabled(zone: &str, sub: &str, value: &str) -> Option<bool> {
    let text = std::fs::read_to_string(zone).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["records"]
        .as_array()?
        .iter()
        .find(|r| r["subdomain"] == sub && r["value"] == value)
        .and_then(|r| r["enabled"].as_bool())
}

fn all_in(zone: &str, groups: usize) -> bool {
    (0..groups).all(|g| {
        (1..=3)
            .all(|i| record_enabled(zone, &format!("g{g}"), &format!("10.0.{g}.{i}")) == Some(true))
    })
}

fn stop(children: Vec<Child>) {
    for c in &children {
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
    }
    for mut c in children {
        let _ = c.wait();
    }
}

#[tokio::main]
async fn main() {
    let a = args();
    let groups = a.targets.div_ceil(3);
    let mut times = Vec::new();
    for run in 0..a.runs {
        let dir = tempfile::tempdir().unwrap();
        let zone = dir.path().join("zone.json").display().to_string();
        let victim = Arc::new(AtomicBool::new(false));
        let mut ports = Vec::new();
        for t in 0..groups * 3 {
            // Target 1 (r1 of g0) is the victim; hanging targets sit in
            // the last groups, away from the victim's group.
            let hang = t >= groups * 3 - a.hanging && t >= 3;
            let flag = if t == 1 {
                victim.clone()
            } else {
                Arc::new(AtomicBool::new(false))
            };
            ports.push(endpoint(flag, hang).await);
        }
        let children: Vec<Child> = ["p1", "p2", "p3"]
            .iter()
            .map(|p| {
                let path = dir.path().join(format!("{p}.toml"));
                std::fs::write(&path, config(&a, p, &zone, &ports)).unwrap();
                Command::new(&a.bin)
                    .args(["-c", path.to_str().unwrap(), "watch"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("run the dns-failover binary (--bin)")
            })
            .collect();
        // Hanging targets are never created (never healthy): wait for the
        // groups without them.
        let clean = (groups * 3 - a.hanging) / 3;
        let wait = Instant::now();
        while !all_in(&zone, clean.max(1)) {
            assert!(wait.elapsed() < Duration::from_secs(60), "no bootstrap");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Let every prober vote on the healthy state.
        tokio::time::sleep(Duration::from_secs(3)).await;
        victim.store(true, Ordering::Relaxed);
        let t0 = Instant::now();
        while record_enabled(&zone, "g0", "10.0.0.2") != Some(false) {
            assert!(t0.elapsed() < Duration::from_secs(60), "never written");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let t = t0.elapsed();
        stop(children);
        eprintln!("run {}: {:.2} s", run + 1, t.as_secs_f64());
        times.push(t);
    }
    times.sort();
    let s = |d: Duration| format!("{:.2}", d.as_secs_f64());
    println!(
        "outage to DNS write: min {} s, median {} s, max {} s over {} runs ({} targets, {} hanging, interval {}, fall {}, timeout {}, quorum 2 of 3)",
        s(times[0]),
        s(times[times.len() / 2]),
        s(times[times.len() - 1]),
        times.len(),
        groups * 3,
        a.hanging,
        a.interval,
        a.fall,
        a.timeout
    );
}
