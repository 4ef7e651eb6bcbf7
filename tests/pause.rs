//! Operator controls (issue 11): `pause --group G [--for 2h] [--reason ...]`
//! and `resume --group G`. A paused group is probed and reported, never
//! written, by every prober (the pause is kept in DNS, so two probers with
//! their own processes and configs both honour it); a pause that expires
//! resumes by itself; every pause and resume alerts once.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use dns_failover::clock::FixedClock;
use dns_failover::config::Config;
use dns_failover::demo::Endpoint;
use dns_failover::dns::ChangeOp;
use dns_failover::pipeline::{run_once, Action, Deps, RunOptions};
use dns_failover::report::ChangeStatus;
use dns_failover::RunReport;
use serde_json::{json, Value};
use support::*;

struct Env {
    _dir: tempfile::TempDir,
    zone: std::path::PathBuf,
    text: String,
    clock: Arc<FixedClock>,
    eps: [Endpoint; 2],
    hook: HttpServer,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("zone.json");
    let eps = [
        Endpoint::start().await.unwrap(),
        Endpoint::start().await.unwrap(),
    ];
    let hook = HttpServer::start(|_| Reply::Json(200, json!({}))).await;
    let text = format!(
        r#"
prober = "PROBER"
[probe]
timeout = "1s"
attempts = 2
interval = "10ms"
fail_threshold = 2
[dns]
provider = "file"
domain = "example.com"
path = "{zone}"
[[group]]
name = "api"
subdomain = "api"
type = "A"
mode = "active"
failback_after = "1m"
[[group.target]]
region = "ap-shanghai"
value = "10.0.0.1"
url = "http://127.0.0.1:{p0}/health"
[[group.target]]
region = "ap-guangzhou"
value = "10.0.0.2"
url = "http://127.0.0.1:{p1}/health"
[[alert]]
type = "webhook"
url = "{hook}/hook"
"#,
        zone = zone.display(),
        p0 = eps[0].port,
        p1 = eps[1].port,
        hook = hook.base,
    );
    let clock = Arc::new(FixedClock::new(
        Utc.with_ymd_and_hms(2026, 12, 5, 8, 0, 0).unwrap(),
    ));
    Env {
        _dir: dir,
        zone,
        text,
        clock,
        eps,
        hook,
    }
}

impl Env {
    /// One pass by `prober` (each its own config and edges, as each
    /// regional function has), a minute after the last.
    async fn pass(&self, prober: &str, action: Action) -> RunReport {
        self.clock.advance(chrono::Duration::minutes(1));
        let cfg = Config::from_toml(
            &self.text.replace("PROBER", prober),
            &self._dir.path().join("dns-failover.toml"),
        )
        .unwrap();
        dns_failover::pipeline::check_options(&cfg, &RunOptions::new(action.clone())).unwrap();
        let deps = Deps::with_clock(&cfg, self.clock.clone()).unwrap();
        tokio::time::timeout(
            Duration::from_secs(30),
            run_once(&deps, &cfg, &RunOptions::new(action)),
        )
        .await
        .expect("a pass ends")
    }

    fn zone(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.zone).unwrap()).unwrap()
    }

    /// (value, enabled) of the group's records.
    fn api(&self) -> Vec<(String, bool)> {
        let mut v: Vec<(String, bool)> = self.zone()["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["subdomain"] == "api")
            .map(|r| {
                (
                    r["value"].as_str().unwrap().to_string(),
                    r["enabled"] == true,
                )
            })
            .collect();
        v.sort();
        v
    }

    fn pause_record(&self) -> Value {
        let recs: Vec<Value> = self.zone()["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["subdomain"] == "_dns-failover-pause")
            .cloned()
            .collect();
        let [r] = &recs[..] else { panic!("{recs:?}") };
        r.clone()
    }

    /// Event kinds of the webhook's alerts so far, per alert.
    fn alerted(&self) -> Vec<Vec<String>> {
        self.hook
            .requests()
            .iter()
            .map(|r| {
                r.json()["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["kind"].as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    }
}

fn kinds(r: &RunReport) -> Vec<&'static str> {
    r.groups
        .iter()
        .flat_map(|g| g.events.iter().map(|e| e.kind.as_str()))
        .collect()
}

fn pause(hours: Option<u64>) -> Action {
    Action::Pause {
        group: "api".into(),
        until_after: hours.map(|h| Duration::from_secs(h * 3600)),
        reason: "moving the gateway".into(),
    }
}

#[tokio::test]
async fn a_paused_group_is_probed_and_reported_never_written_and_resumes_when_asked() {
    let e = env().await;
    let r = e.pass("ap-guangzhou", Action::Run).await;
    assert!(r.ok, "{:?}", r.errors);
    let all_in = vec![
        ("10.0.0.1".to_string(), true),
        ("10.0.0.2".to_string(), true),
    ];
    assert_eq!(e.api(), all_in);

    // Paused by an operator: one alert, the record in DNS.
    let r = e.pass("laptop", pause(None)).await;
    assert!(r.ok, "{:?}", r.errors);
    assert_eq!(kinds(&r), ["paused"]);
    assert_eq!(e.alerted(), [["paused"]]);
    let rec = e.pause_record();
    assert_eq!(rec["enabled"], false);
    assert_eq!(rec["line"], "默认");
    let remark = rec["remark"].as_str().unwrap();
    assert!(
        remark.starts_with("dns-failover paused 2026-12-05T08:02:00Z until - group api by laptop: moving the gateway"),
        "{remark}"
    );

    // Shanghai goes down. Another region's prober probes and reports it,
    // and writes nothing: the disable is refused, said once.
    e.eps[0].set_status(503);
    for _ in 0..2 {
        let r = e.pass("ap-shanghai", Action::Run).await;
        assert!(r.ok, "{:?}", r.errors);
        let g = &r.groups[0];
        assert_eq!(g.targets[0].health.as_str(), "down");
        assert!(g.changes.is_empty(), "{:?}", g.changes);
        assert!(matches!(
            g.refused[..],
            [dns_failover::dns::Change {
                op: ChangeOp::SetStatus { enabled: false, .. },
                ..
            }]
        ));
        let p = g.paused.as_ref().expect("reported as paused");
        assert_eq!((p.by.as_str(), p.until), ("laptop", None));
        assert_eq!(kinds(&r), ["left_alone"]);
        assert!(
            g.events[0].message.contains("group api is paused")
                && g.events[0].message.contains("would disable record"),
            "{}",
            g.events[0].message
        );
        assert!(
            r.render_text().contains("PAUSED since"),
            "{}",
            r.render_text()
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["groups"][0]["paused"]["by"], "laptop");
    }
    assert_eq!(e.api(), all_in, "nothing written while paused");
    assert_eq!(
        e.alerted(),
        [vec!["paused"], vec!["left_alone"]],
        "paged once"
    );

    // Resumed: the group's plan is applied in the same pass, one alert.
    let r = e
        .pass(
            "laptop",
            Action::Resume {
                group: "api".into(),
            },
        )
        .await;
    assert!(r.ok, "{:?}", r.errors);
    assert_eq!(kinds(&r), ["failover", "resumed"]);
    assert_eq!(r.groups[0].changes[0].status, ChangeStatus::Applied);
    assert!(e.pause_record()["remark"]
        .as_str()
        .unwrap()
        .starts_with("dns-failover resumed"));
    assert_eq!(
        e.api(),
        [
            ("10.0.0.1".to_string(), false),
            ("10.0.0.2".to_string(), true)
        ]
    );
    assert_eq!(e.alerted()[2], ["failover", "resumed"]);
    let r = e.pass("ap-guangzhou", Action::Run).await;
    assert!(r.ok && r.groups[0].changes.is_empty(), "{:?}", kinds(&r));
    let n = e.alerted().len();
    // Resuming a group that is not paused says so (in the report, not as
    // a page) and writes nothing.
    let before = e.pause_record();
    let r = e
        .pass(
            "laptop",
            Action::Resume {
                group: "api".into(),
            },
        )
        .await;
    assert_eq!(kinds(&r), ["left_alone"]);
    assert!(r.groups[0].events[0].message.contains("is not paused"));
    assert_eq!(e.alerted().len(), n);
    assert_eq!(e.pause_record(), before);
}

#[tokio::test]
async fn a_pause_that_expires_resumes_by_itself_once() {
    let e = env().await;
    e.pass("ap-guangzhou", Action::Run).await;
    let r = e.pass("laptop", pause(Some(1))).await;
    assert_eq!(kinds(&r), ["paused"]);
    assert!(r.groups[0].paused.as_ref().unwrap().until.is_some());
    e.eps[0].set_status(503);
    let r = e.pass("ap-shanghai", Action::Run).await;
    assert!(r.groups[0].changes.is_empty());
    // An hour later: the first pass marks it resumed and acts at once.
    e.clock.advance(chrono::Duration::hours(1));
    let r = e.pass("ap-shanghai", Action::Run).await;
    assert!(r.ok, "{:?}", r.errors);
    assert!(r.groups[0].paused.is_none());
    let k = kinds(&r);
    assert!(k.contains(&"resumed") && k.contains(&"failover"), "{k:?}");
    assert!(e.pause_record()["remark"]
        .as_str()
        .unwrap()
        .contains("pause expired at 2026-12-05T09:02:00Z"));
    // The next prober finds it resumed: no second `resumed`.
    let r = e.pass("ap-guangzhou", Action::Run).await;
    assert!(!kinds(&r).contains(&"resumed"), "{:?}", kinds(&r));
    let resumed = e
        .alerted()
        .iter()
        .filter(|a| a.contains(&"resumed".to_string()))
        .count();
    assert_eq!(resumed, 1);
}

#[tokio::test]
async fn pause_and_resume_name_a_group_and_a_bounded_time() {
    let e = env().await;
    let cfg = Config::from_toml(&e.text, &e._dir.path().join("dns-failover.toml")).unwrap();
    let check = |a: Action| dns_failover::pipeline::check_options(&cfg, &RunOptions::new(a));
    assert!(check(pause(Some(2))).is_ok());
    let err = check(Action::Resume {
        group: "web".into(),
    })
    .unwrap_err();
    assert!(
        err.0
            .contains("--group \"web\": no such group (known: api)"),
        "{err}"
    );
    let err = check(pause(Some(24 * 31))).unwrap_err();
    assert!(err.0.contains("at most 30 days"), "{err}");
    let err = check(Action::Pause {
        group: "api".into(),
        until_after: None,
        reason: "x".repeat(81),
    })
    .unwrap_err();
    assert!(err.0.contains("--reason"), "{err}");
    // A dry run shows the hold and writes nothing.
    e.pass("ap-guangzhou", Action::Run).await;
    let opts = RunOptions {
        dry_run: true,
        ..RunOptions::new(pause(None))
    };
    let deps = Deps::with_clock(&cfg, e.clock.clone()).unwrap();
    let r = run_once(&deps, &cfg, &opts).await;
    assert!(r.groups[0].paused.is_some());
    assert!(!e.zone().to_string().contains("_dns-failover-pause"));
}

/// The commands as an operator types them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pause_and_resume_commands() {
    let e = env().await;
    let path = e._dir.path().join("dns-failover.toml");
    std::fs::write(&path, e.text.replace("PROBER", "laptop")).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dns-failover"));
        cmd.arg("-c").arg(&path).args(args);
        async move {
            let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap();
            (
                out.status.code().unwrap(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let (code, _, err) = run(&["pause", "--group", "web"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no such group"), "{err}");
    let (code, _, err) = run(&["pause", "--group", "api", "--for", "soon"]).await;
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = run(&[
        "pause",
        "--group",
        "api",
        "--for",
        "2h",
        "--reason",
        "gateway move",
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("paused: group api paused by laptop until"),
        "{out}"
    );
    let (code, out, _) = run(&["status"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("PAUSED since") && out.contains("(gateway move)"),
        "{out}"
    );
    let (code, out, err) = run(&["resume", "--group", "api"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("resumed: group api resumed"), "{out}");
    let (_, out, _) = run(&["status"]).await;
    assert!(!out.contains("PAUSED"), "{out}");
}

/// A zone whose pause records cannot be read (the rest reads fine).
struct NoPauseRead(Arc<dyn dns_failover::dns::DnsProvider>);

#[async_trait::async_trait]
impl dns_failover::dns::DnsProvider for NoPauseRead {
    fn name(&self) -> &str {
        "no-pause-read"
    }
    async fn list(
        &self,
        key: &dns_failover::dns::RecordKey,
    ) -> Result<Vec<dns_failover::dns::Record>, dns_failover::dns::Error> {
        if key.subdomain == "_dns-failover-pause" {
            return Err(dns_failover::dns::Error::Transport("injected".into()));
        }
        self.0.list(key).await
    }
    async fn create(
        &self,
        key: &dns_failover::dns::RecordKey,
        record: &dns_failover::dns::NewRecord,
    ) -> Result<String, dns_failover::dns::Error> {
        self.0.create(key, record).await
    }
    async fn set_status(
        &self,
        key: &dns_failover::dns::RecordKey,
        current: &dns_failover::dns::Record,
        enabled: bool,
        remark: &str,
    ) -> Result<(), dns_failover::dns::Error> {
        self.0.set_status(key, current, enabled, remark).await
    }
    async fn set_value(
        &self,
        key: &dns_failover::dns::RecordKey,
        current: &dns_failover::dns::Record,
        value: &str,
        ttl: u32,
        enabled: bool,
        remark: &str,
    ) -> Result<(), dns_failover::dns::Error> {
        self.0
            .set_value(key, current, value, ttl, enabled, remark)
            .await
    }
}

/// A prober that cannot tell whether a group is paused writes nothing.
#[tokio::test]
async fn a_pass_that_cannot_read_the_pauses_writes_nothing() {
    let e = env().await;
    e.pass("ap-guangzhou", Action::Run).await;
    let before = e.api();
    e.eps[0].set_status(503);
    let cfg = Config::from_toml(
        &e.text.replace("PROBER", "p"),
        &e._dir.path().join("dns-failover.toml"),
    )
    .unwrap();
    let mut deps = Deps::with_clock(&cfg, e.clock.clone()).unwrap();
    deps.dns = Arc::new(NoPauseRead(deps.dns.clone()));
    let r = run_once(&deps, &cfg, &RunOptions::new(Action::Run)).await;
    assert!(!r.ok);
    assert!(
        r.errors[0].contains("cannot read the pause records"),
        "{:?}",
        r.errors
    );
    assert!(r.groups[0].changes.is_empty() && r.groups[0].refused.len() == 1);
    assert_eq!(e.api(), before);
}
