//! The SMS channel against the fake Tencent Cloud API server (signature
//! checked on every request).
//!

mod support;

use std::sync::Arc;

use chrono::Utc;
use dns_failover::clock::SystemClock;
use dns_failover::decide::{Event, EventKind, Severity};
use dns_failover::notify::sms::{Sms, SmsConfig};
use dns_failover::notify::{send_all, Alert, AlertEvent, Channelled, Error, Notifier};
use support::fake_tencent::{FakeTencent, Fault, Key};
use support::*;

fn keys() -> Vec<Key> {
    vec![Key {
        id: TMP_SECRET_ID.into(),
        key: TMP_SECRET_KEY.into(),
        token: Some(TOKEN.into()),
    }]
}

fn config(fake: &FakeTencent, envs: &(String, String, String), numbers: &[&str]) -> SmsConfig {
    let text = format!(
        r#"
sdk_app_id = "1400006666"
sign_name = "腾讯云"
template_id = "1110"
phone_numbers = [{}]
endpoint = "{}"
template_params = ["{{name}}", "{{regions}}", "{{time}}"]
secret_id_env = "{}"
secret_key_env = "{}"
session_token_env = "{}"
"#,
        numbers
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", "),
        fake.endpoint(),
        envs.0,
        envs.1,
        envs.2
    );
    let cfg: SmsConfig = toml::from_str(&text).unwrap();
    cfg.validate().unwrap();
    cfg
}

fn alert() -> Alert {
    Alert {
        severity: Severity::Critical,
        title: "api: failover ap-shanghai".into(),
        drill: false,
        test: false,
        prober: "ap-hongkong".into(),
        at: Utc::now(),
        timezone: "Asia/Shanghai".into(),
        events: vec![AlertEvent {
            event: Event {
                kind: EventKind::Failover,
                severity: Severity::Critical,
                group: "api".into(),
                regions: vec!["ap-shanghai".into()],
                message: "down".into(),
            },
            record: "api.example.com CNAME [默认]".into(),
            evidence: vec![],
            changes: vec![],
            standing: None,
            late: None,
            servers: vec![],
        }],
    }
}

#[tokio::test]
async fn an_alert_is_sent_signed_with_region_and_token() {
    let fake = FakeTencent::start("example.com", keys(), Arc::new(SystemClock)).await;
    let envs = cred_env("sms_ok", TMP_SECRET_ID, TMP_SECRET_KEY, Some(TOKEN));
    let logs = LogCapture::default();
    let _g = logs.install();
    let sms = Sms::new(
        "oncall",
        config(&fake, &envs, &["+8613711112222", "+8613711113333"]),
        Arc::new(SystemClock),
        &|n| std::env::var(n).ok(),
    )
    .unwrap();
    assert_eq!(sms.channel(), "sms");
    sms.send(&alert()).await.unwrap();
    let call = &fake.calls()[0];
    assert_eq!(call.error, None);
    assert_eq!(call.action, "SendSms");
    assert_eq!(call.headers["x-tc-region"], "ap-guangzhou");
    assert_eq!(call.headers["x-tc-version"], "2021-01-11");
    assert_eq!(call.headers["x-tc-token"], TOKEN);
    assert!(call.headers["authorization"].contains("/sms/tc3_request"));
    let params: Vec<&str> = call.body["TemplateParamSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(params[0], "api");
    assert_eq!(
        params[1], "sh",
        "the region's short label, not a 6-character cut"
    );
    assert_eq!(params[2].len(), 5, "HH:MM");
    assert_eq!(call.body["SignName"], "腾讯云");
    // Capture by a scoped subscriber is best effort (see
    // the_binary_runs_and_shows_status_against_dnspod for the process-wide
    // check of the client's lines).
    assert_no_secrets("logs", &logs.text());
}

#[tokio::test]
async fn a_number_the_api_rejects_is_named_and_the_others_still_get_it() {
    let fake = FakeTencent::start("example.com", keys(), Arc::new(SystemClock)).await;
    fake.with(|s| {
        s.sms_rejects.insert(
            "+8613711113333".into(),
            (
                "LimitExceeded.PhoneNumberDailyLimit".into(),
                "单个手机号日下发短信条数超过设定的上限".into(),
            ),
        )
    });
    let envs = cred_env("sms_reject", TMP_SECRET_ID, TMP_SECRET_KEY, Some(TOKEN));
    let sms = Sms::new(
        "oncall",
        config(&fake, &envs, &["+8613711112222", "+8613711113333"]),
        Arc::new(SystemClock),
        &|n| std::env::var(n).ok(),
    )
    .unwrap();
    // Delivered to the accepted number; the refused one is a note, masked.
    let sent = sms.send(&alert()).await.unwrap();
    let m = sent.notes.join("\n");
    assert!(
        m.contains("1 of 2") && m.contains("LimitExceeded.PhoneNumberDailyLimit"),
        "{m}"
    );
    assert!(
        m.contains("+86137****3333") && !m.contains("+8613711113333"),
        "masked: {m}"
    );
    // Every number refused: the channel failed, with the codes.
    let sms = Sms::new(
        "oncall",
        config(&fake, &envs, &["+8613711113333"]),
        Arc::new(SystemClock),
        &|n| std::env::var(n).ok(),
    )
    .unwrap();
    match sms.send(&alert()).await.unwrap_err() {
        Error::Rejected(m) => assert!(m.contains("1 of 1"), "{m}"),
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn api_errors_and_bad_credentials_are_reported() {
    let fake = FakeTencent::start("example.com", keys(), Arc::new(SystemClock)).await;
    let envs = cred_env("sms_err", TMP_SECRET_ID, TMP_SECRET_KEY, Some(TOKEN));
    let sms = Sms::new(
        "oncall",
        config(&fake, &envs, &["+8613711112222"]),
        Arc::new(SystemClock),
        &|n| std::env::var(n).ok(),
    )
    .unwrap();
    fake.inject(
        None,
        Fault::Api(
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "模板未审批或内容不匹配。",
        ),
    );
    match sms.send(&alert()).await.unwrap_err() {
        Error::Rejected(m) => assert!(m.contains("TemplateIncorrectOrUnapproved"), "{m}"),
        e => panic!("{e:?}"),
    }
    // A retryable failure is retried inside the channel.
    fake.inject(None, Fault::Http(502));
    sms.send(&alert()).await.unwrap();

    let wrong_key = "wrong-key-must-never-be-logged";
    let envs = cred_env("sms_badkey", TMP_SECRET_ID, wrong_key, Some(TOKEN));
    let sms = Sms::new(
        "oncall",
        config(&fake, &envs, &["+8613711112222"]),
        Arc::new(SystemClock),
        &|n| std::env::var(n).ok(),
    )
    .unwrap();
    match sms.send(&alert()).await.unwrap_err() {
        Error::Rejected(m) => {
            assert!(m.contains("AuthFailure.SignatureFailure"), "{m}");
            assert_no_secrets("error", &m);
            assert!(!m.contains(wrong_key), "the wrong key is a secret too: {m}");
        }
        e => panic!("{e:?}"),
    }

    let envs = cred_env("sms_nocreds", TMP_SECRET_ID, TMP_SECRET_KEY, None);
    std::env::remove_var(&envs.0);
    let e = Sms::new(
        "oncall",
        config(&fake, &envs, &["+8613711112222"]),
        Arc::new(SystemClock),
        &|n| std::env::var(n).ok(),
    )
    .unwrap_err();
    assert!(e.to_string().contains(&envs.0), "{e}");
}

// ---------------------------------------------------------------------------
// Delivery rules (issues 11 and 16), through the channel as a run builds it
// ---------------------------------------------------------------------------

/// The SMS channel of a config with these extra `[[alert]]` keys, built as
/// a pass builds it (its `timeout` included).
fn built(fake: &FakeTencent, test: &str, numbers: &[&str], extra: &str) -> Vec<Channelled> {
    let envs = cred_env(test, TMP_SECRET_ID, TMP_SECRET_KEY, Some(TOKEN));
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
[[alert]]
type = "sms"
sdk_app_id = "1400006666"
sign_name = "腾讯云"
template_id = "1110"
phone_numbers = [{}]
endpoint = "{}"
template_params = ["{{name}}", "{{event}}", "{{regions}}"]
secret_id_env = "{}"
secret_key_env = "{}"
session_token_env = "{}"
{extra}
"#,
        numbers
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", "),
        fake.endpoint(),
        envs.0,
        envs.1,
        envs.2
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = dns_failover::Config::from_toml(&text, &dir.path().join("c.toml")).unwrap();
    dns_failover::notify::build(&cfg.alerts, Arc::new(SystemClock), &|n| {
        std::env::var(n).ok()
    })
    .unwrap()
}

/// SendSms requests the fake received, answered or not.
fn sends(fake: &FakeTencent) -> usize {
    fake.calls()
        .iter()
        .filter(|c| c.action == "SendSms")
        .count()
}

#[tokio::test]
async fn an_unanswered_sendsms_is_not_resent_and_the_channel_timeout_holds() {
    let fake = FakeTencent::start("example.com", keys(), Arc::new(SystemClock)).await;
    let ch = built(&fake, "sms_hang", &["+8613711112222"], "timeout = \"1s\"");
    fake.inject(Some("SendSms"), Fault::Hang);
    let t = std::time::Instant::now();
    let d = send_all(&ch, &alert(), None).await;
    let v = serde_json::to_value(&d[0]).unwrap();
    assert_eq!(v["delivery"], "unknown", "{v}");
    assert!(d[0].ok && d[0].attempts == 1, "{v}");
    assert_eq!(
        sends(&fake),
        1,
        "an SMS that may have gone out is not resent"
    );
    let took = t.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(900)
            && took < std::time::Duration::from_millis(2500),
        "the channel's 1s timeout: {took:?}"
    );
}

#[tokio::test]
async fn permanent_sms_answers_are_tried_once() {
    let fake = FakeTencent::start("example.com", keys(), Arc::new(SystemClock)).await;
    let ch = built(&fake, "sms_perm", &["+8613711112222"], "");
    for code in [
        "FailedOperation.SignatureIncorrectOrUnapproved",
        "AuthFailure.SecretIdNotFound",
    ] {
        let before = sends(&fake);
        fake.inject(Some("SendSms"), Fault::Api(code, "refused"));
        let d = send_all(&ch, &alert(), None).await;
        assert!(!d[0].ok && d[0].attempts == 1, "{:?}", d[0]);
        assert!(d[0].error.as_deref().unwrap().contains(code), "{:?}", d[0]);
        assert_eq!(sends(&fake), before + 1, "{code} tried once");
    }
    // A dropped connection delivered nothing: one more try, which succeeds.
    let before = sends(&fake);
    fake.inject(Some("SendSms"), Fault::Drop);
    let d = send_all(&ch, &alert(), None).await;
    assert!(d[0].ok, "{:?}", d[0]);
    assert_eq!(fake.with(|s| s.sms_sent.len()), 1);
    assert!(sends(&fake) >= before + 2);
}

#[tokio::test]
async fn numbers_that_accepted_the_sms_never_get_it_twice() {
    let fake = FakeTencent::start("example.com", keys(), Arc::new(SystemClock)).await;
    fake.with(|s| {
        s.sms_rejects.insert(
            "+8613711113333".into(),
            (
                "LimitExceeded.PhoneNumberThirtySecondLimit".into(),
                "30 秒内同一手机号".into(),
            ),
        )
    });
    let ch = built(
        &fake,
        "sms_partial",
        &["+8613711112222", "+8613711113333"],
        "",
    );
    let d = send_all(&ch, &alert(), None).await;
    let v = serde_json::to_value(&d[0]).unwrap();
    assert!(d[0].ok && v["delivery"] == "delivered", "{v}");
    assert!(
        v["notes"][0].as_str().unwrap().contains("+86137****3333"),
        "{v}"
    );
    assert_eq!(fake.with(|s| s.sms_sent.len()), 1, "sent once: {v}");
}

#[tokio::test]
async fn a_notify_test_sms_carries_real_text_and_regions_their_short_labels() {
    let fake = FakeTencent::start("example.com", keys(), Arc::new(SystemClock)).await;
    let ch = built(
        &fake,
        "sms_test",
        &["+8613711112222"],
        "region_labels = { \"ap-shanghai\" = \"SH\" }",
    );
    let test = Alert::test("ap-hongkong", "Asia/Shanghai", Utc::now());
    let d = send_all(&ch, &test, None).await;
    assert!(d[0].ok, "{:?}", d[0]);
    send_all(&ch, &alert(), None).await;
    let sent = fake.with(|s| s.sms_sent.clone());
    let params = |i: usize| -> Vec<String> {
        sent[i]["TemplateParamSet"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(params(0), ["test", "test", "test"]);
    assert_eq!(params(1), ["api", "failov", "SH"]);
}
