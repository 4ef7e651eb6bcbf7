//! Never empty, never stranded: several probers on one zone at the same
//! moment, as real processes on a file zone, and as random interleavings of
//! whole passes (`pipeline::run_once`) on a zone that, like DNSPod, has no
//! conditional write.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use dns_failover::clock::FixedClock;
use dns_failover::config::Config;
use dns_failover::demo::Endpoint;
use dns_failover::dns::file::{load_zone, Zone, ZoneRecord};
use dns_failover::dns::{self, DnsProvider, NewRecord, Record, RecordKey, RecordType};
use dns_failover::pipeline::{run_once, Action, Deps, RunOptions};
use dns_failover::probe::Prober;
use proptest::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_dns-failover");
const REGIONS: [&str; 4] = ["gz", "sh", "bj", "cd"];

fn value_of(i: usize) -> String {
    format!("192.0.2.{}", i + 1)
}

/// An active group `api` on a file zone; target `i` probes `ports[i]`.
fn config(zone: &Path, ports: &[u16], failback_after: &str) -> String {
    let mut s = format!(
        r#"prober = "test"
[probe]
timeout = "1s"
attempts = 1
fail_threshold = 1

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
failback_after = "{failback_after}"
max_changes = {}
"#,
        zone.display(),
        ports.len()
    );
    for (i, port) in ports.iter().enumerate() {
        s.push_str(&format!(
            "\n[[group.target]]\nregion = \"{}\"\nvalue = \"{}\"\nurl = \"http://127.0.0.1:{port}/health\"\n",
            REGIONS[i],
            value_of(i)
        ));
    }
    s
}

fn zone_record(i: usize, enabled: bool, remark: &str) -> ZoneRecord {
    ZoneRecord {
        id: (i + 1).to_string(),
        domain: "example.com".into(),
        subdomain: "api".into(),
        rtype: RecordType::A,
        line: "默认".into(),
        value: value_of(i),
        ttl: 60,
        enabled,
        updated_on: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()),
        remark: remark.into(),
        weight: None,
    }
}

fn write_zone(path: &Path, records: Vec<ZoneRecord>) {
    let zone = Zone {
        next_id: records.len() as u64,
        records,
    };
    std::fs::write(path, serde_json::to_vec_pretty(&zone).unwrap()).unwrap();
}

fn enabled_in(path: &Path) -> usize {
    load_zone(path)
        .unwrap()
        .records
        .iter()
        .filter(|r| r.subdomain == "api" && r.enabled)
        .count()
}

fn spawn(args: &[&str]) -> std::process::Child {
    std::process::Command::new(BIN)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("binary starts")
}

/// Wait for a child, at most 30 s.
fn wait(mut child: std::process::Child) -> Output {
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("a prober process did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

/// Three probers (three processes, one file zone), each seeing a different
/// region down, run at the same moment. Before the fix every trial ended
/// with no enabled record, and updates were lost (disables reported
/// `applied` that never reached the file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_prober_processes_on_one_file_zone_never_empty_it_nor_lose_an_update() {
    let up = Endpoint::start().await.unwrap();
    let down = Endpoint::start().await.unwrap();
    down.set_status(503);
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("zone.json");
    let configs: Vec<PathBuf> = (0..3)
        .map(|i| {
            let ports: Vec<u16> = (0..3)
                .map(|j| if i == j { down.port } else { up.port })
                .collect();
            let path = dir.path().join(format!("prober-{i}.toml"));
            std::fs::write(&path, config(&zone, &ports, "5m")).unwrap();
            path
        })
        .collect();
    for trial in 0..10 {
        write_zone(&zone, (0..3).map(|i| zone_record(i, true, "")).collect());
        let children: Vec<_> = configs
            .iter()
            .map(|c| spawn(&["-c", c.to_str().unwrap(), "--json", "run"]))
            .collect();
        let outputs: Vec<Output> =
            tokio::task::spawn_blocking(move || children.into_iter().map(wait).collect())
                .await
                .unwrap();
        let enabled = enabled_in(&zone);
        // Applied writes, net: a disable takes one record out, an enable
        // (a prober putting a healthy region back early because its own
        // disable would otherwise empty the name) puts one back.
        let mut applied_disables: i64 = 0;
        for o in &outputs {
            let out = String::from_utf8_lossy(&o.stdout);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(0), "trial {trial}: {out}\n{err}");
            let report: serde_json::Value = serde_json::from_str(&out).unwrap();
            for c in report["groups"][0]["changes"].as_array().unwrap() {
                if c["op"] == "set_status" && c["status"] == "applied" {
                    applied_disables += if c["enabled"] == false { 1 } else { -1 };
                }
            }
        }
        assert!(enabled >= 1, "trial {trial}: the name was left empty");
        // No lost update: every disable reported applied is in the file
        // (the losers got a conflict instead).
        assert_eq!(
            3 - enabled as i64,
            applied_disables,
            "trial {trial}: net {} disables reported applied, {} in the file\n{}\n{}",
            applied_disables,
            3 - enabled as i64,
            std::fs::read_to_string(&zone).unwrap(),
            outputs
                .iter()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .collect::<Vec<_>>()
                .join("\n----\n")
        );
    }
}

// ---------------------------------------------------------------------------
// Random interleavings of whole passes
// ---------------------------------------------------------------------------

/// A zone in memory that behaves as DNSPod does for our purposes: no
/// conditional write (a write lands whatever happened since the caller's
/// read), an update time that moves on every write. Before each call it
/// yields to the scheduler a random number of times, so concurrent passes
/// interleave differently for every seed.
struct Interleaved {
    records: Mutex<Vec<(RecordKey, Record)>>,
    seq: AtomicU64,
    rng: Mutex<fastrand::Rng>,
}

impl Interleaved {
    fn new(seed: u64, records: Vec<(RecordKey, Record)>) -> Self {
        Interleaved {
            records: Mutex::new(records),
            seq: AtomicU64::new(0),
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
        }
    }

    async fn jitter(&self) {
        let n = self.rng.lock().unwrap().usize(0..6);
        for _ in 0..n {
            tokio::task::yield_now().await;
        }
    }

    fn stamp(&self) -> DateTime<Utc> {
        t0() + chrono::Duration::seconds(self.seq.fetch_add(1, Ordering::SeqCst) as i64 + 1)
    }

    fn write(&self, id: &str, f: impl FnOnce(&mut Record)) -> Result<(), dns::Error> {
        let stamp = self.stamp();
        let mut recs = self.records.lock().unwrap();
        let (_, r) = recs
            .iter_mut()
            .find(|(_, r)| r.id == id)
            .ok_or_else(|| dns::Error::NotFound(id.into()))?;
        f(r);
        r.updated_on = Some(stamp);
        Ok(())
    }

    fn of(&self, key: &RecordKey) -> Vec<Record> {
        self.records
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, r)| r.clone())
            .collect()
    }
}

#[async_trait]
impl DnsProvider for Interleaved {
    fn name(&self) -> &str {
        "interleaved"
    }
    async fn list(&self, key: &RecordKey) -> Result<Vec<Record>, dns::Error> {
        self.jitter().await;
        Ok(self.of(key))
    }
    async fn create(&self, key: &RecordKey, record: &NewRecord) -> Result<String, dns::Error> {
        self.jitter().await;
        let id = format!("n{}", self.seq.fetch_add(1, Ordering::SeqCst));
        let r = Record {
            id: id.clone(),
            value: record.value.clone(),
            ttl: record.ttl,
            enabled: record.enabled,
            updated_on: Some(self.stamp()),
            remark: record.remark.clone(),
            weight: None,
        };
        self.records.lock().unwrap().push((key.clone(), r));
        Ok(id)
    }
    async fn set_status(
        &self,
        _key: &RecordKey,
        current: &Record,
        enabled: bool,
        remark: &str,
    ) -> Result<(), dns::Error> {
        self.jitter().await;
        self.write(&current.id, |r| {
            r.enabled = enabled;
            if !remark.is_empty() {
                r.remark = remark.into();
            }
        })
    }
    async fn set_value(
        &self,
        _key: &RecordKey,
        current: &Record,
        value: &str,
        ttl: u32,
        enabled: bool,
        remark: &str,
    ) -> Result<(), dns::Error> {
        self.jitter().await;
        self.write(&current.id, |r| {
            r.value = value.into();
            r.ttl = ttl;
            r.enabled = enabled;
            if !remark.is_empty() {
                r.remark = remark.into();
            }
        })
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 3, 0, 0).unwrap()
}

fn api_key() -> RecordKey {
    RecordKey {
        domain: "example.com".into(),
        subdomain: "api".into(),
        rtype: RecordType::A,
        line: "默认".into(),
    }
}

/// One case: `targets` records (enabled?, the tool's remark?), and per
/// prober which targets it sees down.
#[derive(Debug, Clone)]
struct Case {
    records: Vec<(bool, bool)>,
    views: Vec<Vec<bool>>,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (2usize..=4, 2usize..=3).prop_flat_map(|(n, probers)| {
        (
            proptest::collection::vec((any::<bool>(), any::<bool>()), n)
                // The property is about what passes do: start with a name
                // that serves (a person's empty name is paged, not fixed).
                .prop_filter("one record enabled", |rs| rs.iter().any(|r| r.0)),
            proptest::collection::vec(proptest::collection::vec(any::<bool>(), n), probers),
            any::<u64>(),
        )
            .prop_map(|(records, views, seed)| Case {
                records,
                views,
                seed,
            })
    })
}

async fn pass(cfg: &Config, dns: Arc<Interleaved>, clock: Arc<FixedClock>) {
    let deps = Deps {
        dns,
        channels: vec![],
        clock,
        prober: Prober::new(&cfg.probe).unwrap(),
    };
    let report = tokio::time::timeout(
        Duration::from_secs(20),
        run_once(&deps, cfg, &RunOptions::new(Action::Run)),
    )
    .await
    .expect("a pass ends");
    assert!(report.groups.iter().all(|g| g.error.is_none()));
}

fn check_case(c: &Case) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let up = Endpoint::start().await.unwrap();
        let down = Endpoint::start().await.unwrap();
        down.set_status(503);
        let n = c.records.len();
        let long_ago = t0() - chrono::Duration::hours(1);
        let records: Vec<(RecordKey, Record)> = c
            .records
            .iter()
            .enumerate()
            .map(|(i, &(enabled, ours))| {
                let remark = if ours {
                    dns::remark(if enabled { "enabled" } else { "disabled" }, long_ago, "x")
                } else {
                    "set by a person".to_string()
                };
                let r = Record {
                    id: (i + 1).to_string(),
                    value: value_of(i),
                    ttl: 60,
                    enabled,
                    updated_on: Some(long_ago),
                    remark,
                    weight: None,
                };
                (api_key(), r)
            })
            .collect();
        let zone = Arc::new(Interleaved::new(c.seed, records));
        let clock = Arc::new(FixedClock::new(t0()));
        let nowhere = Path::new("unused-zone.json");
        let cfgs: Vec<Config> = c
            .views
            .iter()
            .map(|view| {
                let ports: Vec<u16> = view
                    .iter()
                    .map(|&d| if d { down.port } else { up.port })
                    .collect();
                Config::from_toml(&config(nowhere, &ports, "5m"), Path::new("p.toml")).unwrap()
            })
            .collect();

        // Every prober runs one pass, all at the same moment.
        let passes = cfgs
            .iter()
            .map(|cfg| pass(cfg, zone.clone(), clock.clone()));
        futures_util::future::join_all(passes).await;
        let after = zone.of(&api_key());
        prop_assert!(
            after.iter().any(|r| r.enabled),
            "name left empty: {after:#?}"
        );

        // Every region healthy again, failback_after later: one pass (any
        // prober's) brings back every record the tool took out.
        clock.advance(chrono::Duration::minutes(6));
        let healthy = Config::from_toml(
            &config(nowhere, &vec![up.port; n], "5m"),
            Path::new("p.toml"),
        )
        .unwrap();
        pass(&healthy, zone.clone(), clock.clone()).await;
        let after = zone.of(&api_key());
        for r in &after {
            prop_assert!(
                r.enabled || !r.remark_is_ours(),
                "record {} taken out by the tool is still out: {after:#?}",
                r.id
            );
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Two or three probers with random views of two to four regions, run
    /// as concurrent passes with random interleavings of their DNS calls:
    /// no pass leaves the name empty, and a record the tool took out whose
    /// target is healthy is back within one pass after failback_after.
    #[test]
    fn concurrent_passes_never_empty_the_name_and_never_strand_a_record(c in case()) {
        check_case(&c)?;
    }
}
