//! The Alibaba Cloud DNS provider against a fake Alidns on 127.0.0.1
//! (tests/support/alidns_fake.rs) that verifies every request's
//! ACS3-HMAC-SHA256 signature from the raw HTTP request, with its own code
//! pinned to the official SDK's vectors (tests/alidns_models.rs).

#[path = "support/alidns_fake.rs"]
mod alidns_fake;
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alidns_fake::{AliFault, AliKey, FakeAlidns};
use chrono::Utc;
use dns_failover::clock::{Clock, FixedClock, SystemClock};
use dns_failover::config::{Config, Secret};
use dns_failover::dns::alidns::{
    AlidnsProvider, AlidnsSettings, Client, ClientOptions, Credentials,
};
use dns_failover::dns::{
    self, apply_change, Applied, Change, ChangeOp, DnsProvider, NewRecord, RecordKey, RecordType,
};
use dns_failover::pipeline::{run_once, Action, Deps, RunOptions};
use dns_failover::report::ChangeStatus;
use support::*;

const DOMAIN: &str = "example.com";
const ID: &str = "LTAI5tFAKEaccessKeyIdForTests";
const SECRET: &str = "fakeAliSECRET-must-never-be-logged-1";
const STS_ID: &str = "STS.NTfakeStsAccessKeyId000001";
const STS_SECRET: &str = "fakeStsSECRET-must-never-be-logged-2";
const STS_TOKEN: &str = "CAISfakeStsTOKEN+must/never=be-logged";

fn canaries(text: &str) {
    for s in [SECRET, STS_SECRET, STS_TOKEN, "fakeStsTOKEN"] {
        assert!(!text.contains(s), "a secret ({s}) leaked: {text}");
    }
}

fn keys() -> Vec<AliKey> {
    vec![
        AliKey {
            id: ID.into(),
            secret: SECRET.into(),
            token: None,
        },
        AliKey {
            id: STS_ID.into(),
            secret: STS_SECRET.into(),
            token: Some(STS_TOKEN.into()),
        },
    ]
}

fn key(rtype: RecordType) -> RecordKey {
    RecordKey {
        domain: DOMAIN.into(),
        subdomain: "api".into(),
        rtype,
        line: "default".into(),
    }
}

fn provider_with(fake: &FakeAlidns, creds: Credentials, budget_ms: u64) -> AlidnsProvider {
    let mut opts = ClientOptions::new(
        fake.base.clone(),
        Duration::from_millis(500),
        Duration::from_millis(budget_ms),
    );
    opts.backoff_base = Duration::from_millis(5);
    opts.backoff_max = Duration::from_millis(20);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    AlidnsProvider::new(Client::new(creds, opts, clock).unwrap())
}

async fn setup() -> (FakeAlidns, AlidnsProvider) {
    let fake = FakeAlidns::start(DOMAIN, keys(), Arc::new(SystemClock)).await;
    let p = provider_with(&fake, Credentials::new(ID, Secret::new(SECRET), None), 3000);
    (fake, p)
}

fn add(fake: &FakeAlidns, value: &str, enabled: bool, remark: &str) -> String {
    fake.with(|s| s.add_record("api", "A", "default", value, 600, enabled, remark))
}

fn status_change(id: &str, value: &str, from: bool, to: bool, remark: &str) -> Change {
    Change {
        group: "api".into(),
        key: key(RecordType::A),
        region: "ap-shanghai".into(),
        op: ChangeOp::SetStatus {
            record_id: id.into(),
            expect_value: value.into(),
            expect_enabled: from,
            expect_updated_on: None,
            enabled: to,
            remark: remark.into(),
        },
        reason: "test".into(),
    }
}

const MARK: &str = "dns-failover disabled 2026-01-15T08:30:00Z ap-shanghai down";

#[tokio::test]
async fn every_request_is_signed_and_shaped_as_the_sdk_sends_it() {
    let (fake, p) = setup().await;
    add(&fake, "192.0.2.1", true, "");
    let got = p.list(&key(RecordType::A)).await.unwrap();
    assert_eq!(got.len(), 1);
    let c = &fake.calls()[0];
    assert_eq!(
        (c.status, c.action.as_str()),
        (200, "DescribeSubDomainRecords")
    );
    assert_eq!(c.param("SubDomain"), Some("api.example.com"));
    assert_eq!(c.param("DomainName"), Some(DOMAIN));
    assert_eq!(c.param("Type"), Some("A"));
    assert_eq!(c.param("Line"), Some("default"));
    assert_eq!(c.param("PageSize"), Some("100"));
    let h: HashMap<&str, &str> = c
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(h["x-acs-version"], "2015-01-09");
    assert_eq!(h["x-acs-signature-nonce"].len(), 32);
    assert!(h["authorization"].starts_with(&format!(
        "ACS3-HMAC-SHA256 Credential={ID},SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature="
    )));
    assert!(!h.contains_key("x-acs-security-token"));
}

#[tokio::test]
async fn a_value_with_reserved_characters_is_signed_as_sent() {
    // The TXT value of vector C4: space, '*', '~', '+', '/', '=' and UTF-8.
    let (fake, p) = setup().await;
    let k = RecordKey {
        rtype: RecordType::Cname,
        ..key(RecordType::A)
    };
    let value = "v=1 a*b~c+d/e=f.故障切换.example.net";
    let id = p
        .create(
            &k,
            &NewRecord {
                value: value.into(),
                ttl: 600,
                enabled: true,
                remark: "dns-failover created x".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(fake.with(|s| s.record(&id).unwrap().value.clone()), value);
}

#[tokio::test]
async fn disabling_writes_the_marker_first_then_the_status() {
    let (fake, p) = setup().await;
    let a = add(&fake, "192.0.2.1", true, "");
    add(&fake, "192.0.2.2", true, "");
    let r = apply_change(&p, &status_change(&a, "192.0.2.1", true, false, MARK))
        .await
        .unwrap();
    assert!(matches!(r, Applied::Done { ref record } if !record.enabled && record.remark == MARK));
    assert_eq!(
        fake.writes(),
        ["UpdateDomainRecordRemark", "SetDomainRecordStatus"]
    );
    let c = fake.calls();
    let st = c
        .iter()
        .find(|c| c.action == "SetDomainRecordStatus")
        .unwrap();
    assert_eq!(st.param("Status"), Some("Disable"));
    assert_eq!(st.param("RecordId"), Some(a.as_str()));
}

#[tokio::test]
async fn enabling_writes_the_status_first_then_the_marker() {
    let (fake, p) = setup().await;
    let a = add(&fake, "192.0.2.1", false, MARK);
    add(&fake, "192.0.2.2", true, "");
    let back = "dns-failover enabled 2026-01-15T09:00:00Z ap-shanghai up";
    apply_change(&p, &status_change(&a, "192.0.2.1", false, true, back))
        .await
        .unwrap();
    assert_eq!(
        fake.writes(),
        ["SetDomainRecordStatus", "UpdateDomainRecordRemark"]
    );
    let r = fake.with(|s| s.record(&a).unwrap().clone());
    assert!(r.enabled && r.remark == back, "{r:?}");
}

#[tokio::test]
async fn a_disable_that_fails_after_the_marker_leaves_the_record_serving_and_says_so() {
    let (fake, p) = setup().await;
    let a = add(&fake, "192.0.2.1", true, "");
    add(&fake, "192.0.2.2", true, "");
    fake.inject(
        Some("SetDomainRecordStatus"),
        AliFault::Api(400, "DomainRecordLocked", "The DNS record is locked."),
    );
    let e = apply_change(&p, &status_change(&a, "192.0.2.1", true, false, MARK))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("UpdateDomainRecordRemark landed")
            && text.contains(&format!("record {a} is left enabled"))
            && text.contains("DomainRecordLocked"),
        "{text}"
    );
    // The harmless half: still enabled, already marked as ours.
    let r = fake.with(|s| s.record(&a).unwrap().clone());
    assert!(r.enabled && r.remark == MARK, "{r:?}");
}

#[tokio::test]
async fn an_enable_whose_remark_fails_is_enabled_and_says_its_remark_is_old() {
    let (fake, p) = setup().await;
    let a = add(&fake, "192.0.2.1", false, MARK);
    drop(p);
    fake.inject(Some("UpdateDomainRecordRemark"), AliFault::Http(502));
    fake.inject(Some("UpdateDomainRecordRemark"), AliFault::Http(502));
    fake.inject(Some("UpdateDomainRecordRemark"), AliFault::Http(502));
    let p = provider_with(&fake, Credentials::new(ID, Secret::new(SECRET), None), 30);
    let e = p
        .set_status(
            &key(RecordType::A),
            &p.get(&key(RecordType::A), &a).await.unwrap(),
            true,
            "dns-failover enabled x",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, dns::Error::Transport(m) if m.contains("SetDomainRecordStatus Enable landed") && m.contains("with its old remark")),
        "{e}"
    );
    let r = fake.with(|s| s.record(&a).unwrap().clone());
    assert!(r.enabled && r.remark == MARK, "{r:?}");
}

#[tokio::test]
async fn a_status_write_refused_at_once_changes_nothing() {
    let (fake, p) = setup().await;
    let a = add(&fake, "192.0.2.1", true, "");
    add(&fake, "192.0.2.2", true, "");
    fake.inject(
        Some("UpdateDomainRecordRemark"),
        AliFault::Api(403, "Forbidden.RAM", "User not authorized to operate on the specified resource, or this API doesn't support RAM."),
    );
    let e = apply_change(&p, &status_change(&a, "192.0.2.1", true, false, MARK))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, dns::Error::Auth(m) if m.contains("RAM does not allow")),
        "{e}"
    );
    assert!(fake.writes().is_empty());
    assert!(fake.with(|s| s.record(&a).unwrap().enabled));
}

#[tokio::test]
async fn a_rewrite_keeps_a_disabled_record_disabled_through_set_domain_record_status() {
    let (fake, p) = setup().await;
    let a = add(&fake, "192.0.2.1", false, MARK);
    let cur = p.get(&key(RecordType::A), &a).await.unwrap();
    p.set_value(&key(RecordType::A), &cur, "192.0.2.9", 600, false, "")
        .await
        .unwrap();
    assert_eq!(
        fake.writes(),
        ["UpdateDomainRecord", "SetDomainRecordStatus"]
    );
    let r = fake.with(|s| s.record(&a).unwrap().clone());
    assert!(
        !r.enabled && r.value == "192.0.2.9" && r.remark == MARK,
        "{r:?}"
    );
    // And an update carries no Status (the API has none): the fake would
    // refuse the parameter, as its request model has no such field.
    let upd = fake
        .calls()
        .into_iter()
        .find(|c| c.action == "UpdateDomainRecord")
        .unwrap();
    assert_eq!(upd.param("Status"), None);
    assert_eq!(upd.param("Line"), Some("default"));
    assert_eq!(upd.param("TTL"), Some("600"));
}

#[tokio::test]
async fn an_update_that_changes_nothing_is_success_not_an_error() {
    let (fake, p) = setup().await;
    let a = add(&fake, "192.0.2.1", true, "");
    let mut stale = p.get(&key(RecordType::A), &a).await.unwrap();
    // The caller's view is older than the record: the write is a no-op.
    stale.value = "192.0.2.0".into();
    p.set_value(&key(RecordType::A), &stale, "192.0.2.1", 600, true, "")
        .await
        .unwrap();
    let c = fake.calls();
    let upd = c.iter().find(|c| c.action == "UpdateDomainRecord").unwrap();
    assert_eq!(
        (upd.status, upd.code()),
        (400, Some("DomainRecordDuplicate"))
    );
}

#[tokio::test]
async fn an_update_to_a_value_another_record_has_is_a_conflict() {
    let (fake, p) = setup().await;
    let a = add(&fake, "192.0.2.1", true, "");
    add(&fake, "192.0.2.2", true, "");
    let cur = p.get(&key(RecordType::A), &a).await.unwrap();
    let e = p
        .set_value(&key(RecordType::A), &cur, "192.0.2.2", 600, true, "")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, dns::Error::Conflict { detail, .. } if detail.contains("DomainRecordDuplicate")),
        "{e}"
    );
    assert_eq!(
        fake.with(|s| s.record(&a).unwrap().value.clone()),
        "192.0.2.1"
    );
}

#[tokio::test]
async fn a_ttl_below_the_editions_floor_is_written_with_min_ttl_read_once() {
    let (fake, p) = setup().await;
    let k = key(RecordType::A);
    let id = p
        .create(
            &k,
            &NewRecord {
                value: "192.0.2.1".into(),
                ttl: 60,
                enabled: true,
                remark: String::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(fake.with(|s| s.record(&id).unwrap().ttl), 600);
    let c = fake.calls();
    assert_eq!(c[0].code(), Some("QuotaExceeded.TTL"));
    assert_eq!(c[1].action, "DescribeDomainInfo");
    assert_eq!(c[1].param("NeedDetailAttributes"), Some("true"));
    let limits = p.limits(DOMAIN).await.unwrap();
    assert_eq!(
        (limits.min_ttl, limits.plan.as_deref()),
        (600, Some("mianfei"))
    );
    // Known now: the next write starts at the floor, and the edition is not read again.
    let cur = p.get(&k, &id).await.unwrap();
    p.set_value(&k, &cur, "192.0.2.3", 60, true, "")
        .await
        .unwrap();
    let actions = fake.actions();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "DescribeDomainInfo")
            .count(),
        1
    );
    assert!(fake
        .calls()
        .iter()
        .all(|c| c.code() != Some("QuotaExceeded.TTL") || c.param("TTL") == Some("60")));
    assert_eq!(fake.with(|s| s.record(&id).unwrap().ttl), 600);
}

#[tokio::test]
async fn a_ttl_refused_even_at_the_floor_is_ttl_refused_with_the_floor() {
    let (fake, p) = setup().await;
    fake.inject(
        Some("AddDomainRecord"),
        AliFault::Api(
            400,
            "QuotaExceeded.TTL",
            "The specified TTL is invalid. A valid TTL must be in the range of 600 to 86400.",
        ),
    );
    fake.inject_nth(
        Some("AddDomainRecord"),
        0,
        AliFault::Api(
            400,
            "QuotaExceeded.TTL",
            "The specified TTL is invalid. A valid TTL must be in the range of 600 to 86400.",
        ),
    );
    let e = p
        .create(
            &key(RecordType::A),
            &NewRecord {
                value: "192.0.2.1".into(),
                ttl: 60,
                enabled: true,
                remark: String::new(),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            dns::Error::TtlRefused {
                requested: 60,
                min: Some(600)
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_then_succeeds() {
    let (fake, p) = setup().await;
    add(&fake, "192.0.2.1", true, "");
    for _ in 0..2 {
        fake.inject(
            Some("DescribeSubDomainRecords"),
            AliFault::Api(
                400,
                "Throttling.User",
                "Request was denied due to user flow control.",
            ),
        );
    }
    assert_eq!(p.list(&key(RecordType::A)).await.unwrap().len(), 1);
    let c = fake.calls();
    assert_eq!(c.len(), 3);
    assert_eq!(c[0].status, 400);
    // Each attempt is signed afresh: a reused nonce would be refused.
    let nonce = |i: usize| {
        c[i].headers
            .iter()
            .find(|(k, _)| k == "x-acs-signature-nonce")
            .unwrap()
            .1
            .clone()
    };
    assert_ne!(nonce(0), nonce(1));
}

#[tokio::test]
async fn throttling_past_the_budget_is_rate_limited() {
    let (fake, _) = setup().await;
    let p = provider_with(&fake, Credentials::new(ID, Secret::new(SECRET), None), 400);
    for _ in 0..100 {
        fake.inject(
            Some("DescribeSubDomainRecords"),
            AliFault::Api(
                400,
                "Throttling.User",
                "Request was denied due to user flow control.",
            ),
        );
    }
    let e = tokio::time::timeout(Duration::from_secs(5), p.list(&key(RecordType::A)))
        .await
        .expect("bounded by the budget")
        .unwrap_err();
    assert!(
        matches!(&e, dns::Error::RateLimited(m) if m.contains("Throttling.User") && m.contains("attempts")),
        "{e}"
    );
    assert!(fake.calls().len() >= 2, "retried");
}

#[tokio::test]
async fn server_errors_and_dropped_connections_are_retried() {
    let (fake, p) = setup().await;
    add(&fake, "192.0.2.1", true, "");
    fake.inject(
        None,
        AliFault::Api(
            503,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
        ),
    );
    fake.inject(None, AliFault::Drop);
    fake.inject(None, AliFault::Http(502));
    assert_eq!(p.list(&key(RecordType::A)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_hanging_server_is_a_transport_error_within_the_budget() {
    let (fake, _) = setup().await;
    let mut opts = ClientOptions::new(
        fake.base.clone(),
        Duration::from_millis(100),
        Duration::from_millis(250),
    );
    opts.backoff_base = Duration::from_millis(5);
    let p = AlidnsProvider::new(
        Client::new(
            Credentials::new(ID, Secret::new(SECRET), None),
            opts,
            Arc::new(SystemClock),
        )
        .unwrap(),
    );
    for _ in 0..5 {
        fake.inject(None, AliFault::Hang);
    }
    let t = std::time::Instant::now();
    let e = p.list(&key(RecordType::A)).await.unwrap_err();
    assert!(matches!(e, dns::Error::Transport(_)), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[tokio::test]
async fn a_deadline_ends_retries_before_the_budget() {
    let (fake, _) = setup().await;
    for _ in 0..1000 {
        fake.inject(None, AliFault::Http(503));
    }
    let p = provider_with(
        &fake,
        Credentials::new(ID, Secret::new(SECRET), None),
        20_000,
    )
    .until(Some(std::time::Instant::now() + Duration::from_millis(200)));
    let t = std::time::Instant::now();
    let e = p.list(&key(RecordType::A)).await.unwrap_err();
    assert!(matches!(e, dns::Error::Transport(_)), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_signature_check_and_never_shown() {
    let logs = LogCapture::default();
    let _guard = logs.install();
    let (fake, _) = setup().await;
    let p = provider_with(
        &fake,
        Credentials::new(ID, Secret::new("fakeStsTOKEN-wrong"), None),
        3000,
    );
    let e = p.list(&key(RecordType::A)).await.unwrap_err();
    let c = &fake.calls()[0];
    assert_eq!((c.status, c.code()), (400, Some("SignatureDoesNotMatch")));
    assert!(
        matches!(&e, dns::Error::Auth(m) if m.contains("SignatureDoesNotMatch") && m.contains("check the AccessKey secret")),
        "{e}"
    );
    canaries(&e.to_string());
    canaries(&format!("{p:?}"));
    canaries(&logs.text());
    assert_eq!(fake.calls().len(), 1, "not retried");
}

#[tokio::test]
async fn an_unknown_access_key_is_an_auth_error_from_a_404() {
    let (fake, _) = setup().await;
    let p = provider_with(
        &fake,
        Credentials::new("LTAI5tNOSUCHKEY000000", Secret::new(SECRET), None),
        3000,
    );
    let e = p.list(&key(RecordType::A)).await.unwrap_err();
    assert_eq!(fake.calls()[0].status, 404);
    assert!(
        matches!(&e, dns::Error::Auth(m) if m.contains("InvalidAccessKeyId.NotFound")),
        "{e}"
    );
    canaries(&e.to_string());
}

#[tokio::test]
async fn a_clock_off_by_more_than_15_minutes_is_refused_and_says_so() {
    let fake = FakeAlidns::start(DOMAIN, keys(), Arc::new(SystemClock)).await;
    let clock: Arc<dyn Clock> =
        Arc::new(FixedClock::new(Utc::now() - chrono::Duration::minutes(20)));
    let p = AlidnsProvider::new(
        Client::new(
            Credentials::new(ID, Secret::new(SECRET), None),
            ClientOptions::new(
                fake.base.clone(),
                Duration::from_secs(1),
                Duration::from_secs(2),
            ),
            clock,
        )
        .unwrap(),
    );
    let e = p.list(&key(RecordType::A)).await.unwrap_err();
    assert!(
        matches!(&e, dns::Error::Auth(m) if m.contains("InvalidTimeStamp.Expired") && m.contains("clock")),
        "{e}"
    );
}

#[tokio::test]
async fn sts_credentials_sign_their_token_and_fail_without_it() {
    let (fake, _) = setup().await;
    add(&fake, "192.0.2.1", true, "");
    let p = provider_with(
        &fake,
        Credentials::new(
            STS_ID,
            Secret::new(STS_SECRET),
            Some(Secret::new(STS_TOKEN)),
        ),
        3000,
    );
    assert_eq!(p.list(&key(RecordType::A)).await.unwrap().len(), 1);
    let c = &fake.calls()[0];
    let auth = &c
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .unwrap()
        .1;
    assert!(auth.contains("x-acs-security-token"), "{auth}");
    // A wrong secret: the service quotes the signed headers, token included.
    let wrong = provider_with(
        &fake,
        Credentials::new(STS_ID, Secret::new("wrong"), Some(Secret::new(STS_TOKEN))),
        3000,
    );
    let e = wrong.list(&key(RecordType::A)).await.unwrap_err();
    let quoted = fake.calls().last().unwrap().answer["Message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(quoted.contains(STS_TOKEN), "the fake quotes it: {quoted}");
    assert!(
        e.to_string().contains("x-acs-security-token:[redacted]"),
        "{e}"
    );
    canaries(&e.to_string());
    let without = provider_with(
        &fake,
        Credentials::new(STS_ID, Secret::new(STS_SECRET), None),
        3000,
    );
    let e = without.list(&key(RecordType::A)).await.unwrap_err();
    assert!(
        matches!(&e, dns::Error::Auth(m) if m.contains("InvalidSecurityToken")),
        "{e}"
    );
    canaries(&e.to_string());
    canaries(&format!("{p:?}"));
}

#[tokio::test]
async fn a_record_id_the_account_does_not_have_is_not_found() {
    let (_fake, p) = setup().await;
    let e = p
        .get(&key(RecordType::A), "1830000000000999999")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, dns::Error::NotFound(id) if id == "1830000000000999999"),
        "{e}"
    );
}

#[tokio::test]
async fn lists_every_page_and_only_the_exact_name_type_and_line() {
    let (fake, p) = setup().await;
    for i in 0..230 {
        add(
            &fake,
            &format!("10.0.{}.{}", i / 250, i % 250),
            i % 3 != 0,
            "",
        );
    }
    fake.with(|s| {
        s.add_record("api", "A", "telecom", "192.0.2.50", 600, true, "");
        s.add_record("api", "AAAA", "default", "2001:db8::1", 600, true, "");
        s.add_record("www", "A", "default", "192.0.2.51", 600, true, "");
        s.status_upper = true;
    });
    let got = p.list(&key(RecordType::A)).await.unwrap();
    assert_eq!(got.len(), 230);
    // `DISABLE` read as disabled, `ENABLE` as enabled (case aside).
    assert_eq!(got.iter().filter(|r| r.enabled).count(), 153);
    assert_eq!(fake.actions().len(), 3, "three pages of 100");
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_returns_the_existing_record() {
    let (fake, p) = setup().await;
    let a = add(&fake, "192.0.2.1", true, "");
    let id = p
        .create(
            &key(RecordType::A),
            &NewRecord {
                value: "192.0.2.1".into(),
                ttl: 600,
                enabled: true,
                remark: "dns-failover created x".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(id, a);
    assert!(
        fake.writes().is_empty(),
        "nothing written to a record we did not make"
    );
}

#[tokio::test]
async fn a_disabled_create_is_marked_before_it_is_disabled() {
    let (fake, p) = setup().await;
    let k = RecordKey {
        subdomain: "_dns-failover-a.api".into(),
        ..key(RecordType::A)
    };
    let id = p
        .create(
            &k,
            &NewRecord {
                value: "127.0.0.1".into(),
                ttl: 600,
                enabled: false,
                remark: "dns-failover state x".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        fake.writes(),
        [
            "AddDomainRecord",
            "UpdateDomainRecordRemark",
            "SetDomainRecordStatus"
        ]
    );
    let r = fake.with(|s| s.record(&id).unwrap().clone());
    assert!(!r.enabled && r.remark == "dns-failover state x" && r.line == "default");
}

// ---------------------------------------------------------------------------
// Config and whole runs
// ---------------------------------------------------------------------------

fn config_text(fake: &FakeAlidns, envs: &(String, String, String), ports: &[u16]) -> String {
    let mut s = format!(
        r#"prober = "test"
[probe]
timeout = "1s"
attempts = 2
interval = "10ms"
fail_threshold = 2

[dns]
provider = "alidns"
domain = "{DOMAIN}"
ttl = 60
endpoint = "{}"
access_key_id_env = "{}"
access_key_secret_env = "{}"
security_token_env = "{}"
api_timeout = "500ms"
api_budget = "3s"

[[alert]]
type = "console"
name = "console"

[[group]]
name = "api"
subdomain = "api"
type = "A"
mode = "active"
failback = "auto"
failback_after = "5m"
"#,
        fake.base, envs.0, envs.1, envs.2
    );
    for (i, port) in ports.iter().enumerate() {
        s.push_str(&format!(
            "\n[[group.target]]\nregion = \"r{i}\"\nvalue = \"192.0.2.{}\"\nurl = \"http://127.0.0.1:{port}/health\"\npriority = {i}\n",
            i + 1
        ));
    }
    s
}

fn parse(text: &str) -> Result<Config, String> {
    Config::from_toml(text, std::path::Path::new("test.toml")).map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_run_fails_over_and_back_against_alidns_with_control_records_on_default() {
    use dns_failover::demo::Endpoint;
    let logs = LogCapture::default();
    let _guard = logs.install();
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let fake = FakeAlidns::start(DOMAIN, keys(), clock.clone()).await;
    let mut endpoints = vec![];
    for _ in 0..2 {
        endpoints.push(Endpoint::start().await.unwrap());
    }
    let ports: Vec<u16> = endpoints.iter().map(|e| e.port).collect();
    let envs = cred_env("alidns_run", STS_ID, STS_SECRET, Some(STS_TOKEN));
    let cfg = parse(&config_text(&fake, &envs, &ports)).unwrap();
    assert_eq!(
        cfg.groups[0].key.line, "default",
        "the provider's default line"
    );
    let pass = |action: Action| async {
        let deps = Deps::with_clock(&cfg, clock.clone()).unwrap();
        let r = tokio::time::timeout(
            Duration::from_secs(30),
            run_once(&deps, &cfg, &RunOptions::new(action)),
        )
        .await
        .expect("a run ends");
        canaries(&serde_json::to_string(&r).unwrap());
        canaries(&r.render_text());
        r
    };
    let run = || pass(Action::Run);
    let r = run().await;
    assert!(r.ok, "{:?}", r.errors);
    assert_eq!(r.provider, "alidns");
    let enabled = || {
        let mut v: Vec<(String, bool, u32)> = fake.with(|s| {
            s.records
                .iter()
                .filter(|r| r.rr == "api")
                .map(|r| (r.value.clone(), r.enabled, r.ttl))
                .collect()
        });
        v.sort();
        v
    };
    // Created at the free edition's floor, not the config's 60 s.
    assert_eq!(
        enabled(),
        [
            ("192.0.2.1".into(), true, 600),
            ("192.0.2.2".into(), true, 600)
        ]
    );

    endpoints[1].set_status(503);
    clock.advance(chrono::Duration::minutes(1));
    let r = run().await;
    assert!(r.ok, "{:?}", r.errors);
    assert!(r.groups[0]
        .changes
        .iter()
        .any(|c| c.status == ChangeStatus::Applied));
    let down = fake.with(|s| {
        s.records
            .iter()
            .find(|r| r.value == "192.0.2.2")
            .cloned()
            .unwrap()
    });
    assert!(
        !down.enabled && down.remark.starts_with("dns-failover"),
        "{down:?}"
    );

    endpoints[1].set_status(200);
    clock.advance(chrono::Duration::minutes(7));
    let r = run().await;
    assert!(r.ok, "{:?}", r.errors);
    assert!(enabled().iter().all(|(_, e, _)| *e), "{:?}", enabled());

    // Every region down: a standing condition, remembered in a state record.
    endpoints[0].set_status(503);
    endpoints[1].set_status(503);
    clock.advance(chrono::Duration::minutes(1));
    let r = run().await;
    assert!(!r.groups[0].events.is_empty());
    // An operator's pause: a disabled record at `_dns-failover-pause`.
    let r = pass(Action::Pause {
        group: "api".into(),
        until_after: None,
        reason: "maintenance".into(),
    })
    .await;
    assert!(r.ok, "{:?}", r.errors);
    let control = fake.with(|s| {
        s.records
            .iter()
            .filter(|r| r.rr.starts_with("_dns-failover"))
            .map(|r| (r.rr.clone(), r.line.clone(), r.enabled, r.remark.clone()))
            .collect::<Vec<_>>()
    });
    assert!(
        control
            .iter()
            .any(|(rr, line, on, remark)| rr == "_dns-failover-pause"
                && line == "default"
                && !on
                && remark.contains("paused")),
        "{control:?}"
    );
    assert!(
        control
            .iter()
            .any(|(rr, line, on, _)| rr == "_dns-failover-a.api" && line == "default" && !on),
        "{control:?}"
    );

    // Every control record (state, pause) was asked for, and written, on
    // Alidns's `default` line, never on DNSPod's `默认`; nothing was refused
    // but the TTL the edition does not allow.
    for c in fake.calls() {
        if let Some(line) = c.param("Line") {
            assert_eq!(line, "default", "{} {:?}", c.action, c.params);
        }
        assert!(
            c.status == 200
                || c.code() == Some("QuotaExceeded.TTL")
                || c.code() == Some("DomainRecordDuplicate"),
            "{} answered {} {:?}",
            c.action,
            c.status,
            c.answer
        );
    }
    // The pause records are read with every other name of a pass, in its
    // one read of the whole domain.
    let pause_read = fake.calls().iter().any(|c| {
        c.action == "DescribeDomainRecords"
            || c.param("SubDomain") == Some("_dns-failover-pause.example.com")
    });
    assert!(pause_read, "the pause records were read");
    assert_documented(&fake);
    assert!(!logs.text().is_empty(), "logs were captured");
    canaries(&logs.text());
}

/// A pass reads every name it needs (4 groups with consensus: their
/// records, their votes, the pauses) in one `DescribeDomainRecords`, and
/// the groups' alert states in one more; a larger domain is paged by 500;
/// with more pages than names, it reads name by name. The votes, which
/// Alidns gives no update time, are counted (their own times).
#[tokio::test]
async fn a_steady_pass_reads_the_whole_domain_in_one_call() {
    use dns_failover::demo::Endpoint;
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let fake = FakeAlidns::start(DOMAIN, keys(), clock.clone()).await;
    let ep = Endpoint::start().await.unwrap();
    let envs = cred_env("alidns_readonce", ID, SECRET, None);
    // At the edition's TTL floor: no `ttl_refused` to remember, so a steady
    // pass reads no alert-state record either.
    let mut text = config_text(&fake, &envs, &[ep.port, ep.port])
        .replace(
            "[dns]",
            "[consensus]\nprobers = [\"test\"]\nquorum = 1\n\n[dns]",
        )
        .replace("ttl = 60\n", "ttl = 600\n");
    let group = text[text.find("[[group]]").unwrap()..].to_string();
    for sub in ["www", "m", "cdn"] {
        text.push_str(
            &group
                .replace("name = \"api\"", &format!("name = \"{sub}\""))
                .replace("subdomain = \"api\"", &format!("subdomain = \"{sub}\"")),
        );
    }
    let cfg = parse(&text).unwrap();
    let run = || async {
        let deps = Deps::with_clock(&cfg, clock.clone()).unwrap();
        let r = run_once(&deps, &cfg, &RunOptions::new(Action::Run)).await;
        assert!(r.ok, "{:?}", r.errors);
        r
    };
    let calls_of = |action: &str| -> Vec<alidns_fake::AliCall> {
        fake.calls()
            .into_iter()
            .filter(|c| c.action == action)
            .collect()
    };
    // The first runs create the records and the votes.
    run().await;
    run().await;
    fake.with(|s| s.calls.clear());
    let r = run().await;
    assert_eq!(r.groups.len(), 4);
    let whole = calls_of("DescribeDomainRecords");
    assert_eq!(whole.len(), 2, "the pass's reads, then the alert states");
    assert!(whole.iter().all(|c| c.param("PageSize") == Some("500")));
    assert!(calls_of("DescribeSubDomainRecords").is_empty());
    for g in &r.groups {
        assert_eq!(g.records.as_ref().map(Vec::len), Some(2), "{}", g.name);
        let c = g.consensus.as_ref().unwrap();
        assert!(c.votes.iter().any(|v| v.counted), "{}: {c:?}", g.name);
    }

    let more = |n: usize| {
        fake.with(|s| {
            let base = s.records.len();
            for i in 0..n {
                s.add_record(
                    &format!("h{}", base + i),
                    "A",
                    "default",
                    "192.0.2.9",
                    600,
                    true,
                    "",
                );
            }
            s.calls.clear();
        })
    };
    // 1,200 more records: 3 pages of 500.
    more(1200);
    let r = run().await;
    let pages: Vec<String> = calls_of("DescribeDomainRecords")
        .iter()
        .map(|c| c.param("PageNumber").unwrap().to_string())
        .collect();
    assert_eq!(pages, ["1", "2", "3", "1", "2", "3"]);
    assert!(r
        .groups
        .iter()
        .all(|g| g.records.as_ref().map(Vec::len) == Some(2)));
    // More pages than names (4 groups, 4 vote names, the pauses: 9; then 4
    // alert states): one read per name after the first page.
    more(4000);
    let r = run().await;
    assert_eq!(calls_of("DescribeDomainRecords").len(), 2);
    assert_eq!(calls_of("DescribeSubDomainRecords").len(), 4 + 4 + 1 + 4);
    assert!(r
        .groups
        .iter()
        .all(|g| g.records.as_ref().map(Vec::len) == Some(2)));
    assert!(r.groups.iter().all(|g| g
        .consensus
        .as_ref()
        .is_some_and(|c| c.votes.iter().any(|v| v.counted))));
    assert_documented(&fake);
}

#[test]
fn config_keys_are_checked_and_named() {
    let base = |extra: &str| {
        format!(
            "prober = \"t\"\n[dns]\nprovider = \"alidns\"\ndomain = \"example.com\"\n{extra}\n[[group]]\nname = \"api\"\nsubdomain = \"api\"\ntype = \"A\"\n[[group.target]]\nregion = \"a\"\nvalue = \"192.0.2.1\"\nurl = \"http://127.0.0.1:9/\"\n"
        )
    };
    let ok = parse(&base("")).unwrap();
    match &ok.dns.provider {
        dns_failover::config::ProviderSettings::Alidns(s) => {
            assert_eq!(s.endpoint, "https://alidns.aliyuncs.com");
            assert_eq!(s.access_key_id_env, "ALIBABA_CLOUD_ACCESS_KEY_ID");
            assert_eq!(s.access_key_secret_env, "ALIBABA_CLOUD_ACCESS_KEY_SECRET");
            assert_eq!(s.security_token_env, "ALIBABA_CLOUD_SECURITY_TOKEN");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ok.groups[0].key.line, "default");
    for (extra, want) in [
        (
            "endpoint = \"ftp://x\"",
            "dns.endpoint: \"ftp://x\" is not an http(s) URL",
        ),
        (
            "access_key_id_env = \"1BAD\"",
            "dns.access_key_id_env: \"1BAD\" is not an environment variable name",
        ),
        (
            "access_key_secret_env = \"A-B\"",
            "dns.access_key_secret_env: \"A-B\" is not an environment variable name",
        ),
        (
            "security_token_env = \"\"",
            "dns.security_token_env: \"\" is not an environment variable name",
        ),
        (
            "api_timeout = \"0s\"",
            "dns.api_budget: api_timeout must be > 0",
        ),
        (
            "secret_id_env = \"X\"",
            "dns.secret_id_env: only used by provider = \"dnspod\"",
        ),
    ] {
        let e = parse(&base(extra)).unwrap_err();
        assert!(e.contains(want), "{extra}: {e}");
    }
    // A DNSPod line name is not an Alidns line: a warning that names the right one.
    let w = parse(&base("").replace("type = \"A\"", "type = \"A\"\nline = \"默认\"")).unwrap();
    let warned: Vec<String> = w.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        warned
            .iter()
            .any(|w| w.contains("\"默认\" is not one of provider \"alidns\"'s basic lines")),
        "{warned:?}"
    );
    let w = parse(&base("").replace("type = \"A\"", "type = \"A\"\nline = \"telecom\"")).unwrap();
    assert!(w.warnings.is_empty(), "{:?}", w.warnings);
}

/// `dns-failover validate --online` (the real binary) on Alidns: the
/// groups' lines checked against the edition's, every group's name read
/// with the config's credentials, nothing written; a
/// secret the signature check refuses is an error (exit 1) that never
/// shows the secret; a credential variable that is not
/// set is exit 2 before any call.
#[tokio::test]
async fn validate_online_reads_every_group_and_names_a_refused_secret() {
    let fake = FakeAlidns::start(DOMAIN, keys(), Arc::new(SystemClock)).await;
    add(&fake, "192.0.2.1", true, "");
    add(&fake, "192.0.2.2", false, "dns-failover disable");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alidns.toml");
    let validate = |envs: (String, String, String), line: &str| {
        let text = config_text(&fake, &envs, &[9]).replace(
            "type = \"A\"\n",
            &format!("type = \"A\"\nline = \"{line}\"\n"),
        );
        std::fs::write(&path, text).unwrap();
        let path = path.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_dns-failover"))
                    .arg("-c")
                    .arg(&path)
                    .args(["validate", "--online"])
                    .env_remove("RUST_LOG")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    let out = validate(cred_env("alidns_validate_ok", ID, SECRET, None), "default").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("group api: api.example.com A [default]: 2 record(s), 1 enabled"),
        "{stdout}"
    );
    assert!(
        stdout.contains("every group's records were read through alidns (1 name(s))"),
        "{stdout}"
    );
    let actions: Vec<String> = fake.calls().iter().map(|c| c.action.clone()).collect();
    assert!(!actions.is_empty(), "the names were read from the API");
    assert!(
        actions.iter().all(|a| a.starts_with("Describe")),
        "reads only: {actions:?}"
    );
    canaries(&text(&out));

    let wrong = "fakeAliWRONG-secret-must-never-be-logged";
    let out = validate(cred_env("alidns_validate_bad", ID, wrong, None), "default").await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // The first call (the lines) is refused: the signature error, named.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: cannot read the lines of example.com from alidns: authentication failed: DescribeDomainInfo: SignatureDoesNotMatch"),
        "{err}"
    );
    assert!(!text(&out).contains(wrong), "{}", text(&out));
    canaries(&text(&out));

    // The lines the edition offers (`DescribeDomainInfo` `RecordLines`):
    // a paid-looking line it lists passes without the offline warning; a
    // misspelt one is exit 2 naming the key, and no name is read.
    let out = validate(
        cred_env("alidns_validate_line", ID, SECRET, None),
        "telecom",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("warning"), "{}", text(&out));
    fake.with(|s| s.calls.clear());
    let out = validate(cred_env("alidns_validate_line", ID, SECRET, None), "telecm").await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(
            "group[0].line: \"telecm\" is not a line alidns offers for example.com; close names: \"telecom\""
        ),
        "{}",
        text(&out)
    );
    let actions: Vec<String> = fake.calls().iter().map(|c| c.action.clone()).collect();
    assert_eq!(actions, ["DescribeDomainInfo"]);

    let calls = fake.calls().len();
    let mut envs = cred_env("alidns_validate_unset", ID, SECRET, None);
    envs.1 = "DNSF_TEST_ALIDNS_VALIDATE_NEVER_SET".into();
    let out = validate(envs, "default").await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("DNSF_TEST_ALIDNS_VALIDATE_NEVER_SET"),
        "{}",
        text(&out)
    );
    assert_eq!(fake.calls().len(), calls, "no call without credentials");
}

#[test]
fn missing_credentials_fail_before_any_call_naming_the_variable() {
    let s = AlidnsSettings {
        endpoint: "http://127.0.0.1:9".into(),
        access_key_id_env: "ALI_TEST_ID".into(),
        access_key_secret_env: "ALI_TEST_SECRET".into(),
        security_token_env: "ALI_TEST_TOKEN".into(),
        api_timeout: Duration::from_secs(1),
        api_budget: Duration::from_secs(1),
    };
    let only_id = |n: &str| (n == "ALI_TEST_ID").then(|| "LTAI5tx".to_string());
    let e = AlidnsProvider::from_settings(&s, Arc::new(SystemClock), &only_id).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Alibaba Cloud credentials: environment variable ALI_TEST_SECRET (the AccessKey secret) is not set or empty"
    );
    assert!(matches!(e, dns::BuildError::AlidnsCredentials(_)));
}

/// The actions the RAM policy in docs/providers.md allows.
fn documented_alidns_actions() -> std::collections::BTreeSet<String> {
    let doc = include_str!("../docs/providers.md");
    let sec = &doc[doc
        .find("## Alibaba Cloud DNS (alidns)")
        .expect("the alidns section")..];
    let json = &sec[sec.find("```json\n").expect("a JSON policy") + 8..];
    let json = &json[..json.find("```").unwrap()];
    let policy: serde_json::Value = serde_json::from_str(json).expect("the policy is JSON");
    let mut out = std::collections::BTreeSet::new();
    for st in policy["Statement"].as_array().unwrap() {
        for a in st["Action"].as_array().unwrap() {
            out.insert(
                a.as_str()
                    .unwrap()
                    .strip_prefix("alidns:")
                    .unwrap()
                    .to_string(),
            );
        }
    }
    out
}

fn assert_documented(fake: &FakeAlidns) {
    let allowed = documented_alidns_actions();
    for a in fake.actions() {
        assert!(
            allowed.contains(&a),
            "{a} is not in the RAM policy of docs/providers.md"
        );
    }
}

#[test]
fn the_documented_ram_policy_allows_exactly_the_actions_the_provider_knows() {
    let known: std::collections::BTreeSet<String> = dns_failover::dns::alidns::client::RATE_LIMITS
        .iter()
        .map(|(a, _)| a.to_string())
        .collect();
    assert_eq!(documented_alidns_actions(), known);
}
