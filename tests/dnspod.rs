//! The DNSPod provider and the Tencent Cloud client against a fake DNSPod
//! server on 127.0.0.1 that checks every request's TC3 signature.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use dns_failover::clock::{Clock, FixedClock, SystemClock};
use dns_failover::config::{Config, DnspodSettings};
use dns_failover::demo::Endpoint;
use dns_failover::dns::dnspod::DnspodProvider;
use dns_failover::dns::{self, apply_change, Change, ChangeOp, DnsProvider, RecordKey, RecordType};
use dns_failover::pipeline::{run_once, Action, Deps, RunOptions};
use dns_failover::report::ChangeStatus;
use serde_json::json;
use support::fake_tencent::{FakeTencent, Fault, Key};
use support::*;

const DOMAIN: &str = "example.com";
const LINE: &str = "默认";

/// The DNSPod actions the CAM policy in docs/deploy.md (step 3) allows.
fn documented_dnspod_actions() -> std::collections::BTreeSet<String> {
    let doc = include_str!("../docs/deploy.md");
    let step = &doc[doc.find("## 3. ").expect("docs/deploy.md has a step 3")..];
    let json = &step[step.find("```json\n").expect("step 3 has a JSON policy") + 8..];
    let json = &json[..json.find("```").expect("the JSON block ends")];
    let policy: serde_json::Value = serde_json::from_str(json).expect("the policy is valid JSON");
    let mut actions = std::collections::BTreeSet::new();
    for st in policy["statement"].as_array().expect("statement is a list") {
        for a in st["action"].as_array().expect("action is a list") {
            if let Some(name) = a.as_str().and_then(|a| a.strip_prefix("dnspod:")) {
                actions.insert(name.to_string());
            }
        }
    }
    actions
}

/// Every DNSPod action `fake` saw is one the documented policy allows.
fn assert_documented(fake: &FakeTencent) {
    let allowed = documented_dnspod_actions();
    for a in fake.actions() {
        assert!(
            allowed.contains(&a),
            "the provider called {a}, which the CAM policy in docs/deploy.md does not allow"
        );
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed_so_the_session_token_stays_home() {
    use dns_failover::config::Secret;
    use dns_failover::tencent::{Client, ClientOptions, Credentials};
    // Where a hostile or misconfigured endpoint sends the client.
    let elsewhere = HttpServer::start(|_| Reply::Json(200, json!({"Response": {}}))).await;
    let to = format!("{}/", elsewhere.base);
    let endpoint = HttpServer::start(move |_| Reply::Redirect(to.clone())).await;
    let creds = Credentials::new(
        "AKIDredirect",
        Secret::new("key-SECRET".to_string()),
        Some(Secret::new("token-SECRET".to_string())),
    );
    let opts = ClientOptions::new(
        endpoint.base.clone(),
        Duration::from_secs(2),
        Duration::from_secs(2),
    );
    let client = Client::new(
        &dns_failover::dns::dnspod::SERVICE,
        creds,
        opts,
        Arc::new(SystemClock),
    )
    .unwrap();
    let r = client
        .call_value("DescribeRecordList", &json!({"Domain": DOMAIN}))
        .await;
    assert!(r.is_err(), "a 307 is not an answer: {r:?}");
    assert_eq!(endpoint.requests().len(), 1, "asked once, not retried");
    assert!(
        elsewhere.requests().is_empty(),
        "the request (and its X-TC-Token) went to the redirect target"
    );
}

#[test]
fn the_documented_cam_policy_allows_exactly_the_actions_the_provider_knows() {
    let known: std::collections::BTreeSet<String> = dns_failover::dns::dnspod::SERVICE
        .rate_limits
        .iter()
        .map(|(a, _)| a.to_string())
        .collect();
    assert_eq!(documented_dnspod_actions(), known);
}

fn key() -> RecordKey {
    RecordKey {
        domain: DOMAIN.into(),
        subdomain: "api".into(),
        rtype: RecordType::Cname,
        line: LINE.into(),
    }
}

fn keys() -> Vec<Key> {
    vec![
        Key {
            id: SECRET_ID.into(),
            key: SECRET_KEY.into(),
            token: None,
        },
        Key {
            id: TMP_SECRET_ID.into(),
            key: TMP_SECRET_KEY.into(),
            token: Some(TOKEN.into()),
        },
    ]
}

/// The credentials' lookup: these tests set unique variables (`cred_env`).
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn settings(
    fake: &FakeTencent,
    envs: &(String, String, String),
    timeout_ms: u64,
    budget_ms: u64,
) -> DnspodSettings {
    DnspodSettings {
        endpoint: fake.endpoint(),
        secret_id_env: envs.0.clone(),
        secret_key_env: envs.1.clone(),
        session_token_env: envs.2.clone(),
        api_timeout: Duration::from_millis(timeout_ms),
        api_budget: Duration::from_millis(budget_ms),
    }
}

/// A fake server and a provider with permanent credentials, 300 ms per try,
/// 4 s per call.
async fn setup(test: &str) -> (FakeTencent, DnspodProvider) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let fake = FakeTencent::start(DOMAIN, keys(), clock.clone()).await;
    let envs = cred_env(test, SECRET_ID, SECRET_KEY, None);
    let p = DnspodProvider::from_settings(&settings(&fake, &envs, 300, 4000), clock, &env).unwrap();
    (fake, p)
}

fn add(fake: &FakeTencent, value: &str, enabled: bool) -> u64 {
    fake.with(|s| s.add_record("api", "CNAME", LINE, value, 60, enabled))
}

#[tokio::test]
async fn every_request_is_signed_with_the_documented_headers() {
    let (fake, p) = setup("headers").await;
    add(&fake, "a.example.net", true);
    let recs = p.list(&key()).await.unwrap();
    assert_eq!(recs.len(), 1);
    let call = &fake.calls()[0];
    assert_eq!(call.error, None);
    let h = &call.headers;
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(
        h["host"],
        fake.addr.to_string(),
        "signed host carries the port"
    );
    assert_eq!(h["x-tc-action"], "DescribeRecordList");
    assert_eq!(h["x-tc-version"], "2021-03-23");
    assert!(h["x-tc-timestamp"].parse::<i64>().is_ok());
    assert!(!h.contains_key("x-tc-region"), "DNSPod needs no region");
    assert!(
        !h.contains_key("x-tc-token"),
        "no token with permanent credentials"
    );
    assert!(h["authorization"].starts_with(&format!("TC3-HMAC-SHA256 Credential={SECRET_ID}/")));
    assert_eq!(call.body["Limit"], 3000);
    // The current spelling; `Subdomain` is the legacy one.
    assert_eq!(call.body["SubDomain"], "api");
    assert!(call.body.get("Subdomain").is_none(), "{}", call.body);
    assert_eq!(call.body["RecordType"], "CNAME");
    assert_eq!(call.body["RecordLine"], LINE);
}

#[tokio::test]
async fn lists_every_page_of_a_name_with_more_than_3000_records() {
    // 3000 records per answer: give a debug build time to encode and parse them.
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let fake = FakeTencent::start(DOMAIN, keys(), clock.clone()).await;
    let envs = cred_env("paging", SECRET_ID, SECRET_KEY, None);
    let p = DnspodProvider::from_settings(&settings(&fake, &envs, 10_000, 20_000), clock, &env)
        .unwrap();
    fake.with(|s| {
        for i in 0..3005 {
            s.add_record(
                "api",
                "CNAME",
                LINE,
                &format!("v{i}.example.net"),
                600,
                i % 2 == 0,
            );
        }
        // Same name on another line and another name: not ours.
        s.add_record("api", "CNAME", "境外", "other-line.example.net", 600, true);
        s.add_record("www", "CNAME", LINE, "other-name.example.net", 600, true);
    });
    let recs = p.list(&key()).await.unwrap();
    assert_eq!(recs.len(), 3005);
    assert!(recs
        .iter()
        .any(|r| r.value == "v3004.example.net" && r.enabled));
    assert!(recs
        .iter()
        .any(|r| r.value == "v3003.example.net" && !r.enabled));
    let calls = fake.calls();
    let offsets: Vec<_> = calls
        .iter()
        .map(|c| c.body["Offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, vec![0, 3000]);
}

#[tokio::test]
async fn an_empty_name_is_an_empty_list_not_an_error() {
    let (fake, p) = setup("empty").await;
    assert_eq!(p.list(&key()).await.unwrap(), vec![]);
    assert_eq!(
        fake.calls()[0].error.as_deref(),
        Some("ResourceNotFound.NoDataOfRecord")
    );
}

#[tokio::test]
async fn records_are_parsed_with_beijing_update_times_in_utc() {
    let (fake, p) = setup("parse").await;
    let id = add(&fake, "a.example.net", false);
    fake.with(|s| {
        let r = s.record_mut(id).unwrap();
        r.updated_on = "2021-03-28 11:27:09".into();
        r.weight = Some(7);
        r.remark = "hello".into();
    });
    let r = &p.list(&key()).await.unwrap()[0];
    assert_eq!(r.id, id.to_string());
    assert!(!r.enabled);
    assert_eq!(r.ttl, 60);
    assert_eq!(r.weight, Some(7));
    assert_eq!(r.remark, "hello");
    assert_eq!(
        r.updated_on.unwrap().to_rfc3339(),
        "2021-03-28T03:27:09+00:00"
    );
}

#[tokio::test]
async fn each_retryable_error_is_retried_then_succeeds() {
    let faults = [
        Fault::Api("RequestLimitExceeded", "请求的次数超过了频率限制。"),
        Fault::Api("RequestLimitExceeded.UinLimitExceeded", "超过频率限制。"),
        Fault::Api("InternalError", "内部错误。"),
        Fault::Api(
            "FailedOperation.FrequencyLimit",
            "您操作过于频繁，请稍后重试",
        ),
        Fault::Http(502),
        Fault::Http(503),
        Fault::Drop,
        Fault::Hang,
    ];
    for (i, fault) in faults.into_iter().enumerate() {
        let (fake, p) = setup(&format!("retry{i}")).await;
        add(&fake, "a.example.net", true);
        fake.inject(Some("DescribeRecordList"), fault.clone());
        let t = Instant::now();
        let recs = p
            .list(&key())
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(recs.len(), 1, "{fault:?}");
        let calls = fake.calls();
        assert_eq!(calls.len(), 2, "{fault:?}: one failure, one success");
        assert!(calls[0].error.is_some() && calls[1].error.is_none());
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "{fault:?} took {:?}",
            t.elapsed()
        );
    }
}

#[tokio::test]
async fn writes_are_retried_too() {
    let (fake, p) = setup("write_retry").await;
    let id = add(&fake, "a.example.net", true);
    let current = p.list(&key()).await.unwrap().remove(0);
    fake.inject(Some("ModifyRecord"), Fault::Drop);
    fake.inject(
        Some("ModifyRecord"),
        Fault::Api("InternalError", "内部错误。"),
    );
    p.set_status(&key(), &current, false, "dns-failover disabled")
        .await
        .unwrap();
    assert!(!fake.with(|s| s.record(id).unwrap().enabled));
    assert_eq!(fake.with(|s| s.calls_of("ModifyRecord").len()), 3);
}

#[tokio::test]
async fn retries_stop_when_the_budget_is_spent() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let fake = FakeTencent::start(DOMAIN, keys(), clock.clone()).await;
    let envs = cred_env("budget", SECRET_ID, SECRET_KEY, None);
    let p = DnspodProvider::from_settings(&settings(&fake, &envs, 300, 1500), clock, &env).unwrap();
    for _ in 0..100 {
        fake.inject(
            Some("DescribeRecordList"),
            Fault::Api("RequestLimitExceeded", "请求的次数超过了频率限制。"),
        );
    }
    let t = Instant::now();
    let e = p.list(&key()).await.unwrap_err();
    let took = t.elapsed();
    assert!(matches!(e, dns::Error::RateLimited(_)), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("RequestLimitExceeded") && text.contains("attempts"),
        "{text}"
    );
    assert!(
        took < Duration::from_millis(1700),
        "budget 1.5 s, took {took:?}"
    );
    let n = fake.calls().len();
    assert!((3..20).contains(&n), "{n} attempts");

    // Persistent 5xx: a transport error naming the status, within the budget.
    fake.with(|s| s.calls.clear());
    for _ in 0..100 {
        fake.inject(Some("CreateRecord"), Fault::Http(502));
    }
    let t = Instant::now();
    let rec = dns::NewRecord {
        value: "x.example.net".into(),
        ttl: 60,
        enabled: true,
        remark: String::new(),
    };
    let e = p.create(&key(), &rec).await.unwrap_err();
    assert!(
        matches!(&e, dns::Error::Transport(m) if m.contains("502")),
        "{e:?}"
    );
    assert!(t.elapsed() < Duration::from_millis(1700));
}

#[tokio::test]
async fn fatal_errors_fail_at_once_with_a_plain_message() {
    let cases = [
        ("AuthFailure.UnauthorizedOperation", "请求未授权。", "auth"),
        ("UnauthorizedOperation", "未授权操作。", "auth"),
        (
            "InvalidParameter.RecordValueInvalid",
            "记录的值不正确。",
            "api",
        ),
        (
            "InvalidParameterValue.DomainNotExists",
            "当前域名有误，请返回重新操作。",
            "api",
        ),
        (
            "FailedOperation.DomainIsLocked",
            "锁定域名不能进行此操作。",
            "api",
        ),
    ];
    for (i, (code, msg, kind)) in cases.into_iter().enumerate() {
        let (fake, p) = setup(&format!("fatal{i}")).await;
        fake.inject(None, Fault::Api(code, msg));
        let e = p.list(&key()).await.unwrap_err();
        match (kind, &e) {
            ("auth", dns::Error::Auth(m)) => {
                assert!(m.contains(code) && m.contains("RequestId"), "{m}")
            }
            (
                "api",
                dns::Error::Api {
                    code: c,
                    request_id,
                    ..
                },
            ) => {
                assert_eq!(c, code);
                assert!(request_id.as_deref().unwrap().starts_with("fake-"));
            }
            _ => panic!("{code}: {e:?}"),
        }
        assert_eq!(fake.calls().len(), 1, "{code} must not be retried");
    }
}

#[tokio::test]
async fn a_wrong_secret_key_is_refused_by_the_signature_check() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let fake = FakeTencent::start(DOMAIN, keys(), clock.clone()).await;
    let envs = cred_env("wrongkey", SECRET_ID, "not-the-right-key", None);
    let p = DnspodProvider::from_settings(&settings(&fake, &envs, 300, 4000), clock, &env).unwrap();
    let e = p.list(&key()).await.unwrap_err();
    let m = match e {
        dns::Error::Auth(m) => m,
        e => panic!("{e:?}"),
    };
    assert!(
        m.contains("AuthFailure.SignatureFailure") && m.contains("check the SecretKey"),
        "{m}"
    );
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn a_stale_clock_is_refused_and_the_message_says_to_check_the_clock() {
    // The server's clock is 10 minutes ahead of ours.
    let server_clock = Arc::new(FixedClock::new(Utc::now() + chrono::Duration::minutes(10)));
    let fake = FakeTencent::start(DOMAIN, keys(), server_clock).await;
    let envs = cred_env("stale", SECRET_ID, SECRET_KEY, None);
    let p = DnspodProvider::from_settings(
        &settings(&fake, &envs, 300, 4000),
        Arc::new(SystemClock),
        &env,
    )
    .unwrap();
    let e = p.list(&key()).await.unwrap_err();
    let m = match e {
        dns::Error::Auth(m) => m,
        e => panic!("{e:?}"),
    };
    assert!(
        m.contains("AuthFailure.SignatureExpire") && m.contains("check this machine's clock"),
        "{m}"
    );
    assert_eq!(fake.calls().len(), 1, "not retried");
}

#[tokio::test]
async fn temporary_credentials_send_their_token_and_fail_without_it() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let fake = FakeTencent::start(DOMAIN, keys(), clock.clone()).await;
    add(&fake, "a.example.net", true);
    let envs = cred_env("tmp_ok", TMP_SECRET_ID, TMP_SECRET_KEY, Some(TOKEN));
    let p = DnspodProvider::from_settings(&settings(&fake, &envs, 300, 4000), clock.clone(), &env)
        .unwrap();
    assert_eq!(p.list(&key()).await.unwrap().len(), 1);
    assert_eq!(fake.calls()[0].headers["x-tc-token"], TOKEN);

    let envs = cred_env("tmp_missing", TMP_SECRET_ID, TMP_SECRET_KEY, None);
    let p = DnspodProvider::from_settings(&settings(&fake, &envs, 300, 4000), clock, &env).unwrap();
    match p.list(&key()).await.unwrap_err() {
        dns::Error::Auth(m) => assert!(
            m.contains("AuthFailure.TokenFailure") && m.contains("session token"),
            "{m}"
        ),
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn missing_credentials_fail_before_any_call_naming_the_variable() {
    let fake = FakeTencent::start(DOMAIN, keys(), Arc::new(SystemClock)).await;
    let envs = cred_env("missing", SECRET_ID, SECRET_KEY, None);
    std::env::remove_var(&envs.1);
    let e = DnspodProvider::from_settings(
        &settings(&fake, &envs, 300, 4000),
        Arc::new(SystemClock),
        &env,
    )
    .unwrap_err();
    assert!(e.to_string().contains(&envs.1), "{e}");
    // Through the config and Deps, as the CLI does.
    let cfg = run_config(&fake, &envs, &[]);
    let err = Deps::with_clock(&cfg, Arc::new(SystemClock))
        .err()
        .expect("must fail");
    assert!(err.to_string().contains(&envs.1), "{err}");
    assert!(fake.calls().is_empty());
}

fn set_status_change(id: &str, value: &str, expect_enabled: bool, enabled: bool) -> Change {
    Change {
        group: "api".into(),
        key: key(),
        region: "ap-shanghai".into(),
        op: ChangeOp::SetStatus {
            record_id: id.into(),
            expect_value: value.into(),
            expect_enabled,
            expect_updated_on: None,
            enabled,
            remark: dns::remark("disabled", Utc::now(), "ap-shanghai down"),
        },
        reason: "test".into(),
    }
}

#[tokio::test]
async fn set_status_sets_status_and_remark_in_one_modify_record() {
    let (fake, p) = setup("status").await;
    let id = add(&fake, "a.example.net", true);
    add(&fake, "b.example.net", true);
    fake.with(|s| {
        let r = s.record_mut(id).unwrap();
        r.weight = Some(5);
        r.ttl = 120;
    });
    let applied = apply_change(
        &p,
        &set_status_change(&id.to_string(), "a.example.net", true, false),
    )
    .await
    .unwrap();
    let dns::Applied::Done { record } = applied else {
        panic!("{applied:?}")
    };
    assert!(!record.enabled);
    assert!(record.remark_is_ours(), "{}", record.remark);
    // Read back by id.
    assert_eq!(
        fake.actions(),
        ["DescribeRecordList", "ModifyRecord", "DescribeRecord"]
    );
    // Status and marker travel together; everything else is sent as read.
    let call = fake.with(|s| s.calls_of("ModifyRecord")[0].body.clone());
    assert_eq!(call["Status"], "DISABLE");
    assert!(call["Remark"]
        .as_str()
        .unwrap()
        .starts_with("dns-failover disabled"));
    assert_eq!(call["Value"], "a.example.net");
    assert_eq!(call["TTL"], 120);
    assert_eq!(call["Weight"], 5);
    assert_eq!(call["SubDomain"], "api");
    let r = fake.with(|s| s.record(id).unwrap().clone());
    assert_eq!((r.ttl, r.weight), (120, Some(5)));
}

/// The regression behind the single write: with ModifyRecordStatus then
/// ModifyRecordRemark, a refused (or never sent) second call left a record
/// disabled without the tool's marker, and the region never came back.
#[tokio::test]
async fn a_refused_status_write_leaves_the_record_as_it_was_never_half_done() {
    let (fake, p) = setup("remark_fail").await;
    let id = add(&fake, "a.example.net", true);
    add(&fake, "b.example.net", true);
    fake.inject(
        Some("ModifyRecord"),
        Fault::Api(
            "InvalidParameter.RemarkLengthExceeded",
            "备注长度超过限制。",
        ),
    );
    let applied = apply_change(
        &p,
        &set_status_change(&id.to_string(), "a.example.net", true, false),
    )
    .await;
    assert!(
        matches!(applied, Err(dns::Error::Api { .. })),
        "{applied:?}"
    );
    let r = fake.with(|s| s.record(id).unwrap().clone());
    assert!(r.enabled, "nothing changed");
    assert!(fake.with(|s| s.calls_of("ModifyRecordStatus").is_empty()));
    assert!(fake.with(|s| s.calls_of("ModifyRecordRemark").is_empty()));
}

#[tokio::test]
async fn a_record_changed_between_read_and_write_is_a_conflict_and_left_alone() {
    let (fake, p) = setup("conflict").await;
    let id = add(&fake, "a.example.net", true);
    let before = p.list(&key()).await.unwrap();
    assert!(before[0].enabled);
    // Someone (another region's prober, a person) disables it now.
    fake.with(|s| s.record_mut(id).unwrap().enabled = false);
    fake.with(|s| s.calls.clear());
    // Our plan, made from `before`, wanted to rewrite it.
    let change = Change {
        group: "api".into(),
        key: key(),
        region: "ap-shanghai".into(),
        op: ChangeOp::SetValue {
            record_id: id.to_string(),
            expect_value: "a.example.net".into(),
            expect_enabled: true,
            expect_updated_on: None,
            value: "b.example.net".into(),
            ttl: 60,
            enabled: true,
            remark: "dns-failover failover".into(),
        },
        reason: "test".into(),
    };
    let e = apply_change(&p, &change).await.unwrap_err();
    assert!(matches!(e, dns::Error::Conflict { .. }), "{e:?}");
    assert_eq!(fake.actions(), ["DescribeRecordList"], "nothing written");
    let r = fake.with(|s| s.record(id).unwrap().clone());
    assert_eq!((r.value.as_str(), r.enabled), ("a.example.net", false));
}

#[tokio::test]
async fn set_value_sends_the_intended_status_and_keeps_weight_and_remark() {
    let (fake, p) = setup("set_value").await;
    let id = add(&fake, "a.example.net", false);
    fake.with(|s| {
        let r = s.record_mut(id).unwrap();
        r.weight = Some(30);
        r.remark = "kept".into();
    });
    let current = p.list(&key()).await.unwrap().remove(0);
    p.set_value(&key(), &current, "b.example.net", 120, false, "")
        .await
        .unwrap();
    let r = fake.with(|s| s.record(id).unwrap().clone());
    assert_eq!(r.value, "b.example.net");
    assert_eq!(r.ttl, 120);
    assert!(
        !r.enabled,
        "ModifyRecord must not re-enable a paused record"
    );
    assert_eq!(r.weight, Some(30));
    assert_eq!(r.remark, "kept");
    let body = fake.with(|s| s.calls_of("ModifyRecord")[0].body.clone());
    assert_eq!(body["Status"], "DISABLE");
    assert_eq!(body["RecordId"], id);
    assert_documented(&fake);
}

#[tokio::test]
async fn a_ttl_the_plan_refuses_is_replaced_by_the_plans_minimum() {
    let (fake, p) = setup("ttl").await;
    fake.with(|s| s.min_ttl = 600);
    let id = add(&fake, "a.example.net", true);
    fake.with(|s| s.record_mut(id).unwrap().ttl = 600);
    let current = p.list(&key()).await.unwrap().remove(0);
    p.set_value(&key(), &current, "b.example.net", 60, true, "r")
        .await
        .unwrap();
    let r = fake.with(|s| s.record(id).unwrap().clone());
    assert_eq!((r.value.as_str(), r.ttl), ("b.example.net", 600));
    assert_eq!(
        fake.actions()[1..],
        [
            "ModifyRecord",
            "DescribeDomain",
            "DescribePackageDetail",
            "ModifyRecord"
        ]
    );
    // The minimum is remembered: a create needs no new lookup.
    let rec = dns::NewRecord {
        value: "c.example.net".into(),
        ttl: 60,
        enabled: true,
        remark: String::new(),
    };
    let new_id = p.create(&key(), &rec).await.unwrap();
    assert_eq!(
        fake.with(|s| s.record(new_id.parse().unwrap()).unwrap().ttl),
        600
    );
    assert_eq!(fake.with(|s| s.calls_of("DescribeDomain").len()), 1);
    assert_documented(&fake);
}

#[tokio::test]
async fn without_package_details_the_ttl_falls_back_to_600() {
    let (fake, p) = setup("ttl_fallback").await;
    fake.with(|s| {
        s.min_ttl = 300;
        s.package_detail_works = false;
    });
    let rec = dns::NewRecord {
        value: "c.example.net".into(),
        ttl: 60,
        enabled: true,
        remark: String::new(),
    };
    let id = p.create(&key(), &rec).await.unwrap();
    assert_eq!(
        fake.with(|s| s.record(id.parse().unwrap()).unwrap().ttl),
        600
    );
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_returns_the_existing_record() {
    let (fake, p) = setup("create_lost").await;
    let id = add(&fake, "c.example.net", true);
    let rec = dns::NewRecord {
        value: "c.example.net".into(),
        ttl: 60,
        enabled: true,
        remark: String::new(),
    };
    assert_eq!(p.create(&key(), &rec).await.unwrap(), id.to_string());
}

// ---------------------------------------------------------------------------
// Whole runs through `pipeline::run_once`
// ---------------------------------------------------------------------------

const REGIONS: [&str; 3] = ["ap-guangzhou", "ap-shanghai", "ap-beijing"];

fn value_of(region: &str) -> String {
    format!("service-{}.apigw.example.com", &region[3..])
}

/// An `active` group `api` with a target per region; ports of the probe
/// endpoints. Credentials through `envs`.
fn run_config(fake: &FakeTencent, envs: &(String, String, String), ports: &[u16]) -> Config {
    let s = config_text(fake, envs, ports);
    Config::from_toml(&s, std::path::Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn config_text(fake: &FakeTencent, envs: &(String, String, String), ports: &[u16]) -> String {
    let mut s = format!(
        r#"prober = "test"
[probe]
timeout = "1s"
attempts = 2
interval = "10ms"
fail_threshold = 2

[dns]
provider = "dnspod"
domain = "{DOMAIN}"
ttl = 60
endpoint = "{}"
secret_id_env = "{}"
secret_key_env = "{}"
session_token_env = "{}"
api_timeout = "500ms"
api_budget = "3s"

[[group]]
name = "api"
subdomain = "api"
type = "CNAME"
mode = "active"
failback = "auto"
failback_after = "5m"
"#,
        fake.endpoint(),
        envs.0,
        envs.1,
        envs.2
    );
    for (i, port) in ports.iter().enumerate() {
        s.push_str(&format!(
            "\n[[group.target]]\nregion = \"{}\"\nvalue = \"{}\"\nurl = \"http://127.0.0.1:{port}/health\"\npriority = {i}\n",
            REGIONS[i],
            value_of(REGIONS[i])
        ));
    }
    if ports.is_empty() {
        s.push_str("\n[[group.target]]\nregion = \"ap-guangzhou\"\nvalue = \"x.example.net\"\nurl = \"http://127.0.0.1:9/health\"\n");
    }
    s
}

struct World {
    fake: FakeTencent,
    clock: Arc<FixedClock>,
    endpoints: Vec<Endpoint>,
    cfg: Config,
    logs: LogCapture,
}

impl World {
    async fn new(test: &str) -> World {
        Self::with(test, |s| s).await
    }

    /// As `new`, with the config text edited by `edit`.
    async fn with(test: &str, edit: impl FnOnce(String) -> String) -> World {
        let clock = Arc::new(FixedClock::new(Utc::now()));
        let fake = FakeTencent::start(DOMAIN, keys(), clock.clone()).await;
        let mut endpoints = vec![];
        for _ in REGIONS {
            endpoints.push(Endpoint::start().await.unwrap());
        }
        let ports: Vec<u16> = endpoints.iter().map(|e| e.port).collect();
        // Temporary credentials: both the key and the token must stay out of logs.
        let envs = cred_env(test, TMP_SECRET_ID, TMP_SECRET_KEY, Some(TOKEN));
        let text = edit(config_text(&fake, &envs, &ports));
        let cfg = Config::from_toml(&text, std::path::Path::new("test.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        World {
            fake,
            clock,
            endpoints,
            cfg,
            logs: LogCapture::default(),
        }
    }

    /// One `run`, with Deps built afresh as each invocation does (credentials re-read).
    async fn run(&self) -> dns_failover::RunReport {
        self.pass(Action::Run).await
    }

    async fn pass(&self, action: Action) -> dns_failover::RunReport {
        let deps = Deps::with_clock(&self.cfg, self.clock.clone()).unwrap();
        let report = tokio::time::timeout(
            Duration::from_secs(30),
            run_once(&deps, &self.cfg, &RunOptions::new(action)),
        )
        .await
        .expect("a run ends");
        let json = serde_json::to_string(&report).unwrap();
        assert_no_secrets("report (JSON)", &json);
        assert_no_secrets("report (text)", &report.render_text());
        report
    }

    fn enabled(&self) -> Vec<(String, bool)> {
        let mut v: Vec<(String, bool)> = self.fake.with(|s| {
            s.records
                .iter()
                .map(|r| (r.value.clone(), r.enabled))
                .collect()
        });
        v.sort();
        v
    }

    fn assert_logs_clean(&self) {
        let logs = self.logs.text();
        // A scoped subscriber may miss events from callsites other test
        // threads registered first, so this checks that something was
        // captured; the_binary_runs_and_shows_status_against_dnspod checks
        // the client's own lines through the process-wide subscriber.
        assert!(!logs.is_empty(), "logs were captured");
        assert_no_secrets("logs", &logs);
    }
}

fn statuses(report: &dns_failover::RunReport) -> Vec<ChangeStatus> {
    report
        .groups
        .iter()
        .flat_map(|g| g.changes.iter().map(|c| c.status))
        .collect()
}

fn event_kinds(report: &dns_failover::RunReport) -> Vec<&'static str> {
    report
        .groups
        .iter()
        .flat_map(|g| g.events.iter().map(|e| e.kind.as_str()))
        .collect()
}

#[tokio::test]
async fn a_run_bootstraps_fails_over_and_fails_back_against_dnspod() {
    let w = World::new("run_cycle").await;
    let _guard = w.logs.install();

    // 1. Nothing there yet: the records are created.
    let r = w.run().await;
    assert!(r.ok, "{:?}", r.errors);
    assert_eq!(r.provider, "dnspod");
    assert_eq!(statuses(&r), vec![ChangeStatus::Applied; 3]);
    assert_eq!(w.enabled().iter().filter(|(_, e)| *e).count(), 3);

    // 2. Shanghai goes down: its record is disabled.
    w.endpoints[1].set_status(503);
    w.clock.advance(chrono::Duration::minutes(1));
    let r = w.run().await;
    assert!(r.ok, "{:?}", r.errors);
    assert!(
        event_kinds(&r).contains(&"failover"),
        "{:?}",
        event_kinds(&r)
    );
    assert_eq!(statuses(&r), vec![ChangeStatus::Applied]);
    let sh = value_of("ap-shanghai");
    assert!(w.enabled().contains(&(sh.clone(), false)));
    assert_eq!(w.enabled().iter().filter(|(_, e)| *e).count(), 2);

    // 3. It recovers, but has not been out for failback_after yet.
    w.endpoints[1].set_status(200);
    w.clock.advance(chrono::Duration::minutes(1));
    let r = w.run().await;
    assert!(r.ok && statuses(&r).is_empty(), "{:?}", statuses(&r));

    // 4. Six minutes later it is put back.
    w.clock.advance(chrono::Duration::minutes(6));
    let r = w.run().await;
    assert!(r.ok, "{:?}", r.errors);
    assert!(
        event_kinds(&r).contains(&"failback"),
        "{:?}",
        event_kinds(&r)
    );
    assert!(w.enabled().contains(&(sh, true)));
    assert_eq!(w.enabled().iter().filter(|(_, e)| *e).count(), 3);

    // Every request carried the token; none was refused (the first read of
    // the empty name answers NoDataOfRecord, which is the empty list).
    for c in w.fake.calls() {
        if c.error.as_deref() != Some("ResourceNotFound.NoDataOfRecord") {
            assert_eq!(c.error, None, "{} {}", c.action, c.body);
        }
        assert_eq!(c.headers["x-tc-token"], TOKEN);
    }
    assert_documented(&w.fake);
    w.assert_logs_clean();
}

#[tokio::test]
async fn an_apply_that_fails_half_way_is_reported_and_completed_by_the_next_run() {
    let w = World::new("half_way").await;
    let _guard = w.logs.install();
    let r = w.run().await;
    assert!(r.ok, "{:?}", r.errors);

    // Two of three regions go down; the second disable fails for good.
    w.endpoints[1].set_status(503);
    w.endpoints[2].set_status(503);
    w.clock.advance(chrono::Duration::minutes(1));
    w.fake.inject_nth(
        Some("ModifyRecord"),
        1,
        Fault::Api("FailedOperation.DomainIsLocked", "锁定域名不能进行此操作。"),
    );
    let r = w.run().await;
    assert!(!r.ok);
    assert_eq!(r.exit_code(), 1);
    assert_eq!(
        statuses(&r),
        vec![ChangeStatus::Applied, ChangeStatus::Failed]
    );
    let failed = &r.groups[0].changes[1];
    assert!(failed
        .error
        .as_deref()
        .unwrap()
        .contains("FailedOperation.DomainIsLocked"));
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains("FailedOperation.DomainIsLocked")),
        "{:?}",
        r.errors
    );
    assert!(
        event_kinds(&r).contains(&"apply_failed"),
        "{:?}",
        event_kinds(&r)
    );
    let text = r.render_text();
    assert!(
        text.contains("applied") && text.contains("failed"),
        "{text}"
    );
    assert_eq!(
        w.enabled().iter().filter(|(_, e)| *e).count(),
        2,
        "one of two applied"
    );

    // The next run completes it.
    w.clock.advance(chrono::Duration::minutes(1));
    let r = w.run().await;
    assert!(r.ok, "{:?}", r.errors);
    assert_eq!(r.exit_code(), 0);
    assert_eq!(statuses(&r), vec![ChangeStatus::Applied]);
    assert_eq!(w.enabled(), {
        let mut v = vec![
            (value_of("ap-guangzhou"), true),
            (value_of("ap-shanghai"), false),
            (value_of("ap-beijing"), false),
        ];
        v.sort();
        v
    });
    w.assert_logs_clean();
}

#[tokio::test]
async fn a_run_reports_a_conflict_and_does_not_overwrite() {
    let w = World::new("run_conflict").await;
    let _guard = w.logs.install();
    assert!(w.run().await.ok);
    w.endpoints[1].set_status(503);
    w.clock.advance(chrono::Duration::minutes(1));
    // A person rewrites Shanghai's record right after our read.
    let sh = value_of("ap-shanghai");
    let sh2 = sh.clone();
    w.fake.after_next_list(move |s| {
        let id = s.by_value(&sh2).unwrap().id;
        s.record_mut(id).unwrap().value = "manual.example.net".into();
    });
    let r = w.run().await;
    assert_eq!(statuses(&r), vec![ChangeStatus::Conflict]);
    assert!(
        event_kinds(&r).contains(&"conflict"),
        "{:?}",
        event_kinds(&r)
    );
    assert!(
        w.enabled()
            .contains(&("manual.example.net".to_string(), true)),
        "left as the person set it"
    );
    assert!(w.fake.with(|s| s.calls_of("ModifyRecord").is_empty()));
    w.assert_logs_clean();
}

#[tokio::test]
async fn a_refused_ttl_still_fails_over_and_says_so() {
    let w = World::new("run_ttl").await;
    w.fake.with(|s| s.min_ttl = 600);
    let _guard = w.logs.install();
    let r = w.run().await;
    assert!(r.ok, "{:?}", r.errors);
    assert_eq!(statuses(&r), vec![ChangeStatus::Applied; 3]);
    assert!(w.fake.with(|s| s.records.iter().all(|r| r.ttl == 600)));
    assert!(
        event_kinds(&r).contains(&"ttl_refused"),
        "{:?}",
        event_kinds(&r)
    );
    w.assert_logs_clean();
}

// ---------------------------------------------------------------------------
// Issue 11: DNSPod as it really is
// ---------------------------------------------------------------------------

/// `DescribePackageDetail` items carry `DomainGrade`, not `Grade`: the
/// parser failed, and every refused TTL was written as 600, also on a plan
/// whose minimum is 60.
#[tokio::test]
async fn a_refused_ttl_is_replaced_by_the_minimum_of_the_domains_own_plan() {
    let (fake, p) = setup("ttl_grade").await;
    fake.with(|s| {
        s.grade = "DP_PLUS".into();
        s.min_ttl = 60;
    });
    let rec = dns::NewRecord {
        value: "c.example.net".into(),
        ttl: 10,
        enabled: true,
        remark: String::new(),
    };
    let id = p.create(&key(), &rec).await.unwrap();
    assert_eq!(
        fake.with(|s| s.record(id.parse().unwrap()).unwrap().ttl),
        60
    );
    let limits = p.limits(DOMAIN).await.unwrap();
    assert_eq!(
        (limits.plan.as_deref(), limits.min_ttl, limits.record_roll),
        (Some("DP_Plus"), 60, Some(10))
    );
    assert_documented(&fake);
}

/// A new record can be missing from `DescribeRecordList` for up to 30 s
/// (CreateRecord's reference): the read-back after a create is by id.
#[tokio::test]
async fn a_created_record_is_read_back_by_id_while_the_list_does_not_show_it() {
    let (fake, p) = setup("index_delay").await;
    fake.with(|s| s.index_delay = Duration::from_secs(30));
    let change = Change {
        group: "api".into(),
        key: key(),
        region: "ap-guangzhou".into(),
        op: ChangeOp::Create {
            record: dns::NewRecord {
                value: "c.example.net".into(),
                ttl: 60,
                enabled: true,
                remark: "dns-failover created".into(),
            },
        },
        reason: "test".into(),
    };
    let applied = apply_change(&p, &change).await.unwrap();
    let dns::Applied::Done { record } = applied else {
        panic!("{applied:?}")
    };
    assert_eq!(
        (record.value.as_str(), record.enabled),
        ("c.example.net", true)
    );
    assert!(p.list(&key()).await.unwrap().is_empty(), "not listed yet");
    assert_eq!(
        fake.actions(),
        [
            "DescribeRecordList",
            "CreateRecord",
            "DescribeRecord",
            "DescribeRecordList"
        ]
    );
    assert_documented(&fake);
}

/// DNSPod lists a CNAME with its trailing dot: a create whose answer was
/// lost finds the existing record with the same comparison as elsewhere.
#[tokio::test]
async fn a_create_whose_answer_was_lost_finds_a_cname_listed_with_its_trailing_dot() {
    let (fake, p) = setup("create_lost_dot").await;
    let id = add(&fake, "c.example.net.", true);
    let rec = dns::NewRecord {
        value: "c.example.net".into(),
        ttl: 60,
        enabled: true,
        remark: String::new(),
    };
    assert_eq!(p.create(&key(), &rec).await.unwrap(), id.to_string());
}

/// Three regions in an `active` group on a plan that serves two enabled
/// records per host and line: creating the third disabled is not checked,
/// enabling it is refused, and the run says why and what to do.
#[tokio::test]
async fn enabling_past_the_round_robin_cap_is_a_roll_limit_event_with_the_fix() {
    let w = World::new("run_roll").await;
    w.fake.with(|s| s.record_roll = 2);
    w.endpoints[2].set_status(503);
    let r = w.run().await;
    assert!(r.ok, "{:?}", r.errors);
    assert_eq!(statuses(&r), vec![ChangeStatus::Applied; 3]);
    // Beijing recovers; after failback_after its enable is refused.
    w.endpoints[2].set_status(200);
    w.clock.advance(chrono::Duration::minutes(6));
    let r = w.run().await;
    assert!(!r.ok);
    assert_eq!(statuses(&r), vec![ChangeStatus::Failed]);
    let e = r.groups[0]
        .events
        .iter()
        .find(|e| e.kind.as_str() == "roll_limit")
        .unwrap_or_else(|| panic!("{:?}", event_kinds(&r)));
    assert_eq!(e.severity.as_str(), "critical");
    assert!(
        e.message
            .contains("plan DP_Free allows at most 2 enabled records per host and line")
            && e.message.contains("Fix: keep at most that many targets"),
        "{}",
        e.message
    );
    assert!(!event_kinds(&r).contains(&"apply_failed"));
    assert_eq!(w.enabled().iter().filter(|(_, e)| *e).count(), 2);
    assert_documented(&w.fake);
}

/// `plan` reads the plan's cap and warns before any write is refused.
#[tokio::test]
async fn plan_warns_when_an_active_group_may_need_more_enabled_records_than_the_cap() {
    let w = World::new("plan_roll").await;
    w.fake.with(|s| s.record_roll = 2);
    let r = w.pass(Action::Plan).await;
    let e = r.groups[0]
        .events
        .iter()
        .find(|e| e.kind.as_str() == "roll_limit")
        .unwrap_or_else(|| panic!("{:?}", event_kinds(&r)));
    assert_eq!(e.severity.as_str(), "warning");
    assert!(
        e.message
            .contains("plan DP_Free allows 2 enabled records per host and line")
            && e.message.contains("may need 3 (3 targets)"),
        "{}",
        e.message
    );
    // Within the cap: nothing to say.
    w.fake.with(|s| s.record_roll = 3);
    let r = w.pass(Action::Plan).await;
    assert!(!event_kinds(&r).contains(&"roll_limit"));
    assert!(w.fake.with(|s| s.calls_of("CreateRecord").is_empty()));
}

/// Records set up by hand at 600 s in a group of `ttl = 60`: lowered, all
/// three in one run although max_changes is 2 (no traffic moves), and
/// left alone after that.
#[tokio::test]
async fn records_above_the_groups_ttl_are_lowered_outside_max_changes() {
    let w = World::new("ttl_converge").await;
    w.fake.with(|s| {
        for r in REGIONS {
            s.add_record("api", "CNAME", LINE, &value_of(r), 600, true);
        }
    });
    let r = w.run().await;
    assert!(r.ok, "{:?}", r.errors);
    assert_eq!(statuses(&r), vec![ChangeStatus::Applied; 3]);
    assert!(r.groups[0].changes.iter().all(|c| matches!(
        c.change.op,
        ChangeOp::SetTtl {
            from_ttl: 600,
            ttl: 60,
            ..
        }
    )));
    assert!(w
        .fake
        .with(|s| s.records.iter().all(|r| r.ttl == 60 && r.enabled)));
    assert!(!event_kinds(&r).contains(&"max_changes_exceeded"));
    let r = w.run().await;
    assert!(r.ok && statuses(&r).is_empty(), "{:?}", statuses(&r));
    assert_documented(&w.fake);
}

/// The free plan's floor (600 s) above `ttl = 60`: records are written at
/// 600 at once (not refused at 60 first), lowered to 600 and no further,
/// and the floor is reported in the pass that writes at it, not on every run.
#[tokio::test]
async fn a_plan_floor_above_the_ttl_is_written_directly_and_reported_once() {
    let w = World::new("ttl_floor").await;
    w.fake.with(|s| {
        s.min_ttl = 600;
        s.add_record("api", "CNAME", LINE, &value_of(REGIONS[0]), 3600, true);
    });
    let r = w.run().await;
    assert!(r.ok, "{:?}", r.errors);
    assert_eq!(statuses(&r), vec![ChangeStatus::Applied; 3]);
    assert!(w.fake.with(|s| s.records.iter().all(|r| r.ttl == 600)));
    assert_eq!(
        event_kinds(&r)
            .iter()
            .filter(|k| **k == "ttl_refused")
            .count(),
        1,
        "{:?}",
        event_kinds(&r)
    );
    let refused: Vec<_> = w
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.error.as_deref() == Some("LimitExceeded.RecordTtlLimit"))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    let r = w.run().await;
    assert!(r.ok && statuses(&r).is_empty(), "{:?}", statuses(&r));
    assert!(!event_kinds(&r).contains(&"ttl_refused"));
    // `plan` says so whenever asked.
    let r = w.pass(Action::Plan).await;
    assert!(
        event_kinds(&r).contains(&"ttl_refused"),
        "{:?}",
        event_kinds(&r)
    );
}

/// A group whose every region is down (a standing condition) with a
/// webhook channel; records set up by hand on `line`.
async fn standing_world(test: &str, line: &'static str, hook: &HttpServer) -> World {
    let url = format!("{}/hook", hook.base);
    let w = World::with(test, move |s| {
        s.replace(
            "mode = \"active\"",
            &format!("line = \"{line}\"\nmode = \"active\""),
        ) + &format!("\n[[alert]]\ntype = \"webhook\"\nurl = \"{url}\"\n")
    })
    .await;
    w.fake.with(|s| {
        for r in REGIONS {
            s.add_record("api", "CNAME", line, &value_of(r), 600, true);
        }
    });
    for e in &w.endpoints {
        e.set_status(503);
    }
    w
}

/// The state record is written with the plan's minimum TTL at once: it was
/// refused at the group's 60 s and written again at 600 on every change.
#[tokio::test]
async fn the_state_record_is_written_at_the_plans_minimum_ttl_at_once() {
    let hook = HttpServer::start(|_| Reply::Json(200, json!({}))).await;
    let w = standing_world("state_ttl", LINE, &hook).await;
    w.fake.with(|s| s.min_ttl = 600);
    let r = w.run().await;
    assert!(
        event_kinds(&r).contains(&"all_down"),
        "{:?}",
        event_kinds(&r)
    );
    let creates = w.fake.with(|s| {
        s.calls_of("CreateRecord")
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
    });
    let [c] = &creates[..] else {
        panic!("{creates:?}")
    };
    assert_eq!((c.body["TTL"].clone(), c.error.clone()), (json!(600), None));
    assert_eq!(c.body["SubDomain"], "_dns-failover-cname.api");
    assert_eq!(c.body["Status"], "DISABLE");
    assert_eq!(hook.requests().len(), 1);
}

/// A group on another line than 默认: DNSPod refuses a host's first record
/// on such a line (`FailedOperation.MustAddDefaultLineFirst`), so the state
/// record never landed and every run paged again. It lives on 默认, with
/// the line in its host.
#[tokio::test]
async fn the_state_record_of_a_group_on_another_line_lives_on_the_default_line() {
    let hook = HttpServer::start(|_| Reply::Json(200, json!({}))).await;
    let w = standing_world("state_line", "境内", &hook).await;
    let r = w.run().await;
    assert!(
        event_kinds(&r).contains(&"all_down"),
        "{:?}",
        event_kinds(&r)
    );
    w.clock.advance(chrono::Duration::minutes(1));
    let r = w.run().await;
    assert!(event_kinds(&r).contains(&"all_down"));
    assert_eq!(hook.requests().len(), 1, "paged once, not on every run");
    let state: Vec<_> = w.fake.with(|s| {
        s.records
            .iter()
            .filter(|r| r.name.starts_with("_dns-failover"))
            .cloned()
            .collect()
    });
    let [st] = &state[..] else {
        panic!("{state:?}")
    };
    assert_eq!(st.line, "默认");
    assert!(
        st.name.starts_with("_dns-failover-cname-") && st.name.ends_with(".api"),
        "{}",
        st.name
    );
    assert!(!st.enabled && st.remark.starts_with("dns-failover alerted"));
    assert!(w
        .fake
        .calls()
        .iter()
        .all(|c| c.error.as_deref() != Some("FailedOperation.MustAddDefaultLineFirst")));
}

// ---------------------------------------------------------------------------
// The real binary
// ---------------------------------------------------------------------------

/// Run `dns-failover <args>` with `env`, off the runtime so the fake server
/// keeps answering; bounded by a timeout.
async fn cli(args: Vec<String>, env: Vec<(String, String)>) -> (i32, String, String) {
    let run = tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dns-failover"));
        cmd.args(&args).env("RUST_LOG", "debug");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("binary runs")
    });
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("binary finishes")
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_runs_and_shows_status_against_dnspod() {
    let fake = FakeTencent::start(DOMAIN, keys(), Arc::new(SystemClock)).await;
    let mut endpoints = vec![];
    for _ in REGIONS {
        endpoints.push(Endpoint::start().await.unwrap());
    }
    let ports: Vec<u16> = endpoints.iter().map(|e| e.port).collect();
    // Names only in the child's environment.
    let envs = (
        "DNSF_CLI_ID".to_string(),
        "DNSF_CLI_KEY".to_string(),
        "DNSF_CLI_TOKEN".to_string(),
    );
    let text = config_text(&fake, &envs, &ports);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dns-failover.toml");
    std::fs::write(&path, text).unwrap();
    let c = path.display().to_string();
    let creds = vec![
        (envs.0.clone(), TMP_SECRET_ID.to_string()),
        (envs.1.clone(), TMP_SECRET_KEY.to_string()),
        (envs.2.clone(), TOKEN.to_string()),
    ];

    // Missing credentials: a usage error (2) naming the variable, no call.
    let (code, _, err) = cli(vec!["-c".into(), c.clone(), "run".into()], vec![]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("DNSF_CLI_ID"), "{err}");
    assert!(fake.calls().is_empty());

    let (code, out, err) = cli(vec!["-c".into(), c.clone(), "run".into()], creds.clone()).await;
    assert_eq!(code, 0, "{out}\n{err}");
    // The process-wide subscriber at debug level shows the client's own
    // lines, where the credentials are handled; none of them holds a secret.
    assert!(err.contains("tencent_api"), "client logs expected: {err}");
    assert_no_secrets("stdout", &out);
    assert_no_secrets("stderr", &err);

    endpoints[1].set_status(503);
    let (code, out, err) = cli(
        vec!["-c".into(), c.clone(), "--json".into(), "run".into()],
        creds.clone(),
    )
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("\"failover\""), "{out}");
    assert!(err.contains("ModifyRecord"), "debug logs are on: {err}");
    assert_no_secrets("stdout", &out);
    assert_no_secrets("stderr", &err);

    let (code, out, err) = cli(vec!["-c".into(), c, "status".into()], creds).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let sh = value_of("ap-shanghai");
    let id = fake.with(|s| s.by_value(&sh).unwrap().id);
    let line = out
        .lines()
        .find(|l| l.contains(&format!("record {id}")))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains(&sh) && line.contains("DISABLE") && line.contains("ttl 60"),
        "{line}"
    );
    assert_no_secrets("stdout", &out);
    assert_no_secrets("stderr", &err);
}

// ---------------------------------------------------------------------------
// Never empty, never stranded: races with people and other probers
// ---------------------------------------------------------------------------

fn kinds_with_severity(report: &dns_failover::RunReport) -> Vec<(&'static str, &'static str)> {
    report
        .groups
        .iter()
        .flat_map(|g| {
            g.events
                .iter()
                .map(|e| (e.kind.as_str(), e.severity.as_str()))
        })
        .collect()
}

fn enabled_count(fake: &FakeTencent) -> usize {
    fake.with(|s| {
        s.records
            .iter()
            .filter(|r| r.name == "api" && r.enabled)
            .count()
    })
}

/// A person disables Shanghai and Beijing in the console just after our
/// re-read, while we disable Guangzhou (down): the name is left with
/// nothing. The check after the writes undoes our own disable at once.
#[tokio::test]
async fn a_person_emptying_the_name_during_our_disable_gets_ours_undone_and_a_page() {
    let w = World::new("race_person").await;
    let _guard = w.logs.install();
    assert!(w.run().await.ok);
    w.endpoints[0].set_status(503);
    w.clock.advance(chrono::Duration::minutes(1));
    w.fake.before_next("ModifyRecord", |s| {
        let now = s.beijing_now();
        for r in s
            .records
            .iter_mut()
            .filter(|r| r.value == value_of("ap-shanghai") || r.value == value_of("ap-beijing"))
        {
            r.enabled = false;
            r.remark = "paused by alice".into();
            r.updated_on = now.clone();
        }
    });
    let r = w.run().await;
    assert!(
        kinds_with_severity(&r).contains(&("empty_name", "critical")),
        "{}",
        r.render_text()
    );
    assert_eq!(enabled_count(&w.fake), 1, "{:?}", w.enabled());
    assert!(w.enabled().contains(&(value_of("ap-guangzhou"), true)));
    // Reported as two writes: the disable, then putting it back.
    assert_eq!(
        statuses(&r),
        vec![ChangeStatus::Applied, ChangeStatus::Applied]
    );
    w.assert_logs_clean();
}

/// Three probers took out one region each at the same moment, so every
/// record is disabled by the tool, a minute ago, and every region is
/// healthy. `failback_after` (5m) must not keep the name empty.
#[tokio::test]
async fn an_empty_name_comes_back_on_the_next_run_whatever_failback_after_says() {
    let w = World::new("empty_next_run").await;
    let _guard = w.logs.install();
    assert!(w.run().await.ok);
    w.clock.advance(chrono::Duration::minutes(1));
    let when = w.clock.now() - chrono::Duration::seconds(30);
    w.fake.with(|s| {
        for r in s.records.iter_mut().filter(|r| r.name == "api") {
            r.enabled = false;
            r.remark = dns::remark("disabled", when, "racing prober");
        }
    });
    let r = w.run().await;
    assert!(r.ok, "{:?}", r.errors);
    assert!(
        kinds_with_severity(&r).contains(&("empty_name", "critical")),
        "{}",
        r.render_text()
    );
    assert!(w.enabled().contains(&(value_of("ap-guangzhou"), true)));
    assert_eq!(enabled_count(&w.fake), 1);
}

/// A person renumbers Guangzhou's record while our disable is in flight:
/// the read-back shows a disabled record with a value we had no opinion on.
/// Its status is put back, and the run reports a conflict.
#[tokio::test]
async fn a_record_renumbered_during_our_disable_gets_its_status_put_back() {
    let w = World::new("renumber").await;
    let _guard = w.logs.install();
    assert!(w.run().await.ok);
    w.endpoints[0].set_status(503);
    w.clock.advance(chrono::Duration::minutes(1));
    let gz = value_of("ap-guangzhou");
    w.fake.after_next("ModifyRecord", move |s| {
        let now = s.beijing_now();
        let id = s.by_value(&gz).unwrap().id;
        let r = s.record_mut(id).unwrap();
        r.value = "new-gz.example.net".into();
        r.updated_on = now;
    });
    let r = w.run().await;
    assert_eq!(statuses(&r), vec![ChangeStatus::Conflict]);
    let err = r.groups[0].changes[0].error.clone().unwrap();
    assert!(err.contains("put back to enabled"), "{err}");
    assert!(
        w.enabled()
            .contains(&("new-gz.example.net".to_string(), true)),
        "{:?}",
        w.enabled()
    );
    assert!(event_kinds(&r).contains(&"conflict"));
}

/// DNSPod has no conditional write, so the re-read compares the update
/// time too: an edit since the plan's read (here only the remark, a person
/// marking the record) is a conflict, and nothing is written.
#[tokio::test]
async fn an_edit_since_our_read_is_a_conflict_even_when_value_and_status_match() {
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let fake = FakeTencent::start(DOMAIN, keys(), clock.clone()).await;
    let envs = cred_env("edit_since_read", SECRET_ID, SECRET_KEY, None);
    let p = DnspodProvider::from_settings(&settings(&fake, &envs, 300, 4000), clock.clone(), &env)
        .unwrap();
    let id = add(&fake, "a.example.net", true);
    add(&fake, "b.example.net", true);
    let read = p.list(&key()).await.unwrap();
    let ours = read
        .iter()
        .find(|r| r.id == id.to_string())
        .unwrap()
        .clone();
    clock.advance(chrono::Duration::seconds(2));
    fake.with(|s| {
        let now = s.beijing_now();
        let r = s.record_mut(id).unwrap();
        r.remark = "do not touch: migrating".into();
        r.updated_on = now;
    });
    fake.with(|s| s.calls.clear());
    let mut change = set_status_change(&id.to_string(), "a.example.net", true, false);
    if let ChangeOp::SetStatus {
        expect_updated_on, ..
    } = &mut change.op
    {
        *expect_updated_on = ours.updated_on;
    }
    let e = apply_change(&p, &change).await.unwrap_err();
    assert!(
        matches!(&e, dns::Error::Conflict { detail, .. } if detail.contains("since our read")),
        "{e}"
    );
    assert_eq!(fake.actions(), ["DescribeRecordList"], "nothing written");
}

/// Another prober disabled the only other record after our plan was made:
/// our disable would leave the name empty, so the re-read refuses it.
#[tokio::test]
async fn a_disable_that_would_empty_the_name_is_refused_on_the_re_read() {
    let (fake, p) = setup("would_empty").await;
    let a = add(&fake, "a.example.net", true);
    let b = add(&fake, "b.example.net", true);
    fake.with(|s| s.record_mut(b).unwrap().enabled = false);
    fake.with(|s| s.calls.clear());
    let e = apply_change(
        &p,
        &set_status_change(&a.to_string(), "a.example.net", true, false),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, dns::Error::Conflict { detail, .. } if detail.contains("no enabled record")),
        "{e}"
    );
    assert_eq!(fake.actions(), ["DescribeRecordList"], "nothing written");
    assert!(fake.with(|s| s.record(a).unwrap().enabled));
}

/// Three probers, three processes, one zone on the fake DNSPod: each sees a
/// different region down and they run at the same moment. Before the fix
/// every trial ended with no enabled record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_prober_processes_on_dnspod_never_leave_the_name_empty() {
    let fake = FakeTencent::start(DOMAIN, keys(), Arc::new(SystemClock)).await;
    let up = Endpoint::start().await.unwrap();
    let down = Endpoint::start().await.unwrap();
    down.set_status(503);
    let envs = (
        "DNSF_RACE_ID".to_string(),
        "DNSF_RACE_KEY".to_string(),
        "DNSF_RACE_TOKEN".to_string(),
    );
    let creds = vec![
        (envs.0.clone(), SECRET_ID.to_string()),
        (envs.1.clone(), SECRET_KEY.to_string()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let configs: Vec<String> = (0..3)
        .map(|i| {
            let ports: Vec<u16> = (0..3)
                .map(|j| if i == j { down.port } else { up.port })
                .collect();
            let path = dir.path().join(format!("prober-{i}.toml"));
            std::fs::write(&path, config_text(&fake, &envs, &ports)).unwrap();
            path.display().to_string()
        })
        .collect();
    for trial in 0..10 {
        fake.with(|s| {
            s.records.clear();
            for r in REGIONS {
                s.add_record("api", "CNAME", LINE, &value_of(r), 60, true);
            }
        });
        let runs = configs.iter().map(|c| {
            cli(
                vec!["-c".into(), c.clone(), "--json".into(), "run".into()],
                creds.clone(),
            )
        });
        let results = futures_util::future::join_all(runs).await;
        let n = enabled_count(&fake);
        assert!(
            n >= 1,
            "trial {trial}: the name was left empty: {:?}\n{results:?}",
            fake.with(|s| s.records.clone())
        );
        for (code, out, err) in &results {
            assert!(*code == 0 || *code == 1, "{out}\n{err}");
            assert_no_secrets("stdout", out);
            assert_no_secrets("stderr", err);
        }
    }
}

/// `[dns]` with `keys` (after `provider` and `domain`), as one test file.
fn dns_config(keys: &str) -> Result<Config, dns_failover::config::ConfigError> {
    let text = format!(
        "prober = \"p\"\n[dns]\n{keys}\n\n[[group]]\nname = \"api\"\nsubdomain = \"api\"\ntype = \"CNAME\"\n\n[[group.target]]\nregion = \"gz\"\nvalue = \"gz.example.com\"\ntcp = \"gz.example.com:80\"\n"
    );
    Config::from_toml(&text, std::path::Path::new("t.toml"))
}

#[test]
fn the_provider_registry_keeps_the_messages_and_lines_of_the_dns_keys() {
    // Issue 9 moved the provider keys out of config; what people read of
    // them did not change: `(keys, line, key, message)`.
    let cases = [
        (
            "provider = \"file\"\ndomain = \"example.com\"\npath = \"z.json\"\ncolour = 1",
            6,
            "dns.colour",
            "unknown field `colour`, expected one of `provider`, `domain`, `ttl`, `verify`, `verify_servers`, `verify_within`, `path`, `endpoint`, `secret_id_env`, `secret_key_env`, `session_token_env`, `api_timeout`, `api_budget`, `access_key_id_env`, `access_key_secret_env`, `security_token_env`, `server`, `zone`, `tsig_key_name`, `tsig_secret`, `tsig_algorithm`, `timeout`",
        ),
        (
            "provider = \"file\"\ndomain = \"example.com\"\npath = \"z.json\"\nendpoint = \"http://127.0.0.1:1\"",
            6,
            "dns.endpoint",
            "only used by provider = \"dnspod\" or \"alidns\"; remove it for provider = \"file\"",
        ),
        (
            "provider = \"dnspod\"\ndomain = \"example.com\"\npath = \"z.json\"",
            5,
            "dns.path",
            "only used by provider = \"file\"",
        ),
        (
            "provider = \"file\"\ndomain = \"example.com\"\npath = \"z.json\"\napi_timeout = 5",
            6,
            "dns.api_timeout",
            "invalid type: integer `5`, expected a duration such as \"2s\", \"500ms\" or \"5m\"",
        ),
        (
            "provider = \"route53\"\ndomain = \"example.com\"",
            3,
            "dns.provider",
            "unknown provider \"route53\"; expected \"file\", \"dnspod\", \"alidns\" or \"rfc2136\"",
        ),
        (
            "provider = \"file\"\ndomain = \"example.com\"",
            3,
            "dns.provider",
            "provider = \"file\" needs `path`, the zone file (JSON)",
        ),
        (
            "provider = \"dnspod\"\ndomain = \"example.com\"\nsecret_key_env = \"1X\"",
            5,
            "dns.secret_key_env",
            "\"1X\" is not an environment variable name",
        ),
        (
            "provider = \"dnspod\"\ndomain = \"example.com\"\napi_timeout = \"10s\"\napi_budget = \"5s\"",
            6,
            "dns.api_budget",
            "api_timeout must be > 0 and api_budget at least api_timeout",
        ),
    ];
    for (keys, line, key, message) in cases {
        let e = dns_config(keys).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (Some(line), key), "{e}");
        assert_eq!(e.message, message, "{e}");
    }
    let c = dns_config("provider = \"dnspod\"\ndomain = \"example.com\"").unwrap();
    let dns_failover::config::ProviderSettings::Dnspod(s) = &c.dns.provider else {
        panic!("{:?}", c.dns.provider)
    };
    assert_eq!(s.endpoint, "https://dnspod.tencentcloudapi.com");
    assert_eq!(s.secret_id_env, "TENCENTCLOUD_SECRETID");
    assert_eq!(
        (s.api_timeout, s.api_budget),
        (Duration::from_secs(5), Duration::from_secs(20))
    );
    assert_eq!(c.dns.provider.name(), "dnspod");
}

#[test]
fn the_provider_reads_its_credentials_through_the_lookup_it_is_given() {
    // No environment variable: a map stands in for config's settings.
    let s = DnspodSettings {
        endpoint: "http://127.0.0.1:9".into(),
        secret_id_env: "MAP_ID".into(),
        secret_key_env: "MAP_KEY".into(),
        session_token_env: "MAP_TOKEN".into(),
        api_timeout: Duration::from_secs(1),
        api_budget: Duration::from_secs(1),
    };
    let map = std::collections::HashMap::from([("MAP_ID", "AKIDmap"), ("MAP_KEY", "k")]);
    let lookup = |n: &str| map.get(n).map(|v| v.to_string());
    DnspodProvider::from_settings(&s, Arc::new(SystemClock), &lookup).unwrap();
    let only_id = |n: &str| (n == "MAP_ID").then(|| "AKIDmap".to_string());
    let e = DnspodProvider::from_settings(&s, Arc::new(SystemClock), &only_id).unwrap_err();
    assert!(matches!(e, dns::BuildError::Credentials(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "Tencent Cloud credentials: environment variable MAP_KEY (the SecretKey) is not set or empty"
    );
}

/// A pass reads every name it needs (each group's, its votes, the pause
/// records) in one `DescribeRecordList` of the whole domain, so that many
/// groups and probers watching every few seconds stay under the API's
/// 100 calls a second; a domain with more pages than names is read name by
/// name instead.
#[tokio::test]
async fn a_steady_pass_reads_the_whole_domain_in_one_call() {
    let w = World::with("readonce", |s| {
        let mut s = s.replace(
            "[dns]",
            "[consensus]\nprobers = [\"test\"]\nquorum = 1\n\n[dns]",
        );
        // Three more groups on the same endpoints.
        let group = s[s.find("[[group]]").unwrap()..].to_string();
        for sub in ["www", "m", "cdn"] {
            s.push_str(
                &group
                    .replace("name = \"api\"", &format!("name = \"{sub}\""))
                    .replace("subdomain = \"api\"", &format!("subdomain = \"{sub}\"")),
            );
        }
        s
    })
    .await;
    // The first runs create the records and the votes.
    w.run().await;
    w.run().await;
    w.fake.with(|s| s.calls.clear());
    let r = w.run().await;
    assert!(r.ok, "{:?}", r.errors);
    assert_eq!(r.groups.len(), 4);
    assert!(r.groups.iter().all(|g| g.consensus.is_some()));
    let lists: Vec<serde_json::Value> = w.fake.with(|s| {
        s.calls_of("DescribeRecordList")
            .iter()
            .map(|c| c.body.clone())
            .collect()
    });
    assert_eq!(lists.len(), 1, "{lists:#?}");
    assert!(lists[0].get("SubDomain").is_none(), "{}", lists[0]);
    // Every group saw its own records, and its votes were counted.
    for g in &r.groups {
        assert_eq!(g.records.as_ref().map(Vec::len), Some(3), "{}", g.name);
        let c = g.consensus.as_ref().unwrap();
        assert!(c.votes.iter().any(|v| v.counted), "{}: {c:?}", g.name);
    }

    // A larger domain is paged: 9,000 more records, 4 pages of 3,000.
    let more = |n: usize| {
        w.fake.with(|s| {
            let base = s.records.len();
            for i in 0..n {
                s.add_record(
                    &format!("h{}", base + i),
                    "A",
                    "默认",
                    "192.0.2.9",
                    600,
                    true,
                );
            }
            s.calls.clear();
        })
    };
    more(9000);
    let r = w.run().await;
    assert!(r.ok, "{:?}", r.errors);
    let offsets: Vec<u64> = w.fake.with(|s| {
        s.calls_of("DescribeRecordList")
            .iter()
            .map(|c| c.body["Offset"].as_u64().unwrap())
            .collect()
    });
    assert_eq!(offsets, vec![0, 3000, 6000, 9000]);
    assert!(r
        .groups
        .iter()
        .all(|g| g.records.as_ref().map(Vec::len) == Some(3)));
    // More pages than names (4 groups, 4 vote names, the pauses: 9): one
    // read per name after the first page.
    more(21000);
    let r = w.run().await;
    assert!(r.ok, "{:?}", r.errors);
    let lists = w.fake.with(|s| s.calls_of("DescribeRecordList").len());
    assert_eq!(lists, 1 + 4 + 4 + 1);
    assert!(r
        .groups
        .iter()
        .all(|g| g.records.as_ref().map(Vec::len) == Some(3)));
    assert!(r.groups.iter().all(|g| g
        .consensus
        .as_ref()
        .is_some_and(|c| c.votes.iter().any(|v| v.counted))));
}
