//! Records: what a DNS name holds and the changes the tool makes to it.
//!
//! Plain data shared by `decide` (which plans [`Change`]s from [`Record`]s),
//! `dns` (which applies them) and `report` (which shows them). Nothing here
//! does I/O or knows any other part of the crate.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The marker the tool writes at the start of every remark it sets, so a later
/// run (possibly in another region) can tell its own changes from a person's.
pub const REMARK_MARKER: &str = "dns-failover";

/// Record types a group may manage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecordType {
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
    #[serde(rename = "CNAME")]
    Cname,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "A" => Some(RecordType::A),
            "AAAA" => Some(RecordType::Aaaa),
            "CNAME" => Some(RecordType::Cname),
            _ => None,
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which records a group manages: one name, one type, one line of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordKey {
    pub domain: String,
    /// Host part, `@` for the apex.
    pub subdomain: String,
    #[serde(rename = "type")]
    pub rtype: RecordType,
    /// DNSPod line name, e.g. `默认`.
    pub line: String,
}

impl RecordKey {
    /// `api.example.com`, or `example.com` for the apex.
    pub fn fqdn(&self) -> String {
        if self.subdomain == "@" || self.subdomain.is_empty() {
            self.domain.clone()
        } else {
            format!("{}.{}", self.subdomain, self.domain)
        }
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} [{}]", self.fqdn(), self.rtype, self.line)
    }
}

/// One record as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Provider's id (DNSPod's RecordId as a decimal string).
    pub id: String,
    pub value: String,
    pub ttl: u32,
    pub enabled: bool,
    /// Last update time as the provider reports it, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_on: Option<DateTime<Utc>>,
    #[serde(default)]
    pub remark: String,
    /// DNSPod weight, kept untouched unless a plan changes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

impl Record {
    /// True when the tool wrote this record's current remark.
    pub fn remark_is_ours(&self) -> bool {
        self.remark.starts_with(REMARK_MARKER)
    }

    /// The time recorded in our remark (`dns-failover <verb> <RFC3339> ...`),
    /// falling back to the provider's update time.
    pub fn changed_at(&self) -> Option<DateTime<Utc>> {
        if self.remark_is_ours() {
            if let Some(t) = self
                .remark
                .split_whitespace()
                .find_map(|w| DateTime::parse_from_rfc3339(w).ok())
            {
                return Some(t.with_timezone(&Utc));
            }
        }
        self.updated_on
    }
}

/// Two record values are the same record target when they differ only by a
/// trailing dot or letter case (DNSPod returns CNAME values as `host.`;
/// the config strips the dot).
pub fn same_value(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// Build the remark the tool writes: `dns-failover <verb> <time> <detail>`.
/// DNSPod limits remarks to 200 bytes; keep it short and cut on a char boundary.
pub fn remark(verb: &str, at: DateTime<Utc>, detail: &str) -> String {
    let mut s = format!(
        "{REMARK_MARKER} {verb} {} {detail}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    if s.len() > 180 {
        let mut cut = 180;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s.trim_end().to_string()
}

/// A new record to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRecord {
    pub value: String,
    pub ttl: u32,
    pub enabled: bool,
    pub remark: String,
}

/// What one change does. Every variant that touches an existing record carries
/// the state the plan started from (`expect_*`), so [`apply_change`] can refuse
/// to overwrite a record that someone else changed in between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ChangeOp {
    /// Create a record (a group's first run, or a new target).
    Create { record: NewRecord },
    /// Enable or disable an existing record.
    SetStatus {
        record_id: String,
        expect_value: String,
        expect_enabled: bool,
        /// The record's update time when the plan read it: a write by
        /// someone else since then (even one that changed only the remark,
        /// or toggled the status and back) is a conflict.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_updated_on: Option<DateTime<Utc>>,
        enabled: bool,
        remark: String,
    },
    /// Lower an existing record's TTL to the group's (or the DNS plan's
    /// floor), keeping its value, status and remark: it moves no traffic.
    SetTtl {
        record_id: String,
        expect_value: String,
        expect_enabled: bool,
        /// As in `SetStatus`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_updated_on: Option<DateTime<Utc>>,
        /// The TTL the record has now (seconds).
        from_ttl: u32,
        /// The TTL to write (seconds).
        ttl: u32,
    },
    /// Rewrite an existing record's value (failover mode) and TTL.
    SetValue {
        record_id: String,
        expect_value: String,
        expect_enabled: bool,
        /// As in `SetStatus`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_updated_on: Option<DateTime<Utc>>,
        value: String,
        ttl: u32,
        /// Status to send with the write (DNSPod's ModifyRecord defaults to ENABLE).
        enabled: bool,
        remark: String,
    },
}

/// A planned change to one record of one group, with the reason for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub group: String,
    pub key: RecordKey,
    /// Region whose target this change is about.
    pub region: String,
    #[serde(flatten)]
    pub op: ChangeOp,
    pub reason: String,
}

impl Change {
    /// Creates and TTL changes do not count against `max_changes`: they
    /// bootstrap or tune, they do not move live traffic away from anything.
    pub fn moves_traffic(&self) -> bool {
        !matches!(self.op, ChangeOp::Create { .. } | ChangeOp::SetTtl { .. })
    }

    /// One line for tables and alerts.
    pub fn summary(&self) -> String {
        match &self.op {
            ChangeOp::Create { record } => format!(
                "create {} -> {} (ttl {}, {})",
                self.key.fqdn(),
                record.value,
                record.ttl,
                if record.enabled {
                    "enabled"
                } else {
                    "disabled"
                }
            ),
            ChangeOp::SetStatus {
                record_id,
                expect_value,
                enabled,
                ..
            } => format!(
                "{} record {record_id} {} -> {}",
                if *enabled { "enable" } else { "disable" },
                self.key.fqdn(),
                expect_value
            ),
            ChangeOp::SetTtl {
                record_id,
                expect_value,
                from_ttl,
                ttl,
                ..
            } => format!(
                "lower the TTL of record {record_id} {} -> {expect_value}: {from_ttl} -> {ttl}",
                self.key.fqdn()
            ),
            ChangeOp::SetValue {
                record_id,
                expect_value,
                value,
                ttl,
                ..
            } => format!(
                "rewrite record {record_id} {}: {expect_value} -> {value} (ttl {ttl})",
                self.key.fqdn()
            ),
        }
    }
}

/// `enabled` or `disabled`.
pub fn status_word(enabled: bool) -> &'static str {
    if enabled {
        "enabled"
    } else {
        "disabled"
    }
}

/// What the DNS provider's plan allows, as far as the tool needs it. A
/// file zone has no plan: any TTL from 1 s, no round-robin cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLimits {
    /// The plan's name as the provider spells it (DNSPod: `DP_Free`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Lowest TTL the plan accepts, in seconds.
    pub min_ttl: u32,
    /// Most enabled records one host may have on one line (DNSPod's
    /// `RecordRoll`: 2 on the free plan); `None` when there is no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_roll: Option<u32>,
}

impl PlanLimits {
    /// No plan: any TTL, no cap.
    pub fn unlimited() -> Self {
        PlanLimits {
            plan: None,
            min_ttl: 1,
            record_roll: None,
        }
    }

    /// The TTL a group configured with `ttl` gets: never below the floor.
    pub fn ttl_for(&self, ttl: u32) -> u32 {
        ttl.max(self.min_ttl)
    }

    /// `DP_Free` or `the DNS plan`, for messages.
    pub fn name(&self) -> String {
        self.plan
            .as_ref()
            .map_or_else(|| "the DNS plan".to_string(), |p| format!("plan {p}"))
    }
}

/// What happened to one planned change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    /// Planned only (`plan`, `--dry-run`, a drill without `--apply`).
    Planned,
    Applied,
    /// The record was already in the planned state.
    AlreadyApplied,
    /// Another change of the run failed first; not attempted.
    Skipped,
    Conflict,
    Failed,
}

impl ChangeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Planned => "planned",
            ChangeStatus::Applied => "applied",
            ChangeStatus::AlreadyApplied => "already_applied",
            ChangeStatus::Skipped => "skipped",
            ChangeStatus::Conflict => "conflict",
            ChangeStatus::Failed => "failed",
        }
    }
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            ChangeStatus::Conflict | ChangeStatus::Failed | ChangeStatus::Skipped
        )
    }
}

/// DNSPod's default line, the line control records (the alert state, the
/// probers' votes, pauses) are written on: DNSPod accepts any host on its
/// default line, while a host on another line may first need a
/// default-line record (`FailedOperation.MustAddDefaultLineFirst`). Other
/// providers name their default line otherwise (`DnsProvider::default_line`:
/// Alidns `default`); the control keys take the provider's.
pub const CONTROL_LINE: &str = "默认";

/// Where a group's control record of kind `what` lives:
/// `_dns-failover[-<what>]-<type>[-<line hash>].<subdomain>`, type A, on
/// the provider's default line `default_line` ([`CONTROL_LINE`] for
/// DNSPod), same domain. The type in the name keeps an A and an
/// AAAA group of one name apart; a group on another line gets 8 hex digits
/// of its line's SHA-256 in the first label, so groups of one name on
/// several lines keep apart; a wildcard label becomes `_wildcard` (`*` may
/// only be the leftmost label).
pub fn control_key(group: &RecordKey, what: Option<&str>, default_line: &str) -> RecordKey {
    use sha2::{Digest, Sha256};
    let mut first = match what {
        Some(w) => format!(
            "{REMARK_MARKER}-{w}-{}",
            group.rtype.as_str().to_ascii_lowercase()
        ),
        None => format!(
            "{REMARK_MARKER}-{}",
            group.rtype.as_str().to_ascii_lowercase()
        ),
    };
    first.insert(0, '_');
    if group.line != default_line {
        first.push('-');
        first.push_str(&hex::encode(&Sha256::digest(group.line.as_bytes())[..4]));
    }
    let subdomain = if group.subdomain == "@" || group.subdomain.is_empty() {
        first
    } else {
        let host: Vec<&str> = group
            .subdomain
            .split('.')
            .map(|l| if l == "*" { "_wildcard" } else { l })
            .collect();
        format!("{first}.{}", host.join("."))
    };
    RecordKey {
        domain: group.domain.clone(),
        subdomain,
        rtype: RecordType::A,
        line: default_line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn remark_round_trips_its_time_and_is_recognised() {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 3, 4, 5).unwrap();
        let r = Record {
            id: "1".into(),
            value: "v".into(),
            ttl: 60,
            enabled: false,
            updated_on: Some(Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap()),
            remark: remark("disabled", t, "ap-shanghai down: timeout"),
            weight: None,
        };
        assert!(r.remark_is_ours());
        assert_eq!(r.changed_at(), Some(t));
    }

    #[test]
    fn foreign_remark_falls_back_to_update_time() {
        let upd = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
        let r = Record {
            id: "1".into(),
            value: "v".into(),
            ttl: 60,
            enabled: false,
            updated_on: Some(upd),
            remark: "paused by alice 2026-11-22T03:04:05Z".into(),
            weight: None,
        };
        assert!(!r.remark_is_ours());
        assert_eq!(r.changed_at(), Some(upd));
    }

    #[test]
    fn values_compare_without_trailing_dot_or_case() {
        assert!(same_value("gz.example.com.", "GZ.example.com"));
        assert!(!same_value("gz.example.com", "sh.example.com"));
    }

    #[test]
    fn long_remark_is_cut_on_a_char_boundary() {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 3, 4, 5).unwrap();
        let s = remark("disabled", t, &"区".repeat(100));
        assert!(s.len() <= 180);
        assert!(s.starts_with(REMARK_MARKER));
    }
}
