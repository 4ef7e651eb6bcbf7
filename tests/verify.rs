//! Verification at the authoritative servers (`[dns] verify`,
//! `verify_servers`, `verify_within`), against real BIND 9 servers on
//! 127.0.0.1 (tests/support/bind_authoritative.rs): a write served at
//! once, a server that catches up late or never, a server that does not
//! answer, the wait bounded by the invocation's DNS deadline; end to end
//! with the real binary on a file zone that the test copies into BIND; and
//! `status`. Plus the provider's name servers (`verify = "ns"`): DNSPod's
//! `DnspodNsList` from the fake (pointed at a BIND server and a dead
//! port), and a provider that does not say.
//!
//! Without `named` these tests fail, unless `DNS_FAILOVER_SKIP_BIND=1`.

#[path = "support/bind_authoritative.rs"]
mod bind_authoritative;
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bind_authoritative::{closed_port, named, Bind};
use dns_failover::clock::{Clock, SystemClock};
use dns_failover::config::{Config, DnspodSettings};
use dns_failover::demo::Endpoint;
use dns_failover::dns::dnspod::DnspodProvider;
use dns_failover::dns::{DnsProvider, RecordType};
use dns_failover::model::event::{EventKind, Severity};
use dns_failover::pipeline::{run_once, Action, Deps, RunOptions};
use dns_failover::verify::{ask, watch, Answer, Question, Server};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_dns-failover");

fn server(bind: &Bind) -> Server {
    Server {
        label: format!("bind-{}", bind.addr.port()),
        addr: Ok(bind.addr),
    }
}

fn question(zone: &str, expected: &[&str]) -> Question {
    Question {
        name: format!("api.{zone}"),
        rtype: RecordType::A,
        expected: expected.iter().map(|s| s.to_string()).collect(),
    }
}

fn zone_name(test: &str) -> String {
    format!("{test}.{}.test", std::process::id())
}

// ---------------------------------------------------------------------------
// The poll of one server, against BIND
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_write_already_served_is_visible_at_the_first_question() {
    let Some(named) = named() else { return };
    let zone = zone_name("atonce");
    let bind = Bind::start(&named, &zone, &[("api", "A", "192.0.2.2")]).await;
    let confirmed = Instant::now();
    let c = watch(
        &question(&zone, &["192.0.2.2"]),
        &server(&bind),
        confirmed,
        17,
        Instant::now() + Duration::from_secs(5),
    )
    .await;
    assert!(c.visible, "{c:?}\n{}", bind.log());
    assert_eq!(c.queries, 1, "{c:?}");
    assert_eq!(c.write_ms, Some(17));
    let v = c.visible_ms.expect("time to visible");
    assert!(v < 1000, "{c:?}");
    assert!(v <= confirmed.elapsed().as_millis() as u64, "{c:?}");
    assert_eq!(c.served.as_deref(), Some(&["192.0.2.2".to_string()][..]));
    assert_eq!(c.address, Some(bind.addr.to_string()));
    assert!(c.error.is_none(), "{c:?}");
}

#[tokio::test]
async fn answers_name_what_the_server_serves_nothing_or_a_refusal() {
    let Some(named) = named() else { return };
    let zone = zone_name("answers");
    // 100 addresses (BIND's most per RRset): about 1.6 KB, more than the
    // 1232 bytes BIND sends over UDP.
    let big: Vec<String> = (1..=100).map(|i| format!("198.51.100.{i}")).collect();
    let mut rrs = vec![
        ("api", "A", "192.0.2.2"),
        ("api", "A", "192.0.2.1"),
        ("www", "CNAME", "gz.example.net"),
    ];
    rrs.extend(big.iter().map(|v| ("big", "A", v.as_str())));
    let bind = Bind::start(&named, &zone, &rrs).await;
    let t = Duration::from_secs(2);
    let a = |n: &str| format!("{n}.{zone}");
    assert_eq!(
        ask(bind.addr, &a("api"), RecordType::A, t).await,
        Answer::Served(vec!["192.0.2.1".into(), "192.0.2.2".into()])
    );
    assert_eq!(
        ask(bind.addr, &a("www"), RecordType::Cname, t).await,
        Answer::Served(vec!["gz.example.net".into()])
    );
    // No such name, no such type: served nothing (NXDOMAIN, NODATA).
    assert_eq!(
        ask(bind.addr, &a("nothere"), RecordType::A, t).await,
        Answer::Served(vec![])
    );
    assert_eq!(
        ask(bind.addr, &a("api"), RecordType::Aaaa, t).await,
        Answer::Served(vec![])
    );
    // A zone this server does not hold: refused, not "nothing".
    assert_eq!(
        ask(bind.addr, "api.elsewhere.test", RecordType::A, t).await,
        Answer::Failed("answered REFUSED".into())
    );
    // An answer too large for UDP comes over TCP (UDP then TCP).
    let mut many = big.clone();
    many.sort();
    assert_eq!(
        ask(bind.addr, &a("big"), RecordType::A, t).await,
        Answer::Served(many)
    );
}

#[tokio::test]
async fn two_servers_get_their_own_time_to_visible_and_one_that_never_updates_is_reported() {
    let Some(named) = named() else { return };
    let zone = zone_name("two");
    let old = [("api", "A", "192.0.2.1"), ("api", "A", "192.0.2.2")];
    let new = [("api", "A", "192.0.2.2")];
    let mut quick = Bind::start(&named, &zone, &old).await;
    let mut late = Bind::start(&named, &zone, &old).await;
    let never = Bind::start(&named, &zone, &old).await;
    let q = question(&zone, &["192.0.2.2"]);
    let (s_quick, s_late, s_never) = (server(&quick), server(&late), server(&never));

    // The write is confirmed now; one server reloads at once, one 800 ms
    // later, one never. verify_within is 2.5 s.
    let confirmed = Instant::now();
    quick.serve(&new).await;
    let reload_late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        late.serve(&new).await;
        late
    });
    let stop_at = confirmed + Duration::from_millis(2500);
    let (a, b, c) = tokio::join!(
        watch(&q, &s_quick, confirmed, 40, stop_at),
        watch(&q, &s_late, confirmed, 40, stop_at),
        watch(&q, &s_never, confirmed, 40, stop_at),
    );
    let _late = reload_late.await.unwrap();
    let ended = confirmed.elapsed();

    assert!(a.visible && b.visible, "{a:?}\n{b:?}");
    let (va, vb) = (a.visible_ms.unwrap(), b.visible_ms.unwrap());
    // It reloaded before the first question: seen at once; the other one
    // only after its reload.
    assert!(va < vb && a.queries == 1, "the quick server: {a:?}");
    assert!((800..2500).contains(&vb), "the late server: {b:?}");
    assert!(b.queries > 1, "polled until it caught up: {b:?}");
    assert_eq!(b.served.as_deref(), Some(&["192.0.2.2".to_string()][..]));

    assert!(!c.visible, "{c:?}");
    assert_eq!(c.visible_ms, None);
    assert_eq!(
        c.served.as_deref(),
        Some(&["192.0.2.1".to_string(), "192.0.2.2".to_string()][..]),
        "what it still serves"
    );
    assert!(c.waited_ms >= 2000, "{c:?}");
    assert!(ended < Duration::from_millis(2500 + 1500), "{ended:?}");
    assert!(
        c.line().contains("written in 40 ms, not visible after")
            && c.line().contains("(serves 192.0.2.1 192.0.2.2)"),
        "{}",
        c.line()
    );
    drop(never);
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_not_visible_and_the_wait_ends_on_time() {
    let q = question("example.com", &["192.0.2.2"]);
    let dead = Server {
        label: "dead".into(),
        addr: Ok(closed_port()),
    };
    let unresolved = Server {
        label: "ns9.invalid".into(),
        addr: Err("cannot resolve ns9.invalid: no address".into()),
    };
    let t0 = Instant::now();
    let stop_at = t0 + Duration::from_millis(1200);
    let (c, u) = tokio::join!(
        watch(&q, &dead, t0, 5, stop_at),
        watch(&q, &unresolved, t0, 5, stop_at)
    );
    let took = t0.elapsed();
    assert!(!c.visible && c.served.is_none(), "{c:?}");
    // Nothing listens: the UDP question is refused (ICMP port unreachable
    // on a connected socket), and so is the TCP connection; the error says
    // so, and the polls go on until the stop.
    assert!(
        c.error.as_deref().unwrap().contains("Connection refused"),
        "{c:?}"
    );
    assert!(c.queries >= 1, "{c:?}");
    assert!(took >= Duration::from_millis(1100), "{took:?}");
    assert!(
        took < Duration::from_millis(2000),
        "the wait ends at its stop: {took:?}"
    );
    assert!(!u.visible && u.queries == 0, "{u:?}");
    assert_eq!(
        u.error.as_deref(),
        Some("cannot resolve ns9.invalid: no address")
    );
}

// ---------------------------------------------------------------------------
// One pass in this process
// ---------------------------------------------------------------------------

fn config_text(zone_domain: &str, ports: [u16; 2], dns_extra: &str) -> String {
    format!(
        r#"
prober = "test"
[probe]
timeout = "1s"
attempts = 1
fail_threshold = 1

[dns]
provider = "file"
domain = "{zone_domain}"
ttl = 60
path = "zone.json"
{dns_extra}

[[alert]]
type = "console"

[[group]]
name = "api"
subdomain = "api"
type = "A"
mode = "active"
failback_after = "1s"

[[group.target]]
region = "gz"
value = "192.0.2.1"
url = "http://127.0.0.1:{}/health"

[[group.target]]
region = "sh"
value = "192.0.2.2"
url = "http://127.0.0.1:{}/health"
"#,
        ports[0], ports[1]
    )
}

async fn in_process(dns_extra: &str) -> (tempfile::TempDir, Config, [Endpoint; 2]) {
    let dir = tempfile::tempdir().unwrap();
    let eps = [
        Endpoint::start().await.unwrap(),
        Endpoint::start().await.unwrap(),
    ];
    let text = config_text("example.com", [eps[0].port, eps[1].port], dns_extra);
    let cfg = Config::from_toml(&text, &dir.path().join("dns-failover.toml")).unwrap();
    (dir, cfg, eps)
}

fn kinds(r: &dns_failover::RunReport) -> Vec<(EventKind, Severity)> {
    r.groups[0]
        .events
        .iter()
        .map(|e| (e.kind, e.severity))
        .collect()
}

#[tokio::test]
async fn the_wait_ends_at_the_invocations_dns_deadline_and_then_is_information() {
    let dead = closed_port();
    let (_dir, cfg, _eps) = in_process(&format!(
        "verify_servers = [\"{dead}\"]\nverify_within = \"60s\""
    ))
    .await;
    let deps = Deps::from_config(&cfg).unwrap();
    let t0 = Instant::now();
    let opts = RunOptions {
        dns_deadline: Some(t0 + Duration::from_millis(1500)),
        ..RunOptions::new(Action::Run)
    };
    // The first run creates both records: a write, checked.
    let r = run_once(&deps, &cfg, &opts).await;
    let took = t0.elapsed();
    assert!(r.ok, "{:?}", r.errors);
    assert!(
        took < Duration::from_secs(3),
        "bounded by the deadline, not the 60 s: {took:?}"
    );
    let v = r.groups[0]
        .verify
        .as_ref()
        .expect("checked after the writes");
    assert!(v.cut_short, "{v:?}");
    assert_eq!(v.within_ms, 60_000);
    assert_eq!(v.expected, ["192.0.2.1", "192.0.2.2"]);
    assert_eq!(v.servers.len(), 1);
    assert!(
        !v.servers[0].visible && v.servers[0].error.is_some(),
        "{v:?}"
    );
    assert!(
        kinds(&r).contains(&(EventKind::NotVisible, Severity::Info)),
        "{:?}",
        r.groups[0].events
    );
    // Information does not page.
    let paged = r.alert("UTC").map(|a| a.events).unwrap_or_default();
    assert!(
        !paged.iter().any(|e| e.event.kind == EventKind::NotVisible),
        "{paged:?}"
    );
    assert!(r.timings.verify_ms >= 1000.0, "{:?}", r.timings);
}

#[tokio::test]
async fn verify_ns_with_a_provider_that_does_not_tell_its_servers_warns_once_per_write() {
    let (_dir, cfg, _eps) = in_process("verify = \"ns\"\nverify_within = \"2s\"").await;
    let deps = Deps::from_config(&cfg).unwrap();
    let r = run_once(&deps, &cfg, &RunOptions::new(Action::Run)).await;
    assert!(r.ok, "{:?}", r.errors);
    let v = r.groups[0].verify.as_ref().unwrap();
    assert!(v.servers.is_empty());
    assert!(
        v.note.as_deref().unwrap().contains(
            "provider \"file\" does not tell the zone's name servers; list them in verify_servers"
        ),
        "{v:?}"
    );
    let alert = r.alert("UTC").expect("a warning pages");
    let e = alert
        .events
        .iter()
        .find(|e| e.event.kind == EventKind::NotVisible)
        .unwrap();
    assert_eq!(e.event.severity, Severity::Warning);
    assert!(
        e.event
            .message
            .contains("was not checked at the authoritative servers"),
        "{}",
        e.event.message
    );
    // The next run writes nothing, so checks nothing and says nothing.
    let r = run_once(&deps, &cfg, &RunOptions::new(Action::Run)).await;
    assert!(r.groups[0].verify.is_none(), "{:?}", r.groups[0].verify);
    assert!(!kinds(&r).iter().any(|(k, _)| *k == EventKind::NotVisible));
}

#[tokio::test]
async fn dnspod_names_its_servers_from_describe_domain() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let fake = support::fake_tencent::FakeTencent::start(
        "example.com",
        vec![support::fake_tencent::Key {
            id: support::SECRET_ID.into(),
            key: support::SECRET_KEY.into(),
            token: None,
        }],
        clock.clone(),
    )
    .await;
    let envs = support::cred_env("verify_ns", support::SECRET_ID, support::SECRET_KEY, None);
    let settings = DnspodSettings {
        endpoint: fake.endpoint(),
        secret_id_env: envs.0.clone(),
        secret_key_env: envs.1.clone(),
        session_token_env: envs.2.clone(),
        api_timeout: Duration::from_millis(500),
        api_budget: Duration::from_secs(3),
    };
    let p = DnspodProvider::from_settings(&settings, clock, &|n| std::env::var(n).ok()).unwrap();
    assert_eq!(
        p.name_servers("example.com").await.unwrap(),
        Some(vec![
            "temporary.dnspod.net".to_string(),
            "barman.dnspod.net".to_string()
        ])
    );
    assert_eq!(fake.actions(), ["DescribeDomain"]);
}

// ---------------------------------------------------------------------------
// End to end: the real binary, a file zone copied into BIND by the test
// ---------------------------------------------------------------------------

/// How the test's "provider push" copies the file zone into each BIND:
/// at once, after a delay, or never.
#[derive(Clone, Copy, Debug)]
enum Push {
    AtOnce,
    After(Duration),
    Never,
}

/// Copies the file zone's enabled `api` and `www` records into the BIND
/// servers whenever the zone file changes, each server per its [`Push`].
struct Syncer {
    plan: Arc<Mutex<Vec<Push>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Syncer {
    fn start(zone_file: PathBuf, binds: Vec<Bind>, plan: Vec<Push>) -> Syncer {
        let plan = Arc::new(Mutex::new(plan));
        let p = plan.clone();
        let binds: Vec<Arc<tokio::sync::Mutex<Bind>>> = binds
            .into_iter()
            .map(|b| Arc::new(tokio::sync::Mutex::new(b)))
            .collect();
        let task = tokio::spawn(async move {
            let mut last = String::new();
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let Ok(text) = std::fs::read_to_string(&zone_file) else {
                    continue;
                };
                if text == last {
                    continue;
                }
                last = text.clone();
                let Ok(zone) = serde_json::from_str::<dns_failover::dns::file::Zone>(&text) else {
                    continue;
                };
                let rrs: Vec<(String, String, String)> = zone
                    .records
                    .iter()
                    .filter(|r| r.enabled)
                    .map(|r| {
                        (
                            r.subdomain.clone(),
                            r.rtype.as_str().to_string(),
                            r.value.clone(),
                        )
                    })
                    .collect();
                let push = p.lock().unwrap().clone();
                for (b, how) in binds.iter().zip(push) {
                    let delay = match how {
                        Push::AtOnce => Duration::ZERO,
                        Push::After(d) => d,
                        Push::Never => continue,
                    };
                    let (b, rrs) = (b.clone(), rrs.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let view: Vec<(&str, &str, &str)> = rrs
                            .iter()
                            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
                            .collect();
                        b.lock().await.serve(&view).await;
                    });
                }
            }
        });
        Syncer { plan, task }
    }

    fn set(&self, plan: Vec<Push>) {
        *self.plan.lock().unwrap() = plan;
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run_bin(dir: &Path, args: &[&str]) -> (Value, Output) {
    let mut full = vec![
        "-c".to_string(),
        dir.join("dns-failover.toml").display().to_string(),
    ];
    full.extend(args.iter().map(|s| s.to_string()));
    full.push("--json".into());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .args(&full)
            .env_remove("RUST_LOG")
            .env_remove("DNS_FAILOVER_CONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out)
}

fn group<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap()
}

fn by_server<'a>(v: &'a Value, label: &str) -> &'a Value {
    v["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["server"] == label)
        .unwrap_or_else(|| panic!("no server {label} in {v:#}"))
}

#[tokio::test]
async fn end_to_end_a_failover_is_checked_at_each_authoritative_server() {
    let Some(named) = named() else { return };
    let zone = zone_name("e2e");
    let dir = tempfile::tempdir().unwrap();
    let eps = [
        Endpoint::start().await.unwrap(),
        Endpoint::start().await.unwrap(),
    ];
    let quick = Bind::start(&named, &zone, &[]).await;
    let late = Bind::start(&named, &zone, &[]).await;
    let dead = closed_port();
    let (q, l, d) = (
        quick.addr.to_string(),
        late.addr.to_string(),
        dead.to_string(),
    );
    let text = config_text(
        &zone,
        [eps[0].port, eps[1].port],
        &format!("verify_servers = [\"{q}\", \"{l}\", \"{d}\"]\nverify_within = \"2s\""),
    );
    std::fs::write(dir.path().join("dns-failover.toml"), text).unwrap();
    let sync = Syncer::start(
        dir.path().join("zone.json"),
        vec![quick, late],
        vec![Push::AtOnce, Push::After(Duration::from_millis(600))],
    );

    // 1. The first run creates both records; the quick server has them at
    // once, the late one 600 ms later, the dead one never.
    let t0 = Instant::now();
    let (r, out) = run_bin(dir.path(), &["run"]).await;
    let took = t0.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        took < Duration::from_secs(6),
        "the pass ends after verify_within: {took:?}"
    );
    let api = group(&r, "api");
    let v = &api["verify"];
    assert_eq!(v["question"], format!("api.{zone} A"));
    assert_eq!(v["expected"], serde_json::json!(["192.0.2.1", "192.0.2.2"]));
    assert_eq!(v["within_ms"], 2000);
    let (sq, sl, sd) = (by_server(v, &q), by_server(v, &l), by_server(v, &d));
    assert_eq!(sq["visible"], true, "{v:#}");
    assert_eq!(sl["visible"], true, "{v:#}");
    assert_eq!(sd["visible"], false, "{v:#}");
    let write_ms = sq["write_ms"].as_u64().expect("time to write");
    assert_eq!(sl["write_ms"].as_u64(), Some(write_ms));
    let (vq, vl) = (
        sq["visible_ms"].as_u64().unwrap(),
        sl["visible_ms"].as_u64().unwrap(),
    );
    assert!(
        vq < 1500 && vq <= vl && (550..2000).contains(&vl),
        "quick {vq} ms, late {vl} ms"
    );
    assert_eq!(sq["address"], q.as_str());
    assert!(
        sd["error"].is_string() && sd.get("visible_ms").is_none(),
        "{sd:#}"
    );
    assert!(sd["waited_ms"].as_u64().unwrap() >= 1500, "{sd:#}");
    let ev = api["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "not_visible")
        .unwrap_or_else(|| panic!("{api:#}"));
    assert_eq!(ev["severity"], "warning");
    let msg = ev["message"].as_str().unwrap();
    assert!(msg.contains(&format!("1 of 3 authoritative servers did not serve the new answer for api.{zone} A (192.0.2.1 192.0.2.2) within verify_within (2s): {d}")), "{msg}");
    assert!(r["timings"]["verify_ms"].as_f64().unwrap() >= 1500.0);
    // The alert (console, on stderr) carries each server's times.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not_visible"), "{err}");
    assert!(
        err.contains(&format!(
            "server {q}: written in {write_ms} ms, visible {vq} ms later"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "server {d}: written in {write_ms} ms, not visible after"
        )),
        "{err}"
    );

    // 2. gz goes down: its record is disabled. The quick server has it at
    // once; the late one never does now (verify_within 2 s passes).
    sync.set(vec![Push::AtOnce, Push::Never]);
    eps[0].set_status(500);
    let (r, out) = run_bin(dir.path(), &["run"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let api = group(&r, "api");
    assert!(
        api["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "failover"),
        "{api:#}"
    );
    let v = &api["verify"];
    assert_eq!(v["expected"], serde_json::json!(["192.0.2.2"]));
    let (sq, sl) = (by_server(v, &q), by_server(v, &l));
    assert_eq!(sq["visible"], true, "{v:#}");
    assert_eq!(sl["visible"], false, "{v:#}");
    assert_eq!(
        sl["served"],
        serde_json::json!(["192.0.2.1", "192.0.2.2"]),
        "the old answer"
    );
    let ev = api["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "not_visible")
        .unwrap();
    assert_eq!(ev["severity"], "warning");
    assert_eq!(
        ev["regions"],
        serde_json::json!(["gz"]),
        "the write's region"
    );
    assert!(ev["message"].as_str().unwrap().contains(&format!("2 of 3 authoritative servers did not serve the new answer for api.{zone} A (192.0.2.2) within verify_within (2s): {l}, {d}")), "{ev:#}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not visible after 2.0s (serves 192.0.2.1 192.0.2.2)"),
        "{err}"
    );

    // 3. status: what each server serves now, against the records.
    let t0 = Instant::now();
    let (r, out) = run_bin(dir.path(), &["status"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
    let v = &group(&r, "api")["verify"];
    assert_eq!(v["expected"], serde_json::json!(["192.0.2.2"]));
    let (sq, sl, sd) = (by_server(v, &q), by_server(v, &l), by_server(v, &d));
    assert_eq!(
        (sq["visible"].as_bool(), sq["served"].clone()),
        (Some(true), serde_json::json!(["192.0.2.2"]))
    );
    assert_eq!(
        (sl["visible"].as_bool(), sl["served"].clone()),
        (Some(false), serde_json::json!(["192.0.2.1", "192.0.2.2"]))
    );
    assert_eq!(sd["visible"], false);
    assert!(sd["error"].is_string());
    assert!(sq.get("write_ms").is_none(), "no write in status: {sq:#}");
    // Status raises nothing about it; it shows it.
    assert!(!group(&r, "api")["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "not_visible"));
    let out = tokio::task::spawn_blocking({
        let cfg = dir.path().join("dns-failover.toml");
        move || {
            std::process::Command::new(BIN)
                .arg("-c")
                .arg(cfg)
                .arg("status")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "authoritative servers, api.{zone} A (records: 192.0.2.2):"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "server {q}: serves 192.0.2.2 (as the records say)"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "server {l}: serves 192.0.2.1 192.0.2.2, not the records"
        )),
        "{text}"
    );
    drop(sync);
}

/// Under SCF: the invocation's budget bounds the wait, whatever
/// `verify_within` says; the answer comes in time and the run is ok.
#[tokio::test]
async fn under_scf_the_invocation_budget_bounds_the_wait() {
    use dns_failover::runtime::{handle, Budget, Loaded, Reply};
    let dead = closed_port();
    let (_dir, cfg, _eps) = in_process(&format!(
        "verify_servers = [\"{dead}\"]\nverify_within = \"60s\""
    ))
    .await;
    let t0 = Instant::now();
    // 4 s: probes until 3 s, DNS until 3.3 s, answer by 3.8 s.
    let budget = Budget::new(t0, Duration::from_secs(4));
    let reply = handle(
        Loaded::Ready(Arc::new(cfg)),
        br#"{"action":"run"}"#.to_vec(),
        Some(budget),
    )
    .await;
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(3800), "{took:?}");
    assert!(
        took >= Duration::from_millis(3000),
        "waited until the DNS deadline: {took:?}"
    );
    let Reply::Response(json) = reply else {
        panic!("{reply:?}")
    };
    let r: Value = serde_json::from_str(&json).unwrap();
    let v = &group(&r, "api")["verify"];
    assert_eq!(v["cut_short"], true, "{v:#}");
    assert_eq!(by_server(v, &dead.to_string())["visible"], false);
}

/// `verify = "ns"` end to end on DNSPod (the fake): the servers are the
/// zone's `DnspodNsList` from `DescribeDomain`, asked after the writes.
#[tokio::test]
async fn verify_ns_asks_the_servers_dnspod_names() {
    let Some(named) = named() else { return };
    let zone = zone_name("nsmode");
    // This server already serves what the run will write; the other
    // name server does not answer.
    let bind = Bind::start(
        &named,
        &zone,
        &[("api", "A", "192.0.2.1"), ("api", "A", "192.0.2.2")],
    )
    .await;
    let dead = closed_port();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let fake = support::fake_tencent::FakeTencent::start(
        &zone,
        vec![support::fake_tencent::Key {
            id: support::SECRET_ID.into(),
            key: support::SECRET_KEY.into(),
            token: None,
        }],
        clock,
    )
    .await;
    fake.with(|s| s.ns_list = vec![bind.addr.to_string(), dead.to_string()]);
    let envs = support::cred_env(
        "verify_ns_e2e",
        support::SECRET_ID,
        support::SECRET_KEY,
        None,
    );
    let eps = [
        Endpoint::start().await.unwrap(),
        Endpoint::start().await.unwrap(),
    ];
    let text = config_text(&zone, [eps[0].port, eps[1].port], "").replace(
        "provider = \"file\"",
        &format!(
            "provider = \"dnspod\"\nendpoint = \"{}\"\nsecret_id_env = \"{}\"\nsecret_key_env = \"{}\"\nsession_token_env = \"{}\"\nverify = \"ns\"\nverify_within = \"1500ms\"",
            fake.endpoint(),
            envs.0,
            envs.1,
            envs.2
        ),
    ).replace("path = \"zone.json\"\n", "");
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::from_toml(&text, &dir.path().join("dns-failover.toml")).unwrap();
    let deps = Deps::from_config(&cfg).unwrap();
    let r = run_once(&deps, &cfg, &RunOptions::new(Action::Run)).await;
    assert!(r.ok, "{:?}", r.errors);
    let v = r.groups[0].verify.as_ref().expect("checked");
    assert_eq!(v.expected, ["192.0.2.1", "192.0.2.2"]);
    let labels: Vec<&str> = v.servers.iter().map(|s| s.server.as_str()).collect();
    assert_eq!(labels, [bind.addr.to_string(), dead.to_string()]);
    assert!(
        v.servers[0].visible && v.servers[0].visible_ms.is_some(),
        "{v:?}"
    );
    assert!(!v.servers[1].visible, "{v:?}");
    assert!(
        kinds(&r).contains(&(EventKind::NotVisible, Severity::Warning)),
        "{:?}",
        r.groups[0].events
    );
    assert!(fake.actions().iter().any(|a| a == "DescribeDomain"));
}

/// All servers serve the write: no warning, and the failover's alert
/// gives each server's time to write and to visible.
#[tokio::test]
async fn a_failover_alert_gives_each_servers_times_when_all_serve_it() {
    let Some(named) = named() else { return };
    let zone = zone_name("alerted");
    let mut bind = Bind::start(
        &named,
        &zone,
        &[("api", "A", "192.0.2.1"), ("api", "A", "192.0.2.2")],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let eps = [
        Endpoint::start().await.unwrap(),
        Endpoint::start().await.unwrap(),
    ];
    let text = config_text(
        &zone,
        [eps[0].port, eps[1].port],
        &format!(
            "verify_servers = [\"{}\"]\nverify_within = \"3s\"",
            bind.addr
        ),
    );
    let cfg = Config::from_toml(&text, &dir.path().join("dns-failover.toml")).unwrap();
    let deps = Deps::from_config(&cfg).unwrap();
    let r = run_once(&deps, &cfg, &RunOptions::new(Action::Run)).await;
    assert!(r.groups[0].verify.as_ref().unwrap().servers[0].visible);
    // The server has the failover's answer already.
    bind.serve(&[("api", "A", "192.0.2.2")]).await;
    eps[0].set_status(500);
    let r = run_once(&deps, &cfg, &RunOptions::new(Action::Run)).await;
    assert!(r.ok, "{:?}", r.errors);
    assert!(!kinds(&r).iter().any(|(k, _)| *k == EventKind::NotVisible));
    let s = &r.groups[0].verify.as_ref().unwrap().servers[0];
    assert!(s.visible, "{s:?}");
    let alert = r.alert("UTC").expect("the failover pages");
    let failover = alert
        .events
        .iter()
        .find(|e| e.event.kind == EventKind::Failover)
        .unwrap();
    assert_eq!(failover.servers.len(), 1, "{failover:?}");
    let line = format!(
        "server {}: written in {} ms, visible {} ms later",
        bind.addr,
        s.write_ms.unwrap(),
        s.visible_ms.unwrap()
    );
    assert!(
        alert.render_text().contains(&line),
        "{}",
        alert.render_text()
    );
}
