//! `dns-failover serve` end to end: the real binary against a local
//! implementation of the SCF runtime API (127.0.0.1), with a file zone in a
//! temporary folder and local HTTP endpoints as the regions.
//!
//! Every step is bounded by a timeout and the child is killed when a
//! harness is dropped, so a hang fails the test instead of stalling it.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dns_failover::demo::Endpoint;
use dns_failover::dns::file::load_zone;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Mutex};

const STEP: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// A fake runtime API: hands out queued events on `next`, records every post.
// ---------------------------------------------------------------------------

struct Event {
    request_id: String,
    time_limit_ms: Option<u64>,
    body: String,
}

/// What the function posted.
#[derive(Debug)]
struct Answer {
    /// `ready`, `response` or `error`.
    kind: &'static str,
    /// The id of the invocation handed out last.
    request_id: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {}", self.body))
    }
}

struct ApiState {
    events: Mutex<mpsc::UnboundedReceiver<Event>>,
    current: Mutex<String>,
    answers: mpsc::UnboundedSender<Answer>,
}

async fn start_runtime_api() -> (
    u16,
    mpsc::UnboundedSender<Event>,
    mpsc::UnboundedReceiver<Answer>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let (ans_tx, ans_rx) = mpsc::unbounded_channel();
    let state = Arc::new(ApiState {
        events: Mutex::new(ev_rx),
        current: Mutex::new(String::new()),
        answers: ans_tx,
    });
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve_conn(sock, state.clone()));
        }
    });
    (port, ev_tx, ans_rx)
}

fn find(h: &[u8], needle: &[u8]) -> Option<usize> {
    h.windows(needle.len()).position(|w| w == needle)
}

/// HTTP/1.1 with keep-alive, Content-Length bodies only (what reqwest sends).
async fn serve_conn(mut sock: TcpStream, st: Arc<ApiState>) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    loop {
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i;
            }
            match sock.read(&mut tmp).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let path = first.next().unwrap_or("").to_string();
        let len: usize = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        let total = head_end + 4 + len;
        while buf.len() < total {
            match sock.read(&mut tmp).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[head_end + 4..total]).to_string();
        buf.drain(..total);

        let mut extra = String::new();
        let mut out = String::new();
        let mut status = "200 OK";
        match (method.as_str(), path.as_str()) {
            ("GET", "/runtime/invocation/next") => {
                let ev = st.events.lock().await.recv().await;
                let Some(ev) = ev else { return };
                *st.current.lock().await = ev.request_id.clone();
                // Mixed case on purpose: header names are case-insensitive.
                extra.push_str(&format!("Request_Id: {}\r\n", ev.request_id));
                if let Some(ms) = ev.time_limit_ms {
                    extra.push_str(&format!("Time_Limit_In_Ms: {ms}\r\n"));
                }
                extra.push_str("memory_limit_in_mb: 64\r\n");
                out = ev.body;
            }
            ("POST", p) => {
                let kind = match p {
                    "/runtime/init/ready" => Some("ready"),
                    "/runtime/invocation/response" => Some("response"),
                    "/runtime/invocation/error" => Some("error"),
                    _ => None,
                };
                match kind {
                    Some(kind) => {
                        let request_id = st.current.lock().await.clone();
                        let _ = st.answers.send(Answer {
                            kind,
                            request_id,
                            body,
                        });
                    }
                    None => status = "404 Not Found",
                }
            }
            _ => status = "404 Not Found",
        }
        let resp = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}\r\n{out}",
            out.len()
        );
        if sock.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// The harness: a runtime API, the binary in `serve` mode, its log file.
// ---------------------------------------------------------------------------

struct Harness {
    events: mpsc::UnboundedSender<Event>,
    answers: mpsc::UnboundedReceiver<Answer>,
    child: Child,
    log: PathBuf,
    n: usize,
}

impl Harness {
    /// Start `serve` with `dir` as the code root (the config is found as
    /// `dir/dns-failover.toml`, the way SCF unpacks the zip) and wait for
    /// `init/ready`.
    async fn start(dir: &Path) -> Harness {
        Harness::start_with_env(dir, &[]).await
    }

    /// [`Harness::start`] with extra environment variables for the child.
    async fn start_with_env(dir: &Path, env: &[(&str, &str)]) -> Harness {
        let (port, events, mut answers) = start_runtime_api().await;
        let log = dir.join("serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_dns-failover"))
            .arg("serve")
            .current_dir(dir)
            .env_remove("DNS_FAILOVER_CONFIG")
            .env_remove("RUST_LOG")
            .env("USER_CODE_ROOT", dir)
            .env("SCF_RUNTIME_API", "127.0.0.1")
            .env("SCF_RUNTIME_API_PORT", port.to_string())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start dns-failover serve");
        let ready = tokio::time::timeout(STEP, answers.recv())
            .await
            .expect("no init/ready within the time limit")
            .expect("runtime API closed");
        assert_eq!(ready.kind, "ready");
        Harness {
            events,
            answers,
            child,
            log,
            n: 0,
        }
    }

    /// Send one event (time limit 30 s) and return what the function posted.
    async fn invoke(&mut self, body: &str) -> Answer {
        self.invoke_with_limit(body, Some(30_000)).await
    }

    async fn invoke_with_limit(&mut self, body: &str, limit_ms: Option<u64>) -> Answer {
        self.n += 1;
        let request_id = format!("req-{}-{}", self.n, fastrand::u32(..));
        self.events
            .send(Event {
                request_id: request_id.clone(),
                time_limit_ms: limit_ms,
                body: body.to_string(),
            })
            .unwrap();
        let answer = tokio::time::timeout(STEP, self.answers.recv())
            .await
            .unwrap_or_else(|_| {
                panic!("no answer to {body} within {STEP:?}; log:\n{}", self.logs())
            })
            .expect("runtime API closed");
        assert_eq!(answer.request_id, request_id);
        answer
    }

    fn still_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const REGIONS: [&str; 3] = ["ap-guangzhou", "ap-shanghai", "ap-beijing"];

/// One `active` group, a record per region, each probed at a local endpoint.
fn config(ports: &[u16], zone: &Path, probe: &str) -> String {
    let mut s = format!(
        r#"prober = "scf-test"

[probe]
{probe}

[dns]
provider = "file"
domain = "example.com"
ttl = 60
path = "{}"

[[alert]]
type = "console"

[[group]]
name = "api"
subdomain = "api"
type = "CNAME"
mode = "active"
"#,
        zone.display()
    );
    for (i, region) in REGIONS.iter().enumerate() {
        s.push_str(&format!(
            "\n[[group.target]]\nregion = \"{region}\"\nvalue = \"{region}.apigw.example.net\"\nurl = \"http://127.0.0.1:{}/health\"\npriority = {i}\n",
            ports[i]
        ));
    }
    s
}

const FAST_PROBES: &str = "timeout = \"1s\"\nattempts = 2\ninterval = \"20ms\"\nfail_threshold = 2";

async fn endpoints() -> Vec<Endpoint> {
    let mut v = Vec::new();
    for _ in REGIONS {
        v.push(Endpoint::start().await.unwrap());
    }
    v
}

fn event(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/events")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `enabled` per region, from the zone file.
fn zone_state(zone: &Path) -> Vec<(String, bool)> {
    let z = load_zone(zone).unwrap();
    let mut v: Vec<(String, bool)> = z
        .records
        .iter()
        .map(|r| (r.value.replace(".apigw.example.net", ""), r.enabled))
        .collect();
    v.sort();
    v
}

fn statuses(report: &Value) -> Vec<String> {
    report["groups"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_timer_and_every_manual_action_then_keeps_going_after_bad_events() {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("zone.json");
    let eps = endpoints().await;
    let ports: Vec<u16> = eps.iter().map(|e| e.port).collect();
    std::fs::write(
        dir.path().join("dns-failover.toml"),
        config(&ports, &zone, FAST_PROBES),
    )
    .unwrap();
    let mut h = Harness::start(dir.path()).await;

    // Timer: one pass; the first run creates the group's records.
    let a = h.invoke(&event("timer.json")).await;
    assert_eq!(a.kind, "response", "{}", a.body);
    let r = a.json();
    assert_eq!(r["action"], "run");
    assert_eq!(r["ok"], true);
    assert_eq!(r["dry_run"], false);
    assert_eq!(r["prober"], "scf-test");
    assert!(r["timings"]["total_ms"].as_f64().unwrap() > 0.0);
    let all_on = vec![
        ("ap-beijing".to_string(), true),
        ("ap-guangzhou".to_string(), true),
        ("ap-shanghai".to_string(), true),
    ];
    assert_eq!(zone_state(&zone), all_on);

    // plan: nothing to change, nothing written.
    let a = h.invoke(&event("plan.json")).await;
    assert_eq!(a.kind, "response", "{}", a.body);
    let r = a.json();
    assert_eq!(
        (r["action"].as_str(), r["dry_run"].as_bool()),
        (Some("plan"), Some(true))
    );
    assert!(statuses(&r).is_empty(), "{r}");

    // probe: every target healthy, no DNS read.
    let a = h.invoke(&event("probe.json")).await;
    assert_eq!(a.kind, "response", "{}", a.body);
    let r = a.json();
    assert_eq!(r["action"], "probe");
    let targets = r["groups"][0]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 3);
    for t in targets {
        assert_eq!(t["health"], "healthy", "{t}");
    }
    assert!(r["groups"][0].get("records").is_none());

    // status: records as they are.
    let a = h.invoke(&event("status.json")).await;
    assert_eq!(a.kind, "response", "{}", a.body);
    let r = a.json();
    assert_eq!(r["action"], "status");
    assert_eq!(r["groups"][0]["records"].as_array().unwrap().len(), 3);

    // Drill, plan only: shanghai would be taken out; the zone is untouched.
    let a = h.invoke(&event("drill-plan.json")).await;
    assert_eq!(a.kind, "response", "{}", a.body);
    let r = a.json();
    assert_eq!(r["action"], "drill");
    assert_eq!(r["drill"], serde_json::json!(["ap-shanghai"]));
    assert_eq!(r["dry_run"], true);
    assert_eq!(statuses(&r), vec!["planned"]);
    assert_eq!(r["groups"][0]["changes"][0]["region"], "ap-shanghai");
    assert_eq!(zone_state(&zone), all_on);

    // Drill, applied: the record is disabled and the alert goes out.
    let a = h.invoke(&event("drill-apply.json")).await;
    assert_eq!(a.kind, "response", "{}", a.body);
    let r = a.json();
    assert_eq!(r["dry_run"], false);
    assert_eq!(statuses(&r), vec!["applied"]);
    assert_eq!(r["alerts"][0]["channel"], "console");
    assert_eq!(r["alerts"][0]["ok"], true);
    let mut drilled = all_on.clone();
    drilled[2].1 = false;
    assert_eq!(zone_state(&zone), drilled);

    // Fail back by hand.
    let a = h.invoke(&event("failback.json")).await;
    assert_eq!(a.kind, "response", "{}", a.body);
    let r = a.json();
    assert_eq!(r["action"], "failback");
    assert_eq!(statuses(&r), vec!["applied"]);
    assert_eq!(zone_state(&zone), all_on);

    // A timer whose Message asks for a plan.
    let a = h.invoke(&event("timer-plan.json")).await;
    assert_eq!(a.kind, "response", "{}", a.body);
    assert_eq!(a.json()["action"], "plan");

    // run with dry_run: decides, writes nothing.
    let a = h.invoke(&event("run-dry-run.json")).await;
    assert_eq!(a.kind, "response", "{}", a.body);
    assert_eq!(a.json()["dry_run"], true);

    // Bad events: clear errors, nothing changed.
    let before = std::fs::read(&zone).unwrap();
    let bad = [
        ("this is not json", "BadEvent", "not valid JSON"),
        (
            r#"{"action":"explode"}"#,
            "BadEvent",
            "unknown action \"explode\"",
        ),
        (
            r#"{"action":"run","key1":"value1"}"#,
            "BadEvent",
            "unknown field `key1`",
        ),
        (
            r#"{"action":"probe","force":true}"#,
            "BadEvent",
            "does not apply to action \"probe\"",
        ),
        (
            r#"{"action":"drill","fail":["ap-mars"],"apply":true}"#,
            "BadEvent",
            "no group has a target in that region",
        ),
        (
            r#"{"action":"failback","group":"nope","region":"ap-shanghai"}"#,
            "BadEvent",
            "no such group",
        ),
        (
            r#"{"Type":"Timer","Message":"hello"}"#,
            "BadEvent",
            "Message must be empty or a JSON object",
        ),
    ];
    for (body, kind, needle) in bad {
        let a = h.invoke(body).await;
        assert_eq!(a.kind, "error", "{body}: {}", a.body);
        let v = a.json();
        assert_eq!(v["errorType"], kind, "{body}: {v}");
        let msg = v["errorMessage"].as_str().unwrap();
        assert!(msg.contains(needle), "{body}: {msg}");
        assert!(v.get("report").is_none());
    }
    assert_eq!(std::fs::read(&zone).unwrap(), before);

    // ... and the loop still serves.
    let a = h.invoke(&event("run.json")).await;
    assert_eq!(a.kind, "response", "{}", a.body);
    assert!(h.still_running());

    // Logs: JSON lines; every line logged inside an invocation, the
    // pipeline's included, carries that invocation's request id.
    let logs = h.logs();
    let mut ids = std::collections::HashSet::new();
    let mut pipeline_lines = 0;
    for line in logs.lines().filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let Some(spans) = v["spans"].as_array() else {
            // Only start-up lines are outside any span.
            let m = v["message"].as_str().unwrap_or("");
            assert!(m == "config loaded" || m == "init ready", "{line}");
            continue;
        };
        let id = spans
            .iter()
            .find_map(|s| s["request_id"].as_str())
            .unwrap_or_else(|| panic!("no request_id: {line}"));
        ids.insert(id.to_string());
        if spans.iter().any(|s| s["name"] == "run_once") {
            pipeline_lines += 1;
        }
    }
    assert_eq!(
        ids.len(),
        h.n,
        "every invocation logged with its request id:\n{logs}"
    );
    assert!(pipeline_lines > 10, "{logs}");
    assert!(logs.contains("\"message\":\"init ready\""), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_pass_is_an_error_with_its_report_and_the_loop_survives() {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("zone.json");
    let eps = endpoints().await;
    let ports: Vec<u16> = eps.iter().map(|e| e.port).collect();
    std::fs::write(
        dir.path().join("dns-failover.toml"),
        config(&ports, &zone, FAST_PROBES),
    )
    .unwrap();
    let mut h = Harness::start(dir.path()).await;

    // The DNS backend is broken: the zone file is garbage.
    std::fs::write(&zone, "{ this is not a zone").unwrap();
    let a = h.invoke(&event("run.json")).await;
    assert_eq!(a.kind, "error", "{}", a.body);
    let v = a.json();
    assert_eq!(v["errorType"], "RunFailed");
    let msg = v["errorMessage"].as_str().unwrap();
    assert!(msg.starts_with("the pass could not complete: "), "{msg}");
    assert!(msg.contains("is not a valid zone"), "{msg}");
    assert_eq!(v["report"]["ok"], false);
    assert_eq!(v["report"]["action"], "run");
    assert!(v["report"]["groups"][0]["error"]
        .as_str()
        .unwrap()
        .contains("cannot read records"));
    assert_eq!(
        std::fs::read_to_string(&zone).unwrap(),
        "{ this is not a zone"
    );

    // Unreadable: a directory where the file should be.
    std::fs::remove_file(&zone).unwrap();
    std::fs::create_dir(&zone).unwrap();
    let a = h.invoke(&event("timer.json")).await;
    assert_eq!(a.kind, "error", "{}", a.body);
    assert!(a.json()["errorMessage"]
        .as_str()
        .unwrap()
        .contains("cannot read"));
    assert!(h.still_running());

    // Backend repaired: the next event is served normally.
    std::fs::remove_dir(&zone).unwrap();
    let a = h.invoke(&event("timer.json")).await;
    assert_eq!(a.kind, "response", "{}", a.body);
    assert_eq!(a.json()["ok"], true);
    assert_eq!(load_zone(&zone).unwrap().records.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_config_at_start_up_is_the_error_of_every_invocation_and_the_process_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dns-failover.toml"),
        "[probe]\ntimeout = \"soon\"\n",
    )
    .unwrap();
    let mut h = Harness::start(dir.path()).await;
    for body in [
        event("timer.json"),
        event("status.json"),
        "garbage".to_string(),
    ] {
        let a = h.invoke(&body).await;
        assert_eq!(a.kind, "error", "{}", a.body);
        let v = a.json();
        assert_eq!(v["errorType"], "ConfigError");
        let msg = v["errorMessage"].as_str().unwrap();
        assert!(msg.starts_with("bad config: "), "{msg}");
        assert!(msg.contains("dns-failover.toml"), "{msg}");
        assert!(
            msg.contains("probe.timeout") || msg.contains("soon"),
            "{msg}"
        );
    }
    // Still alive a moment later (it did not exit to be restarted in a loop).
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.still_running());
    assert!(h.logs().contains("no usable config"), "{}", h.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_config_file_is_reported_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::start(dir.path()).await;
    // Every invocation gets the same ConfigError answer; the loop stays up.
    for _ in 0..2 {
        let a = h.invoke(&event("run.json")).await;
        assert_eq!(a.kind, "error");
        assert_eq!(a.json()["errorType"], "ConfigError");
        let msg = a.json()["errorMessage"].as_str().unwrap().to_string();
        assert!(msg.starts_with("no config file: looked for "), "{msg}");
        assert!(msg.contains("DNS_FAILOVER_CONFIG"), "{msg}");
    }
    assert!(h.still_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_limit_stops_probing_early_enough_to_answer() {
    // A region that accepts connections and never answers.
    let hang = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_port = hang.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hang.accept().await {
            held.push(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("zone.json");
    let eps = endpoints().await;
    let ports = [eps[0].port, hang_port, eps[2].port];
    // Without a deadline this probe plan takes 3 x 1 s on the silent region.
    let probes = "timeout = \"1s\"\nattempts = 3\ninterval = \"20ms\"\nfail_threshold = 2";
    std::fs::write(
        dir.path().join("dns-failover.toml"),
        config(&ports, &zone, probes),
    )
    .unwrap();
    let mut h = Harness::start(dir.path()).await;

    // 2.5 s: the reserve is 1 s, so no attempt may start after 1.5 s - 1 s.
    let t0 = Instant::now();
    let a = h.invoke_with_limit(&event("probe.json"), Some(2_500)).await;
    let took = t0.elapsed();
    assert_eq!(a.kind, "response", "{}", a.body);
    assert!(
        took < Duration::from_millis(2_500),
        "answered after {took:?}"
    );
    let r = a.json();
    let silent = &r["groups"][0]["targets"][1];
    assert_eq!(silent["region"], "ap-shanghai");
    let attempts = silent["attempts"].as_array().unwrap().len();
    assert!(
        attempts < 3,
        "the deadline cut the attempts short: {silent}"
    );
    assert_eq!(r["groups"][0]["targets"][0]["health"], "healthy");

    // Without a time limit the full plan runs.
    let a = h.invoke_with_limit(&event("probe.json"), None).await;
    let r = a.json();
    assert_eq!(
        r["groups"][0]["targets"][1]["attempts"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(h.logs().contains("without a time_limit_in_ms header"));
}

#[test]
fn serve_outside_scf_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dns-failover"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("SCF_RUNTIME_API")
        .env_remove("SCF_RUNTIME_API_PORT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not exit without SCF_RUNTIME_API");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("SCF_RUNTIME_API is not set"), "{err}");
}

/// Issue 10: serde_json keeps the last of two equal keys, so a drill with
/// `"apply":false,"apply":true` was applied and `"dry_run":true,
/// "dry_run":false` ran for real. Both are refused and change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_with_duplicate_keys_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("zone.json");
    let eps = endpoints().await;
    let ports: Vec<u16> = eps.iter().map(|e| e.port).collect();
    std::fs::write(
        dir.path().join("dns-failover.toml"),
        config(&ports, &zone, FAST_PROBES),
    )
    .unwrap();
    let mut h = Harness::start(dir.path()).await;
    let a = h.invoke(&event("timer.json")).await;
    assert_eq!(a.kind, "response", "{}", a.body);
    let before = std::fs::read(&zone).unwrap();

    // ap-shanghai is down: a real run would disable its record.
    eps[1].set_status(503);
    for (body, key) in [
        (
            r#"{"action":"drill","fail":["ap-shanghai"],"apply":false,"apply":true}"#,
            "apply",
        ),
        (
            r#"{"action":"run","dry_run":true,"dry_run":false}"#,
            "dry_run",
        ),
        (
            r#"{"Type":"Timer","Message":"{\"dry_run\":true,\"dry_run\":false}"}"#,
            "Message.dry_run",
        ),
    ] {
        let a = h.invoke(body).await;
        assert_eq!(a.kind, "error", "{body}: {}", a.body);
        let v = a.json();
        assert_eq!(v["errorType"], "BadEvent", "{body}: {v}");
        let msg = v["errorMessage"].as_str().unwrap();
        assert!(
            msg.contains(&format!("duplicate key \"{key}\"")),
            "{body}: {msg}"
        );
        assert_eq!(
            std::fs::read(&zone).unwrap(),
            before,
            "{body} changed the zone"
        );
    }
    assert!(h.still_running());
}

/// Issue 12: with the console's default 3 s function timeout and a 2 s probe
/// timeout, no attempt ever started and every run answered `ok` with every
/// target `unknown`. Now the probes are shortened within their floors (and
/// the report says so), and the regions are really probed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_time_limit_shortens_the_probes_and_the_report_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("zone.json");
    let eps = endpoints().await;
    let ports: Vec<u16> = eps.iter().map(|e| e.port).collect();
    let probes = "timeout = \"2s\"\nattempts = 3\ninterval = \"1s\"\nfail_threshold = 2";
    std::fs::write(
        dir.path().join("dns-failover.toml"),
        config(&ports, &zone, probes),
    )
    .unwrap();
    let mut h = Harness::start(dir.path()).await;
    let a = h.invoke_with_limit(&event("timer.json"), Some(3_000)).await;
    assert_eq!(a.kind, "response", "{}", a.body);
    let r = a.json();
    assert_eq!(r["ok"], true, "{r}");
    let b = &r["probe_budget"];
    assert_eq!(b["shortened"], true, "{b}");
    assert_eq!(b["refused"], false, "{b}");
    assert_eq!(b["configured"]["attempts"], 3);
    assert_eq!(b["used"]["attempts"], 2);
    assert!(b["used"]["timeout_ms"].as_u64().unwrap() >= 500, "{b}");
    assert!(
        r["notes"][0].as_str().unwrap().contains("probes shortened"),
        "{r}"
    );
    for t in r["groups"][0]["targets"].as_array().unwrap() {
        assert_eq!(t["health"], "healthy", "{t}");
        assert_eq!(t["attempts"].as_array().unwrap().len(), 2, "{t}");
    }
    // The console's test templates get a plan with a note, not BadEvent.
    for body in [
        r#"{"key1":"test value 1","key2":"test value 2"}"#,
        r#"{"Type":"Timer","TriggerName":"EveryDay","Time":"2019-02-21T11:49:00Z","Message":"user define msg body"}"#,
    ] {
        let a = h.invoke_with_limit(body, Some(3_000)).await;
        assert_eq!(a.kind, "response", "{}", a.body);
        let r = a.json();
        assert_eq!(
            (r["action"].as_str(), r["dry_run"].as_bool()),
            (Some("plan"), Some(true))
        );
        assert!(
            r["notes"][0].as_str().unwrap().contains("test template"),
            "{r}"
        );
    }
    assert!(zone_state(&zone).iter().all(|(_, enabled)| *enabled));
}

/// Issue 12: a run that probes nothing must never look healthy. When even
/// the shortest allowed plan cannot fit, nothing is probed, and the run says
/// so loudly: a critical `unprobed` event, an alert, an error answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_cannot_probe_in_time_fails_loudly_and_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("zone.json");
    let eps = endpoints().await;
    let ports: Vec<u16> = eps.iter().map(|e| e.port).collect();
    let probes = "timeout = \"2s\"\nattempts = 3\ninterval = \"1s\"\nfail_threshold = 2";
    std::fs::write(
        dir.path().join("dns-failover.toml"),
        config(&ports, &zone, probes),
    )
    .unwrap();
    let mut h = Harness::start(dir.path()).await;
    let a = h.invoke_with_limit(&event("timer.json"), Some(1_000)).await;
    assert_eq!(a.kind, "error", "{}", a.body);
    let v = a.json();
    assert_eq!(v["errorType"], "RunFailed", "{v}");
    assert!(
        v["errorMessage"].as_str().unwrap().contains("not probed"),
        "{v}"
    );
    let r = &v["report"];
    assert_eq!(r["ok"], false);
    assert_eq!(r["probe_budget"]["refused"], true, "{r}");
    let g = &r["groups"][0];
    for t in g["targets"].as_array().unwrap() {
        assert_eq!(t["health"], "unknown", "{t}");
    }
    let ev = g["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "unprobed")
        .unwrap_or_else(|| panic!("no unprobed event: {g}"));
    assert_eq!(ev["severity"], "critical");
    assert_eq!(r["alerts"][0]["channel"], "console", "{r}");
    assert_eq!(r["alerts"][0]["ok"], true, "{r}");
    assert!(h.logs().contains("targets not probed"));
    // Every line of `serve` is one JSON object, the console alert too, and
    // it carries the invocation's request id (for CLS).
    let logs = h.logs();
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let alert = lines
        .iter()
        .find(|l| l["message"] == "alert" && l["channel"] == "console")
        .unwrap_or_else(|| panic!("no console alert line: {logs}"));
    assert_eq!(
        alert["spans"][0]["request_id"],
        a.request_id.as_str(),
        "{alert}"
    );
    assert!(
        alert["text"].as_str().unwrap().contains("unprobed"),
        "{alert}"
    );
    assert_eq!(alert["severity"], "critical");
}

/// A DNSPod fake with three enabled `api` records whose every
/// `ModifyRecord` fails (retryable), Shanghai refusing connections, and
/// `serve` with `api_budget = 20s` against it.
async fn failing_dnspod_writes() -> (
    support::fake_tencent::FakeTencent,
    tempfile::TempDir,
    Vec<Endpoint>,
    Harness,
) {
    use dns_failover::clock::{Clock, SystemClock};
    use support::fake_tencent::{FakeTencent, Fault, Key};

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let fake = FakeTencent::start(
        "example.com",
        vec![Key {
            id: support::SECRET_ID.into(),
            key: support::SECRET_KEY.into(),
            token: None,
        }],
        clock,
    )
    .await;
    fake.with(|s| {
        for r in REGIONS {
            s.add_record(
                "api",
                "CNAME",
                "默认",
                &format!("{r}.apigw.example.net"),
                600,
                true,
            );
        }
    });
    // Every write fails with a retryable error.
    for _ in 0..200 {
        fake.inject(
            Some("ModifyRecord"),
            Fault::Api("InternalError", "try again"),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let eps = endpoints().await;
    // Shanghai refuses connections: it is down at once.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let ports = [eps[0].port, closed_port, eps[2].port];
    let cfg = config(&ports, Path::new("unused"), FAST_PROBES).replace(
        "provider = \"file\"\ndomain = \"example.com\"\nttl = 60\npath = \"unused\"",
        &format!(
            "provider = \"dnspod\"\ndomain = \"example.com\"\nttl = 600\nendpoint = \"{}\"\nsecret_id_env = \"DF_RT_ID\"\nsecret_key_env = \"DF_RT_KEY\"\napi_timeout = \"1s\"\napi_budget = \"20s\"",
            fake.endpoint()
        ),
    );
    assert!(cfg.contains("dnspod"), "{cfg}");
    std::fs::write(dir.path().join("dns-failover.toml"), cfg).unwrap();
    let h = Harness::start_with_env(
        dir.path(),
        &[
            ("DF_RT_ID", support::SECRET_ID),
            ("DF_RT_KEY", support::SECRET_KEY),
        ],
    )
    .await;
    (fake, dir, eps, h)
}

/// Issue 12: DNSPod calls retried for up to `api_budget` (20 s) whatever the
/// invocation had left, so with a short function timeout and a failing write
/// the invocation was killed and no `apply_failed` alert went out. Now every
/// call ends by the invocation's DNS deadline and the alert has its time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_dnspod_write_gives_up_in_time_for_the_apply_failed_alert() {
    let (fake, _dir, _eps, mut h) = failing_dnspod_writes().await;
    let t0 = Instant::now();
    let a = h.invoke_with_limit(&event("timer.json"), Some(4_000)).await;
    let took = t0.elapsed();
    assert!(
        took < Duration::from_millis(4_000),
        "answered after {took:?}"
    );
    assert_eq!(a.kind, "error", "{}", a.body);
    let v = a.json();
    assert_eq!(v["errorType"], "RunFailed", "{v}");
    let r = &v["report"];
    let kinds: Vec<&str> = r["groups"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"apply_failed"), "{kinds:?}: {r}");
    assert_eq!(r["alerts"][0]["ok"], true, "the alert went out: {r}");
    assert!(
        fake.with(|s| s.calls_of("ModifyRecord").len()) >= 1,
        "the write was tried"
    );
}

/// Issue 12, platform retries: SCF retries a failed asynchronous (timer)
/// invocation with the same event. A retry is safe for DNS (the same
/// checked write, nothing new), but not quiet: the failed failover is
/// planned again and pages again seconds later. That is why the deploy sets
/// the async retry count to 0 (docs/deploy.md, "Platform retries"): the next
/// minute's run is the retry. If this test starts seeing one page, the
/// retry count could go back to the platform's default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_failing_timer_event_writes_the_same_and_pages_again() {
    let (fake, _dir, _eps, mut h) = failing_dnspod_writes().await;
    let before = fake.with(|s| s.records.clone());
    let first = h.invoke_with_limit(&event("timer.json"), Some(4_000)).await;
    let retry = h.invoke_with_limit(&event("timer.json"), Some(4_000)).await;
    for a in [&first, &retry] {
        assert_eq!(a.kind, "error", "{}", a.body);
        assert_eq!(a.json()["errorType"], "RunFailed");
    }
    let sent = |a: &Answer| -> usize {
        a.json()["report"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["ok"] == true && d["filtered"] != true)
            .count()
    };
    assert_eq!(sent(&first), 1, "{}", first.body);
    assert_eq!(sent(&retry), 1, "{}", retry.body);
    let changes = |a: &Answer| a.json()["report"]["groups"][0]["changes"].clone();
    assert_eq!(
        changes(&first)[0]["record_id"],
        changes(&retry)[0]["record_id"],
        "the retry tries the same write"
    );
    // The service records are as they were: every write failed, none was
    // repeated into a different state.
    let after = fake.with(|s| s.records.clone());
    for r in &before {
        let now = after.iter().find(|x| x.id == r.id).unwrap();
        assert_eq!((now.enabled, &now.value), (r.enabled, &r.value));
    }
}
