//! The SMS channel against the fake Tencent Cloud API server (signature
//! checked on every request).
//!

mod support;

use std::sync::Arc;

use chrono::Utc;
use dns_failover::clock::SystemClock;
use dns_failover::decide::{Event, EventKind, Severity};
use dns_failover::notify::sms::{Sms, SmsConfig};
use dns_failover::notify::{Alert, AlertEvent, Error, Notifier};
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
