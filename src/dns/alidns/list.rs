//! Reading records: one name with `DescribeSubDomainRecords`, or many names
//! in one read of the whole domain with `DescribeDomainRecords`.
//!
//! A pass reads every group's name, the pause records and, with
//! `[consensus]`, every group's votes: `2g + 1` names for `g` groups. Name
//! by name that is `2g + 1` calls per prober and pass; the domain whole is
//! one call per 500 records (reference §4.2: `PageSize` up to 500,
//! 100 calls a second per account, against 300 for the per-name read).

use super::wire::{SubDomainReply, WireRecord};
use super::{full_name, AlidnsProvider, PAGE_SIZE};
use crate::dns::{batch, Error, Record, RecordKey};

/// `DescribeDomainRecords` pages hold up to 500 records.
pub const DOMAIN_PAGE_SIZE: u64 = 500;

/// 100 pages is far beyond any name's or domain's records; the bound only
/// guards against a server that never reaches `TotalCount`.
const MAX_PAGES: u64 = 100;

impl AlidnsProvider {
    /// Every record of one name, type and line, enabled or not.
    pub(super) async fn list_key(&self, key: &RecordKey) -> Result<Vec<Record>, Error> {
        let params = |page: u64| {
            vec![
                ("SubDomain", full_name(key)),
                ("DomainName", key.domain.clone()),
                ("Type", key.rtype.as_str().to_string()),
                ("Line", key.line.clone()),
                ("PageNumber", page.to_string()),
                ("PageSize", PAGE_SIZE.to_string()),
            ]
        };
        let records = self
            .pages("DescribeSubDomainRecords", PAGE_SIZE, params, None)
            .await?
            .unwrap_or_default();
        Ok(pick(records, std::slice::from_ref(key))
            .pop()
            .unwrap_or_default())
    }

    /// The records of each of `keys`, in order: with two keys or more of
    /// one domain, one paged `DescribeDomainRecords` of the whole domain,
    /// unless the domain has more pages than there are keys (then one read
    /// per key, which costs fewer calls).
    pub(super) async fn list_keys(&self, keys: &[RecordKey]) -> Vec<Result<Vec<Record>, Error>> {
        let Some(domain) = batch::one_domain(keys) else {
            return futures_util::future::join_all(keys.iter().map(|k| self.list_key(k))).await;
        };
        let params = |page: u64| {
            vec![
                ("DomainName", domain.to_string()),
                ("PageNumber", page.to_string()),
                ("PageSize", DOMAIN_PAGE_SIZE.to_string()),
            ]
        };
        match self
            .pages(
                "DescribeDomainRecords",
                DOMAIN_PAGE_SIZE,
                params,
                Some(keys.len() as u64),
            )
            .await
        {
            Ok(Some(records)) => pick(records, keys).into_iter().map(Ok).collect(),
            Ok(None) => {
                tracing::debug!(
                    keys = keys.len(),
                    "domain larger than its names' reads; reading each name"
                );
                futures_util::future::join_all(keys.iter().map(|k| self.list_key(k))).await
            }
            Err(e) => keys.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    /// Page through `action` with `params(page)` (pages from 1, `size`
    /// records each) until `TotalCount`. `None` (only with `max_pages`)
    /// when the first page says more pages than that are needed.
    async fn pages(
        &self,
        action: &str,
        size: u64,
        params: impl Fn(u64) -> Vec<(&'static str, String)>,
        max_pages: Option<u64>,
    ) -> Result<Option<Vec<WireRecord>>, Error> {
        let mut out: Vec<WireRecord> = Vec::new();
        let mut seen: u64 = 0;
        for page in 1..=MAX_PAGES {
            let reply: SubDomainReply = self.call(action, &params(page), None).await?;
            if page == 1 && max_pages.is_some_and(|m| reply.total_count.div_ceil(size) > m) {
                return Ok(None);
            }
            let n = reply.domain_records.record.len() as u64;
            seen += n;
            for r in reply.domain_records.record {
                // Pages can shift while records change: keep one of each.
                if !out.iter().any(|o| o.record_id == r.record_id) {
                    out.push(r);
                }
            }
            if n == 0 || seen >= reply.total_count {
                return Ok(Some(out));
            }
        }
        Err(Error::Api {
            code: "UnexpectedAnswer".into(),
            message: format!("{action}: still paging after {seen} records"),
            request_id: None,
        })
    }
}

/// The records of each key among `records`, in the order of `keys` (a
/// record matches a key by host, type and line, and by domain when the
/// answer names it).
fn pick(records: Vec<WireRecord>, keys: &[RecordKey]) -> Vec<Vec<Record>> {
    batch::pick(records, keys, WireRecord::matches, WireRecord::into_record)
}
