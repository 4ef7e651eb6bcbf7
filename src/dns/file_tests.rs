//! Unit tests of the file zone: atomic writes, locks, compare-and-swap.

use super::*;
use crate::clock::FixedClock;
use crate::dns::{apply_change, Applied, Change, ChangeOp, Error as DnsError};
use chrono::TimeZone;

fn key() -> RecordKey {
    RecordKey {
        domain: "example.com".into(),
        subdomain: "api".into(),
        rtype: RecordType::A,
        line: "默认".into(),
    }
}

fn provider(dir: &Path) -> FileProvider {
    let clock = Arc::new(FixedClock::new(
        Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(),
    ));
    FileProvider::new(dir.join("zone.json"), clock)
}

fn new(value: &str, enabled: bool) -> NewRecord {
    NewRecord {
        value: value.into(),
        ttl: 60,
        enabled,
        remark: "dns-failover created".into(),
    }
}

#[tokio::test]
async fn an_interrupted_write_leaves_the_old_zone_and_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path());
    p.create(&key(), &new("192.0.2.1", true)).await.unwrap();
    let before = std::fs::read(p.path()).unwrap();

    // Crash half way through writing the new zone.
    let r = write_atomic_with(
        p.path(),
        b"{\"records\": [ {\"id\": \"1\", \"dom",
        |f, b| {
            f.write_all(&b[..b.len() / 2])?;
            Err(std::io::Error::other("simulated crash"))
        },
    );
    assert!(r.is_err());
    assert_eq!(
        std::fs::read(p.path()).unwrap(),
        before,
        "zone changed by a failed write"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "zone.json" && n != "zone.json.lock")
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    assert_eq!(p.list(&key()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_temp_file_left_by_a_killed_process_is_harmless() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path());
    p.create(&key(), &new("192.0.2.1", true)).await.unwrap();
    std::fs::write(
        dir.path().join(".zone.json.tmp-99999-1"),
        b"{\"records\": [ {\"id\"",
    )
    .unwrap();
    assert_eq!(p.list(&key()).await.unwrap().len(), 1);
    p.create(&key(), &new("192.0.2.2", true)).await.unwrap();
    assert_eq!(p.list(&key()).await.unwrap().len(), 2);
}

#[test]
fn readers_never_see_a_torn_zone_while_a_writer_rewrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zone.json");
    let big = |n: usize| {
        let zone = Zone {
            next_id: n as u64,
            records: (0..n)
                .map(|i| ZoneRecord {
                    id: i.to_string(),
                    domain: "example.com".into(),
                    subdomain: format!("h{i}"),
                    rtype: RecordType::A,
                    line: "默认".into(),
                    value: "192.0.2.1".into(),
                    ttl: 60,
                    enabled: i % 2 == 0,
                    updated_on: None,
                    remark: "x".repeat(100),
                    weight: None,
                })
                .collect(),
        };
        serde_json::to_vec(&zone).unwrap()
    };
    write_atomic(&path, &big(10)).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                load_zone(&path).expect("a reader saw a torn zone");
                reads += 1;
            }
            reads
        })
    };
    for i in 0..40 {
        write_atomic(&path, &big(10 + (i % 7) * 300)).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
}

#[tokio::test]
async fn a_corrupt_zone_is_an_error_and_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path());
    std::fs::write(p.path(), b"{not json").unwrap();
    let e = p.list(&key()).await.unwrap_err();
    assert!(
        matches!(e, DnsError::Storage(ref m) if m.contains("not a valid zone")),
        "{e}"
    );
    assert!(p.create(&key(), &new("192.0.2.1", true)).await.is_err());
    assert_eq!(std::fs::read(p.path()).unwrap(), b"{not json");
}

#[tokio::test]
async fn apply_change_writes_confirms_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path());
    let id = p.create(&key(), &new("192.0.2.1", true)).await.unwrap();
    // A second enabled record: the last one is never disabled.
    p.create(&key(), &new("192.0.2.2", true)).await.unwrap();
    let change = Change {
        group: "api".into(),
        key: key(),
        region: "gz".into(),
        op: ChangeOp::SetStatus {
            record_id: id.clone(),
            expect_value: "192.0.2.1".into(),
            expect_enabled: true,
            expect_updated_on: None,
            enabled: false,
            remark: "dns-failover disabled 2026-11-22T00:00:00Z gz down".into(),
        },
        reason: "gz down".into(),
    };
    match apply_change(&p, &change).await.unwrap() {
        Applied::Done { record } => {
            assert!(!record.enabled);
            assert!(record.remark_is_ours());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        apply_change(&p, &change).await.unwrap(),
        Applied::AlreadyApplied { .. }
    ));
}

#[tokio::test]
async fn apply_change_refuses_to_overwrite_a_record_changed_by_someone_else() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path());
    let id = p.create(&key(), &new("192.0.2.1", true)).await.unwrap();
    // Someone rewrites the value after our read.
    let current = p.list(&key()).await.unwrap().remove(0);
    p.set_value(&key(), &current, "192.0.2.9", 60, true, "by alice")
        .await
        .unwrap();
    let change = Change {
        group: "api".into(),
        key: key(),
        region: "gz".into(),
        op: ChangeOp::SetValue {
            record_id: id.clone(),
            expect_value: "192.0.2.1".into(),
            expect_enabled: true,
            expect_updated_on: None,
            value: "192.0.2.2".into(),
            ttl: 60,
            enabled: true,
            remark: "dns-failover failover".into(),
        },
        reason: "x".into(),
    };
    let e = apply_change(&p, &change).await.unwrap_err();
    assert!(matches!(e, DnsError::Conflict { .. }), "{e}");
    assert_eq!(p.list(&key()).await.unwrap()[0].value, "192.0.2.9");
    // And a missing record is NotFound, not a silent create.
    let mut gone = change.clone();
    if let ChangeOp::SetValue { record_id, .. } = &mut gone.op {
        *record_id = "404".into();
    }
    assert!(matches!(
        apply_change(&p, &gone).await.unwrap_err(),
        DnsError::NotFound(_)
    ));
}
