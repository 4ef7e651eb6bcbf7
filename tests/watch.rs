//! Watch mode: `dns-failover watch` as a long-lived process (fall/rise
//! streaks, a clean stop on SIGTERM), and `serve` keeping one invocation
//! watching for `[watch] for`.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dns_failover::config::Config;
use dns_failover::demo::Endpoint;
use dns_failover::dns::file::load_zone;
use dns_failover::runtime::{self, Budget, Loaded, Reply};
use serde_json::Value;
use support::{HttpServer, Reply as HttpReply};

const BIN: &str = env!("CARGO_BIN_EXE_dns-failover");

fn config(zone: &Path, gz: u16, sh: u16, watch: &str) -> String {
    format!(
        r#"prober = "test"
[probe]
timeout = "1s"
attempts = 1
fail_threshold = 1

[watch]
{watch}

[dns]
provider = "file"
domain = "example.com"
ttl = 60
path = "{}"

[[group]]
name = "api"
subdomain = "api"
type = "A"
mode = "active"

[[group.target]]
region = "gz"
value = "192.0.2.1"
url = "http://127.0.0.1:{gz}/health"

[[group.target]]
region = "sh"
value = "192.0.2.2"
url = "http://127.0.0.1:{sh}/health"
"#,
        zone.display()
    )
}

fn sh_enabled(zone: &Path) -> Option<bool> {
    load_zone(zone)
        .ok()?
        .records
        .iter()
        .find(|r| r.value == "192.0.2.2")
        .map(|r| r.enabled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_takes_a_region_out_after_fall_passes_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("zone.json");
    let (gz, sh) = (
        Endpoint::start().await.unwrap(),
        Endpoint::start().await.unwrap(),
    );
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        config(&zone, gz.port, sh.port, "interval = \"200ms\"\nfall = 2"),
    )
    .unwrap();
    let mut child = std::process::Command::new(BIN)
        .args(["-c", path.to_str().unwrap(), "--json", "watch"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });

    // The records are created by the first pass; then sh breaks.
    let started = Instant::now();
    while sh_enabled(&zone) != Some(true) {
        assert!(started.elapsed() < Duration::from_secs(10), "no bootstrap");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sh.set_status(503);
    let broke = Instant::now();
    while sh_enabled(&zone) != Some(false) {
        assert!(
            broke.elapsed() < Duration::from_secs(10),
            "sh never taken out"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reacted = broke.elapsed();

    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopped = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(stopped.elapsed() < Duration::from_secs(5), "did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let reports: Vec<Value> = lines
        .join()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).expect("one JSON report per line"))
        .collect();
    assert!(reports.len() >= 3, "{} passes", reports.len());

    // A pass that saw sh fail but held it (fall = 2) came before the one
    // that took it out.
    let sh_of = |r: &Value| r["groups"][0]["targets"][1].clone();
    let held = reports.iter().position(|r| {
        let t = sh_of(r);
        t["attempts"][0]["status"] == 503 && t["health"] == "healthy"
    });
    let out = reports.iter().position(|r| {
        r["groups"][0]["changes"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["enabled"] == false && c["status"] == "applied")
        })
    });
    let (Some(held), Some(out)) = (held, out) else {
        panic!("held {held:?}, out {out:?}: {reports:#?}");
    };
    assert!(held < out, "held at pass {held}, taken out at pass {out}");
    // Seconds, not minutes: two passes 200 ms apart and their probes.
    assert!(reacted < Duration::from_secs(3), "{reacted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_one_invocation_watching_until_before_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("zone.json");
    let probes = HttpServer::start(|_| HttpReply::Text(200, "ok".into())).await;
    let port: u16 = probes.base.rsplit(':').next().unwrap().parse().unwrap();
    let text = config(&zone, port, port, "interval = \"200ms\"\nfor = \"1s\"");
    let cfg = Config::from_toml(&text, &dir.path().join("c.toml")).unwrap();
    let started = Instant::now();
    let reply = runtime::handle(
        Loaded::Ready(Arc::new(cfg)),
        br#"{"Type":"Timer","TriggerName":"t","Time":"2026-12-05T00:00:00Z","Message":""}"#
            .to_vec(),
        Some(Budget::new(started, Duration::from_secs(10))),
    )
    .await;
    let took = started.elapsed();
    let Reply::Response(json) = reply else {
        panic!("{reply:?}")
    };
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["ok"], true);
    // Two targets per pass, a pass every 200 ms for 1 s.
    let passes = probes.requests().len() / 2;
    assert!(
        (4..=6).contains(&passes),
        "{passes} passes in {took:?}: {report:#}"
    );
    assert!(took < Duration::from_millis(1800), "{took:?}");
}

/// Two groups; `hang` answers every probe of group "slow" by never
/// answering, while group "fast" has a region that fails at once.
fn two_groups(zone: &Path, ok: &str, hang: &str, fail: &str) -> String {
    format!(
        r#"prober = "test"
[probe]
timeout = "3s"
attempts = 1
fail_threshold = 1

[dns]
provider = "file"
domain = "example.com"
ttl = 60
path = "{}"

[[group]]
name = "slow"
subdomain = "slow"
type = "A"
mode = "active"

[[group.target]]
region = "gz"
value = "192.0.2.1"
url = "{ok}/health"

[[group.target]]
region = "sh"
value = "192.0.2.2"
url = "{hang}/health"

[[group]]
name = "fast"
subdomain = "fast"
type = "A"
mode = "active"

[[group.target]]
region = "gz"
value = "198.51.100.1"
url = "{ok}/health"

[[group.target]]
region = "sh"
value = "198.51.100.2"
url = "{fail}/health"
"#,
        zone.display()
    )
}

fn enabled(zone: &Path, value: &str) -> Option<bool> {
    load_zone(zone)
        .ok()?
        .records
        .iter()
        .find(|r| r.value == value)
        .map(|r| r.enabled)
}

/// A group is applied as soon as its own targets are probed: a target of
/// another group that hangs for the whole probe timeout does not delay the
/// failover (it delays only its own group, and the pass's end).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_target_in_one_group_does_not_delay_another_groups_failover() {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("zone.json");
    let ok = HttpServer::start(|_| HttpReply::Text(200, "ok".into())).await;
    let fail_now = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f = fail_now.clone();
    let fail = HttpServer::start(move |_| {
        if f.load(std::sync::atomic::Ordering::SeqCst) {
            HttpReply::Text(503, "down".into())
        } else {
            HttpReply::Text(200, "ok".into())
        }
    })
    .await;
    let hang_now = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let h = hang_now.clone();
    let hang = HttpServer::start(move |_| {
        if h.load(std::sync::atomic::Ordering::SeqCst) {
            HttpReply::Hang
        } else {
            HttpReply::Text(200, "ok".into())
        }
    })
    .await;
    let path = dir.path().join("c.toml");
    std::fs::write(&path, two_groups(&zone, &ok.base, &hang.base, &fail.base)).unwrap();
    // The first pass creates the records, every one enabled.
    let first = std::process::Command::new(BIN)
        .args(["-c", path.to_str().unwrap(), "run"])
        .output()
        .unwrap();
    assert!(first.status.success(), "{first:?}");
    assert_eq!(enabled(&zone, "198.51.100.2"), Some(true));
    assert_eq!(enabled(&zone, "192.0.2.2"), Some(true));

    hang_now.store(true, std::sync::atomic::Ordering::SeqCst);
    fail_now.store(true, std::sync::atomic::Ordering::SeqCst);
    let started = Instant::now();
    let child = std::process::Command::new(BIN)
        .args(["-c", path.to_str().unwrap(), "--json", "run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while enabled(&zone, "198.51.100.2") != Some(false) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "fast/sh never taken out"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let written = started.elapsed();
    let out = child.wait_with_output().unwrap();
    let finished = started.elapsed();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The pass itself waited for the hanging probe (3 s timeout).
    assert!(finished >= Duration::from_secs(3), "{finished:?}");
    let slow_sh = &report["groups"][0]["targets"][1];
    assert_eq!(slow_sh["attempts"][0]["failure"], "timeout", "{report:#}");
    // The failover of the other group was written well before that.
    assert!(
        written < Duration::from_millis(2000),
        "fast/sh written after {written:?}, the pass ended after {finished:?}"
    );
    assert_eq!(report["groups"][1]["name"], "fast");
    assert_eq!(report["groups"][1]["changes"][0]["status"], "applied");
    // The hanging target's own group is acted on after its timeout
    // (fail_threshold = 1), in the same pass.
    assert_eq!(report["groups"][0]["name"], "slow");
    assert_eq!(report["groups"][0]["changes"][0]["status"], "applied");
    assert_eq!(enabled(&zone, "192.0.2.2"), Some(false));
}
