//! The [`Alert`]: what one run tells the people on call, with its title and
//! times. Built from the run by the report side (`RunReport::alert`); the
//! channels only read it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{render, repeat};
use crate::model::event::{Event, EventKind, Severity};
use crate::model::health::{Attempt, Health};
use crate::model::record::ChangeStatus;
use crate::model::verify::ServerCheck;

/// Evidence about one region, for the alert text.
#[derive(Debug, Clone, Serialize)]
pub struct RegionEvidence {
    pub region: String,
    pub endpoint: String,
    pub health: Health,
    pub attempts: Vec<Attempt>,
}

/// A DNS change as the alert shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeNote {
    pub summary: String,
    pub status: ChangeStatus,
    /// TTL of the record as read back after the write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One event with its context.
#[derive(Debug, Clone, Serialize)]
pub struct AlertEvent {
    #[serde(flatten)]
    pub event: Event,
    /// `api.example.com A [默认]`
    pub record: String,
    pub evidence: Vec<RegionEvidence>,
    pub changes: Vec<ChangeNote>,
    /// Set on standing conditions (see [`repeat`]): since when it was alerted
    /// and whether this run is the first to alert it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standing: Option<repeat::Standing>,
    /// Set on a transition that no channel could deliver when it happened
    /// and that a later run delivers: when it happened (see
    /// [`repeat::Pending`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late: Option<DateTime<Utc>>,
    /// `not_visible`: what each authoritative server served after the
    /// write, with its time to write and to visible.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ServerCheck>,
}

/// What one run tells the people on call.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub severity: Severity,
    /// One line: what happened, for subjects and SMS.
    pub title: String,
    pub drill: bool,
    /// A `notify-test` alert.
    pub test: bool,
    pub prober: String,
    pub at: DateTime<Utc>,
    /// IANA zone for the local time shown beside UTC.
    pub timezone: String,
    pub events: Vec<AlertEvent>,
}

/// Events that page: transitions and failures. `recovering` and `created`
/// are reported in the run report only, and so is `left_alone` unless it is
/// a warning (a healthy region kept out by someone else, a record the tool
/// cannot manage: a standing condition that pages once). `not_visible`
/// pages as a warning only (as information the pass ran out of time
/// before `verify_within`).
pub fn alerts_on(kind: EventKind, severity: Severity) -> bool {
    match kind {
        EventKind::Recovering | EventKind::Created => false,
        EventKind::LeftAlone | EventKind::NotVisible => severity >= Severity::Warning,
        _ => true,
    }
}

impl Alert {
    /// An alert of `events` (not empty), with its severity and title.
    pub fn of_events(
        events: Vec<AlertEvent>,
        drill: bool,
        prober: &str,
        timezone: &str,
        at: DateTime<Utc>,
    ) -> Alert {
        Alert {
            severity: events
                .iter()
                .map(|e| e.event.severity)
                .max()
                .unwrap_or(Severity::Info),
            title: title_of(&events, drill),
            drill,
            test: false,
            prober: prober.to_string(),
            at,
            timezone: timezone.to_string(),
            events,
        }
    }

    /// The alert sent by `dns-failover notify-test`: clearly marked, no events.
    pub fn test(prober: &str, timezone: &str, at: DateTime<Utc>) -> Alert {
        Alert {
            severity: Severity::Info,
            title: "[TEST] dns-failover notify-test: this channel works".into(),
            drill: false,
            test: true,
            prober: prober.to_string(),
            at,
            timezone: timezone.to_string(),
            events: vec![],
        }
    }

    /// The alert as plain text (see [`render::text`]).
    pub fn render_text(&self) -> String {
        render::text(self)
    }

    /// `2026-11-22 03:04:05 UTC / 2026-11-22 11:04:05 Asia/Shanghai`
    pub fn times(&self) -> String {
        let utc = self.at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        match timezone_offset(&self.timezone) {
            Some(off) if self.timezone != "UTC" => format!(
                "{utc} / {} {}",
                (self.at + off).format("%Y-%m-%d %H:%M:%S"),
                self.timezone
            ),
            _ => utc,
        }
    }
}

/// The one-line title of `events`: what happened where, `[DRILL]` first on
/// drills. Also the title of a channel's filtered part of an alert.
pub fn title_of(events: &[AlertEvent], drill: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in events {
        let regions = e.event.regions.join(",");
        let p = match e.event.kind {
            // A reminder that a region stays failed over.
            EventKind::Failover if e.standing.is_some() => {
                format!("{}: still failed over {regions}", e.event.group)
            }
            // Failover mode names the region left and the one now serving.
            EventKind::Failover if e.event.regions.len() == 2 => format!(
                "{}: failover {} -> {}",
                e.event.group, e.event.regions[0], e.event.regions[1]
            ),
            EventKind::Failover => format!("{}: failover {regions}", e.event.group),
            EventKind::Failback => format!("{}: failback {regions}", e.event.group),
            EventKind::AllDown => format!("{}: ALL regions down", e.event.group),
            EventKind::EmptyName => format!("{}: NAME EMPTY", e.event.group),
            k => format!("{}: {} {regions}", e.event.group, k.as_str()),
        };
        let p = if e.late.is_some() {
            format!("{p} (late)")
        } else {
            p
        };
        if !parts.contains(&p) {
            parts.push(p);
        }
    }
    let t = parts.join("; ");
    if drill {
        format!("[DRILL] {t}")
    } else {
        t
    }
}

/// Fixed UTC offsets of the zones we render. China has had no daylight saving
/// since 1991, so Asia/Shanghai is always +08:00; this avoids shipping a tz
/// database in a 64 MB function. Other zones fall back to UTC at validation.
pub fn timezone_offset(tz: &str) -> Option<chrono::Duration> {
    let h = match tz {
        "UTC" | "Etc/UTC" => 0,
        "Asia/Shanghai" | "Asia/Chongqing" | "Asia/Harbin" | "PRC" | "Asia/Hong_Kong"
        | "Asia/Macau" | "Asia/Taipei" | "Asia/Singapore" | "Asia/Kuala_Lumpur" | "Asia/Manila" => {
            8
        }
        "Asia/Tokyo" | "Asia/Seoul" => 9,
        "Asia/Kolkata" => return Some(chrono::Duration::minutes(330)),
        "Asia/Bangkok" | "Asia/Jakarta" | "Asia/Ho_Chi_Minh" => 7,
        "Asia/Dubai" => 4,
        _ => return None,
    };
    Some(chrono::Duration::hours(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind, group: &str, regions: &[&str]) -> AlertEvent {
        AlertEvent {
            event: Event {
                kind,
                severity: Severity::Critical,
                group: group.into(),
                regions: regions.iter().map(|r| r.to_string()).collect(),
                message: String::new(),
            },
            record: String::new(),
            evidence: vec![],
            changes: vec![],
            standing: None,
            late: None,
            servers: vec![],
        }
    }

    #[test]
    fn titles_say_where_traffic_went_and_mark_drills() {
        let events = [
            ev(EventKind::Failover, "api", &["sh"]),
            ev(EventKind::Failover, "www", &["sh", "gz"]),
            ev(EventKind::AllDown, "adm", &["a", "b"]),
        ];
        assert_eq!(
            title_of(&events, false),
            "api: failover sh; www: failover sh -> gz; adm: ALL regions down"
        );
        assert_eq!(title_of(&events[..1], true), "[DRILL] api: failover sh");
    }
}
