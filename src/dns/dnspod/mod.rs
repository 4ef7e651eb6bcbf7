//! The `dnspod` provider: DNSPod through Tencent Cloud API 3.0 (service
//! `dnspod`, version `2021-03-23`), on top of [`crate::tencent::Client`].
//!
//! Four primitives, nothing decided here (compare-and-swap and read-back are
//! [`super::apply_change`]'s):
//! - `list`: `DescribeRecordList` filtered by SubDomain, RecordType and
//!   RecordLine, paged (`Limit` 3000, the maximum) until `TotalCount`, then
//!   filtered again here on exact name/type/line. `ResourceNotFound.NoDataOfRecord`
//!   is the empty list;
//! - `set_status`: one `ModifyRecord` carrying Status and Remark together
//!   (with the record's value, TTL and weight as read), so the tool's marker
//!   can never be lost between two calls;
//! - `set_value`: `ModifyRecord`, always sending the intended `Status` (it
//!   defaults to ENABLE and would re-enable a paused record) and keeping
//!   Weight and Remark unless the plan gives a remark;
//! - `create`: `CreateRecord`; if a retry after a lost answer finds the
//!   record already there (`InvalidParameter.DomainRecordExist`), the existing
//!   record's id is returned (values compared as [`same_value`] does);
//! - `get`: `DescribeRecord` by id, the read-back of a write: a new record
//!   may be missing from `DescribeRecordList` for up to 30 s;
//! - `limits`: the plan's `MinTtl` and `RecordRoll` ([`read_plan`]);
//! - `name_servers`: `DescribeDomain`'s `DnspodNsList`, the servers that
//!   answer for the zone (`[dns] verify = "ns"`).
//!
//! TTL: a TTL below the plan's minimum, once that is known, is written as
//! the minimum. When the domain's plan refuses the TTL
//! (`LimitExceeded.RecordTtlLimit`), the write is retried once with the
//! lowest TTL the plan accepts, read with `DescribeDomain` (the grade) and
//! `DescribePackageDetail` (`MinTtl` per `DomainGrade`), else 600 s (the
//! free plan's minimum, the highest of any plan). The failover happens; the
//! pipeline sees the TTL on read-back and raises `ttl_refused`.
//!
//! Round robin: an ENABLE write (create or modify) past the plan's cap of
//! enabled records per host and line fails with
//! `LimitExceeded.SubdomainRollLimit`; it becomes [`Error::RollLimit`] with
//! the plan's `RecordRoll`. A DISABLE write is not checked by DNSPod.
//!
//! Settings: `[dns]` keys of `provider = "dnspod"` are [`DnspodSettings`]
//! (`settings.rs`); DNSPod's answers are read in `wire.rs`.
//!
//! Times: `UpdatedOn` ("2021-03-28 11:27:09") carries no zone. We assume
//! Beijing time (UTC+8, no daylight saving), as the DNSPod console shows it,
//! and convert to UTC.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::registry::BuildError;
use super::{same_value, DnsProvider, Error, NewRecord, PlanLimits, Record, RecordKey};
use crate::clock::Clock;
use crate::tencent::{self, Client, ClientOptions, Credentials, Service};
use wire::{DomainReply, IdReply, PackageReply, RecordReply};

mod list;
mod settings;
mod wire;

pub use settings::{DnspodSettings, RawDnspod};
pub use wire::parse_updated_on;

/// DNSPod's API, with its documented default per-action rate limits
/// (requests per second; reference §2).
pub static SERVICE: Service = Service {
    name: "dnspod",
    version: "2021-03-23",
    rate_limits: &[
        ("CreateRecord", 500),
        ("ModifyRecord", 500),
        ("DescribeRecordList", 100),
        ("DescribeRecord", 200),
        ("DescribeDomain", 20),
        ("DescribePackageDetail", 20),
    ],
};

/// Largest page `DescribeRecordList` serves.
pub const PAGE_LIMIT: u32 = 3000;

/// Used when the plan's minimum TTL cannot be read: DP_Free's 600 s is the
/// highest minimum of any plan, so it is accepted everywhere.
pub const FALLBACK_MIN_TTL: u32 = 600;

#[derive(Debug)]
pub struct DnspodProvider {
    client: Client,
    /// The plan's limits, read once when first needed.
    plan: tokio::sync::Mutex<Option<PlanLimits>>,
}

/// Read the limits of `domain`'s plan: `DescribeDomain` gives the grade
/// (`DomainInfo.Grade`, `GradeLevel`), then [`package_limits`].
pub async fn read_plan(client: &Client, domain: &str) -> Result<PlanLimits, Error> {
    let d: DomainReply = client
        .call("DescribeDomain", &json!({ "Domain": domain }))
        .await
        .map_err(|e| map_error("DescribeDomain", e, None))?;
    package_limits(client, &d.domain_info.grade, d.domain_info.grade_level).await
}

/// The limits of the plan `grade` (as `DomainInfo.Grade` spells it, e.g.
/// `DP_FREE`; or by `GradeLevel`): `DescribePackageDetail` lists every
/// plan's `MinTtl` and `RecordRoll` by `DomainGrade`. A plan missing from
/// the list, or one without a `MinTtl`, is an `UnexpectedAnswer`.
pub async fn package_limits(
    client: &Client,
    grade: &str,
    grade_level: Option<u64>,
) -> Result<PlanLimits, Error> {
    let p: PackageReply = client
        .call("DescribePackageDetail", &json!({}))
        .await
        .map_err(|e| map_error("DescribePackageDetail", e, None))?;
    let unexpected = |message: String| Error::Api {
        code: "UnexpectedAnswer".into(),
        message,
        request_id: None,
    };
    let item = p
        .of(grade, grade_level)
        .ok_or_else(|| unexpected(format!("DescribePackageDetail: plan {grade} is not listed")))?;
    let min_ttl = item.min_ttl.filter(|t| *t > 0).ok_or_else(|| {
        unexpected(format!(
            "DescribePackageDetail: plan {} has no MinTtl",
            item.domain_grade
        ))
    })?;
    Ok(PlanLimits {
        plan: Some(item.domain_grade.clone()),
        min_ttl,
        record_roll: item.record_roll.filter(|n| *n > 0),
    })
}

impl DnspodProvider {
    /// Build from the `[dns]` settings, reading the credentials now (once
    /// per run) through `lookup`, which `config` supplies (the environment;
    /// a map in tests). Fails, naming the variable, when they are missing.
    pub fn from_settings(
        s: &DnspodSettings,
        clock: Arc<dyn Clock>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, BuildError> {
        let creds = Credentials::from_lookup(
            &s.secret_id_env,
            &s.secret_key_env,
            &s.session_token_env,
            lookup,
        )?;
        let opts = ClientOptions::new(s.endpoint.clone(), s.api_timeout, s.api_budget);
        Ok(Self::new(Client::new(&SERVICE, creds, opts, clock)?))
    }

    /// This provider with every API call ending by `deadline`.
    pub fn until(self, deadline: Option<std::time::Instant>) -> Self {
        DnspodProvider {
            client: self.client.until(deadline),
            ..self
        }
    }

    pub fn new(client: Client) -> Self {
        DnspodProvider {
            client,
            plan: tokio::sync::Mutex::new(None),
        }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        action: &str,
        params: &Value,
        record_id: Option<&str>,
    ) -> Result<T, Error> {
        self.client
            .call(action, params)
            .await
            .map_err(|e| map_error(action, e, record_id))
    }

    /// The plan's limits, read once ([`read_plan`]) and kept; a failed read
    /// is not kept, so a later call asks again.
    async fn plan_limits(&self, domain: &str) -> Result<PlanLimits, Error> {
        let mut cached = self.plan.lock().await;
        if let Some(p) = &*cached {
            return Ok(p.clone());
        }
        let p = read_plan(&self.client, domain).await?;
        *cached = Some(p.clone());
        Ok(p)
    }

    /// The plan's lowest TTL; when it cannot be read, [`FALLBACK_MIN_TTL`].
    async fn plan_min_ttl(&self, domain: &str) -> u32 {
        match self.plan_limits(domain).await {
            Ok(p) => p.min_ttl,
            Err(e) => {
                tracing::warn!(error = %e, fallback = FALLBACK_MIN_TTL, "cannot read the plan's minimum TTL; assuming the free plan's");
                FALLBACK_MIN_TTL
            }
        }
    }

    /// Run a write that carries a TTL. A TTL below the plan's minimum,
    /// when that is already known, is raised to it before writing; if the
    /// plan refuses the TTL, the write runs again once with the minimum.
    /// A refused round-robin limit is completed with the plan's cap.
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
        let first = match known {
            Some(min) if min > ttl => min,
            _ => ttl,
        };
        let result = match write(first).await {
            Err(Error::TtlRefused { requested, .. }) => {
                let min = self.plan_min_ttl(domain).await;
                if min <= requested {
                    return Err(Error::TtlRefused {
                        requested,
                        min: Some(min),
                    });
                }
                tracing::warn!(
                    requested,
                    min,
                    "TTL refused by the domain's plan; writing with the plan's minimum"
                );
                write(min).await.map_err(|e| match e {
                    Error::TtlRefused { .. } => Error::TtlRefused {
                        requested,
                        min: Some(min),
                    },
                    e => e,
                })
            }
            r => r,
        };
        match result {
            Err(Error::RollLimit { limits: None }) => Err(Error::RollLimit {
                limits: self.plan_limits(domain).await.ok(),
            }),
            r => r,
        }
    }
}

fn status(enabled: bool) -> &'static str {
    if enabled {
        "ENABLE"
    } else {
        "DISABLE"
    }
}

fn record_id_num(id: &str) -> Result<u64, Error> {
    id.parse()
        .map_err(|_| Error::NotFound(format!("{id} (not a DNSPod record id)")))
}

/// Map a client error onto the DNS edge's vocabulary, with the action for context.
fn map_error(action: &str, e: tencent::Error, record_id: Option<&str>) -> Error {
    let attempts = match &e {
        tencent::Error::GaveUp { attempts, .. } => format!(" after {attempts} attempts"),
        _ => String::new(),
    };
    if e.is_rate_limited() {
        return Error::RateLimited(format!("{action}{attempts}: {e}"));
    }
    match e.last() {
        tencent::Error::Api {
            code,
            message,
            request_id,
        } => {
            let code = code.as_str();
            if code.starts_with("AuthFailure")
                || code.starts_with("UnauthorizedOperation")
                || code == "OperationDenied.NoPermissionToOperateDomain"
            {
                Error::Auth(format!("{action}: {}", e.last()))
            } else if code == "LimitExceeded.SubdomainRollLimit" {
                Error::RollLimit { limits: None }
            } else if code == "InvalidParameter.OperationIsTooFrequent" {
                Error::RateLimited(format!("{action}: {}", e.last()))
            } else if code.to_ascii_lowercase().contains("ttl") {
                Error::TtlRefused {
                    requested: 0,
                    min: None,
                }
            } else if let (
                Some(id),
                "InvalidParameter.RecordIdInvalid" | "ResourceNotFound.NoDataOfRecord",
            ) = (record_id, code)
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
        tencent::Error::Decode(d) => Error::Api {
            code: "UnexpectedAnswer".into(),
            message: format!("{action}: {d}"),
            request_id: None,
        },
        _ => Error::Transport(format!("{action}{attempts}: {e}")),
    }
}

#[async_trait]
impl DnsProvider for DnspodProvider {
    fn name(&self) -> &str {
        "dnspod"
    }

    #[tracing::instrument(skip_all, fields(record = %key))]
    async fn list(&self, key: &RecordKey) -> Result<Vec<Record>, Error> {
        self.list_key(key).await
    }

    #[tracing::instrument(skip_all, fields(keys = keys.len()))]
    async fn list_many(&self, keys: &[RecordKey]) -> Vec<Result<Vec<Record>, Error>> {
        self.list_keys(keys).await
    }

    /// `DescribeRecord`: by id, so a record created a moment ago is seen
    /// (the list may miss it for up to 30 s).
    #[tracing::instrument(skip_all, fields(record = %key, id))]
    async fn get(&self, key: &RecordKey, id: &str) -> Result<Record, Error> {
        let num = record_id_num(id)?;
        let reply: RecordReply = self
            .call(
                "DescribeRecord",
                &json!({ "Domain": key.domain, "RecordId": num }),
                Some(id),
            )
            .await?;
        if !reply.record_info.matches(key) {
            return Err(Error::NotFound(format!("{id} (not a record of {key})")));
        }
        Ok(reply.record_info.into_record())
    }

    async fn limits(&self, domain: &str) -> Result<PlanLimits, Error> {
        self.plan_limits(domain).await
    }

    /// `DescribeDomain`'s `DnspodNsList`: DNSPod's servers for the zone.
    async fn name_servers(&self, domain: &str) -> Result<Option<Vec<String>>, Error> {
        let d: DomainReply = self
            .call("DescribeDomain", &json!({ "Domain": domain }), None)
            .await?;
        Ok(Some(d.domain_info.dnspod_ns_list))
    }

    #[tracing::instrument(skip_all, fields(record = %key))]
    async fn create(&self, key: &RecordKey, record: &NewRecord) -> Result<String, Error> {
        let write = |ttl: u32| async move {
            let mut params = json!({
                "Domain": key.domain,
                "SubDomain": key.subdomain,
                "RecordType": key.rtype.as_str(),
                "RecordLine": key.line,
                "Value": record.value,
                "TTL": ttl,
                "Status": status(record.enabled),
            });
            if !record.remark.is_empty() {
                params["Remark"] = json!(record.remark);
            }
            match self.call::<IdReply>("CreateRecord", &params, None).await {
                Ok(r) => Ok(r.record_id.to_string()),
                Err(Error::TtlRefused { .. }) => Err(Error::TtlRefused {
                    requested: ttl,
                    min: None,
                }),
                // An earlier attempt may have created it before its answer
                // was lost: the record is there, return its id.
                Err(Error::Api { code, .. }) if code == "InvalidParameter.DomainRecordExist" => {
                    self.list(key)
                        .await?
                        .into_iter()
                        .find(|r| same_value(&r.value, &record.value))
                        .map(|r| r.id)
                        .ok_or_else(|| Error::Api {
                            code,
                            message: format!(
                                "CreateRecord: {} exists but is not listed",
                                record.value
                            ),
                            request_id: None,
                        })
                }
                Err(e) => Err(e),
            }
        };
        self.with_ttl_fallback(&key.domain, record.ttl, write).await
    }

    /// One `ModifyRecord` that carries the status and the remark together:
    /// a status change and its ownership marker land or fail as one, so a
    /// record the tool disabled always says so (with two calls, a lost
    /// `ModifyRecordRemark` left a disabled record that looked like a
    /// person's, and its region never came back). Value, TTL and weight are
    /// sent as read.
    #[tracing::instrument(skip_all, fields(record = %key, id = %current.id))]
    async fn set_status(
        &self,
        key: &RecordKey,
        current: &Record,
        enabled: bool,
        remark: &str,
    ) -> Result<(), Error> {
        self.set_value(key, current, &current.value, current.ttl, enabled, remark)
            .await
    }

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
        let id = record_id_num(&current.id)?;
        let remark = if remark.is_empty() {
            current.remark.as_str()
        } else {
            remark
        };
        let write = |ttl: u32| async move {
            let mut params = json!({
                "Domain": key.domain,
                "RecordId": id,
                "SubDomain": key.subdomain,
                "RecordType": key.rtype.as_str(),
                "RecordLine": key.line,
                "Value": value,
                "TTL": ttl,
                // Always: ModifyRecord's Status defaults to ENABLE.
                "Status": status(enabled),
                // Sent as is: an empty Remark would delete the current one.
                "Remark": remark,
            });
            if let Some(w) = current.weight {
                params["Weight"] = json!(w);
            }
            match self
                .call::<IdReply>("ModifyRecord", &params, Some(&current.id))
                .await
            {
                Ok(_) => Ok(()),
                Err(Error::TtlRefused { .. }) => Err(Error::TtlRefused {
                    requested: ttl,
                    min: None,
                }),
                Err(e) => Err(e),
            }
        };
        self.with_ttl_fallback(&key.domain, ttl, write).await
    }
}

#[cfg(test)]
mod tests;
