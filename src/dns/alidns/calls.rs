//! The calls one write is made of (`UpdateDomainRecord`,
//! `SetDomainRecordStatus`, `UpdateDomainRecordRemark`), the edition's
//! limits (`DescribeDomainInfo`) and the TTL fallback they share.

use super::wire::{DomainInfoReply, IdReply};
use super::{status_param, AlidnsProvider, FALLBACK_MIN_TTL};
use crate::dns::{same_value, DnsProvider, Error, PlanLimits, RecordKey};

impl AlidnsProvider {
    /// The edition's limits, read once and kept; a failed read is not
    /// kept, so a later call asks again.
    pub(super) async fn plan_limits(&self, domain: &str) -> Result<PlanLimits, Error> {
        let mut cached = self.plan.lock().await;
        if let Some(p) = &*cached {
            return Ok(p.clone());
        }
        let d = self.domain_info(domain).await?;
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

    /// `DescribeDomainInfo` with its details (`MinTtl`, `RecordLines`).
    async fn domain_info(&self, domain: &str) -> Result<DomainInfoReply, Error> {
        self.call(
            "DescribeDomainInfo",
            &[
                ("DomainName", domain.to_string()),
                ("NeedDetailAttributes", "true".into()),
            ],
            None,
        )
        .await
    }

    /// The line codes the domain's edition offers (`RecordLines`), `None`
    /// when the answer lists none.
    pub(super) async fn domain_lines(&self, domain: &str) -> Result<Option<Vec<String>>, Error> {
        let d = self.domain_info(domain).await?;
        Ok(d.record_lines
            .map(|l| {
                l.record_line
                    .into_iter()
                    .map(|r| r.line_code)
                    .collect::<Vec<_>>()
            })
            .filter(|l| !l.is_empty()))
    }

    pub(super) async fn plan_min_ttl(&self, domain: &str) -> u32 {
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
    pub(super) async fn with_ttl_fallback<F, Fut, T>(
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

    pub(super) async fn set_record_status(&self, id: &str, enabled: bool) -> Result<(), Error> {
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

    pub(super) async fn set_remark(&self, id: &str, remark: &str) -> Result<(), Error> {
        self.call::<serde_json::Value>(
            "UpdateDomainRecordRemark",
            &[("RecordId", id.to_string()), ("Remark", remark.to_string())],
            Some(id),
        )
        .await
        .map(drop)
    }

    /// `UpdateDomainRecord`: value and TTL, the rest as it is.
    pub(super) async fn update(
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
