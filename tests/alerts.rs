//! Alert channels against real local servers (127.0.0.1 only): an SMTP
//! server with STARTTLS/TLS and AUTH, HTTP servers that check each robot's
//! JSON, signatures and size limits and answer with the services' own error
//! codes; then the pipeline: no change sends nothing, standing conditions
//! page once (and remind), drills are marked, secrets never leak.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use dns_failover::config::{EnvString, HumanDuration, Secret};
use dns_failover::decide::{Event, EventKind, Severity};
use dns_failover::notify::config::{AlertConfig, KeyError};
use dns_failover::notify::{self, Alert, AlertEvent, ChangeNote, Channelled, RegionEvidence};
use dns_failover::probe::{Attempt, FailureClass, Health};
use dns_failover::report::ChangeStatus;
use support::{HttpServer, Reply, SmtpServer, SmtpTls};

const LIMIT: Duration = Duration::from_secs(30);

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 3, 4, 5).unwrap()
}

/// An alert with `n` failover events (long enough to need cutting when n is large).
fn sample_alert(n: usize, drill: bool) -> Alert {
    let mut events = Vec::new();
    for i in 0..n {
        events.push(AlertEvent {
            event: Event {
                kind: EventKind::Failover,
                severity: Severity::Critical,
                group: format!("web{i}"),
                regions: vec!["ap-shanghai".into()],
                message: format!(
                    "ap-shanghai is down: 3/3 attempts failed; disabling record 10{i} (1.2.3.4) of api.example.com — 上海节点不可用"
                ),
            },
            record: "api.example.com A [默认]".into(),
            evidence: vec![RegionEvidence {
                region: "ap-shanghai".into(),
                endpoint: "https://sh.example.com/health".into(),
                health: Health::Down,
                attempts: vec![
                    Attempt::failure(Duration::from_millis(2000), None, FailureClass::Timeout, "no answer"),
                    Attempt::failure(Duration::from_millis(12), Some(503), FailureClass::UnexpectedStatus, "503"),
                ],
            }],
            changes: vec![ChangeNote {
                summary: format!("disable record 10{i} api.example.com -> 1.2.3.4"),
                status: ChangeStatus::Applied,
                ttl: Some(60),
                error: None,
            }],
            standing: None,
            late: None,
            servers: vec![],
        });
    }
    let title = if drill {
        "[DRILL] web0: failover ap-shanghai".to_string()
    } else {
        "web0: failover ap-shanghai".to_string()
    };
    Alert {
        severity: Severity::Critical,
        title,
        drill,
        test: false,
        prober: "ap-guangzhou".into(),
        at: at(),
        timezone: "Asia/Shanghai".into(),
        events,
    }
}

/// An `[[alert]]` as the tests write it: one field per key. [`validate`]
/// turns it into the table the config file would hold and validates that.
#[derive(Default)]
struct RawAlert {
    kind: String,
    timeout: Option<HumanDuration>,
    repeat_every: Option<HumanDuration>,
    smtp_host: Option<EnvString>,
    smtp_port: Option<i64>,
    tls: Option<String>,
    username: Option<EnvString>,
    password: Option<Secret>,
    from: Option<EnvString>,
    to: Option<Vec<EnvString>>,
    ca_file: Option<EnvString>,
    webhook: Option<Secret>,
    secret: Option<Secret>,
    mentioned_mobile_list: Option<Vec<EnvString>>,
    url: Option<Secret>,
    headers: Option<BTreeMap<String, Secret>>,
}

fn validate(r: RawAlert) -> Result<AlertConfig, KeyError> {
    use toml::Value;
    let mut t = toml::Table::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            t.insert(k.to_string(), v);
        }
    };
    let env = |v: Option<EnvString>| v.map(|v| Value::String(v.0));
    let secret = |v: Option<Secret>| v.map(|v| Value::String(v.expose().to_string()));
    let envs = |v: Option<Vec<EnvString>>| {
        v.map(|l| Value::Array(l.into_iter().map(|s| Value::String(s.0)).collect()))
    };
    put("smtp_host", env(r.smtp_host));
    put("smtp_port", r.smtp_port.map(Value::Integer));
    put("tls", r.tls.map(Value::String));
    put("username", env(r.username));
    put("password", secret(r.password));
    put("from", env(r.from));
    put("to", envs(r.to));
    put("ca_file", env(r.ca_file));
    put("webhook", secret(r.webhook));
    put("secret", secret(r.secret));
    put("mentioned_mobile_list", envs(r.mentioned_mobile_list));
    put("url", secret(r.url));
    put(
        "headers",
        r.headers.map(|h| {
            Value::Table(
                h.into_iter()
                    .map(|(k, v)| (k, Value::String(v.expose().to_string())))
                    .collect(),
            )
        }),
    );
    dns_failover::notify::config::validate(dns_failover::notify::config::RawAlert {
        kind: r.kind,
        timeout: r.timeout,
        repeat_every: r.repeat_every,
        section: t,
        ..Default::default()
    })
}

fn raw(kind: &str) -> RawAlert {
    RawAlert {
        kind: kind.into(),
        ..Default::default()
    }
}

fn channels(raws: Vec<RawAlert>) -> Vec<Channelled> {
    let cfgs: Vec<_> = raws
        .into_iter()
        .map(|r| validate(r).map_err(|(k, m)| format!("{k:?}: {m}")).unwrap())
        .collect();
    notify::build(
        &cfgs,
        std::sync::Arc::new(dns_failover::clock::SystemClock),
        &|n| std::env::var(n).ok(),
    )
    .unwrap()
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("test took too long")
}

// ---------------------------------------------------------------------------
// WeCom
// ---------------------------------------------------------------------------

#[tokio::test]
async fn wecom_sends_markdown_then_mentions_within_byte_limits() {
    bounded(async {
        let srv = HttpServer::start(|r| {
            let v = r.json();
            let ok = match v["msgtype"].as_str() {
                Some("markdown") => v["markdown"]["content"]
                    .as_str()
                    .is_some_and(|c| c.len() <= 4096),
                Some("text") => v["text"]["content"]
                    .as_str()
                    .is_some_and(|c| c.len() <= 2048),
                _ => false,
            };
            if ok && r.query("key").as_deref() == Some("wk-SECRET") {
                Reply::Json(200, json!({"errcode": 0, "errmsg": "ok"}))
            } else {
                Reply::Json(
                    200,
                    json!({"errcode": 40058, "errmsg": "content exceed max length"}),
                )
            }
        })
        .await;
        let mut r = raw("wecom");
        r.webhook = Some(Secret::new(format!(
            "{}/cgi-bin/webhook/send?key=wk-SECRET",
            srv.base
        )));
        r.mentioned_mobile_list = Some(vec![EnvString::from("13800001111")]);
        let ch = channels(vec![r]);
        let big = sample_alert(40, false);
        let d = notify::send_all(&ch, &big, None).await;
        assert!(d[0].ok, "{:?}", d[0].error);
        let reqs = srv.requests();
        assert_eq!(reqs.len(), 2, "markdown then the mention text");
        let md = reqs[0].json();
        let content = md["markdown"]["content"].as_str().unwrap();
        assert!(
            content.len() <= 4096 && content.len() > 3500,
            "{}",
            content.len()
        );
        assert!(content.ends_with("…(truncated)"), "visible cut marker");
        assert!(
            content.starts_with(
                "### <font color=\"warning\">CRITICAL</font> web0: failover ap-shanghai"
            ),
            "{content}"
        );
        assert!(content.contains("record: api.example.com A [默认]"));
        assert!(content.contains("#1 timeout after 2000ms"));
        assert!(content.contains("ttl 60"));
        assert!(content.contains("2026-11-22 11:04:05 Asia/Shanghai"));
        let txt = reqs[1].json();
        assert_eq!(txt["msgtype"], "text");
        assert_eq!(txt["text"]["mentioned_mobile_list"], json!(["13800001111"]));
        assert!(txt["text"]["content"]
            .as_str()
            .unwrap()
            .starts_with("[CRITICAL]"));
    })
    .await
}

#[tokio::test]
async fn wecom_errcode_is_a_failure_and_the_key_stays_hidden() {
    bounded(async {
        // The reply echoes the key, as a hostile or chatty server might.
        let srv = HttpServer::start(|r| {
            Reply::Json(
                200,
                json!({"errcode": 93000, "errmsg": format!("invalid webhook url {}", r.target)}),
            )
        })
        .await;
        let mut r = raw("wecom");
        r.webhook = Some(Secret::new(format!("{}/send?key=wk-SECRET", srv.base)));
        let ch = channels(vec![r]);
        let d = notify::send_all(&ch, &sample_alert(1, false), None).await;
        assert!(!d[0].ok);
        assert_eq!(d[0].attempts, 1, "a permanent answer is not retried");
        let e = d[0].error.as_deref().unwrap();
        assert!(e.contains("errcode 93000"), "{e}");
        assert!(!e.contains("wk-SECRET"), "{e}");
        // Unreachable host: the transport error must not carry the URL either.
        let mut r = raw("wecom");
        r.webhook = Some(Secret::new(
            "http://127.0.0.1:9/send?key=wk-SECRET".to_string(),
        ));
        r.timeout = Some(HumanDuration(Duration::from_millis(500)));
        let d = notify::send_all(&channels(vec![r]), &sample_alert(1, false), None).await;
        let e = d[0].error.as_deref().unwrap();
        assert!(
            !d[0].ok && !e.contains("wk-SECRET") && !e.contains("127.0.0.1:9"),
            "{e}"
        );
    })
    .await
}

// ---------------------------------------------------------------------------
// DingTalk and Feishu signatures
// ---------------------------------------------------------------------------

#[tokio::test]
async fn dingtalk_signature_is_checked_by_the_server() {
    bounded(async {
        let secret = "SECdingtalk-test-secret";
        let srv = HttpServer::start(move |r| {
            let ts = r.query("timestamp").unwrap_or_default();
            let sign = r.query("sign").unwrap_or_default();
            let want = hmac_b64(secret.as_bytes(), format!("{ts}\n{secret}").as_bytes());
            let now = Utc::now().timestamp_millis();
            let fresh = ts.parse::<i64>().is_ok_and(|t| (now - t).abs() < 3_600_000);
            let v = r.json();
            let shape = v["msgtype"] == "markdown"
                && v["markdown"]["title"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("[CRITICAL]"))
                && v["markdown"]["text"].as_str().is_some();
            if sign == want
                && fresh
                && shape
                && r.query("access_token").as_deref() == Some("dt-SECRET")
            {
                Reply::Json(200, json!({"errcode": 0, "errmsg": "ok"}))
            } else {
                Reply::Json(200, json!({"errcode": 310000, "errmsg": "sign not match"}))
            }
        })
        .await;
        let mk = |s: &str| {
            let mut r = raw("dingtalk");
            r.webhook = Some(Secret::new(format!(
                "{}/robot/send?access_token=dt-SECRET",
                srv.base
            )));
            r.secret = Some(Secret::new(s.to_string()));
            r
        };
        let d = notify::send_all(
            &channels(vec![mk(secret), mk("SECwrong")]),
            &sample_alert(2, false),
            None,
        )
        .await;
        assert!(d[0].ok, "{:?}", d[0].error);
        assert!(!d[1].ok);
        let e = d[1].error.as_deref().unwrap();
        assert!(
            e.contains("310000") && !e.contains("dt-SECRET") && !e.contains("SECwrong"),
            "{e}"
        );
    })
    .await
}

#[tokio::test]
async fn feishu_signature_travels_in_the_body_and_code_is_checked() {
    bounded(async {
        let secret = "feishu-test-secret";
        let srv = HttpServer::start(move |r| {
            let v = r.json();
            let ts = v["timestamp"].as_str().unwrap_or_default().to_string();
            // Feishu: the string to sign is the HMAC *key*; the message is empty.
            let want = hmac_b64(format!("{ts}\n{secret}").as_bytes(), b"");
            let fresh = ts.parse::<i64>().is_ok_and(|t| (Utc::now().timestamp() - t).abs() < 3600);
            let text = v["content"]["text"].as_str().unwrap_or_default();
            if r.body.len() > 20 * 1024 {
                return Reply::Json(200, json!({"code": 9499, "msg": "Bad Request: body too large"}));
            }
            if v["msg_type"] == "text" && v["sign"] == want && fresh && text.starts_with("[CRITICAL]") {
                Reply::Json(200, json!({"code": 0, "msg": "success", "data": {}}))
            } else {
                Reply::Json(200, json!({"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}))
            }
        })
        .await;
        let mk = |s: &str| {
            let mut r = raw("feishu");
            r.webhook = Some(Secret::new(format!("{}/open-apis/bot/v2/hook/fs-SECRET", srv.base)));
            r.secret = Some(Secret::new(s.to_string()));
            r
        };
        // 200 events: far over 20 KB before cutting.
        let d = notify::send_all(&channels(vec![mk(secret), mk("wrong")]), &sample_alert(200, false), None).await;
        assert!(d[0].ok, "{:?}", d[0].error);
        let e = d[1].error.as_deref().unwrap();
        assert!(e.contains("code 19021") && !e.contains("fs-SECRET"), "{e}");
        let first = &srv.requests()[0];
        assert!(first.body.len() <= 20 * 1024, "{}", first.body.len());
        assert!(first.json()["content"]["text"].as_str().unwrap().ends_with("…(truncated)"));
    })
    .await
}

// ---------------------------------------------------------------------------
// Generic webhook, timeouts
// ---------------------------------------------------------------------------

#[tokio::test]
async fn webhook_posts_the_alert_json_with_its_headers() {
    bounded(async {
        let srv = HttpServer::start(|r| {
            if r.header("authorization") == Some("Bearer hdr-SECRET") {
                Reply::Json(204, json!({}))
            } else {
                // Echo the request line: the error must still not show the token.
                Reply::Text(
                    401,
                    format!("denied {} {:?}", r.target, r.header("authorization")),
                )
            }
        })
        .await;
        let mk = |h: &str| {
            let mut r = raw("webhook");
            r.url = Some(Secret::new(format!("{}/hook?token=url-SECRET", srv.base)));
            r.headers = Some(BTreeMap::from([(
                "Authorization".to_string(),
                Secret::new(h.to_string()),
            )]));
            r
        };
        let d = notify::send_all(
            &channels(vec![mk("Bearer hdr-SECRET"), mk("Bearer bad-SECRET")]),
            &sample_alert(2, true),
            None,
        )
        .await;
        assert!(d[0].ok, "{:?}", d[0].error);
        let e = d[1].error.as_deref().unwrap();
        assert!(e.contains("HTTP 401"), "{e}");
        assert!(
            !e.contains("url-SECRET") && !e.contains("bad-SECRET"),
            "{e}"
        );
        let v = srv.requests()[0].json();
        assert_eq!(v["severity"], "critical");
        assert_eq!(v["drill"], true);
        assert!(v["title"].as_str().unwrap().starts_with("[DRILL]"));
        assert_eq!(v["events"][0]["kind"], "failover");
        assert_eq!(v["events"][0]["evidence"][0]["attempts"][1]["status"], 503);
        assert_eq!(v["events"][0]["changes"][0]["ttl"], 60);
        assert!(v["text"].as_str().unwrap().contains("prober: ap-guangzhou"));
    })
    .await
}

#[tokio::test]
async fn a_hanging_channel_delays_neither_the_others_nor_beyond_its_timeout() {
    bounded(async {
        let hang = HttpServer::start(|_| Reply::Hang).await;
        let fast =
            HttpServer::start(|_| Reply::Json(200, json!({"errcode": 0, "errmsg": "ok"}))).await;
        let mut h = raw("webhook");
        h.url = Some(Secret::new(format!("{}/hang", hang.base)));
        h.timeout = Some(HumanDuration(Duration::from_millis(400)));
        let mut f = raw("wecom");
        f.webhook = Some(Secret::new(format!("{}/send?key=k", fast.base)));
        let ch = channels(vec![h, f]);
        let t = Instant::now();
        let d = notify::send_all(&ch, &sample_alert(1, false), None).await;
        let total = t.elapsed();
        // The request went out and no answer came: it may have been
        // delivered, so it is not resent, and it is not a failure.
        assert!(
            d[0].ok && d[0].delivery == notify::Outcome::Unknown && d[0].attempts == 1,
            "{:?}",
            d[0]
        );
        assert!(
            d[0].error
                .as_deref()
                .unwrap()
                .contains("no answer within 4"),
            "{:?}",
            d[0].error
        );
        assert!(d[1].ok);
        assert!(
            d[1].elapsed_ms < 300,
            "fast channel waited for the slow one: {} ms",
            d[1].elapsed_ms
        );
        // One try of 400 ms, with slack for a busy machine.
        assert!(total < Duration::from_millis(1200), "{total:?}");
        assert!(total >= Duration::from_millis(400), "{total:?}");
    })
    .await
}

// ---------------------------------------------------------------------------
// E-mail
// ---------------------------------------------------------------------------

fn email_raw(port: u16, tls: &str, pass: &str, ca: bool) -> RawAlert {
    let mut r = raw("email");
    r.smtp_host = Some(EnvString::from("127.0.0.1"));
    r.smtp_port = Some(port as i64);
    r.tls = Some(tls.into());
    r.username = Some(EnvString::from("alerts@example.com"));
    r.password = Some(Secret::new(pass.to_string()));
    r.from = Some(EnvString::from("dns-failover <alerts@example.com>"));
    r.to = Some(vec![
        EnvString::from("oncall@example.com"),
        EnvString::from("Lead <lead@example.com>"),
    ]);
    if ca {
        r.ca_file = Some(EnvString::from(support::test_ca_file()));
    }
    r.timeout = Some(HumanDuration(Duration::from_secs(5)));
    r
}

fn check_mail(m: &support::Mail, subject: &str) {
    assert_eq!(m.from, "alerts@example.com");
    assert_eq!(m.rcpts, vec!["oncall@example.com", "lead@example.com"]);
    assert!(m.tls, "mail went over TLS");
    assert!(
        m.data.contains(&format!("Subject: {subject}")),
        "{}",
        m.data
    );
    let parts = support::mime_parts(&m.data);
    assert_eq!(parts.len(), 2, "{:?}", parts);
    assert!(parts[0].0.starts_with("text/plain"));
    assert!(parts[1].0.starts_with("text/html"));
    assert!(
        parts[0].1.contains("record: api.example.com A [默认]"),
        "{}",
        parts[0].1
    );
    assert!(parts[0].1.contains("#2 unexpected_status (503) in 12ms"));
    assert!(parts[1].1.contains("<h2"), "{}", parts[1].1);
}

#[tokio::test]
async fn email_over_starttls_with_auth_plain_reaches_every_recipient() {
    bounded(async {
        let smtp = SmtpServer::start(
            SmtpTls::Starttls,
            "alerts@example.com",
            "mail-SECRET",
            "PLAIN LOGIN",
        )
        .await;
        let ch = channels(vec![email_raw(smtp.port, "starttls", "mail-SECRET", true)]);
        let d = notify::send_all(&ch, &sample_alert(2, true), None).await;
        assert!(d[0].ok, "{:?}", d[0].error);
        let mails = smtp.mails();
        assert_eq!(mails.len(), 1);
        check_mail(&mails[0], "[CRITICAL] [DRILL] web0: failover ap-shanghai");
        assert_eq!(mails[0].auth.as_ref().unwrap().0, "PLAIN");
    })
    .await
}

#[tokio::test]
async fn email_over_implicit_tls_with_auth_login() {
    bounded(async {
        let smtp = SmtpServer::start(
            SmtpTls::Implicit,
            "alerts@example.com",
            "mail-SECRET",
            "LOGIN",
        )
        .await;
        let ch = channels(vec![email_raw(smtp.port, "tls", "mail-SECRET", true)]);
        let d = notify::send_all(&ch, &sample_alert(1, false), None).await;
        assert!(d[0].ok, "{:?}", d[0].error);
        let mails = smtp.mails();
        check_mail(&mails[0], "[CRITICAL] web0: failover ap-shanghai");
        assert_eq!(mails[0].auth.as_ref().unwrap().0, "LOGIN");
    })
    .await
}

#[tokio::test]
async fn email_with_a_wrong_password_fails_without_showing_it() {
    bounded(async {
        let smtp = SmtpServer::start(
            SmtpTls::Starttls,
            "alerts@example.com",
            "mail-SECRET",
            "PLAIN LOGIN",
        )
        .await;
        let ch = channels(vec![email_raw(smtp.port, "starttls", "wrong-SECRET", true)]);
        let d = notify::send_all(&ch, &sample_alert(1, false), None).await;
        assert!(!d[0].ok);
        let e = d[0].error.as_deref().unwrap();
        assert!(e.contains("535"), "{e}");
        assert!(!e.contains("wrong-SECRET"), "{e}");
        assert!(smtp.mails().is_empty());
        assert!(
            !smtp.auth_attempts.lock().unwrap().is_empty(),
            "the server saw the attempt"
        );
    })
    .await
}

#[tokio::test]
async fn email_refuses_a_certificate_it_cannot_verify() {
    bounded(async {
        let smtp = SmtpServer::start(
            SmtpTls::Starttls,
            "alerts@example.com",
            "mail-SECRET",
            "PLAIN",
        )
        .await;
        // No ca_file: the test CA is unknown, so the STARTTLS handshake fails
        // and no credentials are ever sent.
        let ch = channels(vec![email_raw(smtp.port, "starttls", "mail-SECRET", false)]);
        let d = notify::send_all(&ch, &sample_alert(1, false), None).await;
        assert!(!d[0].ok);
        let e = d[0].error.as_deref().unwrap_or_default();
        assert!(e.to_ascii_lowercase().contains("certificate"), "{e}");
        assert!(smtp.auth_attempts.lock().unwrap().is_empty());
        assert!(smtp.mails().is_empty());
    })
    .await
}

// ---------------------------------------------------------------------------
// Config validation
// ---------------------------------------------------------------------------

#[test]
fn channel_keys_are_validated_without_echoing_secrets() {
    let mut r = raw("wecom");
    r.webhook = Some(Secret::new("not a url wk-SECRET".to_string()));
    let (k, m) = validate(r).unwrap_err();
    assert_eq!(k, Some("webhook"));
    assert!(!m.contains("wk-SECRET"), "{m}");
    let mut r = raw("wecom");
    r.webhook = Some(Secret::new(
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k".to_string(),
    ));
    r.smtp_host = Some(EnvString::from("smtp.example.com"));
    let (k, _) = validate(r).unwrap_err();
    assert_eq!(k, Some("smtp_host"));
    let mut r = email_raw(25, "ssl", "p", false);
    r.tls = Some("ssl".into());
    assert_eq!(validate(r).unwrap_err().0, Some("tls"));
    let mut r = raw("webhook");
    r.url = Some(Secret::new("https://example.com/h".to_string()));
    r.repeat_every = Some(HumanDuration(Duration::from_secs(10)));
    assert_eq!(validate(r).unwrap_err().0, Some("repeat_every"));
    let mut r = raw("dingtalk");
    r.webhook = Some(Secret::new(
        "https://oapi.dingtalk.com/robot/send?access_token=t".to_string(),
    ));
    let c = validate(r).unwrap();
    assert_eq!(c.timeout, Duration::from_secs(5), "default timeout");
    assert!(format!("{c:?}").contains("redacted") && !format!("{c:?}").contains("access_token"));
}

// ---------------------------------------------------------------------------
// The pipeline: when alerts go out
// ---------------------------------------------------------------------------

mod pipeline_alerts {
    use super::*;
    use dns_failover::clock::FixedClock;
    use dns_failover::demo::Endpoint;
    use dns_failover::{run_once, Action, Config, Deps, RunOptions, RunReport};
    use std::sync::Arc;

    struct Env {
        _dir: tempfile::TempDir,
        zone: std::path::PathBuf,
        cfg: Config,
        deps: Deps,
        clock: Arc<FixedClock>,
        eps: [Endpoint; 2],
        once: HttpServer,
        repeat: HttpServer,
    }

    async fn env() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let zone = dir.path().join("zone.json");
        let eps = [
            Endpoint::start().await.unwrap(),
            Endpoint::start().await.unwrap(),
        ];
        let ok = || Reply::Json(200, json!({"errcode": 0, "errmsg": "ok"}));
        let once = HttpServer::start(move |_| ok()).await;
        let repeat = HttpServer::start(move |_| ok()).await;
        let broken = HttpServer::start(|r| Reply::Text(500, format!("boom at {}", r.target))).await;
        let text = format!(
            r#"
prober = "test-prober"
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
name = "once"
url = "{once}/hook?token=once-SECRET"
[[alert]]
type = "wecom"
name = "repeat"
webhook = "{repeat}/send?key=repeat-SECRET"
repeat_every = "30m"
[[alert]]
type = "webhook"
name = "broken"
url = "{broken}/hook?token=broken-SECRET"
headers = {{ Authorization = "Bearer hdr-SECRET" }}
timeout = "1s"
"#,
            zone = zone.display(),
            p0 = eps[0].port,
            p1 = eps[1].port,
            once = once.base,
            repeat = repeat.base,
            broken = broken.base,
        );
        let cfg = Config::from_toml(&text, &dir.path().join("dns-failover.toml")).unwrap();
        let clock = Arc::new(FixedClock::new(at()));
        let deps = Deps::with_clock(&cfg, clock.clone()).unwrap();
        Env {
            _dir: dir,
            zone,
            cfg,
            deps,
            clock,
            eps,
            once,
            repeat,
        }
    }

    impl Env {
        async fn run(&self, action: Action) -> RunReport {
            self.clock.advance(chrono::Duration::minutes(1));
            run_once(&self.deps, &self.cfg, &RunOptions::new(action)).await
        }
        fn counts(&self) -> (usize, usize) {
            (self.once.requests().len(), self.repeat.requests().len())
        }
    }

    const SECRETS: [&str; 4] = [
        "once-SECRET",
        "repeat-SECRET",
        "broken-SECRET",
        "hdr-SECRET",
    ];

    #[tokio::test]
    async fn standing_conditions_page_once_remind_on_repeat_every_and_never_leak_secrets() {
        // A global subscriber: a scoped one misses events whose call sites
        // another test thread registered first.
        static LOGS: std::sync::OnceLock<support::LogBuf> = std::sync::OnceLock::new();
        let logs = LOGS
            .get_or_init(|| {
                let buf = support::LogBuf::default();
                let b2 = buf.clone();
                let sub = tracing_subscriber::fmt()
                    .with_writer(move || b2.clone())
                    .with_ansi(false)
                    .with_max_level(tracing::Level::DEBUG)
                    .finish();
                tracing::subscriber::set_global_default(sub).expect("first subscriber");
                buf
            })
            .clone();
        bounded(async {
            let e = env().await;
            let mut reports = Vec::new();
            // Bootstrap: records are created; `created` does not page.
            reports.push(e.run(Action::Run).await);
            assert_eq!(e.counts(), (0, 0), "{}", reports[0].render_text());
            // Nothing changed: nothing is sent.
            let r = e.run(Action::Run).await;
            assert!(r.alerts.is_empty(), "{:?}", r.alerts);
            assert_eq!(e.counts(), (0, 0));
            reports.push(r);

            // Every target down: all_down pages once on each channel.
            e.eps[0].set_status(503);
            e.eps[1].set_status(503);
            let r = e.run(Action::Run).await;
            assert_eq!(e.counts(), (1, 1), "{}", r.render_text());
            let body = e.once.requests()[0].json();
            assert_eq!(body["events"][0]["kind"], "all_down");
            assert_eq!(body["events"][0]["standing"]["first"], true);
            let zone = std::fs::read_to_string(&e.zone).unwrap();
            assert!(
                zone.contains("_dns-failover-a.api") && zone.contains("dns-failover alerted"),
                "{zone}"
            );
            reports.push(r);

            // Still down one minute later, and 20 minutes later: silence.
            reports.push(e.run(Action::Run).await);
            e.clock.advance(chrono::Duration::minutes(20));
            reports.push(e.run(Action::Run).await);
            assert_eq!(e.counts(), (1, 1));
            // Past 30 minutes: a reminder on the channel with repeat_every only.
            e.clock.advance(chrono::Duration::minutes(10));
            reports.push(e.run(Action::Run).await);
            assert_eq!(e.counts(), (1, 2));
            let md = e.repeat.requests()[1].json();
            let content = md["markdown"]["content"].as_str().unwrap();
            assert!(
                content.contains("reminder: ongoing since 2026-11-22 03:07 UTC"),
                "{content}"
            );
            reports.push(e.run(Action::Run).await);
            assert_eq!(e.counts(), (1, 2), "one reminder per period");

            // Recovery clears the memory; the next outage pages again.
            e.eps[0].set_status(200);
            e.eps[1].set_status(200);
            reports.push(e.run(Action::Run).await);
            assert_eq!(e.counts(), (1, 2));
            let zone = std::fs::read_to_string(&e.zone).unwrap();
            assert!(
                !zone.contains("dns-failover alerted "),
                "state cleared: {zone}"
            );
            e.eps[0].set_status(503);
            e.eps[1].set_status(503);
            reports.push(e.run(Action::Run).await);
            assert_eq!(e.counts(), (2, 3));

            // The broken channel failed every time it had something to send,
            // and it is in the report without any secret.
            let last = reports.last().unwrap();
            let broken = last.alerts.iter().find(|d| d.name == "broken").unwrap();
            assert!(!broken.ok && broken.error.as_deref().unwrap().contains("HTTP 500"));
            let json = serde_json::to_string(&reports).unwrap();
            let text: String = reports.iter().map(|r| r.render_text()).collect();
            let logs = logs.text();
            assert!(
                logs.contains("alert not delivered"),
                "logs captured: {logs}"
            );
            for s in SECRETS {
                assert!(!json.contains(s), "{s} in the JSON report");
                assert!(!text.contains(s), "{s} in the text report");
                assert!(!logs.contains(s), "{s} in the logs");
            }
        })
        .await
    }

    /// A healthy region whose record someone else disabled (a person, or a
    /// status write whose marker was lost) must not stay out unnoticed: a
    /// warning that pages once, with the command that puts it back.
    #[tokio::test]
    async fn a_healthy_region_kept_out_by_someone_else_pages_once_with_the_command() {
        bounded(async {
            let e = env().await;
            e.run(Action::Run).await;
            let mut zone = dns_failover::dns::file::load_zone(&e.zone).unwrap();
            let r = zone
                .records
                .iter_mut()
                .find(|r| r.value == "10.0.0.2")
                .unwrap();
            r.enabled = false;
            r.remark = "paused by alice".into();
            std::fs::write(&e.zone, serde_json::to_vec(&zone).unwrap()).unwrap();

            let r = e.run(Action::Run).await;
            assert_eq!(e.counts(), (1, 1), "{}", r.render_text());
            let body = e.once.requests()[0].json();
            assert_eq!(body["events"][0]["kind"], "left_alone");
            assert_eq!(body["events"][0]["severity"], "warning");
            let msg = body["events"][0]["message"].as_str().unwrap();
            assert!(
                msg.contains("dns-failover failback --group api --region ap-guangzhou"),
                "{msg}"
            );
            // Still out on the next runs: no second page.
            e.run(Action::Run).await;
            e.run(Action::Run).await;
            assert_eq!(e.counts(), (1, 1));
        })
        .await
    }

    #[tokio::test]
    async fn a_failover_pages_once_and_a_drill_is_marked() {
        bounded(async {
            let e = env().await;
            e.run(Action::Run).await;
            // Drill with apply: the alert carries the marker everywhere.
            let r = e
                .run(Action::Drill {
                    fail: vec!["ap-shanghai".into()],
                    apply: true,
                })
                .await;
            assert_eq!(e.counts(), (1, 1), "{}", r.render_text());
            let body = e.once.requests()[0].json();
            assert_eq!(body["drill"], true);
            assert!(
                body["title"].as_str().unwrap().starts_with("[DRILL]"),
                "{body}"
            );
            assert_eq!(body["events"][0]["kind"], "failover");
            let md = e.repeat.requests()[0].json();
            assert!(md["markdown"]["content"]
                .as_str()
                .unwrap()
                .contains("[DRILL]"));
            // A real outage of the same region afterwards: already out, no page.
            e.eps[0].set_status(503);
            e.run(Action::Run).await;
            e.run(Action::Run).await;
            assert_eq!(e.counts(), (1, 1));
        })
        .await
    }
}

// ---------------------------------------------------------------------------
// `dns-failover notify-test`
// ---------------------------------------------------------------------------

/// Run the binary with a deadline; returns (exit code, stdout).
fn run_cli(args: &[&str]) -> (i32, String) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_dns-failover"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
            return (status.code().unwrap_or(-1), out);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("notify-test did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_reports_each_channel_and_fails_if_one_fails() {
    let good = HttpServer::start(|r| {
        let c = r.json()["markdown"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if c.contains("[TEST]") {
            Reply::Json(200, json!({"errcode": 0, "errmsg": "ok"}))
        } else {
            Reply::Json(200, json!({"errcode": 40008, "errmsg": "no test marker"}))
        }
    })
    .await;
    let bad = HttpServer::start(|_| {
        Reply::Json(
            200,
            json!({"errcode": 93000, "errmsg": "invalid webhook url"}),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let write = |extra: &str| {
        let p = dir.path().join(format!("c{}.toml", extra.len()));
        std::fs::write(
            &p,
            format!(
                r#"
[dns]
provider = "file"
domain = "example.com"
path = "{zone}"
[[group]]
name = "api"
subdomain = "api"
type = "A"
[[group.target]]
region = "ap-shanghai"
value = "10.0.0.1"
url = "http://127.0.0.1:9/health"
[[alert]]
type = "wecom"
name = "good"
webhook = "{good}/send?key=good-SECRET"
{extra}
"#,
                zone = dir.path().join("zone.json").display(),
                good = good.base,
            ),
        )
        .unwrap();
        p.display().to_string()
    };
    let only_good = write("");
    let both = write(&format!(
        "[[alert]]\ntype = \"wecom\"\nname = \"bad\"\nwebhook = \"{}/send?key=bad-SECRET\"\ntimeout = \"1s\"\n",
        bad.base
    ));
    let (code, out) =
        tokio::task::spawn_blocking(move || run_cli(&["-c", &only_good, "notify-test"]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("good (wecom): ok"), "{out}");
    let (code, out) = tokio::task::spawn_blocking(move || run_cli(&["-c", &both, "notify-test"]))
        .await
        .unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("good (wecom): ok"), "{out}");
    assert!(
        out.contains("bad (wecom): FAILED") && out.contains("errcode 93000"),
        "{out}"
    );
    assert!(!out.contains("SECRET"), "{out}");
}
