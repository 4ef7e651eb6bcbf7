//! Operator pauses, as kept in DNS: where a group's pause record lives and
//! what its remark says. Plain data and text; the pipeline reads and
//! writes them (`pipeline/pause.rs`).
//!
//! One disabled A record per group at the domain's `_dns-failover-pause`
//! host on the default line (`默认`), read once per pass for every group
//! at once. Its value is the group's own (`127.x.y.z` from a hash of the
//! group name; never `127.0.0.1`, the state record's value), and its
//! remark says what holds:
//! `dns-failover paused <since> until <time|-> group <name> by <prober>: <reason>`
//! or `dns-failover resumed <time> group <name> by <prober>: <why>`.
//! Records are never deleted, so resuming rewrites the remark.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::record::{self, Record, RecordKey, RecordType, REMARK_MARKER};

/// The host of every pause record.
pub const PAUSE_HOST: &str = "_dns-failover-pause";

/// The line of every pause record with DNSPod: it accepts any host there.
pub const PAUSE_LINE: &str = "默认";

/// Where the pause records of `domain` live: on the provider's default
/// line (`DnsProvider::default_line`; [`PAUSE_LINE`] for DNSPod).
pub fn pause_key(domain: &str, default_line: &str) -> RecordKey {
    RecordKey {
        domain: domain.to_string(),
        subdomain: PAUSE_HOST.to_string(),
        rtype: RecordType::A,
        line: default_line.to_string(),
    }
}

/// The value of a group's pause record: `127.x.y.z`, the second octet
/// never 0, so never the state record's `127.0.0.1`.
pub fn pause_value(group: &str) -> String {
    let h = Sha256::digest(format!("pause|{group}").as_bytes());
    format!("127.{}.{}.{}", h[0].max(1), h[1], h[2])
}

/// A group's pause, as its record says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pause {
    /// When it was paused.
    pub since: DateTime<Utc>,
    /// When it resumes by itself; `None`: only by `resume`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// The prober (or operator's machine) that paused it.
    pub by: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// What a group's pause record says at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Paused(Pause),
    /// Paused, but `until` has passed.
    Expired(Pause),
    /// Resumed, or never paused.
    Running,
}

/// Read the remark of `group`'s pause record.
pub fn parse(group: &str, rec: &Record, now: DateTime<Utc>) -> Said {
    if !record::same_value(&rec.value, &pause_value(group)) {
        return Said::Running;
    }
    let text = rec.remark.as_str();
    let (head, reason) = text.split_once(": ").unwrap_or((text, ""));
    let w: Vec<&str> = head.split_whitespace().collect();
    // dns-failover paused <since> until <t|-> group <name> by <prober>
    let ok = w.len() >= 7
        && w[0] == REMARK_MARKER
        && w[1] == "paused"
        && w[3] == "until"
        && w[5] == "group"
        && w[6] == group;
    if !ok {
        return Said::Running;
    }
    let time = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let Some(since) = time(w[2]) else {
        return Said::Running;
    };
    let until = if w[4] == "-" { None } else { time(w[4]) };
    let by = match w.get(7..) {
        Some([b, rest @ ..]) if *b == "by" => rest.join(" "),
        _ => String::new(),
    };
    let p = Pause {
        since,
        until,
        by,
        reason: reason.to_string(),
    };
    match p.until {
        Some(u) if u <= now => Said::Expired(p),
        _ => Said::Paused(p),
    }
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The remark of a pause (at most 180 bytes: the reason is cut).
pub fn paused_remark(group: &str, p: &Pause) -> String {
    let until = p.until.map_or_else(|| "-".to_string(), rfc3339);
    let detail = format!("until {until} group {group} by {}: {}", p.by, p.reason);
    record::remark("paused", p.since, detail.trim_end_matches([':', ' ']))
}

/// The remark of a resume.
pub fn resumed_remark(group: &str, at: DateTime<Utc>, by: &str, why: &str) -> String {
    record::remark("resumed", at, &format!("group {group} by {by}: {why}"))
}

/// What `group`'s record among `records` says.
pub fn of(group: &str, records: &[Record], now: DateTime<Utc>) -> (Option<Record>, Said) {
    let value = pause_value(group);
    match records
        .iter()
        .find(|r| record::same_value(&r.value, &value))
    {
        Some(r) => (Some(r.clone()), parse(group, r, now)),
        None => (None, Said::Running),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rec(value: &str, remark: &str) -> Record {
        Record {
            id: "1".into(),
            value: value.into(),
            ttl: 600,
            enabled: false,
            updated_on: None,
            remark: remark.into(),
            weight: None,
        }
    }

    #[test]
    fn a_pause_round_trips_through_its_remark_and_expires() {
        let t = Utc.with_ymd_and_hms(2026, 12, 5, 8, 0, 0).unwrap();
        let p = Pause {
            since: t,
            until: Some(t + chrono::Duration::hours(2)),
            by: "ap-guangzhou".into(),
            reason: "migrating the gateway: ticket 42".into(),
        };
        let r = rec(&pause_value("api"), &paused_remark("api", &p));
        assert_eq!(parse("api", &r, t), Said::Paused(p.clone()));
        assert_eq!(
            parse("api", &r, t + chrono::Duration::hours(2)),
            Said::Expired(p.clone())
        );
        // Another group's record, or a resumed one, holds nothing.
        assert_eq!(parse("web", &r, t), Said::Running);
        let resumed = rec(
            &pause_value("api"),
            &resumed_remark("api", t, "me", "asked"),
        );
        assert_eq!(parse("api", &resumed, t), Said::Running);
        // No end, no reason.
        let p = Pause {
            until: None,
            reason: String::new(),
            ..p
        };
        let r = rec(&pause_value("api"), &paused_remark("api", &p));
        assert_eq!(
            parse("api", &r, t + chrono::Duration::days(400)),
            Said::Paused(p)
        );
    }

    #[test]
    fn pause_values_are_per_group_and_never_the_state_records() {
        assert_ne!(pause_value("api"), pause_value("web"));
        for g in ["api", "web", "admin", "x"] {
            assert!(pause_value(g).starts_with("127."));
            assert!(!pause_value(g).starts_with("127.0."));
        }
    }
}
