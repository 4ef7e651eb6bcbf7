//! The control records' layout and the records read from two RRsets: no
//! server (tests/rfc2136.rs drives a real BIND).

use chrono::{TimeZone, Utc};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::RData;

use super::rrset::{derive_id, rdata_of, Entry, Plan, Snapshot};
use super::wire;
use crate::model::record::{NewRecord, RecordType};

fn at(s: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, s).unwrap()
}

fn entry(id: &str, enabled: bool, value: &str, remark: &str) -> Entry {
    Entry {
        id: id.into(),
        enabled,
        value: value.into(),
        ttl: 60,
        at: at(7),
        remark: remark.into(),
    }
}

fn a(v: &str) -> RData {
    rdata_of(RecordType::A, v).unwrap()
}

#[test]
fn an_entry_round_trips_through_its_txt_record_with_a_long_remark() {
    let long = format!(
        "dns-failover disabled 2026-12-05T10:00:07Z {}",
        "区".repeat(200)
    );
    let e = entry("1a2b3c4d", false, "192.0.2.1", &long);
    let txt = e.to_txt();
    assert!(txt.txt_data().iter().all(|s| s.len() <= 255));
    assert_eq!(Entry::parse(&txt), Some(e));
}

#[test]
fn foreign_txt_records_are_not_entries() {
    for strings in [
        vec!["v=spf1 -all"],
        vec![
            "dns-failover-rr/1",
            "id",
            "maybe",
            "192.0.2.1",
            "60",
            "2026-12-05T10:00:07Z",
        ],
        vec![
            "dns-failover-rr/2",
            "id",
            "on",
            "192.0.2.1",
            "60",
            "2026-12-05T10:00:07Z",
        ],
        vec![
            "dns-failover-rr/1",
            "id",
            "on",
            "192.0.2.1",
            "sixty",
            "2026-12-05T10:00:07Z",
        ],
    ] {
        assert_eq!(
            Entry::parse(&TXT::new(strings.iter().map(|s| s.to_string()).collect())),
            None,
            "{strings:?}"
        );
    }
}

#[test]
fn served_values_are_enabled_and_off_entries_are_disabled_records() {
    let snap = Snapshot {
        served: vec![a("192.0.2.1"), a("192.0.2.2")],
        served_ttl: Some(60),
        meta: vec![
            entry("aaaa0001", true, "192.0.2.1", "dns-failover enabled").to_txt(),
            entry("aaaa0003", false, "192.0.2.3", "dns-failover disabled").to_txt(),
            TXT::new(vec!["someone else's".into()]),
        ],
    };
    let recs = snap.records();
    assert_eq!(recs.len(), 3);
    assert_eq!((recs[0].id.as_str(), recs[0].enabled), ("aaaa0001", true));
    assert_eq!(recs[0].remark, "dns-failover enabled");
    assert_eq!(recs[0].updated_on, Some(at(7)));
    // No entry: an id from the value, no remark, no time.
    assert_eq!(recs[1].id, derive_id("192.0.2.2", &Default::default()));
    assert_eq!((recs[1].enabled, recs[1].updated_on), (true, None));
    assert_eq!(
        (recs[2].id.as_str(), recs[2].enabled, recs[2].value.as_str()),
        ("aaaa0003", false, "192.0.2.3")
    );
}

#[test]
fn a_value_served_again_by_hand_is_enabled_and_keeps_its_id() {
    let snap = Snapshot {
        served: vec![a("192.0.2.3")],
        served_ttl: Some(30),
        meta: vec![entry("aaaa0003", false, "192.0.2.3", "dns-failover disabled").to_txt()],
    };
    let recs = snap.records();
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (recs[0].id.as_str(), recs[0].enabled, recs[0].ttl),
        ("aaaa0003", true, 30)
    );
    assert_eq!(
        recs[0].remark, "",
        "the off entry's remark does not describe a served record"
    );
}

#[test]
fn disabling_moves_the_value_to_an_off_entry_in_one_plan_and_landed_recognises_it() {
    let before = Snapshot {
        served: vec![a("192.0.2.1"), a("192.0.2.2")],
        served_ttl: Some(60),
        meta: vec![],
    };
    let cur = before.records().remove(0);
    let plan = Plan::status(
        &before,
        RecordType::A,
        &cur,
        false,
        "dns-failover disabled x",
        at(9),
    )
    .unwrap();
    assert_eq!(plan.served_del, vec![a("192.0.2.1")]);
    assert!(plan.served_add.is_empty());
    assert_eq!(plan.meta_add.id, cur.id);
    assert!(!plan.meta_add.enabled);
    let after = Snapshot {
        served: vec![a("192.0.2.2")],
        served_ttl: Some(60),
        meta: vec![plan.meta_add.to_txt()],
    };
    assert!(plan.landed(&before, &after));
    assert!(!plan.landed(&before, &before));
    assert!(plan.untouched(&before, &before));
    assert!(!plan.untouched(&before, &after));
    // Another record's entry written meanwhile does not touch this one.
    let mut other = before.clone();
    other
        .meta
        .push(entry("bbbb0009", false, "192.0.2.9", "vote").to_txt());
    assert!(plan.untouched(&before, &other));
    let recs = after.records();
    let off = recs.iter().find(|r| r.id == cur.id).unwrap();
    assert!(!off.enabled);
    assert_eq!(off.remark, "dns-failover disabled x");
}

#[test]
fn a_rewrite_keeps_the_id_and_replaces_the_old_entry() {
    let before = Snapshot {
        served: vec![a("192.0.2.1")],
        served_ttl: Some(60),
        meta: vec![entry("aaaa0001", true, "192.0.2.1", "r").to_txt()],
    };
    let cur = before.records().remove(0);
    let plan = Plan::value(
        &before,
        RecordType::A,
        &cur,
        "192.0.2.9",
        30,
        true,
        "",
        at(9),
    )
    .unwrap();
    assert_eq!(plan.served_del, vec![a("192.0.2.1")]);
    assert_eq!(plan.served_add, vec![a("192.0.2.9")]);
    assert_eq!(plan.meta_del, before.meta);
    assert_eq!(
        plan.meta_add.remark, "r",
        "an empty remark keeps the current one"
    );
    let after = Snapshot {
        served: vec![a("192.0.2.9")],
        served_ttl: Some(30),
        meta: vec![plan.meta_add.to_txt()],
    };
    assert_eq!(after.records()[0].id, "aaaa0001");
}

#[test]
fn a_rewrite_onto_another_records_value_is_refused() {
    let before = Snapshot {
        served: vec![a("192.0.2.1"), a("192.0.2.2")],
        served_ttl: Some(60),
        meta: vec![],
    };
    let cur = before.records().remove(0);
    assert!(Plan::value(
        &before,
        RecordType::A,
        &cur,
        "192.0.2.2",
        60,
        true,
        "",
        at(9)
    )
    .is_err());
}

#[test]
fn a_created_record_gets_an_id_no_other_record_has() {
    let taken = derive_id("192.0.2.7", &Default::default());
    // A record rewritten away from 192.0.2.7 still carries the id 192.0.2.7 would derive.
    let snap = Snapshot {
        served: vec![a("192.0.2.1")],
        served_ttl: Some(60),
        meta: vec![entry(&taken, true, "192.0.2.1", "").to_txt()],
    };
    let new = NewRecord {
        value: "192.0.2.7".into(),
        ttl: 120,
        enabled: true,
        remark: "dns-failover created".into(),
    };
    let (plan, id) = Plan::create(&snap, RecordType::A, &new, at(9)).unwrap();
    assert_ne!(id, taken);
    assert_eq!(plan.served_ttl, 60, "the RRset keeps its TTL");
    assert!(Plan::create(
        &snap,
        RecordType::A,
        &NewRecord {
            value: "192.0.2.1".into(),
            ..new
        },
        at(9)
    )
    .is_err());
}

#[test]
fn values_are_checked_per_type() {
    assert!(rdata_of(RecordType::A, "192.0.2.300").is_err());
    assert!(rdata_of(RecordType::Aaaa, "192.0.2.1").is_err());
    assert!(rdata_of(RecordType::Aaaa, "2001:db8::1").is_ok());
    assert!(rdata_of(RecordType::Cname, "gz.example.com").is_ok());
}

#[test]
fn the_tsig_error_field_is_read_from_the_rdata() {
    use hickory_proto::dnssec::rdata::tsig::{TsigAlgorithm, TSIG};
    use hickory_proto::dnssec::rdata::DNSSECRData;
    use hickory_proto::op::Message;
    use hickory_proto::rr::{Name, Record};
    let server_time: u64 = 1_765_000_000;
    let tsig = TSIG::new(
        TsigAlgorithm::HmacSha256,
        1_765_000_400,
        300,
        vec![7; 32],
        4242,
        18,
        server_time.to_be_bytes()[2..].to_vec(),
    );
    let mut m = Message::new();
    m.add_tsig(Record::from_rdata(
        Name::from_ascii("update-key.").unwrap(),
        0,
        RData::DNSSEC(DNSSECRData::TSIG(tsig)),
    ));
    assert_eq!(wire::tsig_error(&m), Some((18, Some(server_time))));
}

fn link() -> wire::Link {
    use hickory_proto::dnssec::rdata::tsig::TsigAlgorithm;
    use hickory_proto::dnssec::tsig::TSigner;
    use hickory_proto::rr::Name;
    wire::Link {
        server: "127.0.0.1:53".into(),
        signer: TSigner::new(
            vec![7; 32],
            TsigAlgorithm::HmacSha256,
            Name::from_ascii("update-key.").unwrap(),
            wire::FUDGE,
        )
        .unwrap(),
        key_name: "update-key".into(),
        algorithm: "hmac-sha256",
        timeout: std::time::Duration::from_secs(1),
        deadline: None,
        tsig_clock: std::sync::Arc::new(crate::clock::FixedClock::new(at(0))),
    }
}

/// Replies that fail the TSIG check, as Knot and PowerDNS send them (BIND's
/// are driven in tests/rfc2136.rs): each gets its own words, never success.
#[test]
fn unverified_replies_name_the_key_or_the_clock() {
    use crate::dns::Error;
    use hickory_proto::op::ResponseCode;
    use wire::Failure;
    let l = link();
    let unverified = |rcode, tsig_error, signed| Failure::Unverified {
        rcode,
        tsig_error,
        signed,
    };
    let time = at(0).timestamp() as u64;
    let cases: Vec<(Failure, &str)> = vec![
        (unverified(ResponseCode::NotAuth, Some((17, None)), true), "rejected TSIG key \"update-key\" (hmac-sha256) with BADKEY"),
        (unverified(ResponseCode::NotAuth, Some((16, None)), false), "with BADSIG"),
        (unverified(ResponseCode::NotAuth, Some((18, Some(time - 400))), true), "BADTIME): this machine's clock and the server's differ by more than 300 s; this machine's clock is 400 s ahead of the server's"),
        (unverified(ResponseCode::Refused, None, false), "answered REFUSED without signing the reply: it does not accept TSIG key \"update-key\""),
        (unverified(ResponseCode::NotAuth, None, false), "answered NOTAUTH without signing"),
    ];
    for (f, want) in cases {
        let e = l.failure_error("update of www.example.test A", f);
        assert!(matches!(e, Error::Auth(_)), "{e}");
        assert!(e.to_string().contains(want), "want {want:?} in {e}");
    }
    let e = l.failure_error("q", unverified(ResponseCode::ServFail, None, true));
    assert!(
        matches!(&e, Error::Api { code, .. } if code == "SERVFAIL"),
        "{e}"
    );
    let e = l.failure_error("q", Failure::Transport("no reply".into()));
    assert!(matches!(e, Error::Transport(_)), "{e}");
}
