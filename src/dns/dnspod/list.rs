//! `DescribeRecordList`: the records of one name, and of many names in one
//! read of the whole domain.
//!
//! A pass reads every group's name, the pause records and, with
//! `[consensus]`, every group's votes. One call per name would make `3 × n ×
//! g` calls every pass interval with `n` probers and `g` groups, against a
//! default limit of 100 `DescribeRecordList` calls a second per account;
//! reading the domain whole costs one call per 3,000 records instead.

use std::collections::HashSet;

use serde_json::json;

use super::wire::{ListItem, ListReply};
use super::{DnspodProvider, PAGE_LIMIT};
use crate::dns::{batch, Error, Record, RecordKey};

/// 100 pages is far beyond any domain's records and only guards against a
/// server that never reaches TotalCount.
const MAX_PAGES: u32 = 100;

impl DnspodProvider {
    /// Every record of one name, type and line, enabled or not.
    pub(super) async fn list_key(&self, key: &RecordKey) -> Result<Vec<Record>, Error> {
        let params = |offset: u64| {
            json!({
                "Domain": key.domain,
                // The current spelling; `Subdomain` is the legacy one.
                "SubDomain": key.subdomain,
                "RecordType": key.rtype.as_str(),
                "RecordLine": key.line,
                "Offset": offset,
                "Limit": PAGE_LIMIT,
            })
        };
        let items = self.pages(params, None).await?.unwrap_or_default();
        Ok(pick(items, std::slice::from_ref(key))
            .pop()
            .unwrap_or_default())
    }

    /// The records of each of `keys`, in order: with two keys or more of
    /// one domain, one paged read of the whole domain, unless the domain
    /// has more pages than there are keys (then one read per key).
    pub(super) async fn list_keys(&self, keys: &[RecordKey]) -> Vec<Result<Vec<Record>, Error>> {
        let Some(domain) = batch::one_domain(keys) else {
            return futures_util::future::join_all(keys.iter().map(|k| self.list_key(k))).await;
        };
        let params =
            |offset: u64| json!({ "Domain": domain, "Offset": offset, "Limit": PAGE_LIMIT });
        match self.pages(params, Some(keys.len() as u64)).await {
            Ok(Some(items)) => pick(items, keys).into_iter().map(Ok).collect(),
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

    /// Page through `DescribeRecordList` with `params(offset)`. `None`
    /// (only with `max_pages`) when the first page says more pages than
    /// that are needed; an empty list when DNSPod says there is no record.
    async fn pages(
        &self,
        params: impl Fn(u64) -> serde_json::Value,
        max_pages: Option<u64>,
    ) -> Result<Option<Vec<ListItem>>, Error> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut offset: u64 = 0;
        for page in 0..MAX_PAGES {
            let reply: ListReply =
                match self.call("DescribeRecordList", &params(offset), None).await {
                    Ok(r) => r,
                    Err(Error::Api { code, .. }) if code == "ResourceNotFound.NoDataOfRecord" => {
                        return Ok(Some(out))
                    }
                    Err(e) => return Err(e),
                };
            let total = reply.record_count_info.total_count;
            if page == 0 && max_pages.is_some_and(|m| total.div_ceil(u64::from(PAGE_LIMIT)) > m) {
                return Ok(None);
            }
            let n = reply.record_list.len() as u64;
            for item in reply.record_list {
                // Pages can shift if records change while we page; keep one of each.
                if seen.insert(item.record_id) {
                    out.push(item);
                }
            }
            offset += n;
            if n == 0 || offset >= total {
                return Ok(Some(out));
            }
        }
        if offset == 0 {
            return Ok(Some(vec![]));
        }
        Err(Error::Api {
            code: "UnexpectedAnswer".into(),
            message: format!("DescribeRecordList: still paging after {offset} records"),
            request_id: None,
        })
    }
}

/// The records of each key among `items`, in the order of `keys` (a record
/// matches a key by name, type and line; case aside for the first two).
fn pick(items: Vec<ListItem>, keys: &[RecordKey]) -> Vec<Vec<Record>> {
    batch::pick(items, keys, ListItem::matches, ListItem::into_record)
}
