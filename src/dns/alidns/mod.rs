//! The `alidns` provider: Alibaba Cloud DNS, API `2015-01-09`, signed with
//! ACS3-HMAC-SHA256 (`sign.rs`) through a small client (`client.rs`).
//!
//! Primitives, nothing decided here (compare-and-swap and read-back are
//! [`super::apply_change`]'s):
//! - `list`: `DescribeSubDomainRecords` (`SubDomain` = the full name,
//!   `DomainName`, `Type`, `Line`), 100 per page until `TotalCount`, then
//!   filtered again here on exact host/type/line; `list_many` (a pass's
//!   reads): one `DescribeDomainRecords` of the whole domain, 500 a page
//!   (`list.rs`);
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
//!
//! Files: `sign` (ACS3-HMAC-SHA256, pure), `client` (one signed POST with
//! retries and pacing), `credentials` (the AccessKey pair, STS token and
//! redaction), `error` (what a call fails with; reading an answer), `map`
//! (those errors as [`Error`]s), `calls` (the calls a write is made of, the
//! edition's limits, the TTL fallback), `wire` (the answers' shapes),
//! `settings` (the `[dns]` keys).

use std::sync::Arc;

use async_trait::async_trait;

use super::registry::BuildError;
use super::{same_value, DnsProvider, Error, NewRecord, PlanLimits, Record, RecordKey};
use crate::clock::Clock;
use map::{half_done, map_error};
use wire::{IdReply, WireRecord};

mod calls;
pub mod client;
mod credentials;
mod error;
mod list;
mod map;
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
        self.list_key(key).await
    }

    /// One `DescribeDomainRecords` of the whole domain for a pass's reads
    /// (see `list.rs`).
    async fn list_many(&self, keys: &[RecordKey]) -> Vec<Result<Vec<Record>, Error>> {
        self.list_keys(keys).await
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

    /// `DescribeDomainInfo`'s `RecordLines` (`LineCode`).
    async fn lines(&self, domain: &str) -> Result<Option<Vec<String>>, Error> {
        self.domain_lines(domain).await
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
        let id = match self
            .with_ttl_fallback(&key.domain, record.ttl, write)
            .await?
        {
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
                    half_done(
                        e,
                        id,
                        landed,
                        "enabled, with the remark of a disabled record",
                    )
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
                if current.enabled {
                    "enabled"
                } else {
                    "disabled"
                },
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
                    half_done(
                        e,
                        id,
                        &landed,
                        &format!("{}, with its old remark", left(&landed)),
                    )
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
