//! Unit tests of `sms.rs`: validation, placeholders, masking.

use super::config::*;
use super::*;
use crate::model::event::{Event, EventKind, Severity};
use crate::notify::AlertEvent;
use chrono::TimeZone;

fn cfg() -> SmsConfig {
    SmsConfig {
        sdk_app_id: "1400006666".into(),
        sign_name: "腾讯云".into(),
        template_id: "1110".into(),
        phone_numbers: vec!["+8613711112222".into()],
        region: default_region(),
        endpoint: None,
        template_params: default_params(),
        param_max_len: 6,
        region_labels: Default::default(),
        secret_id_env: default_id_env(),
        secret_key_env: default_key_env(),
        session_token_env: default_token_env(),
    }
}

fn alert() -> Alert {
    let ev = |group: &str, kind, regions: &[&str]| AlertEvent {
        event: Event {
            kind,
            severity: Severity::Critical,
            group: group.into(),
            regions: regions.iter().map(|r| r.to_string()).collect(),
            message: "m".into(),
        },
        record: "api.example.com CNAME [默认]".into(),
        evidence: vec![],
        changes: vec![],
        standing: None,
        late: None,
        servers: vec![],
    };
    Alert {
        severity: Severity::Critical,
        title: "t".into(),
        drill: false,
        test: false,
        prober: "ap-hongkong".into(),
        at: Utc.with_ymd_and_hms(2026, 11, 22, 3, 4, 5).unwrap(),
        timezone: "Asia/Shanghai".into(),
        events: vec![
            ev("api", EventKind::Failover, &["ap-shanghai"]),
            ev("www", EventKind::Failover, &["ap-shanghai", "ap-beijing"]),
        ],
    }
}
use chrono::Utc;

#[test]
fn a_good_config_validates_and_bad_keys_are_named() {
    assert_eq!(cfg().validate(), Ok(()));
    let bad = |f: fn(&mut SmsConfig)| {
        let mut c = cfg();
        f(&mut c);
        c.validate().unwrap_err().0
    };
    assert_eq!(
        bad(|c| c.phone_numbers = vec!["13711112222".into()]),
        "phone_numbers"
    );
    assert_eq!(bad(|c| c.phone_numbers = vec![]), "phone_numbers");
    assert_eq!(
        bad(|c| c.phone_numbers = vec!["+8613711112222".into(), "+14155550100".into()]),
        "phone_numbers"
    );
    assert_eq!(bad(|c| c.sign_name = String::new()), "sign_name");
    assert_eq!(bad(|c| c.sdk_app_id = "app".into()), "sdk_app_id");
    assert_eq!(
        bad(|c| c.template_params = vec!["{nope}".into()]),
        "template_params"
    );
    assert_eq!(bad(|c| c.param_max_len = 0), "param_max_len");
    assert_eq!(bad(|c| c.endpoint = Some("ftp://x".into())), "endpoint");
    assert_eq!(bad(|c| c.secret_key_env = "1BAD".into()), "secret_key_env");
    let mut intl = cfg();
    intl.phone_numbers = vec!["+14155550100".into()];
    intl.sign_name = String::new();
    assert_eq!(
        intl.validate(),
        Ok(()),
        "no signature needed outside mainland China"
    );
}

#[test]
fn placeholders_are_filled_and_cut() {
    let a = alert();
    let none = Default::default();
    assert_eq!(fill("{name}", &a, 20, &none), "api,www");
    assert_eq!(fill("{event}", &a, 20, &none), "failover");
    assert_eq!(fill("{regions}", &a, 40, &none), "sh,be", "short labels");
    assert_eq!(
        fill("{severity}@{prober}", &a, 40, &none),
        "critical@ap-hongkong"
    );
    assert_eq!(fill("{time}", &a, 6, &none), "11:04", "Beijing time");
    assert_eq!(fill("{regions}", &a, 6, &none), "sh,be");
    let labels = [("ap-beijing".to_string(), "BJ".to_string())].into();
    assert_eq!(fill("{regions}", &a, 6, &labels), "sh,BJ");
    assert_eq!(
        fill("宕机{name}", &a, 3, &none),
        "宕机a",
        "cut by characters"
    );
}

#[test]
fn numbers_are_masked() {
    assert_eq!(mask("+8613711112222"), "+86137****2222");
    assert_eq!(mask("+1234"), "****");
}

#[test]
fn default_labels_are_short_and_tell_regions_apart() {
    let r = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let none = Default::default();
    assert_eq!(
        short_labels(&r(&["ap-shanghai", "ap-shenzhen-fsi"]), &none),
        ["sh", "shf"]
    );
    assert_eq!(
        short_labels(&r(&["ap-shanghai", "ap-shenzhen"]), &none),
        ["sha", "she"]
    );
    assert_eq!(short_labels(&r(&["ap-guangzhou"]), &none), ["gu"]);
    let labels = [("ap-shanghai".to_string(), "sh".to_string())].into();
    assert_eq!(
        short_labels(&r(&["ap-shanghai", "ap-shenzhen"]), &labels),
        ["sh", "she"],
        "a configured label is never given to another region"
    );
}

#[test]
fn a_test_alert_fills_real_text() {
    let a = Alert::test("ap-hongkong", "Asia/Shanghai", chrono::Utc::now());
    let none = Default::default();
    for t in ["{name}", "{event}", "{regions}"] {
        assert_eq!(fill(t, &a, 6, &none), "test", "{t}");
    }
}
