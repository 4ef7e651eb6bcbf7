//! Secrets never leave the process in what people or machines read: the real
//! `dns-failover` binary runs every command, with `RUST_LOG=trace`, `--json`
//! and failure paths, on a config where every key that may hold a secret is
//! a `${NAME}` reference to a unique canary value; no canary may appear on
//! stdout, on stderr, or in any alert a channel received.
//!
//! Everything is local: the fake Tencent Cloud API (DNSPod and SMS), HTTP
//! servers for the probes and the chat robots, an SMTP server with STARTTLS.
//! Canaries reach the child process through its environment only.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dns_failover::clock::SystemClock;
use dns_failover::config::Config;
use serde_json::{json, Value};
use support::fake_tencent::{FakeTencent, Fault, Key};
use support::{mime_parts, test_ca_file, HttpServer, Reply, SmtpServer, SmtpTls};

const BIN: &str = env!("CARGO_BIN_EXE_dns-failover");

// ---------------------------------------------------------------------------
// Canaries: one unique value per field that may hold a secret
// ---------------------------------------------------------------------------

/// Probe URL query (`?token=${...}`).
const PROBE_TOKEN: &str = "CANARYprobeQueryToken3141";
/// Probe URL path segment.
const PROBE_PATH: &str = "CANARYprobePathPart5926";
/// Probe header value.
const PROBE_HEADER: &str = "CANARYprobeHeaderValue5358";
/// `body_contains` of a probe.
const PROBE_BODY: &str = "CANARYprobeBodyNeedle9793";
/// A `tcp` probe's host: a loopback address nothing else in the test uses
/// (Linux routes all of 127.0.0.0/8 to the loopback interface).
const TCP_HOST: &str = "127.83.41.29";
/// DNSPod credentials (temporary: with a session token).
const SECRET_ID: &str = "AKIDCANARYsecretIdValue000000002384";
const SECRET_KEY: &str = "CANARYsecretKeyValue6264";
const TOKEN: &str = "CANARYsessionTokenValue3383";
/// The SMS channel's own credentials.
const SMS_SECRET_ID: &str = "AKIDCANARYsmsSecretId0000000000005171";
const SMS_SECRET_KEY: &str = "CANARYsmsSecretKey4716";
const SMS_TOKEN: &str = "CANARYsmsSessionToken0844";
const SMTP_PASSWORD: &str = "CANARYsmtpPassword2795";
const WECOM_KEY: &str = "CANARYwecomKey0288";
const DING_TOKEN: &str = "CANARYdingtalkAccessToken4197";
const DING_SECRET: &str = "SECCANARYdingtalkSecret1693";
const FEISHU_TOKEN: &str = "CANARYfeishuHookToken9937";
const FEISHU_SECRET: &str = "CANARYfeishuSecret5105";
const HOOK_TOKEN: &str = "CANARYwebhookToken8209";
const HOOK_BEARER: &str = "CANARYwebhookBearer7494";
/// The key of a WeCom robot that cannot be reached.
const DEAD_WECOM_KEY: &str = "CANARYdeadWecomKey4592";
/// A webhook whose server echoes the request (URL and headers) in its error.
const ECHO_TOKEN: &str = "CANARYechoToken3078";
const ECHO_BEARER: &str = "CANARYechoBearer1640";
/// Part of a DNSPod endpoint that cannot be reached.
const DEAD_ENDPOINT_PART: &str = "CANARYdeadEndpoint6286";

/// Values that make the config invalid, one per key whose errors used to
/// quote the expanded value.
const BAD_VALUE: &str = "CANARY-bad-value-2089";
const BAD_URL: &str = "CANARYbadUrl9862";
const BAD_URL_SCHEME: &str = "canaryscheme8034://host/health";
const BAD_TCP: &str = "CANARY-bad-tcp-8253";
// Lower case: the config lower-cases these before checking them.
const BAD_DOMAIN: &str = "canary-bad-domain-4211";
const BAD_SUBDOMAIN: &str = "canary bad subdomain 0674";
const BAD_ENDPOINT: &str = "CANARY-bad-endpoint-7067";
const BAD_SDK_APP_ID: &str = "CANARY-bad-sdk-app-id-9821";
const BAD_PHONE: &str = "CANARY-bad-phone-4808";
const BAD_FROM: &str = "CANARY-bad-from-6513";

const CANARIES: &[&str] = &[
    PROBE_TOKEN,
    PROBE_PATH,
    PROBE_HEADER,
    PROBE_BODY,
    TCP_HOST,
    SECRET_ID,
    SECRET_KEY,
    TOKEN,
    SMS_SECRET_ID,
    SMS_SECRET_KEY,
    SMS_TOKEN,
    SMTP_PASSWORD,
    WECOM_KEY,
    DING_TOKEN,
    DING_SECRET,
    FEISHU_TOKEN,
    FEISHU_SECRET,
    HOOK_TOKEN,
    HOOK_BEARER,
    DEAD_WECOM_KEY,
    ECHO_TOKEN,
    ECHO_BEARER,
    DEAD_ENDPOINT_PART,
    BAD_VALUE,
    BAD_URL,
    "canaryscheme8034",
    BAD_TCP,
    BAD_DOMAIN,
    BAD_SUBDOMAIN,
    BAD_ENDPOINT,
    BAD_SDK_APP_ID,
    BAD_PHONE,
    BAD_FROM,
];

/// Panics, naming the canary and showing the text around it, if any canary
/// appears in `text`.
fn assert_clean(what: &str, text: &str) {
    for c in CANARIES {
        if let Some(i) = text.find(c) {
            let from = text[..i]
                .char_indices()
                .rev()
                .nth(200)
                .map_or(0, |(j, _)| j);
            let to = (i + c.len() + 200).min(text.len());
            let to = (to..=text.len())
                .find(|j| text.is_char_boundary(*j))
                .unwrap();
            panic!("{what} shows the secret {c:?}:\n…{}…", &text[from..to]);
        }
    }
}

fn assert_output_clean(what: &str, out: &Output) {
    assert_clean(
        &format!("{what}: stdout"),
        &String::from_utf8_lossy(&out.stdout),
    );
    assert_clean(
        &format!("{what}: stderr"),
        &String::from_utf8_lossy(&out.stderr),
    );
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

// ---------------------------------------------------------------------------
// The world: servers, environment, config
// ---------------------------------------------------------------------------

struct World {
    dir: tempfile::TempDir,
    fake: FakeTencent,
    /// The HTTP probe targets: all healthy until [`World::break_targets`],
    /// then sh answers 503 and hk without the needle; gz stays healthy.
    probes: HttpServer,
    broken: Arc<AtomicBool>,
    /// The TCP target's listener on `TCP_HOST`; dropped to break it.
    tcp: Mutex<Option<tokio::net::TcpListener>>,
    tcp_port: u16,
    /// Nothing listens here: the sg target cannot be reached.
    dead_port: u16,
    /// Every chat robot and webhook.
    robots: HttpServer,
    smtp: SmtpServer,
    /// The child's environment: where every canary comes from.
    env: BTreeMap<String, String>,
}

/// A port nothing listens on (bound, then released).
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

impl World {
    async fn new() -> World {
        let fake = FakeTencent::start(
            "example.com",
            vec![
                Key {
                    id: SECRET_ID.into(),
                    key: SECRET_KEY.into(),
                    token: Some(TOKEN.into()),
                },
                Key {
                    id: SMS_SECRET_ID.into(),
                    key: SMS_SECRET_KEY.into(),
                    token: Some(SMS_TOKEN.into()),
                },
            ],
            Arc::new(SystemClock),
        )
        .await;
        // gz is healthy only if the probe used the expanded URL and header.
        let broken = Arc::new(AtomicBool::new(false));
        let b = broken.clone();
        let probes = HttpServer::start(move |r| {
            let broken = b.load(Ordering::SeqCst);
            let authorised =
                r.header("authorization") == Some(format!("Bearer {PROBE_HEADER}").as_str());
            if r.target.starts_with("/gz/") {
                if r.query("token").as_deref() == Some(PROBE_TOKEN) && authorised {
                    Reply::Text(200, "ok".into())
                } else {
                    Reply::Text(401, "who are you".into())
                }
            } else if r.target.starts_with("/hk/") && !broken {
                Reply::Text(200, format!("ok {PROBE_BODY}"))
            } else if r.target.starts_with("/hk/") {
                Reply::Text(200, "a body without the needle".into())
            } else if r.target == format!("/sh/{PROBE_PATH}/health") && !broken {
                Reply::Text(200, "ok".into())
            } else {
                Reply::Text(503, "down".into())
            }
        })
        .await;
        let tcp = tokio::net::TcpListener::bind((TCP_HOST, 0)).await.unwrap();
        let tcp_port = tcp.local_addr().unwrap().port();
        let robots = HttpServer::start(|r| {
            let t = r.target.as_str();
            if t.starts_with("/wecom") || t.starts_with("/ding") {
                Reply::Json(200, json!({"errcode": 0, "errmsg": "ok"}))
            } else if t.starts_with("/feishu") {
                Reply::Json(200, json!({"code": 0, "msg": "success"}))
            } else if t.starts_with("/echo") {
                // A server that quotes the whole request back in its error.
                Reply::Text(400, format!("bad request {} {:?}", r.target, r.headers))
            } else {
                Reply::Json(200, json!({}))
            }
        })
        .await;
        let smtp = SmtpServer::start(
            SmtpTls::Starttls,
            "alerts@example.com",
            SMTP_PASSWORD,
            "PLAIN LOGIN",
        )
        .await;
        let dead = closed_port().await;
        let robot = &robots.base;
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("SEC_PROBE_TOKEN", PROBE_TOKEN.to_string()),
            ("SEC_PROBE_PATH", PROBE_PATH.to_string()),
            ("SEC_PROBE_HEADER", PROBE_HEADER.to_string()),
            ("SEC_PROBE_BODY", PROBE_BODY.to_string()),
            ("SEC_TCP_HOST", TCP_HOST.to_string()),
            ("SEC_ID", SECRET_ID.to_string()),
            ("SEC_KEY", SECRET_KEY.to_string()),
            ("SEC_TOKEN", TOKEN.to_string()),
            ("SEC_DNSPOD_ENDPOINT", fake.endpoint()),
            ("SEC_SMS_ID", SMS_SECRET_ID.to_string()),
            ("SEC_SMS_KEY", SMS_SECRET_KEY.to_string()),
            ("SEC_SMS_TOKEN", SMS_TOKEN.to_string()),
            ("SEC_SMS_ENDPOINT", fake.endpoint()),
            ("SEC_SMTP_PASSWORD", SMTP_PASSWORD.to_string()),
            (
                "SEC_WECOM",
                format!("{robot}/wecom/cgi-bin/webhook/send?key={WECOM_KEY}"),
            ),
            (
                "SEC_DING",
                format!("{robot}/ding/robot/send?access_token={DING_TOKEN}"),
            ),
            ("SEC_DING_SECRET", DING_SECRET.to_string()),
            (
                "SEC_FEISHU",
                format!("{robot}/feishu/open-apis/bot/v2/hook/{FEISHU_TOKEN}"),
            ),
            ("SEC_FEISHU_SECRET", FEISHU_SECRET.to_string()),
            ("SEC_HOOK", format!("{robot}/hook?token={HOOK_TOKEN}")),
            ("SEC_HOOK_BEARER", HOOK_BEARER.to_string()),
            (
                "SEC_DEAD_WECOM",
                format!("http://127.0.0.1:{dead}/cgi-bin/webhook/send?key={DEAD_WECOM_KEY}"),
            ),
            ("SEC_ECHO", format!("{robot}/echo?token={ECHO_TOKEN}")),
            ("SEC_ECHO_BEARER", ECHO_BEARER.to_string()),
        ] {
            env.insert(k.to_string(), v);
        }
        let w = World {
            dir: tempfile::tempdir().unwrap(),
            fake,
            probes,
            broken,
            tcp: Mutex::new(Some(tcp)),
            tcp_port,
            dead_port: closed_port().await,
            robots,
            smtp,
            env,
        };
        std::fs::write(w.config_path(), w.config()).unwrap();
        w
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("dns-failover.toml")
    }

    /// sh answers 503, hk without the needle, bj refuses connections.
    fn break_targets(&self) {
        self.broken.store(true, Ordering::SeqCst);
        drop(self.tcp.lock().unwrap().take());
    }

    fn config(&self) -> String {
        let probe = &self.probes.base;
        let tcp_port = self.tcp_port;
        format!(
            r#"
prober = "secrets-test"
alert_timezone = "UTC"

[probe]
timeout = "1s"
attempts = 2
interval = "10ms"
fail_threshold = 1

[dns]
provider = "dnspod"
domain = "example.com"
endpoint = "${{SEC_DNSPOD_ENDPOINT}}"
secret_id_env = "SEC_ID"
secret_key_env = "SEC_KEY"
session_token_env = "SEC_TOKEN"
api_timeout = "1s"
api_budget = "3s"

[[group]]
name = "api"
subdomain = "api"
type = "A"
mode = "active"
failback_after = "1s"
max_changes = 5

[[group.target]]
region = "gz"
value = "192.0.2.1"
url = "{probe}/gz/health?token=${{SEC_PROBE_TOKEN}}"
headers = {{ Authorization = "Bearer ${{SEC_PROBE_HEADER}}" }}

[[group.target]]
region = "sh"
value = "192.0.2.2"
url = "{probe}/sh/${{SEC_PROBE_PATH}}/health"

[[group.target]]
region = "hk"
value = "192.0.2.3"
url = "{probe}/hk/health"
body_contains = "${{SEC_PROBE_BODY}}"

[[group.target]]
region = "sg"
value = "192.0.2.5"
url = "http://127.0.0.1:{dead}/sg/health?token=${{SEC_PROBE_TOKEN}}"

[[group.target]]
region = "bj"
value = "192.0.2.4"
tcp = "${{SEC_TCP_HOST}}:{tcp_port}"

[[alert]]
type = "console"

[[alert]]
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
tls = "starttls"
ca_file = "{ca}"
username = "alerts@example.com"
password = "${{SEC_SMTP_PASSWORD}}"
from = "dns-failover <alerts@example.com>"
to = ["oncall@example.com"]

[[alert]]
type = "wecom"
webhook = "${{SEC_WECOM}}"

[[alert]]
type = "dingtalk"
webhook = "${{SEC_DING}}"
secret = "${{SEC_DING_SECRET}}"

[[alert]]
type = "feishu"
webhook = "${{SEC_FEISHU}}"
secret = "${{SEC_FEISHU_SECRET}}"

[[alert]]
type = "webhook"
url = "${{SEC_HOOK}}"
headers = {{ Authorization = "Bearer ${{SEC_HOOK_BEARER}}" }}

[[alert]]
type = "sms"
sdk_app_id = "1400006666"
sign_name = "腾讯云"
template_id = "1110"
phone_numbers = ["+8613711112222"]
endpoint = "${{SEC_SMS_ENDPOINT}}"
secret_id_env = "SEC_SMS_ID"
secret_key_env = "SEC_SMS_KEY"
session_token_env = "SEC_SMS_TOKEN"

[[alert]]
name = "wecom-unreachable"
type = "wecom"
webhook = "${{SEC_DEAD_WECOM}}"
timeout = "1s"

[[alert]]
name = "webhook-echo"
type = "webhook"
url = "${{SEC_ECHO}}"
headers = {{ Authorization = "Bearer ${{SEC_ECHO_BEARER}}" }}
"#,
            smtp_port = self.smtp.port,
            ca = test_ca_file(),
            dead = self.dead_port,
        )
    }

    /// Run the binary on `config` with the world's environment (plus
    /// `extra`), `RUST_LOG=trace`; check that no canary is in its output.
    async fn run_with(&self, config: PathBuf, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("-c")
            .arg(&config)
            .args(args)
            .env_remove("DNS_FAILOVER_CONFIG")
            .env("RUST_LOG", "trace")
            .envs(&self.env)
            .envs(extra.iter().copied())
            .stdin(Stdio::null());
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        assert_output_clean(&format!("`{}`", args.join(" ")), &out);
        out
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.run_with(self.config_path(), args, &[]).await
    }

    /// `dns-failover serve` (the SCF custom runtime, JSON logs) against a
    /// local runtime API that hands out `events` one by one, then holds the
    /// next long poll. Returns the answers posted (`response` or `error`,
    /// with their bodies) and everything the process wrote on stderr, both
    /// checked for canaries. The process is killed once every event is
    /// answered.
    async fn serve(
        &self,
        config: PathBuf,
        events: &[&str],
        extra: &[(&str, &str)],
    ) -> (Vec<(String, String)>, String) {
        let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
        let n = events.len();
        let handed = Arc::new(AtomicUsize::new(0));
        let api = HttpServer::start(move |r| {
            if r.target == "/runtime/invocation/next" {
                match events.get(handed.fetch_add(1, Ordering::SeqCst)) {
                    Some(e) => Reply::Text(200, e.clone()),
                    None => Reply::Hang,
                }
            } else {
                Reply::Text(200, String::new())
            }
        })
        .await;
        let port = api.base.rsplit(':').next().unwrap().to_string();
        let log = self.dir.path().join(format!(
            "serve-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut child = std::process::Command::new(BIN)
            .arg("-c")
            .arg(&config)
            .arg("serve")
            .env_remove("DNS_FAILOVER_CONFIG")
            .env("RUST_LOG", "trace")
            .env("SCF_RUNTIME_API", "127.0.0.1")
            .env("SCF_RUNTIME_API_PORT", port)
            .envs(&self.env)
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let answers = || -> Vec<(String, String)> {
            api.requests()
                .into_iter()
                .filter_map(|r| {
                    let kind = r.target.strip_prefix("/runtime/invocation/")?;
                    (kind != "next")
                        .then(|| (kind.to_string(), String::from_utf8_lossy(&r.body).into()))
                })
                .collect()
        };
        let until = Instant::now() + Duration::from_secs(30);
        while answers().len() < n && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        let stderr = std::fs::read_to_string(&log).unwrap();
        let answers = answers();
        assert_eq!(answers.len(), n, "not every event was answered:\n{stderr}");
        for (kind, body) in &answers {
            assert_clean(&format!("serve: {kind} answer"), body);
        }
        assert_clean("serve: stderr", &stderr);
        (answers, stderr)
    }

    /// Every alert body a channel received so far: chat robots and webhooks
    /// (the body, not the URL: a robot's key is how it is addressed), SMS
    /// requests, and the decoded parts of every mail.
    fn delivered(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for r in self.robots.requests() {
            out.push((
                format!("robot request {}", r.target.split('?').next().unwrap()),
                String::from_utf8_lossy(&r.body).into_owned(),
            ));
        }
        for s in self.fake.with(|s| s.sms_sent.clone()) {
            out.push(("SendSms request".into(), s.to_string()));
        }
        for m in self.smtp.mails() {
            out.push(("mail (raw)".into(), m.data.clone()));
            for (ctype, text) in mime_parts(&m.data) {
                out.push((format!("mail part {ctype}"), text));
            }
        }
        out
    }

    fn assert_delivered_clean(&self) {
        let d = self.delivered();
        assert!(!d.is_empty(), "no alert was delivered");
        for (what, body) in d {
            assert_clean(&what, &body);
        }
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            stdout(o),
            stderr(o)
        )
    })
}

fn health(report: &Value) -> Vec<String> {
    report["groups"][0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["health"].as_str().unwrap().to_string())
        .collect()
}

/// Every attempt's `detail`.
fn details(report: &Value) -> Vec<String> {
    report["groups"][0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["attempts"].as_array().unwrap())
        .filter_map(|a| a["detail"].as_str().map(String::from))
        .collect()
}

fn endpoints(report: &Value) -> BTreeMap<String, String> {
    report["groups"][0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["region"].as_str().unwrap().to_string(),
                t["endpoint"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Every command, with and without --json, on the happy path and the failing channels
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_shows_a_secret_in_its_output_logs_or_alerts() {
    let w = World::new().await;

    let out = w.run(&["validate"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // Every probe used the expanded URL, header and needle (each target is
    // healthy only then), and the report shows the endpoints as written.
    let out = w.run(&["probe", "--json"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = json_of(&out);
    assert_eq!(
        health(&r),
        ["healthy", "healthy", "healthy", "down", "healthy"],
        "{r:#}"
    );
    let probe = &w.probes.base;
    assert_eq!(
        endpoints(&r),
        BTreeMap::from([
            (
                "gz".into(),
                format!("{probe}/gz/health?token=${{SEC_PROBE_TOKEN}}")
            ),
            (
                "sh".into(),
                format!("{probe}/sh/${{SEC_PROBE_PATH}}/health")
            ),
            ("hk".into(), format!("{probe}/hk/health")),
            (
                "sg".into(),
                format!(
                    "http://127.0.0.1:{}/sg/health?token=${{SEC_PROBE_TOKEN}}",
                    w.dead_port
                )
            ),
            (
                "bj".into(),
                format!("tcp://${{SEC_TCP_HOST}}:{}", w.tcp_port)
            ),
        ])
    );
    assert!(
        stderr(&out).contains("TRACE") || stderr(&out).contains("DEBUG"),
        "RUST_LOG=trace had no effect:\n{}",
        stderr(&out)
    );

    // The first run creates the records, quietly.
    let out = w.run(&["run"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    w.break_targets();
    let out = w.run(&["probe", "--json"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = json_of(&out);
    assert_eq!(
        health(&r),
        ["healthy", "down", "down", "down", "down"],
        "{r:#}"
    );
    // The evidence names the needle and the address by their references.
    let details = details(&r);
    assert!(
        details
            .iter()
            .any(|d| d.ends_with("does not contain \"${SEC_PROBE_BODY}\"")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("connect ${SEC_TCP_HOST}:")),
        "{details:?}"
    );

    for args in [
        &["probe"][..],
        &["plan"],
        &["plan", "--json"],
        &["status"],
        &["status", "--json"],
        &["drill", "--fail", "gz"],
        &["drill", "--fail", "gz", "--json"],
        &["run", "--dry-run", "--json"],
    ] {
        let out = w.run(args).await;
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    }

    // sh, hk and bj are disabled, which alerts every channel.
    let out = w.run(&["run", "--json"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = json_of(&out);
    let alerts = r["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty(), "{r:#}");
    let failed: Vec<&str> = alerts
        .iter()
        .filter(|a| a["ok"] == false)
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["wecom-unreachable", "webhook-echo"], "{r:#}");
    // The console alert (stderr) shows the endpoint as written.
    assert!(
        stderr(&out).contains("${SEC_PROBE_PATH}"),
        "{}",
        stderr(&out)
    );

    let out = w.run(&["status"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // notify-test: text and JSON; two channels fail (unreachable, echoing).
    for args in [&["notify-test"][..], &["notify-test", "--json"]] {
        let out = w.run(args).await;
        assert_eq!(code(&out), 1, "{args:?}: {}", stdout(&out));
        let text = stdout(&out);
        assert!(text.contains("wecom-unreachable"), "{text}");
        assert!(text.contains("webhook-echo"), "{text}");
    }

    // The channels really got alerts (and the e-mail went through AUTH
    // with the expanded password), and none of them carries a secret.
    assert!(!w.smtp.mails().is_empty(), "no mail delivered");
    assert!(w.fake.with(|s| !s.sms_sent.is_empty()), "no SMS delivered");
    w.assert_delivered_clean();
}

// ---------------------------------------------------------------------------
// API errors that quote the credentials
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_that_quote_the_credentials_are_scrubbed() {
    let w = World::new().await;
    let quoting = leak(format!(
        "The token {TOKEN} has expired (SecretId {SECRET_ID}, SecretKey {SECRET_KEY})"
    ));

    // A retryable error first (logged at warn with its message, then
    // retried), then one that ends the pass: exit 1, the message in the
    // report's errors.
    // On the records' read: the plan's limits, read beside it, are only
    // advisory (a pass without them goes on).
    let read = Some("DescribeRecordList");
    w.fake.inject(read, Fault::Api("InternalError", quoting));
    w.fake
        .inject(read, Fault::Api("AuthFailure.TokenFailure", quoting));
    let out = w.run(&["run", "--json"]).await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("AuthFailure.TokenFailure"), "{text}");
    assert!(text.contains("The token [redacted] has expired"), "{text}");
    assert!(
        text.contains("AKID****2384"),
        "the SecretId is masked: {text}"
    );
    assert!(
        stderr(&out).contains("has expired"),
        "the retry was not logged:\n{}",
        stderr(&out)
    );

    for args in [&["status"][..], &["plan"], &["run"]] {
        w.fake
            .inject(read, Fault::Api("AuthFailure.TokenFailure", quoting));
        let out = w.run(args).await;
        assert_eq!(code(&out), 1, "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).contains("has expired"), "{}", stdout(&out));
    }

    // SMS, with its own credentials: notify-test shows the channel's error
    // (after its one retry).
    let sms_quoting = leak(format!(
        "The token {SMS_TOKEN} has expired (SecretId {SMS_SECRET_ID}, SecretKey {SMS_SECRET_KEY})"
    ));
    for args in [&["notify-test"][..], &["notify-test", "--json"]] {
        for _ in 0..2 {
            w.fake.inject(
                Some("SendSms"),
                Fault::Api("AuthFailure.TokenFailure", sms_quoting),
            );
        }
        let out = w.run(args).await;
        assert_eq!(code(&out), 1);
        assert!(stdout(&out).contains("AKID****5171"), "{}", stdout(&out));
    }

    // An endpoint that cannot be reached: the transport error leaves out
    // the URL, which holds a canary.
    let dead = closed_port().await;
    let out = w
        .run_with(
            w.config_path(),
            &["run", "--json"],
            &[(
                "SEC_DNSPOD_ENDPOINT",
                &format!("http://127.0.0.1:{dead}/{DEAD_ENDPOINT_PART}"),
            )],
        )
        .await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    w.assert_delivered_clean();
}

// ---------------------------------------------------------------------------
// Config errors
// ---------------------------------------------------------------------------

/// `(key, replace, with, variable, value)`: the config with one value turned
/// into a reference to a bad value.
const BAD: &[(&str, &str, &str, &str, &str)] = &[
    (
        "value",
        "value = \"192.0.2.1\"",
        "value = \"${SEC_BAD}\"",
        "SEC_BAD",
        BAD_VALUE,
    ),
    (
        "url",
        "url = \"{probe}/hk/health\"",
        "url = \"${SEC_BAD}\"",
        "SEC_BAD",
        BAD_URL,
    ),
    (
        "url",
        "url = \"{probe}/hk/health\"",
        "url = \"${SEC_BAD}\"",
        "SEC_BAD",
        BAD_URL_SCHEME,
    ),
    (
        "tcp",
        "tcp = \"${SEC_TCP_HOST}:{tcp_port}\"",
        "tcp = \"${SEC_BAD}\"",
        "SEC_BAD",
        BAD_TCP,
    ),
    (
        "domain",
        "domain = \"example.com\"",
        "domain = \"${SEC_BAD}\"",
        "SEC_BAD",
        BAD_DOMAIN,
    ),
    (
        "subdomain",
        "subdomain = \"api\"",
        "subdomain = \"${SEC_BAD}\"",
        "SEC_BAD",
        BAD_SUBDOMAIN,
    ),
    (
        "endpoint",
        "endpoint = \"${SEC_DNSPOD_ENDPOINT}\"\nsecret_id_env",
        "endpoint = \"${SEC_BAD}\"\nsecret_id_env",
        "SEC_BAD",
        BAD_ENDPOINT,
    ),
    (
        "sdk_app_id",
        "sdk_app_id = \"1400006666\"",
        "sdk_app_id = \"${SEC_BAD}\"",
        "SEC_BAD",
        BAD_SDK_APP_ID,
    ),
    (
        "phone_numbers",
        "phone_numbers = [\"+8613711112222\"]",
        "phone_numbers = [\"${SEC_BAD}\"]",
        "SEC_BAD",
        BAD_PHONE,
    ),
    (
        "endpoint",
        "endpoint = \"${SEC_SMS_ENDPOINT}\"",
        "endpoint = \"${SEC_BAD}\"",
        "SEC_BAD",
        BAD_ENDPOINT,
    ),
    (
        "from",
        "from = \"dns-failover <alerts@example.com>\"",
        "from = \"${SEC_BAD}\"",
        "SEC_BAD",
        BAD_FROM,
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_show_the_reference_never_the_value() {
    let w = World::new().await;
    let good = w.config();
    for (i, (key, from, to, var, value)) in BAD.iter().enumerate() {
        let from = from
            .replace("{probe}", &w.probes.base)
            .replace("{tcp_port}", &w.tcp_port.to_string());
        assert!(good.contains(&from), "case {i}: {from:?} not in the config");
        let path = w.dir.path().join(format!("bad-{i}.toml"));
        std::fs::write(&path, good.replacen(&from, to, 1)).unwrap();
        for args in [&["validate"][..], &["run", "--json"], &["notify-test"]] {
            let out = w.run_with(path.clone(), args, &[(var, value)]).await;
            let err = stderr(&out);
            assert_eq!(code(&out), 2, "case {i} {key}, {args:?}: {err}");
            assert!(
                err.contains(&format!(": {key}: ")) || err.contains(&format!(".{key}: ")),
                "case {i}: the error names another key: {err}"
            );
            assert!(
                err.contains(&format!("\"${{{var}}}\"")),
                "case {i}: the error does not quote the reference: {err}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Debug output and a panic
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_output_of_the_loaded_config_and_clients_shows_no_secret() {
    let w = World::new().await;
    // The library reads the process environment: these names are used by
    // no other test.
    for (k, v) in &w.env {
        std::env::set_var(k, v);
    }
    let cfg = Config::load(&w.config_path()).unwrap();
    let dbg = format!("{cfg:?}");
    assert_clean("Debug of Config", &dbg);
    assert!(dbg.contains("${SEC_PROBE_TOKEN}"), "{dbg}");
    assert_clean("pretty Debug of Config", &format!("{cfg:#?}"));

    let dns_failover::config::ProviderSettings::Dnspod(s) = &cfg.dns.provider else {
        panic!("dnspod expected")
    };
    let p =
        dns_failover::dns::dnspod::DnspodProvider::from_settings(s, Arc::new(SystemClock), &|n| {
            std::env::var(n).ok()
        })
        .unwrap();
    assert_clean("Debug of the DNSPod provider", &format!("{p:?}"));
    for a in &cfg.alerts {
        if let Some(c) = a.channel.settings::<dns_failover::notify::sms::SmsConfig>() {
            let sms = dns_failover::notify::sms::Sms::new(
                "sms",
                c.clone(),
                Arc::new(SystemClock),
                &|n| std::env::var(n).ok(),
            )
            .unwrap();
            assert_clean("Debug of the SMS channel", &format!("{sms:?}"));
        }
    }
}

/// With stdout closed, printing the report panics ("failed printing to
/// stdout"). Neither the panic message nor what came before it on stderr
/// (logs, the console alert of the targets that went down) shows a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_shows_no_secret() {
    let w = World::new().await;
    let out = w.run(&["run"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    w.break_targets();
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("-c")
        .arg(w.config_path())
        .arg("run")
        .env_remove("DNS_FAILOVER_CONFIG")
        .env("RUST_LOG", "trace")
        .env("RUST_BACKTRACE", "1")
        .envs(&w.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        // Close the read end before the report is printed.
        drop(child.stdout.take());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let err = stderr(&out);
    assert!(err.contains("panicked"), "no panic: {err}");
    assert!(err.contains("---- alert (console)"), "no alert: {err}");
    assert_ne!(code(&out), 0);
    assert_output_clean("the panicking run", &out);
}

// ---------------------------------------------------------------------------
// The SCF runtime
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_and_json_logs_show_no_secret() {
    let w = World::new().await;
    let out = w.run(&["run"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    w.break_targets();

    // First event: the DNS read fails with an error quoting the token;
    // second: a pass that disables three records and alerts.
    let quoting = leak(format!("token {TOKEN} expired (SecretKey {SECRET_KEY})"));
    w.fake.inject(
        Some("DescribeRecordList"),
        Fault::Api("AuthFailure.TokenFailure", quoting),
    );
    let timer = r#"{"Type":"Timer","TriggerName":"every-minute","Time":"2024-05-01T08:00:00Z","Message":""}"#;
    let (answers, log) = w.serve(w.config_path(), &[timer, timer], &[]).await;
    assert_eq!(answers[0].0, "error", "{answers:?}");
    assert!(
        answers[0].1.contains("token [redacted] expired"),
        "{answers:?}"
    );
    assert_eq!(answers[1].0, "response", "{answers:?}");
    assert!(
        answers[1].1.contains("${SEC_PROBE_PATH}"),
        "the report shows the endpoint as written: {}",
        answers[1].1
    );
    assert!(log.contains("\"level\":\"TRACE\""), "{log}");
    w.assert_delivered_clean();

    // A config error at start-up is every invocation's answer.
    let bad = w.dir.path().join("bad-serve.toml");
    std::fs::write(
        &bad,
        w.config()
            .replacen("value = \"192.0.2.1\"", "value = \"${SEC_BAD}\"", 1),
    )
    .unwrap();
    let (answers, _) = w.serve(bad, &[timer], &[("SEC_BAD", BAD_VALUE)]).await;
    assert_eq!(answers[0].0, "error", "{answers:?}");
    assert!(answers[0].1.contains("${SEC_BAD}"), "{answers:?}");
}
