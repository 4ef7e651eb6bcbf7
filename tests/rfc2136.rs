//! `provider = "rfc2136"` against a real BIND 9 on 127.0.0.1
//! (tests/support/bind.rs): each test starts its own `named` with its own
//! zone and TSIG key, and checks what the server answers with `dig`.
//! Someone else's changes are made with `nsupdate`; faults between the
//! provider and the server (a lost reply, a write landing between our read
//! and our update) with a small TCP proxy.

mod support;

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use dns_failover::clock::{FixedClock, SystemClock};
use dns_failover::config::{Config, Secret, Settings};
use dns_failover::demo::Endpoint;
use dns_failover::dns::rfc2136::{Rfc2136Provider, Rfc2136Settings, TsigAlgorithm};
use dns_failover::dns::{
    self, apply_change, Applied, Change, ChangeOp, DnsProvider, NewRecord, RecordKey, RecordType,
};
use serde_json::Value;
use support::bind::{Bind, BindConfig, KEY_NAME};

const BIN: &str = env!("CARGO_BIN_EXE_dns-failover");
const ZONE: &str = "example.test";

fn settings_for(server: &str, secret: &str) -> Rfc2136Settings {
    Rfc2136Settings {
        server: server.to_string(),
        zone: None,
        tsig_key_name: KEY_NAME.to_string(),
        tsig_secret: Secret::new(secret),
        tsig_algorithm: TsigAlgorithm::HmacSha256,
        timeout: Duration::from_secs(3),
    }
}

fn provider_at(server: &str, bind: &Bind) -> Rfc2136Provider {
    Rfc2136Provider::new(
        &settings_for(server, &bind.secret),
        Arc::new(SystemClock),
        Arc::new(SystemClock),
    )
}

fn provider(bind: &Bind) -> Rfc2136Provider {
    provider_at(&bind.server(), bind)
}

fn key(sub: &str) -> RecordKey {
    key_of(sub, RecordType::A)
}

fn key_of(sub: &str, rtype: RecordType) -> RecordKey {
    RecordKey {
        domain: ZONE.into(),
        subdomain: sub.into(),
        rtype,
        line: "默认".into(),
    }
}

fn status_change(key: &RecordKey, r: &dns::Record, enabled: bool) -> Change {
    Change {
        group: "g".into(),
        key: key.clone(),
        region: "gz".into(),
        op: ChangeOp::SetStatus {
            record_id: r.id.clone(),
            expect_value: r.value.clone(),
            expect_enabled: r.enabled,
            expect_updated_on: r.updated_on,
            enabled,
            remark: dns::remark(
                if enabled { "enabled" } else { "disabled" },
                Utc::now(),
                "test",
            ),
        },
        reason: "test".into(),
    }
}

fn two_www() -> &'static str {
    "www 60 IN A 192.0.2.1\nwww 60 IN A 192.0.2.2\n"
}

async fn listed(p: &Rfc2136Provider, k: &RecordKey) -> Vec<dns::Record> {
    p.list(k).await.unwrap()
}

// ---------------------------------------------------------------------------
// Reading and the four primitives
// ---------------------------------------------------------------------------

#[tokio::test]
async fn list_reads_what_the_server_serves() {
    let Some(bind) = Bind::start(ZONE, two_www()) else {
        return;
    };
    let p = provider(&bind);
    let recs = listed(&p, &key("www")).await;
    let mut values: Vec<&str> = recs.iter().map(|r| r.value.as_str()).collect();
    values.sort();
    assert_eq!(values, ["192.0.2.1", "192.0.2.2"]);
    assert!(recs
        .iter()
        .all(|r| r.enabled && r.ttl == 60 && r.remark.is_empty()));
    assert_ne!(recs[0].id, recs[1].id);
    // Ids are stable from one read to the next.
    let again = listed(&p, &key("www")).await;
    assert_eq!(recs, again);
    assert!(listed(&p, &key("nothing-here")).await.is_empty());
}

#[tokio::test]
async fn create_serves_an_enabled_record_and_only_remembers_a_disabled_one() {
    let Some(bind) = Bind::start(ZONE, two_www()) else {
        return;
    };
    let p = provider(&bind);
    let k = key("www");
    let new = |v: &str, enabled| NewRecord {
        value: v.into(),
        ttl: 60,
        enabled,
        remark: format!("dns-failover created {v}"),
    };
    let on = apply_change(
        &p,
        &Change {
            group: "g".into(),
            key: k.clone(),
            region: "gz".into(),
            op: ChangeOp::Create {
                record: new("192.0.2.3", true),
            },
            reason: "t".into(),
        },
    )
    .await
    .unwrap();
    assert!(matches!(on, Applied::Done { .. }), "{on:?}");
    let off_id = p.create(&k, &new("192.0.2.4", false)).await.unwrap();
    assert_eq!(
        bind.query("www", "A"),
        ["192.0.2.1", "192.0.2.2", "192.0.2.3"],
        "a disabled record is never served"
    );
    let recs = listed(&p, &k).await;
    let off = recs.iter().find(|r| r.id == off_id).unwrap();
    assert!(!off.enabled);
    assert_eq!(off.remark, "dns-failover created 192.0.2.4");
    assert!(off.updated_on.is_some());
    // What the resolvers see at the control name is a TXT record, nothing
    // they would take for an address.
    let meta = bind.query("_dns-failover-meta-a.www", "TXT");
    assert_eq!(meta.len(), 2, "{meta:?}");
    assert!(
        meta.iter().all(|t| t.starts_with("\"dns-failover-rr/1\"")),
        "{meta:?}"
    );
    assert!(bind.query("_dns-failover-meta-a.www", "A").is_empty());
}

#[tokio::test]
async fn disable_takes_the_value_out_of_the_answer_and_enable_puts_it_back() {
    let Some(bind) = Bind::start(ZONE, two_www()) else {
        return;
    };
    let p = provider(&bind);
    let k = key("www");
    let first = listed(&p, &k)
        .await
        .into_iter()
        .find(|r| r.value == "192.0.2.1")
        .unwrap();
    let done = apply_change(&p, &status_change(&k, &first, false))
        .await
        .unwrap();
    let Applied::Done { record } = done else {
        panic!("{done:?}")
    };
    assert_eq!(
        (record.id.as_str(), record.enabled),
        (first.id.as_str(), false)
    );
    assert_eq!(bind.query("www", "A"), ["192.0.2.2"]);
    let meta = bind.query("_dns-failover-meta-a.www", "TXT").join(" ");
    assert!(meta.contains("\"off\" \"192.0.2.1\""), "{meta}");
    // Remembered: the same id, disabled, with our remark and time.
    let off = listed(&p, &k)
        .await
        .into_iter()
        .find(|r| r.id == first.id)
        .unwrap();
    assert!(!off.enabled && off.remark_is_ours(), "{off:?}");
    assert!(off.changed_at().is_some());
    // Again: already applied, nothing written.
    let again = apply_change(&p, &status_change(&k, &first, false))
        .await
        .unwrap();
    assert!(matches!(again, Applied::AlreadyApplied { .. }), "{again:?}");

    let back = apply_change(&p, &status_change(&k, &off, true))
        .await
        .unwrap();
    assert!(matches!(back, Applied::Done { .. }), "{back:?}");
    assert_eq!(bind.query("www", "A"), ["192.0.2.1", "192.0.2.2"]);
    let on = listed(&p, &k)
        .await
        .into_iter()
        .find(|r| r.id == first.id)
        .unwrap();
    assert!(
        on.enabled && on.remark.starts_with("dns-failover enabled"),
        "{on:?}"
    );
    assert_eq!(on.ttl, 60);
}

#[tokio::test]
async fn a_rewrite_changes_the_served_value_and_keeps_the_id() {
    let Some(bind) = Bind::start(ZONE, "www 300 IN CNAME gz.example.net.\n") else {
        return;
    };
    let p = provider(&bind);
    let k = key_of("www", RecordType::Cname);
    let cur = listed(&p, &k).await.remove(0);
    assert_eq!(cur.value, "gz.example.net");
    let change = Change {
        group: "www".into(),
        key: k.clone(),
        region: "bj".into(),
        op: ChangeOp::SetValue {
            record_id: cur.id.clone(),
            expect_value: cur.value.clone(),
            expect_enabled: true,
            expect_updated_on: cur.updated_on,
            value: "bj.example.net".into(),
            ttl: 60,
            enabled: true,
            remark: dns::remark("failover", Utc::now(), "gz down"),
        },
        reason: "t".into(),
    };
    let done = apply_change(&p, &change).await.unwrap();
    let Applied::Done { record } = done else {
        panic!("{done:?}")
    };
    assert_eq!(
        (record.id.as_str(), record.value.as_str(), record.ttl),
        (cur.id.as_str(), "bj.example.net", 60)
    );
    assert_eq!(bind.query("www", "CNAME"), ["bj.example.net."]);
    // The TTL alone (SetTtl goes through set_value).
    p.set_value(&k, &record, &record.value, 30, true, "")
        .await
        .unwrap();
    let after = listed(&p, &k).await.remove(0);
    assert_eq!((after.id.as_str(), after.ttl), (cur.id.as_str(), 30));
    assert_eq!(
        after.remark, record.remark,
        "an empty remark keeps the current one"
    );
}

#[tokio::test]
async fn control_records_are_kept_disabled_and_their_remarks_rewritten() {
    let Some(bind) = Bind::start(ZONE, two_www()) else {
        return;
    };
    let p = provider(&bind);
    // A state record as memory.rs writes it: always disabled, a long remark.
    let k = dns_failover::model::record::control_key(&key("www"), None, "默认");
    let long = format!("dns-failover state {}", "x".repeat(400));
    let id = p
        .create(
            &k,
            &NewRecord {
                value: "127.0.0.1".into(),
                ttl: 60,
                enabled: false,
                remark: long.clone(),
            },
        )
        .await
        .unwrap();
    let r = p.get(&k, &id).await.unwrap();
    assert_eq!((r.enabled, r.remark.as_str()), (false, long.as_str()));
    p.set_status(&k, &r, false, "dns-failover state v2")
        .await
        .unwrap();
    let r2 = p.get(&k, &id).await.unwrap();
    assert_eq!(
        (r2.enabled, r2.remark.as_str()),
        (false, "dns-failover state v2")
    );
    assert!(
        bind.query("_dns-failover-a.www", "A").is_empty(),
        "never served"
    );
}

// ---------------------------------------------------------------------------
// Compare-and-swap, never empty
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_record_changed_since_the_plans_read_is_a_conflict_and_left_alone() {
    let Some(bind) = Bind::start(ZONE, two_www()) else {
        return;
    };
    let p = provider(&bind);
    let k = key("www");
    let first = listed(&p, &k)
        .await
        .into_iter()
        .find(|r| r.value == "192.0.2.1")
        .unwrap();
    // Someone renumbers it after our read.
    bind.nsupdate(
        "update delete www.example.test. A 192.0.2.1\nupdate add www.example.test. 60 A 192.0.2.7",
    );
    let err = apply_change(&p, &status_change(&k, &first, false))
        .await
        .unwrap_err();
    assert!(
        matches!(err, dns::Error::NotFound(_) | dns::Error::Conflict { .. }),
        "{err}"
    );
    assert_eq!(bind.query("www", "A"), ["192.0.2.2", "192.0.2.7"]);
}

/// The server's own compare-and-swap: a write lands between the provider's
/// read and its update (the proxy runs `nsupdate` when it sees our update,
/// before passing it on). The update's prerequisites no longer hold: BIND
/// refuses it, nothing of ours is written, the other write stands, and the
/// name is never emptied (the other write disabled the other record).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_an_update_whose_rrsets_changed_after_our_read() {
    let Some(bind) = Bind::start(ZONE, two_www()) else {
        return;
    };
    let bind = Arc::new(bind);
    let b = bind.clone();
    let proxy = Proxy::start(
        bind.port,
        Fault::OtherWriteFirst(Box::new(move || {
            b.nsupdate("update delete www.example.test. A 192.0.2.2")
        })),
    )
    .await;
    let p = provider_at(&proxy.server(), &bind);
    let k = key("www");
    let first = listed(&p, &k)
        .await
        .into_iter()
        .find(|r| r.value == "192.0.2.1")
        .unwrap();
    let err = p
        .set_status(&k, &first, false, "dns-failover disabled x")
        .await
        .unwrap_err();
    let dns::Error::Conflict { detail, .. } = &err else {
        panic!("{err}")
    };
    assert!(detail.contains("NXRRSET"), "{detail}");
    assert_eq!(bind.query("www", "A"), ["192.0.2.1"], "not emptied");
    assert!(
        bind.query("_dns-failover-meta-a.www", "TXT").is_empty(),
        "nothing of ours written"
    );
    assert!(
        bind.logs().contains("prerequisite not satisfied"),
        "{}",
        bind.logs()
    );
}

/// Two probers writing their own votes at once: the second one's entry
/// lands (here by `nsupdate`) between our read and our update, in the same
/// control RRset. Different records: both stand, no conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_records_entry_written_meanwhile_is_no_conflict() {
    let Some(bind) = Bind::start(ZONE, two_www()) else {
        return;
    };
    let k = dns_failover::model::consensus::vote_key(&key("www"), "默认");
    let mine = provider(&bind)
        .create(
            &k,
            &NewRecord {
                value: "127.1.0.1".into(),
                ttl: 60,
                enabled: false,
                remark: "vote 1".into(),
            },
        )
        .await
        .unwrap();
    let bind = Arc::new(bind);
    let b = bind.clone();
    let other = "\"dns-failover-rr/1\" \"0badc0de\" \"off\" \"127.1.0.2\" \"60\" \"2026-12-05T10:00:00Z\" \"vote 2\"";
    let proxy = Proxy::start(
        bind.port,
        Fault::OtherWriteFirst(Box::new(move || {
            b.nsupdate(&format!("update add _dns-failover-meta-a._dns-failover-vote-a.www.example.test. 60 TXT {other}"))
        })),
    )
    .await;
    let p = provider_at(&proxy.server(), &bind);
    let r = p.get(&k, &mine).await.unwrap();
    p.set_status(&k, &r, false, "vote 1 again").await.unwrap();
    let recs = p.list(&k).await.unwrap();
    let remarks: Vec<(&str, &str)> = recs
        .iter()
        .map(|r| (r.value.as_str(), r.remark.as_str()))
        .collect();
    assert_eq!(
        remarks,
        [("127.1.0.1", "vote 1 again"), ("127.1.0.2", "vote 2")]
    );
    assert_eq!(proxy.updates(), 1);
}

#[tokio::test]
async fn the_last_served_record_is_never_disabled() {
    let Some(bind) = Bind::start(ZONE, "www 60 IN A 192.0.2.1\n") else {
        return;
    };
    let p = provider(&bind);
    let k = key("www");
    let only = listed(&p, &k).await.remove(0);
    let err = apply_change(&p, &status_change(&k, &only, false))
        .await
        .unwrap_err();
    assert!(matches!(err, dns::Error::Conflict { .. }), "{err}");
    // The provider checks too, on its own fresh read, when called directly.
    let err = p.set_status(&k, &only, false, "x").await.unwrap_err();
    let dns::Error::Conflict { detail, .. } = &err else {
        panic!("{err}")
    };
    assert!(detail.contains("no enabled record"), "{detail}");
    assert_eq!(bind.query("www", "A"), ["192.0.2.1"]);
}

// ---------------------------------------------------------------------------
// A lost reply: read back before any retry
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_reply_is_read_back_and_not_retried_when_the_update_landed() {
    let Some(bind) = Bind::start(ZONE, two_www()) else {
        return;
    };
    let proxy = Proxy::start(bind.port, Fault::DropReply).await;
    let p = provider_at(&proxy.server(), &bind);
    let k = key("www");
    let first = listed(&p, &k)
        .await
        .into_iter()
        .find(|r| r.value == "192.0.2.1")
        .unwrap();
    p.set_status(&k, &first, false, "dns-failover disabled lost")
        .await
        .unwrap();
    assert_eq!(bind.query("www", "A"), ["192.0.2.2"]);
    assert_eq!(proxy.updates(), 1, "read back, not sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_lost_on_the_way_is_sent_again_after_reading_back() {
    let Some(bind) = Bind::start(ZONE, two_www()) else {
        return;
    };
    let proxy = Proxy::start(bind.port, Fault::DropRequest).await;
    let p = provider_at(&proxy.server(), &bind);
    let k = key("www");
    let first = listed(&p, &k)
        .await
        .into_iter()
        .find(|r| r.value == "192.0.2.1")
        .unwrap();
    p.set_status(&k, &first, false, "dns-failover disabled lost")
        .await
        .unwrap();
    assert_eq!(bind.query("www", "A"), ["192.0.2.2"]);
    assert_eq!(proxy.updates(), 2, "the first never reached the server");
    let off = listed(&p, &k)
        .await
        .into_iter()
        .find(|r| r.id == first.id)
        .unwrap();
    assert_eq!(off.remark, "dns-failover disabled lost");
}

// ---------------------------------------------------------------------------
// Keys, clocks, permissions, connections
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_wrong_secret_or_key_name_is_an_auth_error_naming_the_key_not_the_secret() {
    let Some(bind) = Bind::start(ZONE, two_www()) else {
        return;
    };
    let wrong = "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1iZS1zaG93bi0xMjM0NTY=";
    let p = Rfc2136Provider::new(
        &settings_for(&bind.server(), wrong),
        Arc::new(SystemClock),
        Arc::new(SystemClock),
    );
    let err = p.list(&key("www")).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, dns::Error::Auth(_)), "{text}");
    assert!(
        text.contains("\"update-key\"") && text.contains("BADSIG"),
        "{text}"
    );
    assert!(
        !text.contains(wrong) && !text.contains(&bind.secret),
        "{text}"
    );

    let mut s = settings_for(&bind.server(), &bind.secret);
    s.tsig_key_name = "no-such-key".into();
    let p = Rfc2136Provider::new(&s, Arc::new(SystemClock), Arc::new(SystemClock));
    let err = p.list(&key("www")).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, dns::Error::Auth(_)), "{text}");
    assert!(
        text.contains("\"no-such-key\"") && text.contains("BADKEY"),
        "{text}"
    );
    assert!(!text.contains(&bind.secret), "{text}");

    // Same secret, another algorithm: BIND knows no such key either.
    let mut s = settings_for(&bind.server(), &bind.secret);
    s.tsig_algorithm = TsigAlgorithm::HmacSha512;
    let p = Rfc2136Provider::new(&s, Arc::new(SystemClock), Arc::new(SystemClock));
    let err = p.list(&key("www")).await.unwrap_err();
    assert!(err.to_string().contains("hmac-sha512"), "{err}");
    assert_eq!(bind.query("www", "A"), ["192.0.2.1", "192.0.2.2"]);
}

/// The signature's time comes from `tsig_clock`: ten minutes ahead of the
/// server, past the 300 s fudge. (libfaketime is no help here: it hangs
/// nsupdate, and would move named's clock too if inherited.)
#[tokio::test]
async fn a_skewed_clock_is_named_as_the_cause() {
    let Some(bind) = Bind::start(ZONE, two_www()) else {
        return;
    };
    let ahead = FixedClock::new(Utc::now() + chrono::Duration::seconds(600));
    let p = Rfc2136Provider::new(
        &settings_for(&bind.server(), &bind.secret),
        Arc::new(SystemClock),
        Arc::new(ahead),
    );
    let err = p.list(&key("www")).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, dns::Error::Auth(_)), "{text}");
    assert!(text.contains("BADTIME") && text.contains("clock"), "{text}");
    // BIND's BADTIME reply carries its own time: the skew is given.
    assert!(text.contains(" s ahead of the server's"), "{text}");
    // Writes too, and nothing changes.
    let r = dns::Record {
        id: "x".into(),
        value: "192.0.2.1".into(),
        ttl: 60,
        enabled: true,
        updated_on: None,
        remark: String::new(),
        weight: None,
    };
    let err = p.set_status(&key("www"), &r, false, "x").await.unwrap_err();
    assert!(err.to_string().contains("BADTIME"), "{err}");
    assert_eq!(bind.query("www", "A"), ["192.0.2.1", "192.0.2.2"]);
}

/// The least-privilege policy of docs/providers.md lets the tool change
/// its own names and nothing else: an update elsewhere is REFUSED, which
/// the error says in words.
#[tokio::test]
async fn an_update_outside_the_keys_policy_is_refused_in_words() {
    let policy = format!(
        "update-policy {{ grant \"{KEY_NAME}\" subdomain www.{ZONE}. A AAAA CNAME TXT; grant \"{KEY_NAME}\" subdomain _dns-failover-pause.{ZONE}. A TXT; }};"
    );
    let records = format!(
        "{}api 60 IN A 192.0.2.5\napi 60 IN A 192.0.2.6\n",
        two_www()
    );
    let Some(bind) = Bind::start_with(BindConfig {
        update_policy: Some(&policy),
        ..BindConfig::new(ZONE, &records)
    }) else {
        return;
    };
    let p = provider(&bind);
    let www = key("www");
    let first = listed(&p, &www).await.remove(0);
    apply_change(&p, &status_change(&www, &first, false))
        .await
        .unwrap();
    let api = key("api");
    let first = listed(&p, &api).await.remove(0);
    let err = p.set_status(&api, &first, false, "x").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, dns::Error::Auth(_)), "{text}");
    assert!(
        text.contains("update-policy") && text.contains("\"update-key\""),
        "{text}"
    );
    assert_eq!(bind.query("api", "A"), ["192.0.2.5", "192.0.2.6"]);
}

/// BIND closes idle TCP connections (here after 0.5 s); hickory's TCP
/// client never reconnects after that. The provider opens a connection
/// per message, so a second pass after the idle time works.
#[tokio::test]
async fn a_second_pass_after_the_server_dropped_idle_connections_works() {
    let Some(bind) = Bind::start_with(BindConfig {
        options: "tcp-idle-timeout 5; tcp-initial-timeout 25;",
        ..BindConfig::new(ZONE, two_www())
    }) else {
        return;
    };
    let p = provider(&bind);
    let k = key("www");
    let first = listed(&p, &k).await.remove(0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    apply_change(&p, &status_change(&k, &first, false))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(listed(&p, &k).await.iter().filter(|r| r.enabled).count(), 1);
}

/// The server goes away between the read and the update: the update was
/// never sent, so its outcome is known (nothing written) and nothing is
/// read back or sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_cannot_connect_is_a_plain_transport_error() {
    let Some(bind) = Bind::start(ZONE, two_www()) else {
        return;
    };
    let k = key("www");
    let first = listed(&provider(&bind), &k).await.remove(0);
    let proxy = Proxy::start(bind.port, Fault::CloseAfter(2)).await;
    let p = provider_at(&proxy.server(), &bind);
    let err = p.set_status(&k, &first, false, "x").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, dns::Error::Transport(_)), "{text}");
    assert!(text.contains("cannot connect"), "{text}");
    assert!(!text.contains("outcome unknown"), "{text}");
    assert_eq!(proxy.updates(), 0);
    assert_eq!(bind.query("www", "A"), ["192.0.2.1", "192.0.2.2"]);
}

/// `zone` names the zone when `domain` is a name inside it; a name outside
/// the zone is refused before anything is sent.
#[tokio::test]
async fn the_zone_may_be_above_the_domain_and_names_outside_it_are_refused() {
    let Some(bind) = Bind::start(
        ZONE,
        "api.svc 60 IN A 192.0.2.1\napi.svc 60 IN A 192.0.2.2\n",
    ) else {
        return;
    };
    let mut s = settings_for(&bind.server(), &bind.secret);
    s.zone = Some(ZONE.into());
    let p = Rfc2136Provider::new(&s, Arc::new(SystemClock), Arc::new(SystemClock));
    let k = RecordKey {
        domain: format!("svc.{ZONE}"),
        ..key("api")
    };
    let first = listed(&p, &k).await.remove(0);
    apply_change(&p, &status_change(&k, &first, false))
        .await
        .unwrap();
    assert_eq!(bind.query("api.svc", "A").len(), 1);
    let outside = RecordKey {
        domain: "other.test".into(),
        ..key("api")
    };
    let err = p.list(&outside).await.unwrap_err();
    assert!(
        matches!(&err, dns::Error::Api { code, .. } if code == "NOTZONE"),
        "{err}"
    );
    assert!(
        err.to_string().contains("outside zone example.test"),
        "{err}"
    );
    // Without `zone`, the domain is the zone the updates name, and the
    // server has no such zone (reads work: queries name no zone).
    let p = provider(&bind);
    let off = listed(&p, &k)
        .await
        .into_iter()
        .find(|r| !r.enabled)
        .unwrap();
    let err = p.set_status(&k, &off, true, "x").await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("not authoritative for zone svc.example.test"),
        "{text}"
    );
    assert_eq!(bind.query("api.svc", "A").len(), 1);
}

/// Under SCF the DNS calls end by the invocation's deadline: past it,
/// nothing is sent.
#[tokio::test]
async fn no_message_goes_out_past_the_deadline() {
    let Some(bind) = Bind::start(ZONE, two_www()) else {
        return;
    };
    let p = provider(&bind).until(Some(std::time::Instant::now()));
    let err = p.list(&key("www")).await.unwrap_err();
    assert!(matches!(err, dns::Error::Transport(_)), "{err}");
    assert!(err.to_string().contains("used up"), "{err}");
    let p = provider(&bind).until(Some(std::time::Instant::now() + Duration::from_secs(30)));
    assert_eq!(p.list(&key("www")).await.unwrap().len(), 2);
}

#[tokio::test]
async fn nothing_listens_is_a_transport_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = Rfc2136Provider::new(
        &settings_for(&format!("127.0.0.1:{port}"), "c2VjcmV0"),
        Arc::new(SystemClock),
        Arc::new(SystemClock),
    );
    let err = p.list(&key("www")).await.unwrap_err();
    assert!(matches!(err, dns::Error::Transport(_)), "{err}");
}

// ---------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------

const SECRET: &str = "dGhpcy1pcy1hLWNhbmFyeS1zZWNyZXQtdGhhdC1tdXN0LW5vdC1sZWFr";

fn config_text(server: &str, dns_extra: &str, group_extra: &str, port: u16) -> String {
    format!(
        r#"prober = "test"
[probe]
timeout = "1s"
attempts = 1
fail_threshold = 1

[dns]
provider = "rfc2136"
domain = "{ZONE}"
ttl = 60
server = "{server}"
tsig_key_name = "{KEY_NAME}"
{dns_extra}

[[group]]
name = "www"
subdomain = "www"
type = "A"
{group_extra}

[[group.target]]
region = "gz"
value = "192.0.2.1"
url = "http://127.0.0.1:{port}/health"
"#
    )
}

fn parse(text: &str) -> Result<Config, String> {
    let settings = Settings::from_map([
        ("DNSF_TSIG_SECRET", SECRET),
        ("DNSF_NOT_B64", "***not base64***"),
    ]);
    Config::from_toml_with(text, Path::new("/tmp/dns-failover.toml"), &settings)
        .map_err(|e| e.to_string())
}

#[test]
fn the_dns_keys_are_read_and_bad_ones_named() {
    let ok = parse(&config_text(
        "127.0.0.1:5353",
        "tsig_secret = \"${DNSF_TSIG_SECRET}\"",
        "",
        9,
    ))
    .unwrap();
    let dns_failover::config::ProviderSettings::Rfc2136(s) = &ok.dns.provider else {
        panic!("rfc2136 expected")
    };
    assert_eq!(
        (s.server.as_str(), s.tsig_algorithm),
        ("127.0.0.1:5353", TsigAlgorithm::HmacSha256)
    );
    assert_eq!(
        (s.zone.as_deref(), s.timeout),
        (None, Duration::from_secs(5))
    );
    let dbg = format!("{ok:?}");
    assert!(!dbg.contains(SECRET), "Debug shows the secret: {dbg}");

    let sec = "tsig_secret = \"${DNSF_TSIG_SECRET}\"";
    for (server, extra, group, want) in [
        (
            "127.0.0.1:5353",
            "",
            "",
            "dns.tsig_secret: provider = \"rfc2136\" needs `tsig_secret`",
        ),
        (
            "127.0.0.1:0",
            sec,
            "",
            "dns.server: \"127.0.0.1:0\": the port must be a number from 1 to 65535",
        ),
        (
            "bad host:53",
            sec,
            "",
            "dns.server: \"bad host:53\": expected \"host:port\"",
        ),
        (
            "127.0.0.1:53",
            &format!("{sec}\nzone = \"not a zone\""),
            "",
            "dns.zone: \"not a zone\" is not a zone name",
        ),
        (
            "127.0.0.1:53",
            &format!("{sec}\ntsig_algorithm = \"hmac-md5\""),
            "",
            "dns.tsig_algorithm: unsupported TSIG algorithm \"hmac-md5\"",
        ),
        (
            "127.0.0.1:53",
            &format!("{sec}\ntimeout = \"0s\""),
            "",
            "dns.timeout: must be more than 0s",
        ),
        (
            "127.0.0.1:53",
            "tsig_secret = \"${DNSF_NOT_B64}\"",
            "",
            "dns.tsig_secret: ${DNSF_NOT_B64} does not hold a base64 secret",
        ),
        (
            "127.0.0.1:53",
            sec,
            "line = \"电信\"",
            "group[0].line: \"电信\": provider = \"rfc2136\" has no lines",
        ),
        (
            "127.0.0.1:53",
            &format!("{sec}\npath = \"zone.json\""),
            "",
            "dns.path: only used by provider = \"file\"",
        ),
    ] {
        let err = parse(&config_text(server, extra, group, 9)).unwrap_err();
        assert!(err.contains(want), "want {want:?} in: {err}");
    }
    assert!(parse(&config_text("127.0.0.1:53", sec, "line = \"默认\"", 9)).is_ok());
    assert_eq!(
        match parse(&config_text("ns1.example.test", sec, "", 9))
            .unwrap()
            .dns
            .provider
        {
            dns_failover::config::ProviderSettings::Rfc2136(s) => s.server,
            _ => unreachable!(),
        },
        "ns1.example.test:53"
    );
}

/// A secret written in the file is refused, and the error does not repeat it.
#[test]
fn a_secret_written_in_the_file_is_refused_without_echoing_it() {
    let err = parse(&config_text(
        "127.0.0.1:53",
        &format!("tsig_secret = \"{SECRET}\""),
        "",
        9,
    ))
    .unwrap_err();
    assert!(
        err.contains("dns.tsig_secret: must be one environment variable reference"),
        "{err}"
    );
    assert!(!err.contains(SECRET), "{err}");
    let err = parse(&config_text(
        "127.0.0.1:53",
        "tsig_secret = \"x${DNSF_TSIG_SECRET}\"",
        "",
        9,
    ))
    .unwrap_err();
    assert!(!err.contains(SECRET), "{err}");
    assert!(err.contains("dns.tsig_secret"), "{err}");
    // A variable that is not set is named.
    let err = parse(&config_text(
        "127.0.0.1:53",
        "tsig_secret = \"${DNSF_UNSET_SECRET}\"",
        "",
        9,
    ))
    .unwrap_err();
    assert!(
        err.contains("tsig_secret") && err.contains("`DNSF_UNSET_SECRET` is not set"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// The binary, end to end
// ---------------------------------------------------------------------------

fn bin_config(bind: &Bind, ports: &[u16; 3], prober: &str) -> String {
    format!(
        r#"prober = "{prober}"
[probe]
timeout = "1s"
attempts = 1
fail_threshold = 1

[dns]
provider = "rfc2136"
domain = "{ZONE}"
ttl = 60
server = "{}"
tsig_key_name = "${{DNSF_TSIG_KEY}}"
tsig_secret = "${{DNSF_TSIG_SECRET}}"
timeout = "3s"

[[alert]]
type = "console"

[[group]]
name = "api"
subdomain = "api"
type = "A"
mode = "active"
failback_after = "1s"
max_changes = 3

[[group.target]]
region = "gz"
value = "192.0.2.1"
url = "http://127.0.0.1:{}/health"

[[group.target]]
region = "sh"
value = "192.0.2.2"
url = "http://127.0.0.1:{}/health"

[[group.target]]
region = "bj"
value = "192.0.2.3"
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

[[group.target]]
region = "bj"
value = "bj.example.net"
url = "http://127.0.0.1:{}/health"
"#,
        bind.server(),
        ports[0],
        ports[1],
        ports[2],
        ports[0],
        ports[2]
    )
}

async fn run_bin(bind: &Bind, config: &Path, args: &[&str]) -> (Value, Output) {
    run_logged(bind, config, args, "off").await
}

/// `run_bin` with `RUST_LOG=<log>`.
async fn run_logged(bind: &Bind, config: &Path, args: &[&str], log: &str) -> (Value, Output) {
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("-c")
        .arg(config)
        .args(args)
        .arg("--json")
        .env("RUST_LOG", log)
        .env_remove("DNS_FAILOVER_CONFIG")
        .env("DNSF_TSIG_KEY", KEY_NAME)
        .env("DNSF_TSIG_SECRET", &bind.secret);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out)
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

/// `dns-failover validate --online` (the real binary) on BIND: every
/// group's name read with the TSIG key, nothing written; a wrong secret is
/// exit 1 with BADSIG on each group's line, naming the key, never a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_online_reads_every_name_with_the_tsig_key() {
    let Some(bind) = Bind::start(ZONE, "api 60 IN A 192.0.2.1\napi 60 IN A 192.0.2.2\n") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dns-failover.toml");
    std::fs::write(&config, bin_config(&bind, &[9, 9, 9], "validate")).unwrap();
    let validate = |secret: String| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("-c")
            .arg(&config)
            .args(["validate", "--online"])
            .env_remove("RUST_LOG")
            .env_remove("DNS_FAILOVER_CONFIG")
            .env("DNSF_TSIG_KEY", KEY_NAME)
            .env("DNSF_TSIG_SECRET", secret);
        async move {
            let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.code(), text)
        }
    };

    let (code, text) = validate(bind.secret.clone()).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("group api: api.{ZONE} A ["))
            && text.contains("2 record(s), 2 enabled"),
        "{text}"
    );
    assert!(
        text.contains(&format!("group www: www.{ZONE} CNAME ["))
            && text.contains("0 record(s), 0 enabled"),
        "{text}"
    );
    assert!(
        text.contains("every group's records were read through rfc2136 (2 name(s))"),
        "{text}"
    );
    assert_eq!(
        bind.query("api", "A"),
        ["192.0.2.1", "192.0.2.2"],
        "nothing written"
    );

    let wrong = "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1iZS1zaG93bi0xMjM0NTY=";
    let (code, text) = validate(wrong.to_string()).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!("error: group api: cannot read api.{ZONE} A ["))
            && text.contains("BADSIG")
            && text.contains(KEY_NAME),
        "{text}"
    );
    assert!(
        text.contains("2 of 2 group name(s) could not be read through rfc2136"),
        "{text}"
    );
    assert!(
        !text.contains(wrong) && !text.contains(&bind.secret),
        "{text}"
    );
}

/// The real binary on a BIND zone that starts empty: bootstrap, fail over
/// (the served answers change, as `dig` sees them), stay without paging
/// again (the alert state lives in the zone too), fail back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_fails_over_and_back_on_bind() {
    // The least-privilege policy of docs/providers.md, word for word.
    let policy = format!(
        "update-policy {{
            grant \"{KEY_NAME}\" subdomain api.{ZONE}. A TXT;
            grant \"{KEY_NAME}\" subdomain www.{ZONE}. CNAME TXT;
            grant \"{KEY_NAME}\" subdomain _dns-failover-pause.{ZONE}. TXT;
        }};"
    );
    let Some(bind) = Bind::start_with(BindConfig {
        update_policy: Some(&policy),
        ..BindConfig::new(ZONE, "")
    }) else {
        return;
    };
    let eps = [
        Endpoint::start().await.unwrap(),
        Endpoint::start().await.unwrap(),
        Endpoint::start().await.unwrap(),
    ];
    let ports = [eps[0].port, eps[1].port, eps[2].port];
    let cfg = bind.path().join("dns-failover.toml");
    std::fs::write(&cfg, bin_config(&bind, &ports, "test")).unwrap();
    let failed = |out: &Output| String::from_utf8_lossy(&out.stderr).into_owned() + &bind.logs();

    let (r, out) = run_bin(&bind, &cfg, &["run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", failed(&out));
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        bind.query("api", "A"),
        ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    );
    assert_eq!(bind.query("www", "CNAME"), ["gz.example.net."]);

    eps[0].set_status(502);
    let (r, out) = run_bin(&bind, &cfg, &["run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", failed(&out));
    assert_eq!(bind.query("api", "A"), ["192.0.2.2", "192.0.2.3"]);
    assert_eq!(bind.query("www", "CNAME"), ["bj.example.net."]);
    assert!(events(&r, "api").contains(&"failover".to_string()), "{r}");
    assert!(!r["alerts"].as_array().unwrap().is_empty(), "{r}");

    let (r, out) = run_bin(&bind, &cfg, &["run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", failed(&out));
    for g in r["groups"].as_array().unwrap() {
        assert!(g["changes"].as_array().unwrap().is_empty(), "{g}");
    }
    assert!(
        r["alerts"].as_array().unwrap().is_empty(),
        "paged again: {r}"
    );

    // gz recovers while an operator has paused `api`: only www fails back.
    // The pause is a record of the tool's too, kept in the zone.
    let (_, out) = run_bin(
        &bind,
        &cfg,
        &["pause", "--group", "api", "--reason", "test"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", failed(&out));
    eps[0].set_status(200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (r, out) = run_bin(&bind, &cfg, &["run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", failed(&out));
    assert_eq!(
        bind.query("api", "A"),
        ["192.0.2.2", "192.0.2.3"],
        "paused: {r}"
    );
    assert_eq!(bind.query("www", "CNAME"), ["gz.example.net."]);
    assert!(events(&r, "www").contains(&"failback".to_string()), "{r}");
    assert!(
        bind.query("_dns-failover-pause", "A").is_empty(),
        "never served"
    );

    // Resuming runs a pass: api fails back at once.
    let (r, out) = run_bin(&bind, &cfg, &["resume", "--group", "api"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", failed(&out));
    assert_eq!(
        bind.query("api", "A"),
        ["192.0.2.1", "192.0.2.2", "192.0.2.3"],
        "{r}"
    );
    assert!(events(&r, "api").contains(&"failback".to_string()), "{r}");

    // Steady state, logged at trace level: nothing to do, and the TSIG
    // secret is nowhere in the output.
    let (r, out) = run_logged(&bind, &cfg, &["run"], "trace").await;
    for g in r["groups"].as_array().unwrap() {
        assert!(g["changes"].as_array().unwrap().is_empty(), "{g}");
    }
    let all =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        all.contains("TRACE") || all.contains("DEBUG"),
        "trace logs expected"
    );
    assert!(
        !all.contains(&bind.secret),
        "the TSIG secret leaked into the output"
    );
}

/// Three prober processes on one BIND zone at the same moment, each seeing
/// a different region down: the server's compare-and-swap lets at most
/// the writes through that leave an answer, so the name never ends up
/// empty, and every disable reported applied is in the zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_prober_processes_on_one_bind_zone_never_empty_the_name() {
    let records = "api 60 IN A 192.0.2.1\napi 60 IN A 192.0.2.2\napi 60 IN A 192.0.2.3\nwww 60 IN CNAME gz.example.net.\n";
    let Some(bind) = Bind::start(ZONE, records) else {
        return;
    };
    let up = Endpoint::start().await.unwrap();
    let down = Endpoint::start().await.unwrap();
    down.set_status(503);
    let configs: Vec<std::path::PathBuf> = (0..3)
        .map(|i| {
            let ports: [u16; 3] = std::array::from_fn(|j| if i == j { down.port } else { up.port });
            let path = bind.path().join(format!("prober-{i}.toml"));
            std::fs::write(&path, bin_config(&bind, &ports, &format!("p{i}"))).unwrap();
            path
        })
        .collect();
    let all = || {
        bind.nsupdate(
            "update delete api.example.test. A\nupdate add api.example.test. 60 A 192.0.2.1\nupdate add api.example.test. 60 A 192.0.2.2\nupdate add api.example.test. 60 A 192.0.2.3",
        )
    };
    for trial in 0..5 {
        all();
        let runs = configs.iter().map(|c| run_bin(&bind, c, &["run"]));
        let outputs = futures_util::future::join_all(runs).await;
        let served = bind.query("api", "A");
        assert!(!served.is_empty(), "trial {trial}: the name was left empty");
        let mut net: i64 = 0;
        for (r, o) in &outputs {
            assert_eq!(
                o.status.code(),
                Some(0),
                "trial {trial}: {r}\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
            for c in r["groups"][0]["changes"].as_array().unwrap() {
                if c["op"] == "set_status" && c["status"] == "applied" {
                    net += if c["enabled"] == false { 1 } else { -1 };
                }
            }
        }
        assert_eq!(
            3 - served.len() as i64,
            net,
            "trial {trial}: served {served:?}, reports:\n{:?}",
            outputs.iter().map(|o| &o.0).collect::<Vec<_>>()
        );
    }
}

/// `[consensus]` on BIND: three probers, one process each, all seeing gz
/// down, vote through the zone (their votes are always-disabled records,
/// kept in one control TXT RRset and never served); the writer takes gz out
/// once a quorum agrees. Every prober's vote lands in that one RRset
/// (writes about two records never conflict there: see
/// `another_records_entry_written_meanwhile_is_no_conflict`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_voting_probers_agree_through_a_bind_zone() {
    let records = "api 60 IN A 192.0.2.1\napi 60 IN A 192.0.2.2\napi 60 IN A 192.0.2.3\n";
    let Some(bind) = Bind::start(ZONE, records) else {
        return;
    };
    let up = Endpoint::start().await.unwrap();
    let down = Endpoint::start().await.unwrap();
    down.set_status(503);
    let configs: Vec<std::path::PathBuf> = ["p1", "p2", "p3"]
        .iter()
        .map(|p| {
            let text = format!(
                r#"prober = "{p}"
[probe]
timeout = "1s"
attempts = 1
fail_threshold = 1

[consensus]
probers = ["p1", "p2", "p3"]
quorum = 2
stale_after = "1m"
heartbeat = "500ms"

[dns]
provider = "rfc2136"
domain = "{ZONE}"
server = "{}"
tsig_key_name = "{KEY_NAME}"
tsig_secret = "${{DNSF_TSIG_SECRET}}"

[[group]]
name = "api"
subdomain = "api"
type = "A"
mode = "active"

[[group.target]]
region = "gz"
value = "192.0.2.1"
url = "http://127.0.0.1:{}/health"

[[group.target]]
region = "sh"
value = "192.0.2.2"
url = "http://127.0.0.1:{}/health"

[[group.target]]
region = "bj"
value = "192.0.2.3"
url = "http://127.0.0.1:{}/health"
"#,
                bind.server(),
                down.port,
                up.port,
                up.port
            );
            let path = bind.path().join(format!("{p}.toml"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    let mut served = Vec::new();
    for round in 0..3 {
        let runs = configs
            .iter()
            .map(|c| run_logged(&bind, c, &["run"], "warn"));
        let outputs = futures_util::future::join_all(runs).await;
        for (r, o) in &outputs {
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(0), "round {round}: {r}\n{err}");
            assert!(!err.contains("cannot publish"), "round {round}: {err}");
        }
        served = bind.query("api", "A");
        if served.len() == 2 {
            break;
        }
    }
    assert_eq!(served, ["192.0.2.2", "192.0.2.3"], "{}", bind.logs());
    let votes = bind.query("_dns-failover-meta-a._dns-failover-vote-a.api", "TXT");
    assert_eq!(votes.len(), 3, "one entry per prober: {votes:?}");
    assert!(
        bind.query("_dns-failover-vote-a.api", "A").is_empty(),
        "votes are never served"
    );
}

// ---------------------------------------------------------------------------
// A TCP proxy between the provider and named, with one fault
// ---------------------------------------------------------------------------

/// What the proxy does to the first update it sees (later ones pass).
enum Fault {
    /// Forward the first update, then close without its reply.
    DropReply,
    /// Close on the first update without forwarding it.
    DropRequest,
    /// Run this (someone else's write) before forwarding the first update.
    OtherWriteFirst(Box<dyn FnOnce() + Send>),
    /// Stop listening after this many connections (the server went away).
    CloseAfter(usize),
}

struct Proxy {
    port: u16,
    updates: Arc<Mutex<u32>>,
}

impl Proxy {
    async fn start(upstream: u16, fault: Fault) -> Proxy {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let updates = Arc::new(Mutex::new(0u32));
        let fault = Arc::new(Mutex::new(Some(fault)));
        let counter = updates.clone();
        let limit = match &*fault.lock().unwrap() {
            Some(Fault::CloseAfter(n)) => *n,
            _ => usize::MAX,
        };
        tokio::spawn(async move {
            let mut accepted = 0;
            while accepted < limit {
                let Ok((mut client, _)) = listener.accept().await else {
                    break;
                };
                accepted += 1;
                let counter = counter.clone();
                let fault = fault.clone();
                tokio::spawn(async move {
                    let Ok(n) = client.read_u16().await else {
                        return;
                    };
                    let mut msg = vec![0u8; n as usize];
                    if client.read_exact(&mut msg).await.is_err() {
                        return;
                    }
                    let is_update = msg.len() > 2 && (msg[2] >> 3) & 0x0f == 5;
                    let mut drop_reply = false;
                    if is_update {
                        *counter.lock().unwrap() += 1;
                        let f = fault.lock().unwrap().take();
                        match f {
                            Some(Fault::DropRequest) => return,
                            Some(Fault::DropReply) => drop_reply = true,
                            Some(Fault::OtherWriteFirst(f)) => {
                                tokio::task::spawn_blocking(f).await.unwrap();
                            }
                            Some(Fault::CloseAfter(_)) | None => {}
                        }
                    }
                    let mut up = tokio::net::TcpStream::connect(("127.0.0.1", upstream))
                        .await
                        .unwrap();
                    up.write_all(&n.to_be_bytes()).await.unwrap();
                    up.write_all(&msg).await.unwrap();
                    let rn = up.read_u16().await.unwrap();
                    let mut reply = vec![0u8; rn as usize];
                    up.read_exact(&mut reply).await.unwrap();
                    if drop_reply {
                        return;
                    }
                    let _ = client.write_all(&rn.to_be_bytes()).await;
                    let _ = client.write_all(&reply).await;
                });
            }
        });
        Proxy { port, updates }
    }

    fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn updates(&self) -> u32 {
        *self.updates.lock().unwrap()
    }
}
