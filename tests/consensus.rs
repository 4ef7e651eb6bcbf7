//! Many regional probers, one truth: three real `dns-failover run`
//! processes per round on one file zone, each with its own view, agreeing
//! through the votes they keep in the zone (docs/consensus.md).

#[path = "support/alidns_fake.rs"]
mod alidns_fake;
mod support;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use dns_failover::demo::Endpoint;
use dns_failover::dns::file::{load_zone, Zone, ZoneRecord};
use dns_failover::dns::RecordType;
use serde_json::{json, Value};
use support::{HttpServer, Reply};

const BIN: &str = env!("CARGO_BIN_EXE_dns-failover");
const REGIONS: [&str; 3] = ["gz", "sh", "bj"];
const PROBERS: [&str; 3] = ["p1", "p2", "p3"];

struct World {
    dir: tempfile::TempDir,
    up: Endpoint,
    down: Endpoint,
    pager: HttpServer,
}

impl World {
    async fn new() -> World {
        let up = Endpoint::start().await.unwrap();
        let down = Endpoint::start().await.unwrap();
        down.set_status(503);
        let pager = HttpServer::start(|_| Reply::Json(200, json!({"ok": true}))).await;
        World {
            dir: tempfile::tempdir().unwrap(),
            up,
            down,
            pager,
        }
    }

    fn zone(&self) -> PathBuf {
        self.dir.path().join("zone.json")
    }

    /// Write prober `i`'s config: it sees the regions in `down` down, and
    /// its witness is `witness` (none when `None`).
    fn config(&self, i: usize, down: &[&str], witness: Option<u16>) -> PathBuf {
        let mut s = format!(
            r#"prober = "{}"
[probe]
timeout = "1s"
attempts = 1
fail_threshold = 1
{}
[consensus]
probers = ["p1", "p2", "p3"]
quorum = 2
stale_after = "2s"
heartbeat = "500ms"

[dns]
provider = "file"
domain = "example.com"
ttl = 60
path = "{}"

[[alert]]
type = "webhook"
url = "{}/page"

[[group]]
name = "api"
subdomain = "api"
type = "A"
mode = "active"
failback_after = "5m"
"#,
            PROBERS[i],
            witness.map_or(String::new(), |p| format!(
                "witnesses = [\"tcp://127.0.0.1:{p}\"]"
            )),
            self.zone().display(),
            self.pager.base
        );
        for (n, r) in REGIONS.iter().enumerate() {
            let port = if down.contains(r) {
                self.down.port
            } else {
                self.up.port
            };
            s.push_str(&format!(
                "\n[[group.target]]\nregion = \"{r}\"\nvalue = \"192.0.2.{}\"\nurl = \"http://127.0.0.1:{port}/health\"\n",
                n + 1
            ));
        }
        let path = self.dir.path().join(format!("{}.toml", PROBERS[i]));
        std::fs::write(&path, s).unwrap();
        path
    }

    /// One round: every given config runs `run --json` at the same moment.
    async fn round(&self, configs: &[PathBuf]) -> Vec<Value> {
        let outs = all_at_once(configs.iter().map(|c| run_cmd(c)).collect()).await;
        outs.iter()
            .map(|o| {
                let out = String::from_utf8_lossy(&o.stdout);
                serde_json::from_str(&out).unwrap_or_else(|e| {
                    panic!(
                        "not a report ({e}): {out}\n{}",
                        String::from_utf8_lossy(&o.stderr)
                    )
                })
            })
            .collect()
    }

    /// Values of the group's enabled records.
    fn enabled(&self) -> Vec<String> {
        let mut v: Vec<String> = load_zone(&self.zone())
            .unwrap()
            .records
            .into_iter()
            .filter(|r| r.subdomain == "api" && r.enabled)
            .map(|r| r.value)
            .collect();
        v.sort();
        v
    }

    /// Kinds of the events in every page received so far.
    fn pages(&self) -> Vec<String> {
        self.pager
            .requests()
            .iter()
            .flat_map(|r| {
                r.json()["events"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| e["kind"].as_str().unwrap_or("").to_string())
            })
            .collect()
    }
}

/// `dns-failover -c CONFIG --json run`.
fn run_cmd(config: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(BIN);
    c.args(["-c", config.to_str().unwrap(), "--json", "run"]);
    c
}

/// Start every command at the same moment and wait for them all.
async fn all_at_once(commands: Vec<std::process::Command>) -> Vec<Output> {
    let children: Vec<_> = commands
        .into_iter()
        .map(|mut c| {
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    tokio::task::spawn_blocking(move || children.into_iter().map(wait).collect())
        .await
        .unwrap()
}

fn wait(mut child: std::process::Child) -> Output {
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("a prober did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

/// Changes of the managed group that this round's reports applied.
fn applied(reports: &[Value]) -> Vec<(String, Value)> {
    reports
        .iter()
        .flat_map(|r| {
            let prober = r["prober"].as_str().unwrap_or("").to_string();
            r["groups"][0]["changes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c["status"] == "applied")
                .map(move |c| (prober.clone(), c))
        })
        .collect()
}

const ALL: [&str; 3] = ["192.0.2.1", "192.0.2.2", "192.0.2.3"];

/// The group's three records exist and are enabled (set up long ago); then
/// a round in which every prober votes for the first time.
async fn warm_up(w: &World, configs: &[PathBuf]) {
    let records = ALL
        .iter()
        .enumerate()
        .map(|(i, v)| ZoneRecord {
            id: (i + 1).to_string(),
            domain: "example.com".into(),
            subdomain: "api".into(),
            rtype: RecordType::A,
            line: "默认".into(),
            value: v.to_string(),
            ttl: 60,
            enabled: true,
            updated_on: None,
            remark: String::new(),
            weight: None,
        })
        .collect();
    let zone = Zone {
        next_id: 3,
        records,
    };
    std::fs::write(w.zone(), serde_json::to_vec_pretty(&zone).unwrap()).unwrap();
    let r = w.round(configs).await;
    assert!(applied(&r).is_empty(), "{r:#?}");
    assert_eq!(w.enabled(), ALL);
    assert!(w.pages().is_empty(), "{:?}", w.pages());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prober_cut_off_from_one_region_never_moves_traffic() {
    let w = World::new().await;
    let configs = [
        w.config(0, &["sh"], None),
        w.config(1, &[], None),
        w.config(2, &[], None),
    ];
    let healthy = [
        w.config(0, &[], None),
        configs[1].clone(),
        configs[2].clone(),
    ];
    warm_up(&w, &healthy).await;
    // p1 (the writer, first in order) loses its path to sh for 20 rounds.
    for round in 0..20 {
        let r = w.round(&configs).await;
        assert!(applied(&r).is_empty(), "round {round}: {:#?}", applied(&r));
        // The report shows the dissenting vote.
        let votes = &r[0]["groups"][0]["consensus"]["votes"];
        assert_eq!(votes[0]["prober"], "p1", "{votes}");
    }
    assert_eq!(w.enabled(), ALL);
    assert!(w.pages().is_empty(), "{:?}", w.pages());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_seen_by_two_of_three_moves_traffic_once_with_one_page() {
    let w = World::new().await;
    let healthy: Vec<PathBuf> = (0..3).map(|i| w.config(i, &[], None)).collect();
    warm_up(&w, &healthy).await;
    // sh really fails; p3's path to it still works.
    let configs = [
        w.config(0, &["sh"], None),
        w.config(1, &["sh"], None),
        w.config(2, &[], None),
    ];
    let mut writes = Vec::new();
    for _ in 0..6 {
        let r = w.round(&configs).await;
        writes.extend(applied(&r));
    }
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(writes[0].0, "p1", "the first prober in order writes");
    assert_eq!(writes[0].1["enabled"], false);
    assert_eq!(w.enabled(), ["192.0.2.1", "192.0.2.3"]);
    let pages = w.pages();
    assert_eq!(pages, ["failover"], "exactly one page: {pages:?}");
    // The page carries the votes behind it.
    let body = w.pager.requests()[0].json();
    let msg = body["events"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("votes (quorum 2): sh down by p1, p2; healthy by p3"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_writer_is_taken_over_once_its_vote_is_stale() {
    let w = World::new().await;
    let healthy: Vec<PathBuf> = (0..3).map(|i| w.config(i, &[], None)).collect();
    warm_up(&w, &healthy).await;
    // p1 dies; sh fails as p2 and p3 see it.
    let configs = [w.config(1, &["sh"], None), w.config(2, &["sh"], None)];
    let started = std::time::Instant::now();
    let mut writes = Vec::new();
    while w.enabled() == ALL && started.elapsed() < Duration::from_secs(8) {
        writes.extend(applied(&w.round(&configs).await));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(w.enabled(), ["192.0.2.1", "192.0.2.3"], "taken over");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "not before p1's vote went stale (2s)"
    );
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(writes[0].0, "p2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prober_whose_witnesses_fail_neither_votes_nor_writes() {
    let w = World::new().await;
    let healthy: Vec<PathBuf> = (0..3).map(|i| w.config(i, &[], None)).collect();
    warm_up(&w, &healthy).await;
    // A closed port: p1's witness fails, and p1 also sees every region down.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let configs = [
        w.config(0, &["gz", "sh", "bj"], Some(closed)),
        w.config(1, &[], Some(w.up.port)),
        w.config(2, &[], None),
    ];
    for _ in 0..4 {
        let r = w.round(&configs).await;
        assert!(applied(&r).is_empty(), "{:#?}", applied(&r));
        let c = &r[0]["groups"][0]["consensus"];
        assert_eq!(c["writes"], false, "{c}");
        assert!(
            c["votes"][0]["targets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t == "unknown"),
            "p1's vote says nothing: {c}"
        );
    }
    assert_eq!(w.enabled(), ALL);
    assert_eq!(w.pages(), ["prober_unhealthy"], "paged once");
}

/// One witness up settles the self-check: a second witness that hangs for
/// the whole probe timeout delays no prober's vote and no write (before,
/// every pass waited for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_witness_beside_one_that_answers_delays_nothing() {
    let w = World::new().await;
    let healthy: Vec<PathBuf> = (0..3).map(|i| w.config(i, &[], None)).collect();
    warm_up(&w, &healthy).await;
    let hang = HttpServer::start(|_| Reply::Hang).await;
    let configs: Vec<PathBuf> = (0..3)
        .map(|i| {
            let path = w.config(i, &["sh"], Some(w.up.port));
            let text = std::fs::read_to_string(&path).unwrap();
            let one = format!("witnesses = [\"tcp://127.0.0.1:{}\"]", w.up.port);
            assert!(text.contains(&one), "{text}");
            let text = text
                .replace(
                    &one,
                    &format!(
                        "witnesses = [\"{}/hang\", \"tcp://127.0.0.1:{}\"]",
                        hang.base, w.up.port
                    ),
                )
                .replace("timeout = \"1s\"", "timeout = \"5s\"");
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    let mut writes = Vec::new();
    for _ in 0..4 {
        let started = std::time::Instant::now();
        let r = w.round(&configs).await;
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(2500),
            "a round took {took:?}: it waited for the hanging witness (5 s)"
        );
        for report in &r {
            let c = &report["groups"][0]["consensus"];
            assert!(
                c["votes"][0]["targets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|t| t != "unknown"),
                "each prober voted what it saw: {c}"
            );
        }
        writes.extend(applied(&r));
    }
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(w.enabled(), ["192.0.2.1", "192.0.2.3"]);
    assert!(!hang.requests().is_empty(), "the hanging witness was asked");
    assert_eq!(w.pages(), ["failover"], "no prober_unhealthy");
}

#[test]
fn probers_names_must_list_this_prober() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(
        &p,
        r#"prober = "p9"
[consensus]
probers = ["p1", "p2"]
[dns]
provider = "file"
domain = "example.com"
path = "z.json"
[[group]]
name = "api"
subdomain = "api"
type = "A"
mode = "active"
[[group.target]]
region = "gz"
value = "192.0.2.1"
tcp = "127.0.0.1:9"
"#,
    )
    .unwrap();
    let o = std::process::Command::new(BIN)
        .args(["-c", p.to_str().unwrap(), "validate"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("prober") && err.contains("\"p9\""), "{err}");
}

/// The same rule on DNSPod (the fake API, which stamps `UpdatedOn` with its
/// own clock): three probers, an outage two of them see, one write of the
/// managed records and one page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dnspod_an_outage_seen_by_two_of_three_makes_one_write() {
    dnspod_outage([0, 0, 0]).await;
}

/// Clocks skewed by minutes (one prober 2 min ahead, one 100 s behind,
/// through libfaketime) change nothing: freshness comes from DNSPod's own
/// `UpdatedOn`. (DNSPod refuses requests signed more than 5 min off.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dnspod_skewed_clocks_change_nothing() {
    if std::process::Command::new("faketime")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("faketime is not installed (Debian: apt-get install faketime); .ci/run installs it. Skipped here.");
        return;
    }
    dnspod_outage([120, 0, -100]).await;
}

/// Three probers on the fake DNSPod, with clocks skewed by `skew` seconds
/// (through faketime); the group's three records exist and are enabled.
struct Dnspod {
    fake: support::fake_tencent::FakeTencent,
    w: World,
    ids: Vec<u64>,
    skew: [i64; 3],
}

impl Dnspod {
    async fn new(skew: [i64; 3]) -> Dnspod {
        use dns_failover::clock::SystemClock;
        use support::fake_tencent::{FakeTencent, Key};
        let fake = FakeTencent::start(
            "example.com",
            vec![Key {
                id: support::SECRET_ID.into(),
                key: support::SECRET_KEY.into(),
                token: None,
            }],
            std::sync::Arc::new(SystemClock),
        )
        .await;
        let w = World::new().await;
        let ids: Vec<u64> = ALL
            .iter()
            .map(|v| fake.with(|s| s.add_record("api", "A", "默认", v, 60, true)))
            .collect();
        Dnspod { fake, w, ids, skew }
    }

    /// Prober `i`'s config on DNSPod: it sees the regions in `down` down.
    fn config(&self, i: usize, down: &[&str]) -> PathBuf {
        self.config_with(i, down, None)
    }

    /// [`Dnspod::config`] with a TCP witness on `witness`.
    fn config_with(&self, i: usize, down: &[&str], witness: Option<u16>) -> PathBuf {
        let w = &self.w;
        let file = w.config(i, down, witness);
        let text = std::fs::read_to_string(&file).unwrap().replace(
            &format!("provider = \"file\"\ndomain = \"example.com\"\nttl = 60\npath = \"{}\"", w.zone().display()),
            &format!(
                "provider = \"dnspod\"\ndomain = \"example.com\"\nttl = 60\nendpoint = \"{}\"\nsecret_id_env = \"DNSF_CONS_ID\"\nsecret_key_env = \"DNSF_CONS_KEY\"\napi_timeout = \"1s\"\napi_budget = \"3s\"",
                self.fake.endpoint()
            ),
        );
        assert!(text.contains("dnspod"), "{text}");
        std::fs::write(&file, text).unwrap();
        file
    }

    /// One round: every config runs `run --json` at the same moment (with
    /// its prober's skew); every run must succeed.
    async fn run(&self, configs: Vec<PathBuf>) -> Vec<Value> {
        let commands = configs
            .iter()
            .zip(self.skew)
            .map(|(c, skew)| {
                let mut cmd = if skew == 0 {
                    run_cmd(c)
                } else {
                    let mut f = std::process::Command::new("faketime");
                    f.arg("-f")
                        .arg(format!("{skew:+}s"))
                        .arg(BIN)
                        .args(["-c", c.to_str().unwrap(), "--json", "run"])
                        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
                    f
                };
                cmd.env("DNSF_CONS_ID", support::SECRET_ID)
                    .env("DNSF_CONS_KEY", support::SECRET_KEY);
                cmd
            })
            .collect();
        let outs = all_at_once(commands).await;
        for o in &outs {
            assert!(
                o.status.code() == Some(0),
                "{}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        outs.iter()
            .map(|o| serde_json::from_slice::<Value>(&o.stdout).unwrap())
            .collect::<Vec<Value>>()
    }

    /// The ids of the managed records that `ModifyRecord` wrote, in order.
    fn writes(&self) -> Vec<u64> {
        self.fake.with(|s| {
            s.calls_of("ModifyRecord")
                .iter()
                .filter_map(|c| c.body["RecordId"].as_u64())
                .filter(|id| self.ids.contains(id))
                .collect()
        })
    }

    fn enabled(&self) -> Vec<String> {
        let mut v: Vec<String> = self.fake.with(|s| {
            s.records
                .iter()
                .filter(|r| r.name == "api" && r.enabled)
                .map(|r| r.value.clone())
                .collect()
        });
        v.sort();
        v
    }
}

/// On DNSPod, a prober cut off from one region over 20 rounds moves
/// nothing and pages nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dnspod_a_partial_partition_makes_no_write_in_20_rounds() {
    let d = Dnspod::new([0, 0, 0]).await;
    let healthy: Vec<PathBuf> = (0..3).map(|i| d.config(i, &[])).collect();
    d.run(healthy).await;
    let configs = vec![d.config(0, &["sh"]), d.config(1, &[]), d.config(2, &[])];
    for round in 0..20 {
        let r = d.run(configs.clone()).await;
        assert!(applied(&r).is_empty(), "round {round}: {:#?}", applied(&r));
    }
    assert!(d.writes().is_empty(), "{:?}", d.writes());
    assert_eq!(d.enabled(), ALL);
    assert!(d.w.pages().is_empty(), "{:?}", d.w.pages());
}

/// On DNSPod, a prober whose witness fails while it sees every region down
/// writes nothing over 4 rounds, votes only `unknown`, and pages
/// `prober_unhealthy` once (the alert state kept in DNSPod records).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dnspod_a_prober_whose_witnesses_fail_neither_votes_nor_writes() {
    let d = Dnspod::new([0, 0, 0]).await;
    let healthy: Vec<PathBuf> = (0..3).map(|i| d.config(i, &[])).collect();
    d.run(healthy).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let configs = vec![
        d.config_with(0, &["gz", "sh", "bj"], Some(closed)),
        d.config_with(1, &[], Some(d.w.up.port)),
        d.config(2, &[]),
    ];
    for _ in 0..4 {
        let r = d.run(configs.clone()).await;
        assert!(applied(&r).is_empty(), "{:#?}", applied(&r));
        let c = &r[0]["groups"][0]["consensus"];
        assert_eq!(c["writes"], false, "{c}");
        assert!(
            c["votes"][0]["targets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t == "unknown"),
            "p1's vote says nothing: {c}"
        );
    }
    assert!(d.writes().is_empty(), "{:?}", d.writes());
    assert_eq!(d.enabled(), ALL);
    assert_eq!(d.w.pages(), ["prober_unhealthy"], "paged once");
}

/// On DNSPod, a writer that stops is taken over once its vote is stale
/// (judged by DNSPod's `UpdatedOn`), with one write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dnspod_a_silent_writer_is_taken_over_once_its_vote_is_stale() {
    let d = Dnspod::new([0, 0, 0]).await;
    let healthy: Vec<PathBuf> = (0..3).map(|i| d.config(i, &[])).collect();
    d.run(healthy).await;
    // p1 dies; sh fails as p2 and p3 see it.
    let configs = vec![d.config(1, &["sh"]), d.config(2, &["sh"])];
    let started = std::time::Instant::now();
    while d.enabled() == ALL && started.elapsed() < Duration::from_secs(10) {
        d.run(configs.clone()).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(d.enabled(), ["192.0.2.1", "192.0.2.3"], "taken over");
    // DNSPod's UpdatedOn has whole seconds: stale after 2 s means 1 s at least.
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "not before p1's vote went stale"
    );
    assert_eq!(d.writes(), vec![d.ids[1]]);
    assert_eq!(d.w.pages(), ["failover"], "one page");
}

/// Three probers with clocks skewed by `skew` seconds (through faketime):
/// an outage two of them see makes one write and one page.
async fn dnspod_outage(skew: [i64; 3]) {
    let d = Dnspod::new(skew).await;
    let (fake, w, ids) = (&d.fake, &d.w, &d.ids);
    let config = |i: usize, down: &[&str]| d.config(i, down);
    let run = |configs: Vec<PathBuf>| d.run(configs);
    let healthy: Vec<PathBuf> = (0..3).map(|i| config(i, &[])).collect();
    let first = run(healthy.clone()).await;
    // The skew is real: each process stamps its report with its own clock.
    let at = |r: &Value| {
        chrono::DateTime::parse_from_rfc3339(r["started_at"].as_str().unwrap())
            .unwrap()
            .timestamp()
    };
    for (i, s) in skew.iter().enumerate() {
        let off = at(&first[i]) - at(&first[1]);
        assert!((off - s).abs() <= 5, "prober {i}: {off} s off, {s} s asked");
    }
    run(healthy).await;
    let configs = vec![config(0, &["sh"]), config(1, &["sh"]), config(2, &[])];
    for _ in 0..6 {
        run(configs.clone()).await;
    }
    let writes: Vec<u64> = fake.with(|s| {
        s.calls_of("ModifyRecord")
            .iter()
            .filter_map(|c| c.body["RecordId"].as_u64())
            .filter(|id| ids.contains(id))
            .collect()
    });
    assert_eq!(writes, vec![ids[1]], "one write, to sh's record");
    let writer = fake.with(|s| {
        s.calls_of("ModifyRecord")
            .iter()
            .filter(|c| c.body["RecordId"].as_u64() == Some(ids[1]))
            .map(|c| c.body["Remark"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    });
    assert_eq!(writer.len(), 1);
    assert!(fake.with(|s| !s.record(ids[1]).unwrap().enabled));
    assert_eq!(w.pages(), ["failover"], "one page");
}

/// On the Alidns fake, three prober processes: an outage two of them see
/// makes one status write and one page. Alidns gives no update time, so
/// the votes are aged by their own times (docs/consensus.md, rule 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_alidns_an_outage_seen_by_two_of_three_makes_one_write() {
    use alidns_fake::{AliKey, FakeAlidns};
    use dns_failover::clock::SystemClock;
    const ID: &str = "LTAI5tCONSENSUSkey";
    const SECRET: &str = "consensus-alidns-secret-never-shown";
    let fake = FakeAlidns::start(
        "example.com",
        vec![AliKey {
            id: ID.into(),
            secret: SECRET.into(),
            token: None,
        }],
        std::sync::Arc::new(SystemClock),
    )
    .await;
    let w = World::new().await;
    let ids: Vec<String> = ALL
        .iter()
        .map(|v| fake.with(|s| s.add_record("api", "A", "default", v, 600, true, "")))
        .collect();
    let config = |i: usize, down: &[&str]| {
        let file = w.config(i, down, None);
        let text = std::fs::read_to_string(&file)
            .unwrap()
            .replace(
                &format!(
                    "provider = \"file\"\ndomain = \"example.com\"\nttl = 60\npath = \"{}\"",
                    w.zone().display()
                ),
                &format!(
                    "provider = \"alidns\"\ndomain = \"example.com\"\nttl = 600\nendpoint = \"{}\"\naccess_key_id_env = \"DNSF_ALI_CONS_ID\"\naccess_key_secret_env = \"DNSF_ALI_CONS_SECRET\"\napi_timeout = \"1s\"\napi_budget = \"3s\"",
                    fake.base
                ),
            );
        assert!(text.contains("alidns"), "{text}");
        std::fs::write(&file, text).unwrap();
        file
    };
    let run = |configs: Vec<PathBuf>| async move {
        let commands = configs
            .iter()
            .map(|c| {
                let mut cmd = run_cmd(c);
                cmd.env("DNSF_ALI_CONS_ID", ID)
                    .env("DNSF_ALI_CONS_SECRET", SECRET);
                cmd
            })
            .collect();
        let outs = all_at_once(commands).await;
        outs.iter()
            .map(|o| {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                assert_eq!(o.status.code(), Some(0), "{text}");
                assert!(!text.contains(SECRET), "{text}");
                serde_json::from_slice::<Value>(&o.stdout).unwrap()
            })
            .collect::<Vec<Value>>()
    };
    let healthy: Vec<PathBuf> = (0..3).map(|i| config(i, &[])).collect();
    run(healthy.clone()).await;
    run(healthy).await;
    let configs = vec![config(0, &["sh"]), config(1, &["sh"]), config(2, &[])];
    for _ in 0..6 {
        for r in run(configs.clone()).await {
            let c = &r["groups"][0]["consensus"];
            let counted = c["votes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| v["counted"] == true)
                .count();
            assert_eq!(counted, 3, "every vote is fresh: {c}");
        }
    }
    let status_writes: Vec<(String, String)> = fake
        .calls()
        .iter()
        .filter(|c| c.action == "SetDomainRecordStatus")
        .filter(|c| ids.iter().any(|id| c.param("RecordId") == Some(id)))
        .map(|c| {
            (
                c.param("RecordId").unwrap().to_string(),
                c.param("Status").unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        status_writes,
        [(ids[1].clone(), "Disable".to_string())],
        "one write, to sh's record"
    );
    let enabled: Vec<String> = fake.with(|s| {
        let mut v: Vec<String> = s
            .records
            .iter()
            .filter(|r| r.rr == "api" && r.enabled)
            .map(|r| r.value.clone())
            .collect();
        v.sort();
        v
    });
    assert_eq!(enabled, ["192.0.2.1", "192.0.2.3"]);
    assert_eq!(w.pages(), ["failover"], "one page");
}
