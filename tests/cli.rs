//! The real `dns-failover` binary, end to end, on a file zone and local
//! HTTP endpoints (127.0.0.1): fail over, stay, fail back; drills; manual
//! failback; exit codes; config errors that touch nothing.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use dns_failover::demo::Endpoint;
use serde_json::Value;

mod support;

const BIN: &str = env!("CARGO_BIN_EXE_dns-failover");

struct Env {
    dir: tempfile::TempDir,
    eps: Vec<Endpoint>,
}

impl Env {
    async fn new(extra_group: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mut eps = Vec::new();
        for _ in 0..3 {
            eps.push(Endpoint::start().await.unwrap());
        }
        let env = Env { dir, eps };
        let cfg = env.config(extra_group);
        std::fs::write(env.config_path(), cfg).unwrap();
        env
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("dns-failover.toml")
    }

    fn zone(&self) -> PathBuf {
        self.dir.path().join("zone.json")
    }

    fn config(&self, extra_group: &str) -> String {
        let p = |i: usize| self.eps[i].port;
        format!(
            r#"
prober = "test"
[probe]
timeout = "1s"
attempts = 2
interval = "10ms"
fail_threshold = 1

[dns]
provider = "file"
domain = "example.com"
ttl = 60
path = "zone.json"

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

[[group]]
name = "www"
subdomain = "www"
type = "CNAME"
mode = "failover"
failback_after = "1s"

[[group.target]]
region = "gz"
value = "gz.example.net"
url = "http://127.0.0.1:{}/health"
body_contains = "ok"

[[group.target]]
region = "bj"
value = "bj.example.net"
url = "http://127.0.0.1:{}/health"
{extra_group}
"#,
            p(0),
            p(1),
            p(0),
            p(2)
        )
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut full = vec!["-c".to_string(), self.config_path().display().to_string()];
        full.extend(args.iter().map(|s| s.to_string()));
        run_bin(full).await
    }

    async fn json(&self, args: &[&str]) -> (Value, Output) {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.run(&a).await;
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (v, out)
    }

    fn records(&self, sub: &str) -> Vec<Value> {
        let z: Value = serde_json::from_slice(&std::fs::read(self.zone()).unwrap()).unwrap();
        z["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["subdomain"] == sub)
            .cloned()
            .collect()
    }

    fn enabled_values(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .records(sub)
            .iter()
            .filter(|r| r["enabled"] == true)
            .map(|r| r["value"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    }
}

async fn run_bin(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .args(&args)
            .env_remove("RUST_LOG")
            .env_remove("DNS_FAILOVER_CONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn events(report: &Value, group: &str) -> Vec<String> {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == group)
        .unwrap()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_over_stay_and_fail_back() {
    let env = Env::new("").await;

    // First run bootstraps the zone.
    let (r, out) = env.json(&["run"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(r["ok"], true);
    assert_eq!(env.enabled_values("api"), ["192.0.2.1", "192.0.2.2"]);
    assert_eq!(env.enabled_values("www"), ["gz.example.net"]);
    assert!(
        r["alerts"].as_array().unwrap().is_empty(),
        "bootstrap must not page"
    );

    // gz breaks: its api record is disabled; www moves to bj. Exit code 0.
    env.eps[0].set_status(502);
    let (r, out) = env.json(&["run"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(env.enabled_values("api"), ["192.0.2.2"]);
    assert_eq!(env.enabled_values("www"), ["bj.example.net"]);
    assert!(events(&r, "api").contains(&"failover".to_string()));
    let attempt = &r["groups"][0]["targets"][0]["attempts"][0];
    assert_eq!(attempt["failure"], "unexpected_status");
    assert_eq!(attempt["status"], 502);
    assert_eq!(r["alerts"][0]["ok"], true);
    assert!(
        stderr(&out).contains("[CRITICAL]"),
        "console alert expected: {}",
        stderr(&out)
    );

    // Still down: nothing changes, nobody is paged again.
    let (r, out) = env.json(&["run"]).await;
    assert_eq!(code(&out), 0);
    for g in r["groups"].as_array().unwrap() {
        assert!(g["changes"].as_array().unwrap().is_empty(), "{g}");
    }
    assert!(r["alerts"].as_array().unwrap().is_empty());
    assert!(!stderr(&out).contains("---- alert"));

    // Recovered, and out for more than failback_after (1s): fail back.
    env.eps[0].set_status(200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (r, out) = env.json(&["run"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(env.enabled_values("api"), ["192.0.2.1", "192.0.2.2"]);
    assert_eq!(env.enabled_values("www"), ["gz.example.net"]);
    assert!(events(&r, "www").contains(&"failback".to_string()));

    // Steady state: a run plans nothing.
    let (r, _) = env.json(&["plan"]).await;
    for g in r["groups"].as_array().unwrap() {
        assert!(g["changes"].as_array().unwrap().is_empty(), "{g}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_dry_run_write_nothing() {
    let env = Env::new("").await;
    let (r, out) = env.json(&["plan"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["groups"][0]["changes"][0]["status"], "planned");
    assert!(!env.zone().exists(), "plan wrote the zone");
    let (_, out) = env.json(&["run", "--dry-run"]).await;
    assert_eq!(code(&out), 0);
    assert!(!env.zone().exists(), "dry run wrote the zone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_target_down_changes_nothing_and_is_critical() {
    let env = Env::new("").await;
    assert_eq!(code(&env.run(&["run"]).await), 0);
    for e in &env.eps {
        e.set_status(503);
    }
    let (r, out) = env.json(&["run"]).await;
    assert_eq!(code(&out), 0);
    assert_eq!(events(&r, "api"), ["all_down"]);
    assert_eq!(r["severity"], "critical");
    assert_eq!(env.enabled_values("api"), ["192.0.2.1", "192.0.2.2"]);
    assert_eq!(env.enabled_values("www"), ["gz.example.net"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_plans_then_applies_and_manual_failback_restores() {
    let env = Env::new("").await;
    assert_eq!(code(&env.run(&["run"]).await), 0);

    let (r, out) = env.json(&["drill", "--fail", "gz"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(r["drill"], serde_json::json!(["gz"]));
    assert_eq!(r["dry_run"], true);
    assert_eq!(
        r["groups"][0]["targets"][0]["attempts"][0]["failure"],
        "drill"
    );
    assert_eq!(
        env.enabled_values("api"),
        ["192.0.2.1", "192.0.2.2"],
        "drill without --apply wrote"
    );

    let out = env.run(&["drill", "--fail", "gz", "--apply"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[DRILL]"),
        "drill alert must be marked: {}",
        stderr(&out)
    );
    assert_eq!(env.enabled_values("api"), ["192.0.2.2"]);
    assert_eq!(env.enabled_values("www"), ["bj.example.net"]);

    // Manual failback right away (before failback_after): the operator asks.
    let out = env
        .run(&["failback", "--group", "www", "--region", "gz"])
        .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(env.enabled_values("www"), ["gz.example.net"]);
    assert_eq!(
        env.enabled_values("api"),
        ["192.0.2.2"],
        "failback touched another group"
    );
    let out = env
        .run(&["failback", "--group", "api", "--region", "gz"])
        .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(env.enabled_values("api"), ["192.0.2.1", "192.0.2.2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_failback_of_a_failing_region_is_refused() {
    let env = Env::new("").await;
    assert_eq!(code(&env.run(&["run"]).await), 0);
    env.eps[0].set_status(500);
    assert_eq!(code(&env.run(&["run"]).await), 0);
    let (r, out) = env
        .json(&["failback", "--group", "api", "--region", "gz"])
        .await;
    assert_eq!(code(&out), 0);
    assert!(r["groups"][0]["changes"].as_array().unwrap().is_empty());
    assert!(
        events(&r, "api").contains(&"no_healthy_target".to_string()),
        "the refusal is answered: {:?}",
        events(&r, "api")
    );
    assert_eq!(env.enabled_values("api"), ["192.0.2.2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2() {
    let env = Env::new("").await;
    for args in [
        vec!["drill", "--fail", "nowhere"],
        vec!["failback", "--group", "nope", "--region", "gz"],
        vec!["failback", "--group", "api", "--region", "bj"],
        vec!["frobnicate"],
        vec!["drill"],
    ] {
        let out = env.run(&args).await;
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(!env.zone().exists(), "{args:?} touched the zone");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_dns_backend_exits_1_and_says_why() {
    let env = Env::new("").await;
    std::fs::write(env.zone(), b"{ torn").unwrap();
    let (r, out) = env.json(&["run"]).await;
    assert_eq!(code(&out), 1);
    assert_eq!(r["ok"], false);
    assert!(
        r["errors"][0]
            .as_str()
            .unwrap()
            .contains("not a valid zone"),
        "{r}"
    );
    assert_eq!(std::fs::read(env.zone()).unwrap(), b"{ torn");
}

/// `validate --online` with a provider that has no line API (here the file
/// zone): every group's name is read as a run reads it, one line per
/// group; an unreadable zone is an error on each group's line, exit 1, and
/// the file is left as found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_online_reads_every_group_through_the_provider() {
    let env = Env::new("").await;
    let out = env.run(&["run"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = env.run(&["validate", "--online"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = |group: &str, name: &str, rest: &str| {
        stdout
            .lines()
            .any(|l| l.starts_with(&format!("group {group}: {name} [")) && l.ends_with(rest))
    };
    assert!(
        line("api", "api.example.com A", "2 record(s), 2 enabled"),
        "{stdout}"
    );
    assert!(
        line("www", "www.example.com CNAME", "1 record(s), 1 enabled"),
        "{stdout}"
    );
    assert!(
        stdout.contains("every group's records were read through file (2 name(s))"),
        "{stdout}"
    );

    std::fs::write(env.zone(), b"{ torn").unwrap();
    let out = env.run(&["validate", "--online"]).await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: group api: cannot read api.example.com A [")
            && err.contains("not a valid zone"),
        "{err}"
    );
    assert!(
        err.contains("2 of 2 group name(s) could not be read through file"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(env.zone()).unwrap(),
        b"{ torn",
        "left as found"
    );
}

/// A zone file that exists but is empty (truncated, replaced) is never a
/// fresh start: rebuilding it would forget every record's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_zone_file_is_an_error_not_a_new_zone() {
    let env = Env::new("").await;
    std::fs::write(env.zone(), b"").unwrap();
    let (r, out) = env.json(&["run"]).await;
    assert_eq!(code(&out), 1);
    assert_eq!(r["ok"], false);
    let e = r["errors"][0].as_str().unwrap();
    assert!(e.contains("exists but is empty"), "{r}");
    assert!(
        r["groups"][0]["changes"]
            .as_array()
            .is_none_or(|c| c.is_empty()),
        "{r}"
    );
    assert_eq!(std::fs::read(env.zone()).unwrap(), b"", "left as found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_changes_refuses_a_large_plan_unless_forced() {
    // Targets a and b share endpoint 1, so breaking it takes both down at once.
    let env = Env::new("").await;
    let extra = format!(
        r#"
[[group]]
name = "many"
subdomain = "many"
type = "A"
mode = "active"
max_changes = 1
[[group.target]]
region = "a"
value = "192.0.2.11"
url = "http://127.0.0.1:{p1}/"
[[group.target]]
region = "b"
value = "192.0.2.12"
url = "http://127.0.0.1:{p1}/"
[[group.target]]
region = "c"
value = "192.0.2.13"
url = "http://127.0.0.1:{p2}/"
"#,
        p1 = env.eps[1].port,
        p2 = env.eps[2].port
    );
    std::fs::write(env.config_path(), env.config(&extra)).unwrap();
    assert_eq!(code(&env.run(&["run"]).await), 0);
    env.eps[1].set_status(503);
    let (r, out) = env.json(&["run"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        events(&r, "many").contains(&"max_changes_exceeded".to_string()),
        "{r}"
    );
    assert_eq!(
        env.enabled_values("many").len(),
        3,
        "a refused plan must change nothing"
    );
    let (_, out) = env.json(&["run", "--force"]).await;
    assert_eq!(code(&out), 0);
    assert_eq!(env.enabled_values("many"), ["192.0.2.13"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_stdout_stays_clean_when_logging() {
    let env = Env::new("").await;
    let args = vec![
        "-c".to_string(),
        env.config_path().display().to_string(),
        "plan".into(),
        "--json".into(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .args(&args)
            .env("RUST_LOG", "debug")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(code(&out), 0);
    serde_json::from_slice::<Value>(&out.stdout).expect("stdout must be only the JSON report");
    assert!(stderr(&out).contains("probed"), "logs expected on stderr");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_probe_show_health_and_records() {
    let env = Env::new("").await;
    assert_eq!(code(&env.run(&["run"]).await), 0);
    let out = env.run(&["status"]).await;
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("192.0.2.1") && text.contains("ENABLE") && text.contains("healthy"),
        "{text}"
    );
    let (r, out) = env.json(&["probe"]).await;
    assert_eq!(code(&out), 0);
    assert!(r["groups"][0].get("records").is_none());
    assert_eq!(r["groups"][0]["targets"][0]["health"], "healthy");

    // The text table shows each attempt's phases on request only.
    let plain = String::from_utf8_lossy(&env.run(&["probe"]).await.stdout).into_owned();
    assert!(!plain.contains("connect "), "{plain}");
    let out = env.run(&["probe", "--phases"]).await;
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let row = lines
        .iter()
        .position(|l| l.trim_start().starts_with("gz ") && l.contains("192.0.2.1"))
        .unwrap_or_else(|| panic!("{text}"));
    let attempt = lines[row + 1].trim_start();
    assert!(
        attempt.starts_with("#1 ok 200 in ")
            && attempt.contains("connect ")
            && attempt.contains("ttfb ")
            && attempt.contains("body "),
        "{text}"
    );
    // A loopback IP: no name to resolve.
    assert!(!attempt.contains("resolve "), "{text}");
}

fn write(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("bad.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_exit_2_with_file_key_and_line_and_touch_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let base = r#"[dns]
provider = "file"
domain = "example.com"
path = "zone.json"

[[group]]
name = "api"
subdomain = "api"
type = "A"

[[group.target]]
region = "gz"
value = "192.0.2.1"
url = "http://127.0.0.1:9/health"
"#;
    let cases: &[(&str, &str, &str)] = &[
        (
            "provider = \"file\"",
            "provider = \"file\"\nttl = 0",
            ":3: dns.ttl: TTL 0 is out of range",
        ),
        (
            "name = \"api\"",
            "name = \"api\"\nfailback_after = 5",
            ":8: group[0].failback_after: invalid type",
        ),
        (
            "region = \"gz\"",
            "region = \"gz\"\ncolour = \"red\"",
            ":13: group[0].target[0].colour: unknown field `colour`",
        ),
        (
            "url = \"http://127.0.0.1:9/health\"",
            "url = \"http//bad\"",
            ":14: group[0].target[0].url",
        ),
        (
            "value = \"192.0.2.1\"",
            "value = \"${DF_CLI_TEST_MISSING}\"",
            ":13: group[0].target[0].value: environment variable `DF_CLI_TEST_MISSING` is not set",
        ),
    ];
    for (from, to, want) in cases {
        let p = write(dir.path(), &base.replacen(from, to, 1));
        for cmd in ["validate", "run", "plan"] {
            let out = run_bin(vec!["-c".into(), p.display().to_string(), cmd.into()]).await;
            assert_eq!(code(&out), 2, "{cmd} {to}: {}", stderr(&out));
            let err = stderr(&out);
            assert!(
                err.contains(&p.display().to_string()),
                "file missing: {err}"
            );
            assert!(err.contains(want), "want {want:?} in: {err}");
            assert!(
                !dir.path().join("zone.json").exists(),
                "{cmd} touched the zone"
            );
        }
    }
    // And the good one validates.
    let p = write(dir.path(), base);
    let out = run_bin(vec![
        "-c".into(),
        p.display().to_string(),
        "validate".into(),
    ])
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_is_found_through_the_environment_variable() {
    let env = Env::new("").await;
    let p = env.config_path();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .arg("validate")
            .env("DNS_FAILOVER_CONFIG", &p)
            .current_dir("/")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = tokio::task::spawn_blocking(|| {
        std::process::Command::new(BIN)
            .arg("validate")
            .env_remove("DNS_FAILOVER_CONFIG")
            .current_dir("/")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("dns-failover.toml"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_fails_over_and_back_by_itself() {
    let start = std::time::Instant::now();
    let out = run_bin(vec!["demo".into()]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "demo too slow: {:?}",
        start.elapsed()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let timeline = text.split("=== timeline").nth(1).expect("timeline printed");
    assert!(
        timeline.contains("down ap-shanghai; disable record"),
        "{timeline}"
    );
    assert!(
        timeline.contains("ap-shanghai still out until failback_after"),
        "{timeline}"
    );
    assert!(timeline.contains("enable record"), "{timeline}");
    assert!(
        stderr(&out).contains("failover ap-shanghai"),
        "alert expected: {}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_configs_validate() {
    let mut checked = 0;
    for f in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            checked += 1;
            let out = run_bin(vec![
                "-c".into(),
                p.display().to_string(),
                "validate".into(),
            ])
            .await;
            assert_eq!(code(&out), 0, "{}: {}", p.display(), stderr(&out));
        }
    }
    assert!(checked >= 2, "dns-failover.toml and local.toml at least");
}

/// Every `[[alert]]` example in docs/alerts.md is a valid channel config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_alert_examples_validate() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/alerts.md")).unwrap();
    let blocks: Vec<&str> = doc
        .split("```toml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .filter(|b| b.trim_start().starts_with("[[alert]]"))
        .collect();
    assert!(
        blocks.len() >= 6,
        "expected an example per channel, found {}",
        blocks.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let base = "[dns]\nprovider = \"file\"\ndomain = \"example.com\"\npath = \"z.json\"\n[[group]]\nname = \"api\"\nsubdomain = \"api\"\ntype = \"A\"\n[[group.target]]\nregion = \"gz\"\nvalue = \"192.0.2.1\"\ntcp = \"127.0.0.1:9\"\n";
    for (i, block) in blocks.iter().enumerate() {
        let p = dir.path().join(format!("alert{i}.toml"));
        std::fs::write(&p, format!("{base}\n{block}")).unwrap();
        // Every ${VAR} the example uses, set to a harmless local value.
        let vars: Vec<String> = block
            .split("${")
            .skip(1)
            .filter_map(|s| s.split('}').next())
            .map(String::from)
            .collect();
        let path = p.display().to_string();
        let out = tokio::task::spawn_blocking(move || {
            let mut c = std::process::Command::new(BIN);
            c.args(["-c", &path, "validate"]);
            for v in &vars {
                c.env(v, "https://127.0.0.1:9/hook?key=example");
            }
            c.output().unwrap()
        })
        .await
        .unwrap();
        assert_eq!(code(&out), 0, "example {i}:\n{block}\n{}", stderr(&out));
    }
}

/// A one-group config on `provider`, with `dns_extra` in `[dns]` and
/// `group_extra` in the `[[group]]`.
fn small_config(provider: &str, dns_extra: &str, group_extra: &str) -> String {
    let provider_keys = match provider {
        "file" => "path = \"zone.json\"",
        _ => "endpoint = \"http://127.0.0.1:9\"\nsecret_id_env = \"DF_CLI_BAD_ID\"\nsecret_key_env = \"DF_CLI_BAD_KEY\"",
    };
    format!(
        "[dns]\nprovider = \"{provider}\"\ndomain = \"example.com\"\n{provider_keys}\n{dns_extra}\n\n[[group]]\nname = \"api\"\nsubdomain = \"api\"\ntype = \"A\"\n{group_extra}\n\n[[group.target]]\nregion = \"gz\"\nvalue = \"192.0.2.1\"\ntcp = \"127.0.0.1:9\"\n"
    )
}

/// `dns-failover -c <path> <args>` with fake DNSPod credentials set; killed
/// (and the test failed) if it runs for more than 60 s.
async fn run_with_creds(path: &Path, args: &[&str]) -> Output {
    let mut full = vec!["-c".to_string(), path.display().to_string()];
    full.extend(args.iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let (out_p, err_p) = (dir.path().join("out"), dir.path().join("err"));
        let mut child = std::process::Command::new(BIN)
            .args(&full)
            .env_remove("RUST_LOG")
            .env("DF_CLI_BAD_ID", "AKIDfakeForCliTests")
            .env("DF_CLI_BAD_KEY", "fakeKeyForCliTests")
            .stdout(std::fs::File::create(&out_p).unwrap())
            .stderr(std::fs::File::create(&err_p).unwrap())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{full:?} did not finish within 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            status,
            stdout: std::fs::read(&out_p).unwrap(),
            stderr: std::fs::read(&err_p).unwrap(),
        }
    })
    .await
    .unwrap()
}

/// Issue 10: `api_budget = "300000000000y"` passed `validate`, then `run`
/// panicked (exit 101) adding it to an Instant; `"1000000y"` never finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_10_an_endless_duration_is_a_config_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for budget in ["300000000000y", "1000000y"] {
        let p = write(
            dir.path(),
            &small_config("dnspod", &format!("api_budget = \"{budget}\""), ""),
        );
        for cmd in ["validate", "run"] {
            let out = run_with_creds(&p, &[cmd]).await;
            assert_eq!(code(&out), 2, "{cmd} {budget}: {}", stderr(&out));
            assert!(
                stderr(&out).contains(":7: dns.api_budget: "),
                "{}",
                stderr(&out)
            );
        }
    }
}

/// Issue 10: a 10 MB `prober` was accepted; a `[[group.target]]` above
/// any `[[group]]` was "duplicate key"; duplicate keys were not named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_10_bad_strings_and_structure_are_named_by_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let base = small_config("file", "", "");
    let target_first = {
        let (g, t) = base.split_at(base.find("[[group.target]]").unwrap());
        let (head, g) = g.split_at(g.find("[[group]]").unwrap());
        format!("{head}{t}\n{g}")
    };
    let cases = [
        (
            format!("prober = \"{}\"\n{base}", "p".repeat(10 << 20)),
            ":1: prober: is 10485760 characters long; at most 64",
        ),
        (
            target_first,
            ":7: group.target: [[group.target]] must follow a [[group]]: it comes before the first [[group]] (line 12)",
        ),
        (
            base.replace("type = \"A\"", "type = \"A\"\ntype = \"AAAA\""),
            ":11: group[0].type: duplicate key `type`: already set on line 10",
        ),
    ];
    for (text, want) in cases {
        let p = write(dir.path(), &text);
        for cmd in ["validate", "run"] {
            let out = run_bin(vec!["-c".into(), p.display().to_string(), cmd.into()]).await;
            assert_eq!(code(&out), 2, "{cmd}: {}", stderr(&out));
            let err = stderr(&out);
            assert!(err.contains(want), "want {want:?} in: {err}");
            assert!(err.len() < 500, "{}", &err[..500]);
            assert!(!dir.path().join("zone.json").exists());
        }
    }
}

/// Issue 10: `line = "默认 "` (or a line the domain does not have) passed
/// `validate`; the run then found no records, tried to create them and
/// DNSPod refused with `RecordLineInvalid`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_10_lines_are_checked_as_written_and_online() {
    use support::fake_lines;
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_lines::start("example.com", "DP_PLUS", None).await;
    let with_line = |line: &str, endpoint: &str| {
        small_config("dnspod", "", &format!("line = \"{line}\""))
            .replace("http://127.0.0.1:9", endpoint)
    };

    // White space is never trimmed: an error before any network call.
    let p = write(dir.path(), &with_line("默认 ", &fake.base));
    for args in [&["validate"][..], &["validate", "--online"], &["run"]] {
        let out = run_with_creds(&p, args).await;
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out)
                .contains(":13: group[0].line: \"默认 \" has white space at its start or end"),
            "{}",
            stderr(&out)
        );
    }
    assert!(fake.requests().is_empty());

    // A paid plan's line: offline, a warning that says how to check it.
    let p = write(dir.path(), &with_line("华北电信", &fake.base));
    let out = run_with_creds(&p, &["validate"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(":13: group[0].line: \"华北电信\" is not one of DNSPod's built-in lines"),
        "{err}"
    );
    assert!(err.contains("validate --online"), "{err}");
    assert!(fake.requests().is_empty());
    // ... online: the plan has it.
    let out = run_with_creds(&p, &["validate", "--online"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("every group's line is a line of example.com (plan DP_PLUS, 11 lines)"),
        "{stdout}"
    );
    let reqs = fake.requests();
    let calls: Vec<(&str, Value)> = reqs
        .iter()
        .map(|r| (r.header("X-TC-Action").unwrap(), r.json()))
        .collect();
    assert_eq!(
        calls,
        vec![
            (
                "DescribeDomain",
                serde_json::json!({"Domain": "example.com"})
            ),
            (
                "DescribeRecordLineList",
                serde_json::json!({"Domain": "example.com", "DomainGrade": "DP_PLUS"})
            ),
            ("DescribePackageDetail", serde_json::json!({})),
        ]
    );
    // A custom line group is a line too.
    let p = write(dir.path(), &with_line(fake_lines::LINE_GROUP, &fake.base));
    let out = run_with_creds(&p, &["validate", "--online"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // A line the domain does not have: refused, with the key and close names.
    let p = write(dir.path(), &with_line("华南电信", &fake.base));
    let out = run_with_creds(&p, &["validate", "--online"]).await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(":13: group[0].line: \"华南电信\" is not a line of example.com (plan DP_PLUS); close names: \"华东电信\", \"华北电信\", \"电信\""),
        "{err}"
    );

    // The API refuses: the check could not be done (exit 1), said so.
    let broken = fake_lines::start(
        "example.com",
        "DP_PLUS",
        Some("AuthFailure.SignatureFailure"),
    )
    .await;
    let p = write(dir.path(), &with_line("华北电信", &broken.base));
    let out = run_with_creds(&p, &["validate", "--online"]).await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "cannot read the lines of example.com from DNSPod: AuthFailure.SignatureFailure"
        ),
        "{}",
        stderr(&out)
    );

    // Only DNSPod has lines to check: other providers get their names read
    // (validate_online_reads_every_group_through_the_provider).
    let p = write(dir.path(), &small_config("file", "", ""));
    let out = run_with_creds(&p, &["validate", "--online"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("every group's records were read through file")
            && !stdout.contains("is a line of"),
        "{stdout}"
    );
}

/// Issue 12: `validate` knows the function's timeout and refuses a probe
/// plan that cannot fit it, naming the keys; `--deploy` refuses the example
/// config's placeholders (function/build.sh runs it before packaging).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_checks_the_function_timeout_and_placeholders_for_deploy() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/dns-failover.toml");
    let v = |args: &[&str]| {
        let mut a = vec!["-c".to_string(), example.to_string(), "validate".into()];
        a.extend(args.iter().map(|s| s.to_string()));
        run_bin(a)
    };
    let out = v(&["--function-timeout", "30s"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // The console's default 3 s: 1.75 s are left for probes that need 7 s.
    let out = v(&["--function-timeout", "3s"]).await;
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("probe.timeout, probe.attempts, probe.interval: the probes' worst case"),
        "{err}"
    );
    assert!(err.contains("7000 ms") && err.contains("1750 ms"), "{err}");
    let out = v(&["--deploy"]).await;
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    for key in ["dns.domain:", "group[0].target[0].value:", "alert:"] {
        assert!(err.contains(key), "{key}: {err}");
    }
    let out = v(&["--function-timeout", "soon"]).await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}
