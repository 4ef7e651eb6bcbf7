//! Alidns's answers, as far as the provider reads them. Field names are the
//! official SDK models' (`alibabacloud-alidns20150109` 4.6.1), pinned by
//! `tests/fixtures/alidns/models.json` (see `tests.rs`).

use serde::Deserialize;

use crate::dns::{Record, RecordKey};

/// `DescribeSubDomainRecords` and `DescribeDomainRecords` (the same page
/// shape; the latter's records add timestamps we do not read).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SubDomainReply {
    pub(super) total_count: u64,
    #[serde(default)]
    pub(super) domain_records: DomainRecords,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DomainRecords {
    #[serde(default)]
    pub(super) record: Vec<WireRecord>,
}

/// One record, as `DescribeSubDomainRecords` lists it and as
/// `DescribeDomainRecordInfo` answers it (the same names; the latter adds
/// fields we do not read).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct WireRecord {
    /// A string: 19-digit ids occur.
    pub(super) record_id: String,
    #[serde(default)]
    pub(super) domain_name: Option<String>,
    #[serde(rename = "RR")]
    pub(super) rr: String,
    #[serde(rename = "Type")]
    pub(super) rtype: String,
    pub(super) value: String,
    #[serde(rename = "TTL")]
    pub(super) ttl: u32,
    pub(super) line: String,
    /// `Enable`/`Disable` in the documentation, `ENABLE`/`DISABLE` in
    /// clients' experience: compared without case.
    pub(super) status: String,
    #[serde(default)]
    pub(super) weight: Option<u32>,
    #[serde(default)]
    pub(super) remark: Option<String>,
}

/// `AddDomainRecord`, `UpdateDomainRecord`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IdReply {
    pub(super) record_id: String,
}

/// `DescribeDomainInfo` with `NeedDetailAttributes=true`: the edition and
/// its lowest TTL.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DomainInfoReply {
    #[serde(default)]
    pub(super) version_code: Option<String>,
    #[serde(default)]
    pub(super) min_ttl: Option<u32>,
    /// With `NeedDetailAttributes=true`: the lines the edition offers.
    #[serde(default)]
    pub(super) record_lines: Option<RecordLines>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RecordLines {
    #[serde(default)]
    pub(super) record_line: Vec<RecordLine>,
}

/// One `RecordLines.RecordLine[]` item: only the code a record names.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RecordLine {
    pub(super) line_code: String,
}

impl WireRecord {
    /// Same host (`RR`, case aside), type and line; and the domain when
    /// the answer names one.
    pub(super) fn matches(&self, key: &RecordKey) -> bool {
        self.rr.eq_ignore_ascii_case(&key.subdomain)
            && self.rtype.eq_ignore_ascii_case(key.rtype.as_str())
            && self.line == key.line
            && self
                .domain_name
                .as_deref()
                .is_none_or(|d| d.eq_ignore_ascii_case(&key.domain))
    }

    pub(super) fn into_record(self) -> Record {
        Record {
            id: self.record_id,
            value: self.value,
            ttl: self.ttl,
            enabled: self.status.eq_ignore_ascii_case("enable"),
            // DescribeSubDomainRecords carries no update time.
            updated_on: None,
            remark: self.remark.unwrap_or_default(),
            weight: self.weight,
        }
    }
}
