//! DNSPod's answers, as far as the provider reads them, and its times.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use crate::dns::{Record, RecordKey};

/// DNSPod's wall clock for `UpdatedOn`: Beijing time.
const BEIJING_OFFSET_SECS: i64 = 8 * 3600;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListReply {
    pub(super) record_count_info: CountInfo,
    #[serde(default)]
    pub(super) record_list: Vec<ListItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CountInfo {
    pub(super) total_count: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListItem {
    pub(super) record_id: u64,
    pub(super) value: String,
    pub(super) status: String,
    #[serde(default)]
    pub(super) updated_on: Option<String>,
    pub(super) name: String,
    pub(super) line: String,
    #[serde(rename = "Type")]
    pub(super) rtype: String,
    #[serde(default)]
    pub(super) weight: Option<u32>,
    #[serde(default)]
    pub(super) remark: Option<String>,
    #[serde(rename = "TTL")]
    pub(super) ttl: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IdReply {
    pub(super) record_id: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DomainReply {
    pub(super) domain_info: DomainInfo,
}

/// `DescribeDomain`'s `DomainInfo`: the plan, as `Grade` (`DP_FREE`) and
/// `GradeLevel` (2); and `DnspodNsList`, the DNSPod servers that serve the
/// zone (`ActualNsList` is what the registry delegates to, which may be
/// someone else's servers).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DomainInfo {
    pub(super) grade: String,
    #[serde(default)]
    pub(super) grade_level: Option<u64>,
    #[serde(default)]
    pub(super) dnspod_ns_list: Vec<String>,
}

/// `DescribePackageDetail`: `Info[]` of `PackageDetailItem`, one per plan.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PackageReply {
    #[serde(default)]
    pub(super) info: Vec<PackageInfo>,
}

/// `PackageDetailItem`: the plan is `DomainGrade` (`DP_Free`; spelled
/// unlike `DomainInfo.Grade`) and `GradeLevel`, with its `MinTtl` and
/// `RecordRoll` (enabled records per host and line).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PackageInfo {
    pub(super) domain_grade: String,
    #[serde(default)]
    pub(super) grade_level: Option<u64>,
    #[serde(default)]
    pub(super) min_ttl: Option<u32>,
    #[serde(default)]
    pub(super) record_roll: Option<u32>,
}

/// `DescribeRecord`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RecordReply {
    pub(super) record_info: RecordInfo,
}

/// `DescribeRecord`'s `RecordInfo`: other names than the list's items
/// (`Id`, `SubDomain`, `RecordType`, `RecordLine`) and `Enabled` as 0/1.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RecordInfo {
    pub(super) id: u64,
    pub(super) sub_domain: String,
    pub(super) record_type: String,
    pub(super) record_line: String,
    pub(super) value: String,
    #[serde(default)]
    pub(super) weight: Option<u32>,
    #[serde(rename = "TTL")]
    pub(super) ttl: u32,
    pub(super) enabled: u8,
    #[serde(default)]
    pub(super) remark: Option<String>,
    #[serde(default)]
    pub(super) updated_on: Option<String>,
}

impl RecordInfo {
    pub(super) fn matches(&self, key: &RecordKey) -> bool {
        self.sub_domain.eq_ignore_ascii_case(&key.subdomain)
            && self.record_type.eq_ignore_ascii_case(key.rtype.as_str())
            && self.record_line == key.line
    }
    pub(super) fn into_record(self) -> Record {
        Record {
            id: self.id.to_string(),
            value: self.value,
            ttl: self.ttl,
            enabled: self.enabled == 1,
            updated_on: self.updated_on.as_deref().and_then(parse_updated_on),
            remark: self.remark.unwrap_or_default(),
            weight: self.weight,
        }
    }
}

impl PackageReply {
    /// The item of the domain's plan: by grade name (case aside), else by
    /// grade level.
    pub(super) fn of(&self, grade: &str, grade_level: Option<u64>) -> Option<&PackageInfo> {
        self.info
            .iter()
            .find(|i| i.domain_grade.eq_ignore_ascii_case(grade))
            .or_else(|| {
                let level = grade_level?;
                self.info.iter().find(|i| i.grade_level == Some(level))
            })
    }
}

/// `2021-03-28 11:27:09` in Beijing time -> UTC.
pub fn parse_updated_on(s: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    Some(naive.and_utc() - chrono::Duration::seconds(BEIJING_OFFSET_SECS))
}

impl ListItem {
    pub(super) fn matches(&self, key: &RecordKey) -> bool {
        self.name.eq_ignore_ascii_case(&key.subdomain)
            && self.rtype.eq_ignore_ascii_case(key.rtype.as_str())
            && self.line == key.line
    }
    pub(super) fn into_record(self) -> Record {
        Record {
            id: self.record_id.to_string(),
            value: self.value,
            ttl: self.ttl,
            enabled: self.status.eq_ignore_ascii_case("ENABLE"),
            updated_on: self.updated_on.as_deref().and_then(parse_updated_on),
            remark: self.remark.unwrap_or_default(),
            weight: self.weight,
        }
    }
}
