//! The delivery rules (issue 16), against real local servers on 127.0.0.1:
//! every transition reaches someone exactly once. A transition no channel
//! delivered is kept and sent late on a later run; only failures that can
//! pass are retried; a send with no answer is `unknown`, never resent; one
//! refused recipient or mention does not cost the rest; error texts name
//! their step and never show a secret.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use serde_json::json;

use dns_failover::clock::FixedClock;
use dns_failover::decide::Severity;
use dns_failover::demo::Endpoint;
use dns_failover::notify::{self, Alert, Channelled, Delivery};
use dns_failover::{run_once, Action, Config, Deps, RunOptions, RunReport};
use support::smtp_faults::{FaultySmtp, SmtpScript};
use support::{HttpServer, Reply};

const LIMIT: Duration = Duration::from_secs(30);

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("test took too long")
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 3, 7, 0).unwrap()
}

/// An alert for every channel (a `notify-test` one, which no filter
/// drops) whose title names `n` failovers, as a run with `n` groups
/// failing over would.
fn alert(n: usize) -> Alert {
    let mut a = Alert::test("ap-guangzhou", "Asia/Shanghai", at());
    a.severity = Severity::Critical;
    a.title = (0..n)
        .map(|i| format!("web{i}: failover ap-shanghai"))
        .collect::<Vec<_>>()
        .join("; ");
    a
}

/// A delivery as the report shows it.
fn json(d: &Delivery) -> serde_json::Value {
    serde_json::to_value(d).unwrap()
}

/// The delivery's notes, joined.
fn notes(d: &Delivery) -> String {
    json(d)["notes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| n.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Channels from `[[alert]]` sections written as TOML (a config's text).
fn channels(sections: &str) -> Vec<Channelled> {
    let text = format!(
        r#"
[dns]
provider = "file"
domain = "example.com"
path = "/nonexistent/zone.json"
[[group]]
name = "api"
subdomain = "api"
type = "A"
[[group.target]]
region = "ap-shanghai"
value = "10.0.0.1"
url = "http://127.0.0.1:9/health"
{sections}
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::from_toml(&text, &dir.path().join("c.toml")).unwrap();
    notify::build(
        &cfg.alerts,
        Arc::new(dns_failover::clock::SystemClock),
        &|n| std::env::var(n).ok(),
    )
    .unwrap()
}

fn ok() -> Reply {
    Reply::Json(200, json!({"errcode": 0, "errmsg": "ok"}))
}

// ---------------------------------------------------------------------------
// A transition no channel delivered is not forgotten
// ---------------------------------------------------------------------------

struct Env {
    _dir: tempfile::TempDir,
    zone: std::path::PathBuf,
    cfg: Config,
    deps: Deps,
    clock: Arc<FixedClock>,
    eps: [Endpoint; 2],
    hook: HttpServer,
    up: Arc<AtomicBool>,
}

async fn env() -> Env {
    env_with("").await
}

/// [`env`] with more config text (further `[[alert]]` sections).
async fn env_with(extra: &str) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("zone.json");
    let eps = [
        Endpoint::start().await.unwrap(),
        Endpoint::start().await.unwrap(),
    ];
    let up = Arc::new(AtomicBool::new(true));
    let u = up.clone();
    let hook = HttpServer::start(move |_| {
        if u.load(Ordering::SeqCst) {
            ok()
        } else {
            Reply::Text(503, "maintenance".into())
        }
    })
    .await;
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
name = "hook"
url = "{hook}/hook?token=hook-SECRET"
timeout = "1s"
{extra}
"#,
        zone = zone.display(),
        p0 = eps[0].port,
        p1 = eps[1].port,
        hook = hook.base,
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
        hook,
        up,
    }
}

impl Env {
    async fn run(&self, action: Action) -> RunReport {
        self.clock.advance(chrono::Duration::minutes(1));
        run_once(&self.deps, &self.cfg, &RunOptions::new(action)).await
    }
}

#[tokio::test]
async fn a_failover_no_channel_delivered_is_sent_late_on_the_next_run_once() {
    bounded(async {
        let e = env().await;
        e.run(Action::Run).await; // bootstrap: records created, nothing sent
        assert!(e.hook.requests().is_empty());

        // The only channel is down when ap-shanghai fails over.
        e.up.store(false, Ordering::SeqCst);
        e.eps[0].set_status(503);
        let r = e.run(Action::Run).await;
        assert!(r.ok, "{}", r.render_text());
        assert!(!r.alerts[0].ok, "{:?}", r.alerts);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["alerts_undelivered"][0]["kind"], "failover", "{json}");
        assert_eq!(json["alerts_undelivered"][0]["group"], "api");
        assert_eq!(json["alerts_undelivered"][0]["regions"][0], "ap-shanghai");
        let zone = std::fs::read_to_string(&e.zone).unwrap();
        assert!(zone.contains("u/"), "kept in the state record: {zone}");
        let failover_at = r.started_at;

        // `status` shows it.
        let s = e.run(Action::Status).await;
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json["alerts_undelivered"].as_array().map(Vec::len),
            Some(1),
            "{json}"
        );
        assert!(
            s.render_text()
                .contains("alert undelivered: api failover of ap-shanghai"),
            "{}",
            s.render_text()
        );

        // Still down on the next run: tried again, still kept.
        let before = e.hook.requests().len();
        let r = e.run(Action::Run).await;
        assert!(e.hook.requests().len() > before, "retried on a later run");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["alerts_undelivered"].as_array().map(Vec::len),
            Some(1),
            "{json}"
        );

        // The channel is back: delivered once, marked late.
        e.up.store(true, Ordering::SeqCst);
        let before = e.hook.requests().len();
        let r = e.run(Action::Run).await;
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["alerts_undelivered"], json!([]), "{}", r.render_text());
        let reqs = e.hook.requests();
        assert_eq!(reqs.len(), before + 1, "delivered once");
        let body = reqs.last().unwrap().json();
        assert_eq!(body["events"][0]["kind"], "failover");
        let msg = body["events"][0]["message"].as_str().unwrap();
        let want = format!(
            "late: failover of ap-shanghai at {}, delivered {}",
            failover_at.format("%Y-%m-%d %H:%M UTC"),
            r.started_at.format("%H:%M UTC")
        );
        assert!(msg.contains(&want), "{msg}");
        assert!(body["events"][0]["late"].is_string(), "{body}");
        assert!(body["title"].as_str().unwrap().contains("(late)"), "{body}");

        // And never again.
        e.run(Action::Run).await;
        e.run(Action::Run).await;
        assert_eq!(e.hook.requests().len(), before + 1);
        let zone = std::fs::read_to_string(&e.zone).unwrap();
        assert!(!zone.contains("u/"), "{zone}");
    })
    .await
}

#[tokio::test]
async fn a_region_that_stays_failed_over_is_reminded_on_repeat_every() {
    bounded(async {
        let remind = HttpServer::start(|_| ok()).await;
        let e = env_with(&format!(
            "[[alert]]\ntype = \"webhook\"\nname = \"remind\"\nurl = \"{}/hook\"\nrepeat_every = \"30m\"\n",
            remind.base
        ))
        .await;
        e.run(Action::Run).await;
        e.eps[0].set_status(503);
        let r = e.run(Action::Run).await;
        assert_eq!(
            (e.hook.requests().len(), remind.requests().len()),
            (1, 1),
            "{}",
            r.render_text()
        );
        // Still failed over: silence within the period.
        e.run(Action::Run).await;
        e.clock.advance(chrono::Duration::minutes(20));
        e.run(Action::Run).await;
        assert_eq!((e.hook.requests().len(), remind.requests().len()), (1, 1));
        // Past 30 minutes: one reminder, on the channel with repeat_every only.
        e.clock.advance(chrono::Duration::minutes(10));
        let r = e.run(Action::Run).await;
        assert_eq!(
            (e.hook.requests().len(), remind.requests().len()),
            (1, 2),
            "{}",
            r.render_text()
        );
        let body = remind.requests()[1].json();
        let text = body["text"].as_str().unwrap();
        assert!(text.contains("still failed over ap-shanghai"), "{text}");
        assert!(text.contains("reminder: ongoing since"), "{text}");
        e.run(Action::Run).await;
        assert_eq!(remind.requests().len(), 2, "one reminder per period");
        // Recovered and back: the failback pages, the reminders stop.
        e.eps[0].set_status(200);
        for _ in 0..12 {
            e.clock.advance(chrono::Duration::minutes(5));
            e.run(Action::Run).await;
        }
        let last = remind.requests().last().unwrap().json();
        assert_eq!(last["events"][0]["kind"], "failback", "{last}");
        let n = remind.requests().len();
        e.clock.advance(chrono::Duration::minutes(40));
        e.run(Action::Run).await;
        assert_eq!(remind.requests().len(), n);
    })
    .await
}

// ---------------------------------------------------------------------------
// Retry only what can succeed
// ---------------------------------------------------------------------------

#[tokio::test]
async fn permanent_answers_are_tried_once() {
    bounded(async {
        let wecom = HttpServer::start(|_| {
            Reply::Json(
                200,
                json!({"errcode": 93000, "errmsg": "invalid webhook url"}),
            )
        })
        .await;
        let ding = HttpServer::start(|_| {
            Reply::Json(200, json!({"errcode": 310000, "errmsg": "sign not match"}))
        })
        .await;
        let feishu = HttpServer::start(|_| {
            Reply::Json(200, json!({"code": 19021, "msg": "sign match fail"}))
        })
        .await;
        let refused = FaultySmtp::start(SmtpScript {
            auth_reply: Some("535 5.7.8 authentication failed".into()),
            ..Default::default()
        })
        .await;
        let rejected = FaultySmtp::start(SmtpScript {
            data_reply: Some("554 5.7.1 message refused as spam".into()),
            ..Default::default()
        })
        .await;
        let ch = channels(&format!(
            r#"
[[alert]]
type = "wecom"
webhook = "{}/send?key=k"
[[alert]]
type = "dingtalk"
webhook = "{}/robot/send?access_token=t"
[[alert]]
type = "feishu"
webhook = "{}/open-apis/bot/v2/hook/abcdefgh12345678"
[[alert]]
type = "email"
name = "auth"
smtp_host = "127.0.0.1"
smtp_port = {}
tls = "none"
username = "alerts@example.com"
password = "pw-12345678"
from = "alerts@example.com"
to = ["oncall@example.com"]
[[alert]]
type = "email"
name = "spam"
smtp_host = "127.0.0.1"
smtp_port = {}
tls = "none"
from = "alerts@example.com"
to = ["oncall@example.com"]
"#,
            wecom.base, ding.base, feishu.base, refused.port, rejected.port
        ));
        let d = notify::send_all(&ch, &alert(1), None).await;
        for x in &d {
            assert!(!x.ok && x.attempts == 1, "{x:?}");
            assert!(
                x.error.as_deref().unwrap().starts_with("rejected: "),
                "{x:?}"
            );
        }
        assert_eq!(wecom.requests().len(), 1);
        assert_eq!(ding.requests().len(), 1);
        assert_eq!(feishu.requests().len(), 1);
        assert_eq!(refused.sessions(), 1);
        assert_eq!(rejected.sessions(), 1);
    })
    .await
}

#[tokio::test]
async fn temporary_answers_are_retried_once() {
    bounded(async {
        let busy = HttpServer::start(|_| Reply::Text(502, "bad gateway".into())).await;
        let greylist = FaultySmtp::start(SmtpScript {
            data_reply: Some("451 4.7.1 greylisted, try again".into()),
            ..Default::default()
        })
        .await;
        let ch = channels(&format!(
            r#"
[[alert]]
type = "webhook"
url = "{}/hook"
[[alert]]
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {}
tls = "none"
from = "alerts@example.com"
to = ["oncall@example.com"]
"#,
            busy.base, greylist.port
        ));
        let d = notify::send_all(&ch, &alert(1), None).await;
        for x in &d {
            assert!(!x.ok && x.attempts == 2, "{x:?}");
        }
        assert_eq!(busy.requests().len(), 2);
        assert_eq!(greylist.sessions(), 2);
    })
    .await
}

#[tokio::test]
async fn slow_but_successful_sends_are_not_duplicated() {
    bounded(async {
        let hang = HttpServer::start(|_| Reply::Hang).await;
        let slow_data = FaultySmtp::start(SmtpScript {
            data_delay: Some(Duration::from_secs(3)),
            ..Default::default()
        })
        .await;
        let ch = channels(&format!(
            r#"
[[alert]]
type = "wecom"
webhook = "{}/send?key=k"
timeout = "700ms"
[[alert]]
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {}
tls = "none"
from = "alerts@example.com"
to = ["oncall@example.com"]
timeout = "700ms"
"#,
            hang.base, slow_data.port
        ));
        let t = Instant::now();
        let d = notify::send_all(&ch, &alert(1), None).await;
        for x in &d {
            assert!(
                x.ok && json(x)["delivery"] == "unknown" && x.attempts == 1,
                "{x:?}"
            );
        }
        assert!(
            d[1].error
                .as_deref()
                .unwrap()
                .contains("after the message was sent"),
            "{:?}",
            d[1]
        );
        assert_eq!(hang.requests().len(), 1, "not resent");
        assert_eq!(slow_data.mails().len(), 1, "not resent");
        assert!(
            t.elapsed() < Duration::from_millis(2500),
            "{:?}",
            t.elapsed()
        );
    })
    .await
}

// ---------------------------------------------------------------------------
// WeCom: mentions and the robot's rate limit
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_failed_wecom_mention_does_not_resend_the_markdown() {
    bounded(async {
        let srv = HttpServer::start(|r| match r.json()["msgtype"].as_str() {
            Some("markdown") => ok(),
            _ => Reply::Json(200, json!({"errcode": 45009, "errmsg": "api freq out of limit"})),
        })
        .await;
        let ch = channels(&format!(
            "[[alert]]\ntype = \"wecom\"\nwebhook = \"{}/send?key=k\"\nmentioned_mobile_list = [\"13800001111\"]\n",
            srv.base
        ));
        let d = notify::send_all(&ch, &alert(1), None).await;
        assert!(d[0].ok && json(&d[0])["delivery"] == "delivered", "{:?}", d[0]);
        let n = notes(&d[0]);
        assert!(n.contains("mention") && n.contains("45009"), "{:?}", d[0]);
        let kinds: Vec<String> = srv
            .requests()
            .iter()
            .map(|r| r.json()["msgtype"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(kinds, ["markdown", "text"], "markdown sent once");
    })
    .await
}

#[tokio::test]
async fn wecom_over_its_rate_limit_is_not_retried_at_once_and_says_so() {
    bounded(async {
        let srv = HttpServer::start(|_| {
            Reply::Json(200, json!({"errcode": 45009, "errmsg": "api freq out of limit"}))
        })
        .await;
        let ch = channels(&format!(
            "[[alert]]\ntype = \"wecom\"\nwebhook = \"{}/send?key=k\"\nmentioned_mobile_list = [\"@all\"]\n",
            srv.base
        ));
        let d = notify::send_all(&ch, &alert(1), None).await;
        assert!(!d[0].ok && d[0].attempts == 1, "{:?}", d[0]);
        let e = d[0].error.as_deref().unwrap();
        assert!(
            e.contains("45009") && e.contains("20 messages a minute") && e.contains("costs 2"),
            "{e}"
        );
        assert_eq!(srv.requests().len(), 1);
    })
    .await
}

// ---------------------------------------------------------------------------
// One bad recipient does not silence the others
// ---------------------------------------------------------------------------

#[tokio::test]
async fn one_refused_recipient_does_not_silence_the_other() {
    bounded(async {
        let smtp = FaultySmtp::start(SmtpScript {
            rcpt_replies: HashMap::from([(
                "gone@example.com".to_string(),
                "550 5.1.1 no such user".to_string(),
            )]),
            ..Default::default()
        })
        .await;
        let ch = channels(&format!(
            r#"
[[alert]]
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {}
tls = "none"
from = "dns-failover <alerts@example.com>"
to = ["gone@example.com", "oncall@example.com"]
"#,
            smtp.port
        ));
        let d = notify::send_all(&ch, &alert(1), None).await;
        assert!(d[0].ok && d[0].attempts == 1, "{:?}", d[0]);
        let n = notes(&d[0]);
        assert!(
            n.contains("gone@example.com") && n.contains("550"),
            "{:?}",
            d[0]
        );
        let mails = smtp.mails();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].rcpts, ["oncall@example.com"]);
    })
    .await
}

// ---------------------------------------------------------------------------
// E-mail headers: Message-ID, short subjects
// ---------------------------------------------------------------------------

/// A header of a received mail, unfolded and (for encoded words) decoded
/// just enough to count characters.
fn header(data: &str, name: &str) -> Option<String> {
    let head = data.split("\r\n\r\n").next().unwrap();
    let mut out: Option<String> = None;
    for l in head.split("\r\n") {
        if l.starts_with([' ', '\t']) {
            if let Some(o) = out.as_mut() {
                o.push_str(l);
            }
            continue;
        }
        if out.is_some() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case(name) {
                out = Some(v.trim().to_string());
            }
        }
    }
    out
}

#[tokio::test]
async fn mail_has_a_message_id_at_the_senders_domain_and_a_short_subject() {
    bounded(async {
        let smtp = FaultySmtp::start(SmtpScript::default()).await;
        let ch = channels(&format!(
            r#"
[[alert]]
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {}
tls = "none"
from = "dns-failover <alerts@example.com>"
to = ["oncall@example.com"]
"#,
            smtp.port
        ));
        notify::send_all(&ch, &alert(40), None).await;
        notify::send_all(&ch, &alert(1), None).await;
        let mails = smtp.mails();
        assert_eq!(mails.len(), 2);
        let ids: Vec<String> = mails
            .iter()
            .map(|m| header(&m.data, "Message-ID").expect("Message-ID header"))
            .collect();
        assert!(
            ids[0].starts_with('<') && ids[0].ends_with("@example.com>"),
            "{ids:?}"
        );
        assert_ne!(ids[0], ids[1]);
        let subject = header(&mails[0].data, "Subject").unwrap();
        assert!(
            subject.chars().count() <= 160,
            "{} chars: {subject}",
            subject.len()
        );
        assert!(subject.contains("more"), "{subject}");
    })
    .await
}

// ---------------------------------------------------------------------------
// Errors people can act on
// ---------------------------------------------------------------------------

#[tokio::test]
async fn errors_name_their_step_show_the_body_and_say_each_cause_once() {
    bounded(async {
        let silent = FaultySmtp::start(SmtpScript {
            silent: true,
            ..Default::default()
        })
        .await;
        let html =
            HttpServer::start(|_| Reply::Text(200, "<html>captive portal</html>".into())).await;
        let ch = channels(&format!(
            r#"
[[alert]]
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {}
tls = "none"
from = "alerts@example.com"
to = ["oncall@example.com"]
timeout = "300ms"
[[alert]]
type = "wecom"
webhook = "{}/send?key=k"
[[alert]]
type = "wecom"
name = "nobody"
webhook = "http://127.0.0.1:9/send?key=k"
"#,
            silent.port, html.base
        ));
        let d = notify::send_all(&ch, &alert(1), None).await;
        let e = d[0].error.as_deref().unwrap();
        assert!(
            e.contains("timed out after 300ms") && e.contains("SMTP greeting"),
            "{e}"
        );
        assert_eq!(d[0].attempts, 2, "nothing was sent: retried");
        let e = d[1].error.as_deref().unwrap();
        assert!(
            e.contains("reply without errcode: <html>captive portal"),
            "{e}"
        );
        let e = d[2].error.as_deref().unwrap();
        assert!(e.starts_with("transport: cannot connect"), "{e}");
        let words: Vec<&str> = e.split(": ").collect();
        for w in &words {
            assert_eq!(
                words.iter().filter(|x| x == &w).count(),
                1,
                "said twice: {e}"
            );
        }
    })
    .await
}

#[tokio::test]
async fn secrets_inside_service_error_texts_are_scrubbed_whole_or_base64() {
    use base64::Engine;
    bounded(async {
        let token = "tok-9f8e7d6c5b4a";
        let echo = HttpServer::start(move |r| {
            let auth = r.header("authorization").unwrap_or("").to_string();
            let bearer = auth.trim_start_matches("Bearer ").to_string();
            Reply::Text(
                401,
                format!(
                    "invalid token {bearer} ({})",
                    base64::engine::general_purpose::STANDARD.encode(&bearer)
                ),
            )
        })
        .await;
        let smtp = FaultySmtp::start(SmtpScript {
            auth_reply: Some("535 5.7.8 bad credentials {arg}".into()),
            ..Default::default()
        })
        .await;
        let ch = channels(&format!(
            r#"
[[alert]]
type = "webhook"
url = "{}/hook"
headers = {{ Authorization = "Bearer {token}" }}
[[alert]]
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {}
tls = "none"
username = "alerts@example.com"
password = "mail-pw-5a4b3c2d"
from = "alerts@example.com"
to = ["oncall@example.com"]
"#,
            echo.base, smtp.port
        ));
        let d = notify::send_all(&ch, &alert(1), None).await;
        let out = serde_json::to_string(&d).unwrap();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        for s in [
            token.to_string(),
            b64(token),
            "mail-pw-5a4b3c2d".to_string(),
            b64("\0alerts@example.com\0mail-pw-5a4b3c2d"),
        ] {
            assert!(!out.contains(s.trim_end_matches('=')), "{s} in {out}");
        }
        assert!(out.contains("HTTP 401") && out.contains("535"), "{out}");
        assert!(out.contains("waiting for the answer to AUTH"), "{out}");
    })
    .await
}
