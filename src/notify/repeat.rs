//! Standing conditions: page once, remind on `repeat_every`, with the memory
//! kept in DNS.
//!
//! Most events are transitions and happen once (a failover writes DNS, and
//! the next run sees the new state). Some are *standing*: `decide` raises
//! them on every run while the condition lasts, and the function is
//! stateless. Without memory they would page every minute:
//! `all_down`, `last_record_kept`, `no_healthy_target`, `recovered_pending`,
//! `max_changes_exceeded`, `apply_failed` (a write that keeps failing),
//! `empty_name` (a name with no enabled record) and `left_alone` when it is a
//! warning (a healthy region kept out by someone else).
//!
//! The memory is one *state record* per group, next to the group's records:
//! same domain and line, subdomain `_dns-failover-<type>.<subdomain>`, type A, value
//! `127.0.0.1`, **disabled** (it never resolves), and a remark
//! `dns-failover alerted <id>:<since>:<last> ...`, where `<id>` names a
//! condition (a hash of group, kind and regions), `<since>` is when it was
//! first alerted and `<last>` when it was last alerted (Unix seconds).
//! A condition is alerted when it is not in the record; a reminder goes to a
//! channel with `repeat_every = R` at the first run after `since + k*R`.
//! A condition that is no longer raised is dropped from the record, so the
//! next occurrence pages again. The managed records are never touched.
//!
//! Fails open: if the state record cannot be read, every standing condition
//! is alerted as if new; if it cannot be written, the next run alerts again.
//! A condition is recorded only once some channel delivered it, so a page
//! that reached nobody is retried on the next run. Drills and manual
//! failbacks skip all of this: they alert every time they run.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Alert, AlertEvent, Channelled, Delivery};
use crate::model::event::{Event, EventKind, Severity};
use crate::model::record::{RecordKey, RecordType, REMARK_MARKER};

/// Events raised on every run while their condition lasts. `left_alone` is
/// standing when it is a warning (a healthy region kept out by someone
/// else, a record the tool cannot manage); as information it is not alerted
/// by default and stays a plain event.
pub fn is_standing(kind: EventKind, severity: Severity) -> bool {
    match kind {
        EventKind::AllDown
        | EventKind::LastRecordKept
        | EventKind::NoHealthyTarget
        | EventKind::RecoveredPending
        | EventKind::MaxChangesExceeded
        | EventKind::ApplyFailed
        | EventKind::EmptyName
        | EventKind::NoQuorum
        | EventKind::CertExpiring => true,
        EventKind::LeftAlone => severity >= Severity::Warning,
        _ => false,
    }
}

/// A standing condition's history, as shown in the alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Standing {
    /// When it was first alerted (this run, when `first`).
    pub since: DateTime<Utc>,
    /// When it was last alerted.
    pub last: DateTime<Utc>,
    /// This run is the first to alert it.
    pub first: bool,
}

/// Does a channel with this `repeat_every` get this event at `now`?
/// Transitions and new conditions: yes. Known conditions: only when a
/// reminder period boundary `since + k*R` (k >= 1) fell in `(last, now]`.
pub fn wanted(e: &AlertEvent, repeat_every: Option<Duration>, now: DateTime<Utc>) -> bool {
    match (&e.standing, repeat_every) {
        (None, _) => true,
        (Some(s), _) if s.first => true,
        (Some(_), None) => false,
        (Some(s), Some(r)) => reminder_due(s, r, now),
    }
}

fn reminder_due(s: &Standing, r: Duration, now: DateTime<Utc>) -> bool {
    let r = r.as_secs().max(1) as i64;
    let k = |t: DateTime<Utc>| (t - s.since).num_seconds().max(0) / r;
    k(now) > k(s.last)
}

/// Key of the state record of a group's key: `_dns-failover-<type>.<subdomain>`
/// on the group's line (the type in the name keeps an A and an AAAA group of
/// one name apart; a wildcard label becomes `_wildcard`, since `*` may only be
/// the leftmost label).
pub fn state_key(key: &RecordKey) -> RecordKey {
    let prefix = format!("_dns-failover-{}", key.rtype.as_str().to_ascii_lowercase());
    let sub = if key.subdomain == "@" || key.subdomain.is_empty() {
        prefix
    } else {
        let host: Vec<&str> = key
            .subdomain
            .split('.')
            .map(|l| if l == "*" { "_wildcard" } else { l })
            .collect();
        format!("{prefix}.{}", host.join("."))
    };
    RecordKey {
        domain: key.domain.clone(),
        subdomain: sub,
        rtype: RecordType::A,
        line: key.line.clone(),
    }
}

/// Value of the (disabled) state record.
pub const STATE_VALUE: &str = "127.0.0.1";

/// A condition's identity: group, kind and sorted regions, hashed short
/// enough that several fit in a 180-byte remark.
pub fn condition_id(e: &Event) -> String {
    let mut regions = e.regions.clone();
    regions.sort();
    let h = Sha256::digest(format!(
        "{}|{}|{}",
        e.group,
        e.kind.as_str(),
        regions.join(",")
    ));
    hex::encode(&h[..4])
}

/// One remembered condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub since: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

/// What the state record remembers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub entries: Vec<Entry>,
}

const VERB: &str = "alerted";
/// DNSPod limits remarks to 200 bytes; stay under [`crate::model::record::remark`]'s 180.
const MAX_REMARK: usize = 180;

impl State {
    /// Parse a state record's remark; anything unparsable is ignored.
    pub fn parse(remark: &str) -> State {
        let mut words = remark.split_whitespace();
        if words.next() != Some(REMARK_MARKER) || words.next() != Some(VERB) {
            return State::default();
        }
        let ts = |s: &str| {
            s.parse::<i64>()
                .ok()
                .and_then(|t| Utc.timestamp_opt(t, 0).single())
        };
        let entries = words
            .filter_map(|w| {
                let mut p = w.split(':');
                let (id, since, last) = (p.next()?, p.next()?, p.next()?);
                Some(Entry {
                    id: id.to_string(),
                    since: ts(since)?,
                    last: ts(last)?,
                })
            })
            .collect();
        State { entries }
    }

    /// The remark to write. Newest entries are kept when they do not all fit.
    pub fn to_remark(&self) -> String {
        let mut entries = self.entries.clone();
        entries.sort_by_key(|e| std::cmp::Reverse(e.last));
        let mut s = format!("{REMARK_MARKER} {VERB}");
        for e in entries {
            let w = format!(" {}:{}:{}", e.id, e.since.timestamp(), e.last.timestamp());
            if s.len() + w.len() > MAX_REMARK {
                break;
            }
            s.push_str(&w);
        }
        s
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }
}

/// Mark each standing event of an alert with its history; `states` are the
/// groups' state records (a group missing here counts as empty: fail open).
pub fn annotate(events: &mut [AlertEvent], states: &HashMap<String, State>, now: DateTime<Utc>) {
    let empty = State::default();
    for e in events
        .iter_mut()
        .filter(|e| is_standing(e.event.kind, e.event.severity))
    {
        let state = states.get(&e.event.group).unwrap_or(&empty);
        let id = condition_id(&e.event);
        e.standing = Some(match state.get(&id) {
            Some(en) => Standing {
                since: en.since,
                last: en.last,
                first: false,
            },
            None => Standing {
                since: now,
                last: now,
                first: true,
            },
        });
    }
}

/// The group's next state: every standing condition raised this run that
/// was alerted before or delivered now; `delivered` holds the ids some
/// channel delivered in this run. Conditions not raised this run are dropped.
pub fn next_state(
    raised: &[&Event],
    before: &State,
    delivered: &HashSet<String>,
    now: DateTime<Utc>,
) -> State {
    let mut entries = Vec::new();
    for e in raised.iter().filter(|e| is_standing(e.kind, e.severity)) {
        let id = condition_id(e);
        if entries.iter().any(|x: &Entry| x.id == id) {
            continue;
        }
        let sent = delivered.contains(&id);
        match before.get(&id) {
            Some(old) => entries.push(Entry {
                id,
                since: old.since,
                last: if sent { now } else { old.last },
            }),
            None if sent => entries.push(Entry {
                id,
                since: now,
                last: now,
            }),
            None => {}
        }
    }
    State { entries }
}

/// Ids of the standing conditions that at least one channel delivered.
/// `deliveries` are [`super::send_all`]'s results, in channel order.
pub fn delivered(
    channels: &[Channelled],
    alert: &Alert,
    deliveries: &[Delivery],
) -> HashSet<String> {
    let mut out = HashSet::new();
    for (c, d) in channels.iter().zip(deliveries) {
        if !d.ok || d.filtered {
            continue;
        }
        if let Some(a) = c.filter(alert) {
            out.extend(
                a.events
                    .iter()
                    .filter(|e| is_standing(e.event.kind, e.event.severity))
                    .map(|e| condition_id(&e.event)),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::Severity;

    #[test]
    fn an_expiring_certificate_is_standing_so_it_pages_once() {
        assert!(is_standing(EventKind::CertExpiring, Severity::Warning));
    }

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_000_000 + s, 0).unwrap()
    }

    #[test]
    fn state_keys_are_valid_and_distinct_per_type() {
        let k = |sub: &str, t| RecordKey {
            domain: "example.com".into(),
            subdomain: sub.into(),
            rtype: t,
            line: "默认".into(),
        };
        assert_eq!(
            state_key(&k("api", RecordType::A)).subdomain,
            "_dns-failover-a.api"
        );
        assert_eq!(
            state_key(&k("api", RecordType::Aaaa)).subdomain,
            "_dns-failover-aaaa.api"
        );
        assert_eq!(
            state_key(&k("@", RecordType::Cname)).subdomain,
            "_dns-failover-cname"
        );
        assert_eq!(
            state_key(&k("*.eu", RecordType::A)).subdomain,
            "_dns-failover-a._wildcard.eu"
        );
    }

    fn ev(kind: EventKind, regions: &[&str]) -> Event {
        Event {
            kind,
            severity: Severity::Critical,
            group: "web".into(),
            regions: regions.iter().map(|r| r.to_string()).collect(),
            message: "m".into(),
        }
    }

    #[test]
    fn state_round_trips_through_the_remark() {
        let s = State {
            entries: vec![Entry {
                id: "0a1b2c3d".into(),
                since: t(0),
                last: t(600),
            }],
        };
        let r = s.to_remark();
        assert!(r.starts_with("dns-failover alerted 0a1b2c3d:"), "{r}");
        assert_eq!(State::parse(&r), s);
        assert_eq!(State::parse("paused by alice"), State::default());
    }

    #[test]
    fn remark_stays_within_dnspod_limits() {
        let s = State {
            entries: (0..20)
                .map(|i| Entry {
                    id: format!("{i:08x}"),
                    since: t(0),
                    last: t(i),
                })
                .collect(),
        };
        let r = s.to_remark();
        assert!(r.len() <= MAX_REMARK);
        // The newest are kept.
        assert!(r.contains(&format!("{:08x}", 19)));
    }

    #[test]
    fn condition_id_ignores_region_order_and_message() {
        let mut a = ev(EventKind::AllDown, &["b", "a"]);
        let b = ev(EventKind::AllDown, &["a", "b"]);
        a.message = "different".into();
        assert_eq!(condition_id(&a), condition_id(&b));
        assert_ne!(
            condition_id(&a),
            condition_id(&ev(EventKind::LastRecordKept, &["a", "b"]))
        );
    }

    #[test]
    fn reminders_fire_once_per_period() {
        let s = Standing {
            since: t(0),
            last: t(0),
            first: false,
        };
        let r = Duration::from_secs(1800);
        assert!(!reminder_due(&s, r, t(60)));
        assert!(!reminder_due(&s, r, t(1799)));
        assert!(reminder_due(&s, r, t(1800)));
        let after = Standing {
            last: t(1800),
            ..s.clone()
        };
        assert!(!reminder_due(&after, r, t(1860)));
        assert!(reminder_due(&after, r, t(3605)));
    }

    #[test]
    fn next_state_keeps_raised_drops_cleared_and_records_only_delivered() {
        let down = ev(EventKind::AllDown, &["a", "b"]);
        let pending = ev(EventKind::RecoveredPending, &["a"]);
        let failover = ev(EventKind::Failover, &["a"]);
        let old = State {
            entries: vec![Entry {
                id: condition_id(&pending),
                since: t(0),
                last: t(0),
            }],
        };
        // all_down raised, not delivered: not recorded; pending no longer raised: dropped.
        let none = Default::default();
        let s = next_state(&[&down, &failover], &old, &none, t(60));
        assert_eq!(s, State::default());
        let delivered = [condition_id(&down)].into_iter().collect();
        let s = next_state(&[&down, &pending], &old, &delivered, t(60));
        assert_eq!(s.get(&condition_id(&down)).unwrap().since, t(60));
        assert_eq!(s.get(&condition_id(&pending)).unwrap().last, t(0));
    }
}
