//! The `alidns` provider: Alibaba Cloud DNS, API `2015-01-09`, signed with
//! ACS3-HMAC-SHA256 (`sign.rs`) through a small client (`client.rs`).
//!
//! Primitives, nothing decided here (compare-and-swap and read-back are
//! [`super::apply_change`]'s):
//! - `list`: `DescribeSubDomainRecords` (`SubDomain` = the full name,
//!   `DomainName`, `Type`, `Line`), 100 per page until `TotalCount`, then
//!   filtered again here on exact host/type/line;
//! - `get`: `DescribeDomainRecordInfo` by id (the read-back);
//! - `limits`: `DescribeDomainInfo` with `NeedDetailAttributes=true`, read
//!   once per run: the edition (`VersionCode`) and its `MinTtl`;
//! - `create`: `AddDomainRecord` (a new record is enabled and has no
//!   remark), then the remark and, for a disabled record, the status;
//! - `set_status`: `SetDomainRecordStatus` plus `UpdateDomainRecordRemark`;
//! - `set_value`: `UpdateDomainRecord` (value and TTL, with `RR`, `Type`
//!   and `Line` as they are: it has no Status, Weight or Remark), then the
//!   status and the remark as for `set_status`.
//!
//! **Two calls where the trait wants one write.** Alidns cannot set a
//! status and a remark together, so [`DnsProvider::set_status`] is two
//! calls, ordered so that the half-state a failure between them leaves is
//! harmless:
//! - taking a record *out* (disable): the remark (the tool's marker) first,
//!   then the status. Failing in between leaves an *enabled* record whose
//!   remark already says the tool disabled it: it still serves, and the
//!   next run tries again. The other order could leave a disabled record
//!   without the marker, which the tool would never fail back (it only
//!   re-enables what it marked): a region stranded;
//! - putting a record *back* (enable): the status first, then the remark.
//!   Failing in between leaves an enabled record with the old "disabled"
//!   marker: it serves, and the marker only matters on disabled records.
//!   The other order would restamp the marker's time on a still-disabled
//!   record and delay the next failback by `failback_after`.
//!
//! A failure after the first call landed is returned as an error that says
//! which half landed and in what state the record is left, so the run
//! report shows it.
//!
//! **No conditional write.** Like DNSPod, Alidns has no compare-and-swap:
//! `apply_change` re-reads the records just before writing and reads back
//! after, so a person's edit that lands in between (the few milliseconds
//! between the re-read and the write, up to three calls here) is
//! overwritten.
//!
//! **Differences from DNSPod, each handled:** `UpdateDomainRecord` answers
//! `DomainRecordDuplicate` for an update that changes nothing, and also
//! when another record of the host already has the value: the record is
//! read back by id, unchanged-and-already-there is success, anything else
//! a [`Error::Conflict`]. An update of a record that stays disabled is
//! followed by `SetDomainRecordStatus` `Disable` (whether an update keeps a
//! disabled record disabled is not documented). A TTL below the edition's
//! floor (`QuotaExceeded.TTL`; 600 s on the free and personal editions) is
//! written again once with `MinTtl`, as for DNSPod. `Throttling*` is
//! retried with backoff inside the call's budget, then
//! [`Error::RateLimited`]. Lines are Alidns's (`default`, `telecom`,
//! `unicom`, ...): [`DEFAULT_LINE`] carries the control records.

use std::sync::Arc;

use async_trait::async_trait;

use super::registry::BuildError;
use super::{same_value, DnsProvider, Error, NewRecord, PlanLimits, Record, RecordKey};
use crate::clock::Clock;
use client::ApiError;
use wire::{DomainInfoReply, IdReply, SubDomainReply, WireRecord};

pub mod client;
mod settings;
pub mod sign;
mod wire;

pub use client::{Client, ClientOptions, Credentials, CredentialsError};
pub use settings::{AlidnsSettings, RawAlidns, DEFAULT_ENDPOINT};

/// Alidns's default line (DNSPod's is `默认`).
pub const DEFAULT_LINE: &str = "default";

/// The basic lines (reference §5, D-Lines); editions add regional, ISP
/// and search-engine sub-lines, so a name outside the list is a warning.
pub const LINES: &[&str] = &[
    "default",
    "telecom",
    "unicom",
    "mobile",
    "edu",
    "drpeng",
    "btvn",
    "cstnet",
    "wexchange",
    "founder",
    "topway_video",
    "wasu",
    "ocn",
    "cnix",
    "bgctv",
    "aliyun",
    "search",
    "oversea",
    "internal",
];

/// Largest page asked of `DescribeSubDomainRecords` (the SDK documents 100;
/// older pages say 500).
pub const PAGE_SIZE: u64 = 100;

/// Used when the edition's `MinTtl` cannot be read: the free edition's
/// 600 s is the highest floor of any edition.
pub const FALLBACK_MIN_TTL: u32 = 600;

#[derive(Debug)]
pub struct AlidnsProvider {
    client: Client,
    /// The edition's limits, read once when first needed.
    plan: tokio::sync::Mutex<Option<PlanLimits>>,
}

/// The name `DescribeSubDomainRecords` wants: `www.example.com`, or the
/// domain itself for the apex.
fn full_name(key: &RecordKey) -> String {
    if key.subdomain == "@" || key.subdomain.is_empty() {
        key.domain.clone()
    } else {
        format!("{}.{}", key.subdomain, key.domain)
    }
}

/// What `AddDomainRecord` did.
enum Created {
    New(String),
    /// `DomainRecordDuplicate`: this record was there already.
    Existing(String),
}

fn status_param(enabled: bool) -> &'static str {
    if enabled {
        "Enable"
    } else {
        "Disable"
    }
}

/// Map a client error onto the DNS edge's vocabulary.
fn map_error(action: &str, e: ApiError, record_id: Option<&str>) -> Error {
    let attempts = match &e {
        ApiError::GaveUp { attempts, .. } => format!(" after {attempts} attempts"),
        _ => String::new(),
    };
    if e.is_rate_limited() {
        return Error::RateLimited(format!("{action}{attempts}: {e}"));
    }
    match e.last() {
        ApiError::Api {
            code,
            message,
            request_id,
            ..
        } => {
            let code = code.as_str();
            if let Some(hint) = auth_hint(code) {
                Error::Auth(format!("{action}: {}{hint}", e.last()))
            } else if code == "QuotaExceeded.TTL" {
                Error::TtlRefused {
                    requested: 0,
                    min: None,
                }
            } else if let (Some(id), "DomainRecordNotBelongToUser" | "InvalidRR.NoExist") =
                (record_id, code)
            {
                Error::NotFound(id.to_string())
            } else {
                Error::Api {
                    code: code.to_string(),
                    message: format!("{action}: {message}"),
                    request_id: Some(request_id.clone()),
                }
            }
        }
        ApiError::Decode(d) => Error::Api {
            code: "UnexpectedAnswer".into(),
            message: format!("{action}: {d}"),
            request_id: None,
        },
        _ => Error::Transport(format!("{action}{attempts}: {e}")),
    }
}

/// The codes that mean the credentials (or the clock signing with them)
/// are wrong or not allowed, with a next step.
fn auth_hint(code: &str) -> Option<&'static str> {
    Some(match code {
        c if c.starts_with("InvalidAccessKeyId") => {
            " - check the AccessKey ID (a deleted or disabled key gives this too)"
        }
        "SignatureDoesNotMatch" => " - the signature does not match; check the AccessKey secret",
        c if c.starts_with("InvalidSecurityToken") => {
            " - the STS token is wrong or expired; STS credentials need their token"
        }
        c if c.starts_with("InvalidTimeStamp") || c == "IllegalTimestamp" => {
            " - this machine's clock differs from Alibaba Cloud's by more than 15 minutes (NTP)"
        }
        c if c.starts_with("Forbidden") || c.starts_with("NoPermission") => {
            " - the credentials are valid but RAM does not allow this action (docs/providers.md)"
        }
        "IncorrectDomainUser" => " - the domain belongs to another account",
        _ => return None,
    })
}

/// An error of the second or third call of one write, after earlier calls
/// landed: the same kind, saying what landed and how the record is left.
fn half_done(e: Error, record_id: &str, landed: &[&str], left: &str) -> Error {
    if landed.is_empty() {
        return e;
    }
    let what = format!(
        "{} landed, then the next call failed; record {record_id} is left {left}",
        landed.join(" and ")
    );
    match e {
        Error::Auth(m) => Error::Auth(format!("{what}: {m}")),
        Error::RateLimited(m) => Error::RateLimited(format!("{what}: {m}")),
        Error::Transport(m) => Error::Transport(format!("{what}: {m}")),
        Error::NotFound(id) => Error::NotFound(id),
        e => Error::NotConfirmed {
            record_id: record_id.to_string(),
            detail: format!("{what}: {e}"),
        },
    }
}

impl AlidnsProvider {
    /// Build from the `[dns]` settings, reading the credentials now (once
    /// per run) through `lookup`, which `config` supplies.
    pub fn from_settings(
        s: &AlidnsSettings,
        clock: Arc<dyn Clock>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, BuildError> {
        let creds = Credentials::from_lookup(
            &s.access_key_id_env,
            &s.access_key_secret_env,
            &s.security_token_env,
            lookup,
        )?;
        let opts = ClientOptions::new(s.endpoint.clone(), s.api_timeout, s.api_budget);
        Ok(Self::new(Client::new(creds, opts, clock)?))
    }

    pub fn new(client: Client) -> Self {
        AlidnsProvider {
            client,
            plan: tokio::sync::Mutex::new(None),
        }
    }

    /// This provider with every API call ending by `deadline`.
    pub fn until(self, deadline: Option<std::time::Instant>) -> Self {
        AlidnsProvider {
            client: self.client.until(deadline),
            ..self
        }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        action: &str,
        params: &[(&str, String)],
        record_id: Option<&str>,
    ) -> Result<T, Error> {
        self.client
            .call(action, params)
            .await
            .map_err(|e| map_error(action, e, record_id))
    }

    /// The edition's limits, read once and kept; a failed read is not
    /// kept, so a later call asks again.
    async fn plan_limits(&self, domain: &str) -> Result<PlanLimits, Error> {
        let mut cached = self.plan.lock().await;
        if let Some(p) = &*cached {
            return Ok(p.clone());
        }
        let d: DomainInfoReply = self
            .call(
                "DescribeDomainInfo",
                &[
                    ("DomainName", domain.to_string()),
                    ("NeedDetailAttributes", "true".into()),
                ],
                None,
            )
            .await?;
        let min_ttl = d.min_ttl.filter(|t| *t > 0).ok_or_else(|| Error::Api {
            code: "UnexpectedAnswer".into(),
            message: "DescribeDomainInfo: no MinTtl in the answer".into(),
            request_id: None,
        })?;
        let p = PlanLimits {
            plan: d.version_code.filter(|v| !v.is_empty()),
            min_ttl,
            record_roll: None,
        };
        *cached = Some(p.clone());
        Ok(p)
    }

    async fn plan_min_ttl(&self, domain: &str) -> u32 {
        match self.plan_limits(domain).await {
            Ok(p) => p.min_ttl,
            Err(e) => {
                tracing::warn!(error = %e, fallback = FALLBACK_MIN_TTL, "cannot read the edition's minimum TTL; assuming the free edition's");
                FALLBACK_MIN_TTL
            }
        }
    }

    /// Run a write that carries a TTL: raised to the edition's floor when
    /// that is known; written again once with the floor when refused.
    async fn with_ttl_fallback<F, Fut, T>(
        &self,
        domain: &str,
        ttl: u32,
        write: F,
    ) -> Result<T, Error>
    where
        F: Fn(u32) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let known = self.plan.lock().await.as_ref().map(|p| p.min_ttl);
        let first = known.map_or(ttl, |min| ttl.max(min));
        match write(first).await {
            Err(Error::TtlRefused { .. }) => {
                let min = self.plan_min_ttl(domain).await;
                if min <= first {
                    return Err(Error::TtlRefused {
                        requested: first,
                        min: Some(min),
                    });
                }
                tracing::warn!(
                    requested = first,
                    min,
                    "TTL refused by the domain's edition; writing with its minimum"
                );
                write(min).await.map_err(|e| match e {
                    Error::TtlRefused { .. } => Error::TtlRefused {
                        requested: first,
                        min: Some(min),
                    },
                    e => e,
                })
            }
            r => r,
        }
    }

    async fn set_record_status(&self, id: &str, enabled: bool) -> Result<(), Error> {
        self.call::<serde_json::Value>(
            "SetDomainRecordStatus",
            &[
                ("RecordId", id.to_string()),
                ("Status", status_param(enabled).into()),
            ],
            Some(id),
        )
        .await
        .map(drop)
    }

    async fn set_remark(&self, id: &str, remark: &str) -> Result<(), Error> {
        self.call::<serde_json::Value>(
            "UpdateDomainRecordRemark",
            &[("RecordId", id.to_string()), ("Remark", remark.to_string())],
            Some(id),
        )
        .await
        .map(drop)
    }

    /// `UpdateDomainRecord`: value and TTL, the rest as it is.
    async fn update(
        &self,
        key: &RecordKey,
        id: &str,
        value: &str,
        ttl: u32,
    ) -> Result<(), Error> {
        let write = |ttl: u32| async move {
            let params = [
                ("RecordId", id.to_string()),
                ("RR", key.subdomain.clone()),
                ("Type", key.rtype.as_str().to_string()),
                ("Value", value.to_string()),
                // Always sent: whether an omitted TTL or Line resets to
                // 600 / `default` is not documented.
                ("TTL", ttl.to_string()),
                ("Line", key.line.clone()),
            ];
            match self
                .call::<IdReply>("UpdateDomainRecord", &params, Some(id))
                .await
            {
                Ok(_) => Ok(()),
                Err(Error::TtlRefused { .. }) => Err(Error::TtlRefused {
                    requested: ttl,
                    min: None,
                }),
                Err(Error::Api { code, .. }) if code == "DomainRecordDuplicate" => {
                    // Nothing to change, or another record already has it.
                    let now = self.get(key, id).await?;
                    if same_value(&now.value, value) {
                        Ok(())
                    } else {
                        Err(Error::Conflict {
                            record_id: id.to_string(),
                            detail: format!(
                                "another record of {key} already has the value {value} (DomainRecordDuplicate); left as is"
                            ),
                        })
                    }
                }
                Err(e) => Err(e),
            }
        };
        self.with_ttl_fallback(&key.domain, ttl, write).await
    }
}

#[async_trait]
impl DnsProvider for AlidnsProvider {
    fn name(&self) -> &str {
        "alidns"
    }

    fn default_line(&self) -> &str {
        DEFAULT_LINE
    }

    #[tracing::instrument(skip_all, fields(record = %key))]
    async fn list(&self, key: &RecordKey) -> Result<Vec<Record>, Error> {
        let mut out: Vec<Record> = Vec::new();
        let mut seen: u64 = 0;
        // 100 pages of 100 is far beyond one name's records; the bound only
        // guards against a server that never reaches TotalCount.
        for page in 1..=100u64 {
            let params = [
                ("SubDomain", full_name(key)),
                ("DomainName", key.domain.clone()),
                ("Type", key.rtype.as_str().to_string()),
                ("Line", key.line.clone()),
                ("PageNumber", page.to_string()),
                ("PageSize", PAGE_SIZE.to_string()),
            ];
            let reply: SubDomainReply = self
                .call("DescribeSubDomainRecords", &params, None)
                .await?;
            let n = reply.domain_records.record.len() as u64;
            seen += n;
            for r in reply.domain_records.record {
                // Pages can shift while records change: keep one of each.
                if r.matches(key) && !out.iter().any(|o| o.id == r.record_id) {
                    out.push(r.into_record());
                }
            }
            if n == 0 || seen >= reply.total_count {
                return Ok(out);
            }
        }
        Err(Error::Api {
            code: "UnexpectedAnswer".into(),
            message: format!("DescribeSubDomainRecords: still paging after {seen} records"),
            request_id: None,
        })
    }

    #[tracing::instrument(skip_all, fields(record = %key, id))]
    async fn get(&self, key: &RecordKey, id: &str) -> Result<Record, Error> {
        let r: WireRecord = self
            .call(
                "DescribeDomainRecordInfo",
                &[("RecordId", id.to_string())],
                Some(id),
            )
            .await?;
        if !r.matches(key) {
            return Err(Error::NotFound(format!("{id} (not a record of {key})")));
        }
        Ok(r.into_record())
    }

    async fn limits(&self, domain: &str) -> Result<PlanLimits, Error> {
        self.plan_limits(domain).await
    }

    #[tracing::instrument(skip_all, fields(record = %key))]
    async fn create(&self, key: &RecordKey, record: &NewRecord) -> Result<String, Error> {
        let write = |ttl: u32| async move {
            let params = [
                ("DomainName", key.domain.clone()),
                ("RR", key.subdomain.clone()),
                ("Type", key.rtype.as_str().to_string()),
                ("Value", record.value.clone()),
                ("TTL", ttl.to_string()),
                ("Line", key.line.clone()),
            ];
            match self.call::<IdReply>("AddDomainRecord", &params, None).await {
                Ok(r) => Ok(Created::New(r.record_id)),
                Err(Error::TtlRefused { .. }) => Err(Error::TtlRefused {
                    requested: ttl,
                    min: None,
                }),
                // An earlier attempt may have created it before its answer
                // was lost: return the existing record's id, writing nothing
                // more (the read-back says whether it is as planned).
                Err(Error::Api { code, .. }) if code == "DomainRecordDuplicate" => self
                    .list(key)
                    .await?
                    .into_iter()
                    .find(|r| same_value(&r.value, &record.value))
                    .map(|r| Created::Existing(r.id))
                    .ok_or_else(|| Error::Api {
                        code,
                        message: format!(
                            "AddDomainRecord: {} exists but is not listed",
                            record.value
                        ),
                        request_id: None,
                    }),
                Err(e) => Err(e),
            }
        };
        let id = match self.with_ttl_fallback(&key.domain, record.ttl, write).await? {
            Created::New(id) => id,
            Created::Existing(id) => return Ok(id),
        };
        // A new record is enabled and has no remark. For a disabled one the
        // marker goes first (see the module doc): a failure in between
        // leaves an enabled, marked record.
        let mut landed = vec!["AddDomainRecord"];
        if !record.remark.is_empty() {
            let left = "enabled, without its remark";
            self.set_remark(&id, &record.remark)
                .await
                .map_err(|e| half_done(e, &id, &landed, left))?;
            landed.push("UpdateDomainRecordRemark");
        }
        if !record.enabled {
            self.set_record_status(&id, false)
                .await
                .map_err(|e| half_done(e, &id, &landed, "enabled (it was to be disabled)"))?;
        }
        Ok(id)
    }

    /// Two calls (see the module doc for the order): disabling writes the
    /// marker first, enabling the status first. A call that would change
    /// nothing (the status as read, the remark as read or empty) is not made.
    #[tracing::instrument(skip_all, fields(record = %key, id = %current.id))]
    async fn set_status(
        &self,
        key: &RecordKey,
        current: &Record,
        enabled: bool,
        remark: &str,
    ) -> Result<(), Error> {
        let _ = key;
        let id = current.id.as_str();
        let remark = (!remark.is_empty() && remark != current.remark).then_some(remark);
        let status = current.enabled != enabled;
        if !enabled {
            if let Some(r) = remark {
                self.set_remark(id, r).await?;
            }
            if status {
                let landed: &[&str] = if remark.is_some() {
                    &["UpdateDomainRecordRemark"]
                } else {
                    &[]
                };
                self.set_record_status(id, false).await.map_err(|e| {
                    half_done(e, id, landed, "enabled, with the remark of a disabled record")
                })?;
            }
        } else {
            if status {
                self.set_record_status(id, true).await?;
            }
            if let Some(r) = remark {
                let landed: &[&str] = if status {
                    &["SetDomainRecordStatus Enable"]
                } else {
                    &[]
                };
                self.set_remark(id, r)
                    .await
                    .map_err(|e| half_done(e, id, landed, "enabled, with its old remark"))?;
            }
        }
        Ok(())
    }

    /// `UpdateDomainRecord` for value and TTL (skipped when both are as
    /// read), then status and remark in the order `set_status` uses; a
    /// record that is to stay disabled gets `SetDomainRecordStatus Disable`
    /// again after an update.
    #[tracing::instrument(skip_all, fields(record = %key, id = %current.id))]
    async fn set_value(
        &self,
        key: &RecordKey,
        current: &Record,
        value: &str,
        ttl: u32,
        enabled: bool,
        remark: &str,
    ) -> Result<(), Error> {
        let id = current.id.as_str();
        let remark = (!remark.is_empty() && remark != current.remark).then_some(remark);
        let taking_out = !enabled;
        let mut landed: Vec<&str> = Vec::new();
        let left = |landed: &[&str]| {
            format!(
                "{} with {}",
                if current.enabled { "enabled" } else { "disabled" },
                if landed.contains(&"UpdateDomainRecord") {
                    format!("value {value}")
                } else {
                    format!("value {}", current.value)
                }
            )
        };
        if taking_out {
            if let Some(r) = remark {
                self.set_remark(id, r).await?;
                landed.push("UpdateDomainRecordRemark");
            }
        }
        let rewrite = !same_value(&current.value, value) || current.ttl != ttl;
        if rewrite {
            self.update(key, id, value, ttl)
                .await
                .map_err(|e| half_done(e, id, &landed, &left(&landed)))?;
            landed.push("UpdateDomainRecord");
        }
        if current.enabled != enabled || (!enabled && rewrite) {
            self.set_record_status(id, enabled)
                .await
                .map_err(|e| half_done(e, id, &landed, &left(&landed)))?;
            landed.push(if enabled {
                "SetDomainRecordStatus Enable"
            } else {
                "SetDomainRecordStatus Disable"
            });
        }
        if !taking_out {
            if let Some(r) = remark {
                self.set_remark(id, r).await.map_err(|e| {
                    half_done(e, id, &landed, &format!("{}, with its old remark", left(&landed)))
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
