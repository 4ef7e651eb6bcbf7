//! The DNS edge: reading records and applying changes.
//!
//! The record model ([`Record`], [`RecordKey`], [`Change`]) is plain data in
//! [`crate::model`], re-exported here. This module owns the [`DnsProvider`]
//! trait that each backend implements with four primitives, and
//! [`apply_change`], the one place that turns a planned change into a
//! checked write: re-read, compare with what the plan started from, write,
//! read back. Backends therefore never decide anything; they only list and
//! write.
//!
//! Each provider owns, in its own file, its `[dns]` keys (validated), and
//! how it is built; [`registry`] maps `provider = "..."` to them. This
//! module imports the model, the clock and `tencent`, nothing of config.
//!
//! Nothing here deletes a record: the trait has no such method on purpose.

pub mod alidns;
mod batch;
pub mod dnspod;
pub mod file;
pub mod registry;
pub mod rfc2136;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use registry::{BuildContext, BuildError, ProviderSettings};

pub use crate::model::record::{
    remark, same_value, status_word, Change, ChangeOp, NewRecord, PlanLimits, Record, RecordKey,
    RecordType, CONTROL_LINE, REMARK_MARKER,
};

/// What applying one change did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Applied {
    /// Written and confirmed by reading back.
    Done { record: Record },
    /// The record was already in the planned state; nothing was written.
    AlreadyApplied { record: Record },
}

/// Errors of the DNS edge. Callers branch on these.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Credentials missing, wrong or not allowed (never retried).
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The provider kept refusing for rate reasons past our retry budget.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// The record changed between our read and our write; we did not overwrite it.
    #[error("conflict on record {record_id}: {detail}")]
    Conflict { record_id: String, detail: String },
    /// The record we meant to change is gone.
    #[error("record {0} not found")]
    NotFound(String),
    /// The provider answered with an error we do not map more precisely.
    #[error("{code}: {message}{}", request_id.as_deref().map(|r| format!(" (RequestId {r})")).unwrap_or_default())]
    Api {
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// Network, timeout, 5xx, I/O.
    #[error("transport: {0}")]
    Transport(String),
    /// Written, but reading back did not show the change.
    #[error("write to record {record_id} not visible on read-back: {detail}")]
    NotConfirmed { record_id: String, detail: String },
    /// The backend's own storage failed (file zone unreadable or unwritable).
    #[error("zone storage: {0}")]
    Storage(String),
    /// The provider refused the TTL; carries the lowest it accepts when known.
    #[error("TTL {requested} refused by the domain's plan{}", min.map(|m| format!(" (lowest allowed {m})")).unwrap_or_default())]
    TtlRefused { requested: u32, min: Option<u32> },
    /// An enable or create was refused: the plan caps the enabled records
    /// of one host and line (DNSPod `LimitExceeded.SubdomainRollLimit`;
    /// disabled records are not counted). Carries the plan and its cap
    /// when known.
    #[error("{}", roll_limit_text(limits.as_ref()))]
    RollLimit { limits: Option<PlanLimits> },
}

fn roll_limit_text(limits: Option<&PlanLimits>) -> String {
    match limits.and_then(|l| Some((l, l.record_roll?))) {
        Some((l, n)) => format!(
            "the domain's {} allows at most {n} enabled records per host and line (round-robin limit)",
            l.name()
        ),
        None => "the domain's DNS plan allows no more enabled records on this host and line (round-robin limit)".into(),
    }
}

/// A DNS backend. Implementers provide four primitives and must not decide
/// anything: no compare-and-swap logic here (that is [`apply_change`]'s),
/// no retries hidden from the caller's time budget beyond their own, and no
/// deletes, ever. Errors never contain credentials.
#[async_trait]
pub trait DnsProvider: Send + Sync {
    /// Short name for reports: `file`, `dnspod`, `alidns`.
    fn name(&self) -> &str;
    /// The provider's name of its default line, where the control records
    /// (alert state, pauses, votes) live. Default: DNSPod's `默认`
    /// ([`CONTROL_LINE`]); Alidns says `default`.
    fn default_line(&self) -> &str {
        CONTROL_LINE
    }
    /// Every record of one name/type/line, enabled or not. An empty zone is
    /// `Ok(vec![])`, not an error.
    async fn list(&self, key: &RecordKey) -> Result<Vec<Record>, Error>;
    /// Every record of each of `keys`, in the same order: the reads a pass
    /// makes at its start (every group's name, the pause records, the
    /// votes). Default: one [`DnsProvider::list`] per key, concurrently. A
    /// provider that can read a whole domain in fewer calls than there are
    /// keys (DNSPod: 3,000 records a page) does, so that a pass costs one
    /// call, not one per name, against the API's per-second limits.
    async fn list_many(&self, keys: &[RecordKey]) -> Vec<Result<Vec<Record>, Error>> {
        futures_util::future::join_all(keys.iter().map(|k| self.list(k))).await
    }
    /// One record by id, as the provider has it now: the read-back after a
    /// write. A provider whose list lags behind its writes (DNSPod indexes a
    /// new record within 30 s) reads it directly. `Error::NotFound` when it
    /// is not there. Default: [`DnsProvider::list`], then the id.
    async fn get(&self, key: &RecordKey, id: &str) -> Result<Record, Error> {
        pick(&self.list(key).await?, id)
    }
    /// What the domain's plan allows (lowest TTL, round-robin cap). A
    /// provider may read it once and keep it for its lifetime (one run).
    /// Default: no plan ([`PlanLimits::unlimited`]).
    async fn limits(&self, domain: &str) -> Result<PlanLimits, Error> {
        let _ = domain;
        Ok(PlanLimits::unlimited())
    }
    /// The host names of the servers that answer for `domain`, as the
    /// provider knows them (`[dns] verify = "ns"` asks each one after a
    /// write). Default: `Ok(None)`, the provider does not say.
    async fn name_servers(&self, domain: &str) -> Result<Option<Vec<String>>, Error> {
        let _ = domain;
        Ok(None)
    }
    /// The line names a record of `domain` may use, when the provider can
    /// list them (`validate --online` checks the groups' lines against
    /// them). Default: `None`. DNSPod's lines depend on the plan and are
    /// checked by `online.rs` with their own calls.
    async fn lines(&self, domain: &str) -> Result<Option<Vec<String>>, Error> {
        let _ = domain;
        Ok(None)
    }
    /// Create a record; returns its id.
    async fn create(&self, key: &RecordKey, record: &NewRecord) -> Result<String, Error>;
    /// Enable or disable a record and set its remark (an empty remark keeps
    /// the current one), in one write: the status and the tool's marker
    /// must land together or not at all. Providers that can check
    /// atomically refuse with `Error::Conflict` what [`check_write`] refuses.
    async fn set_status(
        &self,
        key: &RecordKey,
        current: &Record,
        enabled: bool,
        remark: &str,
    ) -> Result<(), Error>;
    /// Rewrite value and TTL, sending `enabled` as the intended status and
    /// keeping everything else of `current` (weight, remark unless given;
    /// an empty remark keeps the current one).
    async fn set_value(
        &self,
        key: &RecordKey,
        current: &Record,
        value: &str,
        ttl: u32,
        enabled: bool,
        remark: &str,
    ) -> Result<(), Error>;
}

/// What a status or value write may do to a record, checked against a
/// fresh read of every record of its key: the record is still in the state
/// the plan started from (value, status and, when known, update time), and
/// the write does not take the key's last enabled record out. Both
/// [`apply_change`] (on its re-read) and providers that can check atomically
/// (the file zone, under its lock) call it.
pub fn check_write(
    all: &[Record],
    record_id: &str,
    expect_value: &str,
    expect_enabled: bool,
    expect_updated_on: Option<DateTime<Utc>>,
    enabled: bool,
) -> Result<(), Error> {
    let current = all
        .iter()
        .find(|r| r.id == record_id)
        .ok_or_else(|| Error::NotFound(record_id.to_string()))?;
    if !same_value(&current.value, expect_value) || current.enabled != expect_enabled {
        return Err(conflict(current, expect_value, expect_enabled));
    }
    if let (Some(then), Some(now)) = (expect_updated_on, current.updated_on) {
        if now != then {
            return Err(Error::Conflict {
                record_id: current.id.clone(),
                detail: format!(
                    "written by someone else at {} since our read (last update we saw: {}); left as is",
                    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    then.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            });
        }
    }
    if current.enabled && !enabled && !all.iter().any(|r| r.id != current.id && r.enabled) {
        return Err(Error::Conflict {
            record_id: current.id.clone(),
            detail: format!(
                "disabling it would leave the name with no enabled record ({} record{} now, every other one disabled since our read); left enabled",
                all.len(),
                if all.len() == 1 { "" } else { "s" }
            ),
        });
    }
    Ok(())
}

/// Apply one change with compare-and-swap semantics:
/// 1. re-read the records of the key;
/// 2. if the record is already in the planned state, return `AlreadyApplied`
///    (this makes a re-run after a partial failure idempotent);
/// 3. if it is no longer in the state the plan started from (value, status,
///    update time), or a disable would leave the name with no enabled record,
///    return `Error::Conflict` and write nothing (another prober or a person
///    acted);
/// 4. write, then read back and confirm. A read-back that shows someone
///    else's write is a `Conflict`; if it shows that our disable landed on a
///    record that meanwhile took another value, the status is put back
///    (we never leave disabled what we did not mean to disable).
///
/// What remains: DNSPod has no conditional write, so a person's edit that
/// lands between step 1 and step 4's write (a few milliseconds) is
/// overwritten; the file zone checks and writes under one lock and has no
/// such window.
pub async fn apply_change(dns: &dyn DnsProvider, change: &Change) -> Result<Applied, Error> {
    let key = &change.key;
    match &change.op {
        ChangeOp::Create { record } => {
            let before = dns.list(key).await?;
            if let Some(r) = before.iter().find(|r| same_value(&r.value, &record.value)) {
                if r.enabled == record.enabled {
                    return Ok(Applied::AlreadyApplied { record: r.clone() });
                }
                return Err(Error::Conflict {
                    record_id: r.id.clone(),
                    detail: format!(
                        "a record with value {} appeared ({}) before we created it",
                        r.value,
                        status_word(r.enabled)
                    ),
                });
            }
            let id = dns.create(key, record).await?;
            // By id: a new record may be missing from the list for a while.
            match dns.get(key, &id).await {
                Ok(r) if same_value(&r.value, &record.value) && r.enabled == record.enabled => {
                    Ok(Applied::Done { record: r })
                }
                Ok(r) => Err(Error::NotConfirmed {
                    record_id: id,
                    detail: format!("read back {} {}", r.value, status_word(r.enabled)),
                }),
                Err(Error::NotFound(_)) => Err(Error::NotConfirmed {
                    record_id: id,
                    detail: "created record not found by its id".into(),
                }),
                Err(e) => Err(e),
            }
        }
        ChangeOp::SetTtl {
            record_id,
            expect_value,
            expect_enabled,
            expect_updated_on,
            ttl,
            ..
        } => {
            let all = dns.list(key).await?;
            let current = pick(&all, record_id)?;
            if current.ttl <= *ttl
                && same_value(&current.value, expect_value)
                && current.enabled == *expect_enabled
            {
                return Ok(Applied::AlreadyApplied { record: current });
            }
            check_write(
                &all,
                record_id,
                expect_value,
                *expect_enabled,
                *expect_updated_on,
                *expect_enabled,
            )?;
            dns.set_value(key, &current, &current.value, *ttl, current.enabled, "")
                .await?;
            let after = find(dns, key, record_id).await?;
            if same_value(&after.value, expect_value) && after.enabled == *expect_enabled {
                return Ok(Applied::Done { record: after });
            }
            Err(read_back_mismatch(dns, change, &after, expect_value, *expect_enabled, "").await)
        }
        ChangeOp::SetStatus {
            record_id,
            expect_value,
            expect_enabled,
            expect_updated_on,
            enabled,
            remark,
        } => {
            let all = dns.list(key).await?;
            let current = pick(&all, record_id)?;
            if same_value(&current.value, expect_value) && current.enabled == *enabled {
                return Ok(Applied::AlreadyApplied { record: current });
            }
            check_write(
                &all,
                record_id,
                expect_value,
                *expect_enabled,
                *expect_updated_on,
                *enabled,
            )?;
            dns.set_status(key, &current, *enabled, remark).await?;
            let after = find(dns, key, record_id).await?;
            if after.enabled == *enabled && same_value(&after.value, expect_value) {
                return Ok(Applied::Done { record: after });
            }
            Err(read_back_mismatch(dns, change, &after, expect_value, *enabled, remark).await)
        }
        ChangeOp::SetValue {
            record_id,
            expect_value,
            expect_enabled,
            expect_updated_on,
            value,
            ttl,
            enabled,
            remark,
        } => {
            let all = dns.list(key).await?;
            let current = pick(&all, record_id)?;
            if same_value(&current.value, value) && current.enabled == *enabled {
                return Ok(Applied::AlreadyApplied { record: current });
            }
            check_write(
                &all,
                record_id,
                expect_value,
                *expect_enabled,
                *expect_updated_on,
                *enabled,
            )?;
            dns.set_value(key, &current, value, *ttl, *enabled, remark)
                .await?;
            let after = find(dns, key, record_id).await?;
            if same_value(&after.value, value) && after.enabled == *enabled {
                return Ok(Applied::Done { record: after });
            }
            Err(read_back_mismatch(dns, change, &after, value, *enabled, remark).await)
        }
    }
}

/// The read-back after a write does not show what we wrote. If the remark
/// is not the one we sent, someone else wrote the record after us: a
/// conflict, not a failure of ours. If our disable landed on a record whose
/// value changed in between (a person renumbered it), put its status back
/// and say so, or say that it needs a hand.
async fn read_back_mismatch(
    dns: &dyn DnsProvider,
    change: &Change,
    after: &Record,
    meant_value: &str,
    meant_enabled: bool,
    our_remark: &str,
) -> Error {
    let seen = format!("read back {} {}", after.value, status_word(after.enabled));
    let was_enabled = matches!(
        change.op,
        ChangeOp::SetStatus {
            expect_enabled: true,
            ..
        }
    );
    if !meant_enabled && was_enabled && !after.enabled && !same_value(&after.value, meant_value) {
        // We disabled a record that now holds a value we had no opinion on.
        let undo = async {
            dns.set_status(&change.key, after, true, "").await?;
            let again = find(dns, &change.key, &after.id).await?;
            if again.enabled {
                Ok(())
            } else {
                Err(Error::NotConfirmed {
                    record_id: after.id.clone(),
                    detail: "still disabled after putting it back".into(),
                })
            }
        };
        let detail = match undo.await {
            Ok(()) => format!(
                "changed by someone else to {} while we disabled it; its status was put back to enabled",
                after.value
            ),
            Err(e) => format!(
                "changed by someone else to {} while we disabled it, and putting it back failed ({e}): it needs a hand (enable record {} of {})",
                after.value, after.id, change.key
            ),
        };
        return Error::Conflict {
            record_id: after.id.clone(),
            detail,
        };
    }
    if !our_remark.is_empty() && after.remark != our_remark {
        return Error::Conflict {
            record_id: after.id.clone(),
            detail: format!("{seen}: written by someone else just after us; left as is"),
        };
    }
    Error::NotConfirmed {
        record_id: after.id.clone(),
        detail: seen,
    }
}

fn pick(all: &[Record], id: &str) -> Result<Record, Error> {
    all.iter()
        .find(|r| r.id == id)
        .cloned()
        .ok_or_else(|| Error::NotFound(id.to_string()))
}

/// The read-back after a write: by id.
async fn find(dns: &dyn DnsProvider, key: &RecordKey, id: &str) -> Result<Record, Error> {
    dns.get(key, id).await
}

fn conflict(current: &Record, expect_value: &str, expect_enabled: bool) -> Error {
    Error::Conflict {
        record_id: current.id.clone(),
        detail: format!(
            "expected {expect_value} {}, found {} {} (changed by someone else since our read; left as is)",
            status_word(expect_enabled),
            current.value,
            status_word(current.enabled)
        ),
    }
}
