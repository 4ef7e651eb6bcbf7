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
//!
//! Settings: `path`, the zone file ([`FileSettings`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::registry::{BuildContext, BuildError, ParseContext, Section, SectionError};
use super::{DnsProvider, Error, NewRecord, Record, RecordKey, RecordType};
use crate::clock::Clock;
use crate::model::limits::string_limits;
use crate::model::secret::EnvString;

/// `[dns]` keys of `provider = "file"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSettings {
    /// The zone file; a relative `path` is taken from the config file's folder.
    pub path: PathBuf,
}

/// The keys as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub path: Option<EnvString>,
}

impl Section for FileSettings {
    const NAME: &'static str = "file";
    const KEYS: &'static [&'static str] = &["path"];
    type Raw = RawFile;

    fn lengths(raw: &RawFile) -> Result<(), SectionError> {
        match &raw.path {
            Some(p) => SectionError::length("path", p.value(), string_limits::PATH),
            None => Ok(()),
        }
    }

    fn validate(raw: RawFile, ctx: &ParseContext) -> Result<Self, SectionError> {
        let Some(p) = raw.path else {
            return Err(SectionError::new(
                "provider",
                "provider = \"file\" needs `path`, the zone file (JSON)",
            ));
        };
        let p = PathBuf::from(p.0);
        let path = if p.is_relative() {
            ctx.base_dir.join(p)
        } else {
            p
        };
        Ok(FileSettings { path })
    }

    fn build(&self, ctx: &BuildContext) -> Result<Arc<dyn DnsProvider>, BuildError> {
        Ok(Arc::new(FileProvider::new(
            self.path.clone(),
            ctx.clock.clone(),
        )))
    }
}

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
impl DnsProvider for FileProvider {
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

    /// One read of the zone for every key.
    async fn list_many(&self, keys: &[RecordKey]) -> Vec<Result<Vec<Record>, Error>> {
        match self.load() {
            Ok(zone) => keys
                .iter()
                .map(|key| {
                    Ok(zone
                        .records
                        .iter()
                        .filter(|r| r.matches(key))
                        .map(ZoneRecord::to_record)
                        .collect())
                })
                .collect(),
            Err(e) => keys.iter().map(|_| Err(e.clone())).collect(),
        }
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
#[path = "file_tests.rs"]
mod tests;
