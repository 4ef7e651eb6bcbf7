//! The `file` provider: a zone kept as JSON on disk.
//!
//! It is the embedded default for the demo, for tests and for dry runs. Every
//! write replaces the whole file atomically (temporary file in the same
//! folder, fsync, rename, fsync of the folder), so a crash mid-write leaves
//! either the old zone or the new one, never a torn file. A missing file is an
//! empty zone: the first run bootstraps it. A file that exists but is empty or
//! unreadable is an error, never a fresh start.
//!
//! Several processes may share one zone (one prober per region, a person
//! running a drill). Every write takes an advisory lock on a sidecar file
//! (`<zone>.lock`, `flock(2)`) around read, compare and write, and checks
//! inside the lock what [`super::apply_change`] checked on its re-read
//! ([`super::check_write`]): the record is still as the caller read it and a
//! disable does not take the name's last enabled record out. So the file zone
//! is a true compare-and-swap: the loser of a race gets a conflict.
//! Readers take no lock: a rename is atomic.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Error, NewRecord, Record, RecordKey, RecordType};
use crate::clock::Clock;

/// The zone file's shape.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    #[serde(default)]
    pub next_id: u64,
    #[serde(default)]
    pub records: Vec<ZoneRecord>,
}

/// One record in the zone file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneRecord {
    pub id: String,
    pub domain: String,
    pub subdomain: String,
    #[serde(rename = "type")]
    pub rtype: RecordType,
    pub line: String,
    pub value: String,
    pub ttl: u32,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_on: Option<DateTime<Utc>>,
    #[serde(default)]
    pub remark: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

impl ZoneRecord {
    fn matches(&self, key: &RecordKey) -> bool {
        self.domain == key.domain
            && self.subdomain == key.subdomain
            && self.rtype == key.rtype
            && self.line == key.line
    }
    fn to_record(&self) -> Record {
        Record {
            id: self.id.clone(),
            value: self.value.clone(),
            ttl: self.ttl,
            enabled: self.enabled,
            updated_on: self.updated_on,
            remark: self.remark.clone(),
            weight: self.weight,
        }
    }
}

pub struct FileProvider {
    path: PathBuf,
    clock: Arc<dyn Clock>,
    lock: tokio::sync::Mutex<()>,
}

impl FileProvider {
    pub fn new(path: impl Into<PathBuf>, clock: Arc<dyn Clock>) -> Self {
        FileProvider {
            path: path.into(),
            clock,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read the zone; a missing file is an empty zone.
    pub fn load(&self) -> Result<Zone, Error> {
        load_zone(&self.path)
    }

    /// Replace the zone atomically.
    pub fn save(&self, zone: &Zone) -> Result<(), Error> {
        let mut body = serde_json::to_vec_pretty(zone)
            .map_err(|e| Error::Storage(format!("cannot encode zone: {e}")))?;
        body.push(b'\n');
        write_atomic(&self.path, &body)
            .map_err(|e| Error::Storage(format!("cannot write {}: {e}", self.path.display())))
    }

    /// Run `f` on the zone under the cross-process lock (and this
    /// process's mutex), then save the zone if `f` says so.
    async fn locked<T>(
        &self,
        f: impl FnOnce(&mut Zone, DateTime<Utc>) -> Result<(T, bool), Error>,
    ) -> Result<T, Error> {
        let _guard = self.lock.lock().await;
        let _file_lock = lock_zone(&self.path).await?;
        let mut zone = self.load()?;
        let (out, save) = f(&mut zone, self.clock.now())?;
        if save {
            self.save(&zone)?;
        }
        Ok(out)
    }

    /// Change one record: checked against the caller's view (`current`)
    /// inside the lock, then `f` applied and the update time set.
    async fn modify(
        &self,
        key: &RecordKey,
        current: &Record,
        enabled: bool,
        f: impl FnOnce(&mut ZoneRecord),
    ) -> Result<(), Error> {
        self.locked(|zone, now| {
            let of_key: Vec<Record> = zone
                .records
                .iter()
                .filter(|r| r.matches(key))
                .map(ZoneRecord::to_record)
                .collect();
            super::check_write(
                &of_key,
                &current.id,
                &current.value,
                current.enabled,
                current.updated_on,
                enabled,
            )?;
            let rec = zone
                .records
                .iter_mut()
                .find(|r| r.id == current.id)
                .ok_or_else(|| Error::NotFound(current.id.clone()))?;
            f(rec);
            rec.updated_on = Some(now);
            Ok(((), true))
        })
        .await
    }
}

/// How long a writer waits for another process's lock on the zone. Writes
/// hold it for milliseconds; a holder that long is stuck, and the error says so.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// An exclusive advisory lock on `<zone>.lock`, released when dropped (or
/// when the process dies: the kernel drops `flock` locks with the file).
async fn lock_zone(path: &Path) -> Result<std::fs::File, Error> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let lock_path = path.with_file_name(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::Storage(format!("cannot open lock {}: {e}", lock_path.display())))?;
    let started = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Storage(format!(
                    "zone {} is locked by another process (waited {} s on {})",
                    path.display(),
                    LOCK_WAIT.as_secs(),
                    lock_path.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::Storage(format!(
                    "cannot lock {}: {e}",
                    lock_path.display()
                )))
            }
        }
    }
}

/// Read a zone file. A missing file is an empty zone (the first run
/// creates it); a file that exists but holds nothing is an error: it was
/// truncated or replaced, and starting afresh would forget every record.
pub fn load_zone(path: &Path) -> Result<Zone, Error> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Err(Error::Storage(format!(
            "zone file {} exists but is empty; refusing to treat it as a new zone (restore it, or delete it to start a new zone)",
            path.display()
        ))),
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Error::Storage(format!(
                "zone file {} is not a valid zone: {e}",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Zone::default()),
        Err(e) => Err(Error::Storage(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Write `body` to `path` so that readers see the old or the new content,
/// never a mix: temporary file beside it, fsync, rename over, fsync the folder.
pub fn write_atomic(path: &Path, body: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, body, |f, b| f.write_all(b))
}

/// [`write_atomic`] with the body writer injected, so tests can interrupt it.
pub fn write_atomic_with(
    path: &Path,
    body: &[u8],
    write: impl FnOnce(&mut std::fs::File, &[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "zone path has no file name",
        )
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        fastrand::u32(..)
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        write(&mut f, body)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[async_trait]
impl super::DnsProvider for FileProvider {
    fn name(&self) -> &str {
        "file"
    }

    async fn list(&self, key: &RecordKey) -> Result<Vec<Record>, Error> {
        Ok(self
            .load()?
            .records
            .iter()
            .filter(|r| r.matches(key))
            .map(ZoneRecord::to_record)
            .collect())
    }

    async fn create(&self, key: &RecordKey, record: &NewRecord) -> Result<String, Error> {
        self.locked(|zone, now| {
            if zone
                .records
                .iter()
                .any(|r| r.matches(key) && r.value == record.value)
            {
                // Same rule as DNSPod's InvalidParameter.DomainRecordExist.
                return Err(Error::Api {
                    code: "InvalidParameter.DomainRecordExist".into(),
                    message: format!("record {} {} already exists", key, record.value),
                    request_id: None,
                });
            }
            let max = zone
                .records
                .iter()
                .filter_map(|r| r.id.parse::<u64>().ok())
                .max()
                .unwrap_or(0);
            zone.next_id = zone.next_id.max(max) + 1;
            let id = zone.next_id.to_string();
            zone.records.push(ZoneRecord {
                id: id.clone(),
                domain: key.domain.clone(),
                subdomain: key.subdomain.clone(),
                rtype: key.rtype,
                line: key.line.clone(),
                value: record.value.clone(),
                ttl: record.ttl,
                enabled: record.enabled,
                updated_on: Some(now),
                remark: record.remark.clone(),
                weight: None,
            });
            Ok((id, true))
        })
        .await
    }

    async fn set_status(
        &self,
        key: &RecordKey,
        current: &Record,
        enabled: bool,
        remark: &str,
    ) -> Result<(), Error> {
        self.modify(key, current, enabled, |r| {
            r.enabled = enabled;
            if !remark.is_empty() {
                r.remark = remark.to_string();
            }
        })
        .await
    }

    async fn set_value(
        &self,
        key: &RecordKey,
        current: &Record,
        value: &str,
        ttl: u32,
        enabled: bool,
        remark: &str,
    ) -> Result<(), Error> {
        self.modify(key, current, enabled, |r| {
            r.value = value.to_string();
            r.ttl = ttl;
            r.enabled = enabled;
            if !remark.is_empty() {
                r.remark = remark.to_string();
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::dns::{apply_change, Applied, Change, ChangeOp, DnsProvider, Error as DnsError};
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
}
