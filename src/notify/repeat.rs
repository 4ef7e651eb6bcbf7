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
//!
//! Transitions (`failover`, `failback`, ...) happen once, so one that no
//! channel delivered would be lost: the next run sees DNS already changed
//! and raises nothing. Such a transition is kept in the same remark as a
//! [`Pending`] word, `u/<unix>/<kind>/<severity>/<regions>`, and sent again
//! on every run, marked late, until a channel has it. Older versions of
//! the tool ignore these words.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Alert, AlertEvent, Channelled, Delivery};
use crate::model::event::{Event, EventKind, Severity};
use crate::model::health::TargetOutcome;
use crate::model::record::{Record, RecordKey, RecordType, REMARK_MARKER};
use crate::model::target::Mode;

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
        | EventKind::RollLimit
        | EventKind::Unprobed
        | EventKind::CertExpiring => true,
        EventKind::LeftAlone => severity >= Severity::Warning,
        _ => false,
    }
}

/// The regions a group keeps failed over: in `active` mode, a target whose
/// record the tool disabled; in `failover` mode, the first target while the
/// tool points the record elsewhere. `events` are this run's: a failover
/// that happens now counts from now. Being failed over is itself a
/// standing condition (see [`held_event`]): channels with `repeat_every`
/// are reminded while it lasts.
pub fn held_regions(
    mode: Mode,
    targets: &[TargetOutcome],
    records: &[Record],
    events: &[Event],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    match mode {
        Mode::Active => {
            for t in targets {
                if records
                    .iter()
                    .any(|r| r.value == t.value && !r.enabled && r.remark_is_ours())
                {
                    out.push(t.region.clone());
                }
            }
        }
        Mode::Failover => {
            if let Some(first) = targets.first() {
                if records
                    .iter()
                    .any(|r| r.enabled && r.remark_is_ours() && r.value != first.value)
                    && targets
                        .iter()
                        .any(|t| records.iter().any(|r| r.value == t.value))
                {
                    out.push(first.region.clone());
                }
            }
        }
    }
    for e in events.iter().filter(|e| e.kind == EventKind::Failover) {
        if let Some(r) = e.regions.first() {
            if !out.contains(r) {
                out.push(r.clone());
            }
        }
    }
    out
}

/// The standing condition "`region` of `group` is failed over": its id in
/// the state record is [`condition_id`] of this event.
pub fn held_event(group: &str, region: &str) -> Event {
    Event {
        kind: EventKind::Failover,
        severity: Severity::Critical,
        group: group.to_string(),
        regions: vec![region.to_string()],
        message: format!(
            "{region} is still failed over: traffic stays away from it until it recovers"
        ),
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

/// A transition that no channel delivered, kept until one does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pending {
    pub group: String,
    pub kind: EventKind,
    pub severity: Severity,
    pub regions: Vec<String>,
    /// When it happened (the run that raised it).
    pub at: DateTime<Utc>,
}

impl Pending {
    fn to_word(&self) -> String {
        format!(
            "{PENDING}{}/{}/{}/{}",
            self.at.timestamp(),
            self.kind.as_str(),
            &self.severity.as_str()[..1],
            self.regions.join(",")
        )
    }

    fn parse(group: &str, w: &str) -> Option<Pending> {
        let mut p = w.strip_prefix(PENDING)?.splitn(4, '/');
        let at = Utc.timestamp_opt(p.next()?.parse().ok()?, 0).single()?;
        let kind = EventKind::parse(p.next()?)?;
        let severity = match p.next()? {
            "c" => Severity::Critical,
            "w" => Severity::Warning,
            "i" => Severity::Info,
            _ => return None,
        };
        let regions = p
            .next()?
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect();
        Some(Pending {
            group: group.to_string(),
            kind,
            severity,
            regions,
            at,
        })
    }

    /// The transition as an event of a later alert, marked late:
    /// `late: failover of ap-shanghai at 2026-11-22 03:07 UTC, delivered 03:09 UTC`.
    pub fn to_event(&self, record: &str, now: DateTime<Utc>) -> AlertEvent {
        AlertEvent {
            event: Event {
                kind: self.kind,
                severity: self.severity,
                group: self.group.clone(),
                regions: self.regions.clone(),
                message: format!(
                    "late: {} of {} at {}, delivered {} (no channel could deliver it then)",
                    self.kind.as_str(),
                    self.regions.join(", "),
                    self.at.format("%Y-%m-%d %H:%M UTC"),
                    now.format("%H:%M UTC"),
                ),
            },
            record: record.to_string(),
            evidence: vec![],
            changes: vec![],
            standing: None,
            late: Some(self.at),
            servers: vec![],
        }
    }

    /// The same transition seen in an alert event (new or late).
    fn of_event(e: &AlertEvent, at: DateTime<Utc>) -> Pending {
        Pending {
            group: e.event.group.clone(),
            kind: e.event.kind,
            severity: e.event.severity,
            regions: e.event.regions.clone(),
            at: e.late.unwrap_or(at),
        }
    }
}

/// What the state record remembers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub entries: Vec<Entry>,
    /// Transitions not delivered yet, oldest first.
    pub pending: Vec<Pending>,
}

const VERB: &str = "alerted";
/// Prefix of a [`Pending`] word in the remark.
const PENDING: &str = "u/";
/// DNSPod limits remarks to 200 bytes; stay under [`crate::model::record::remark`]'s 180.
const MAX_REMARK: usize = 180;

impl State {
    /// Parse a state record's remark; anything unparsable is ignored.
    /// `group` is the record's group (pending transitions name it).
    pub fn parse_of(group: &str, remark: &str) -> State {
        let mut s = State::parse(remark);
        let mut words = remark.split_whitespace();
        if words.next() == Some(REMARK_MARKER) && words.next() == Some(VERB) {
            s.pending = words.filter_map(|w| Pending::parse(group, w)).collect();
        }
        s
    }

    /// Parse a state record's remark, standing conditions only; anything
    /// unparsable is ignored.
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
        State {
            entries,
            pending: vec![],
        }
    }

    /// The remark to write. Pending transitions go first (a lost one is
    /// worse than a repeated page), newest first; then the newest
    /// conditions, as many as fit.
    pub fn to_remark(&self) -> String {
        let mut entries = self.entries.clone();
        entries.sort_by_key(|e| std::cmp::Reverse(e.last));
        let mut s = format!("{REMARK_MARKER} {VERB}");
        for p in self.pending.iter().rev() {
            let w = format!(" {}", p.to_word());
            if s.len() + w.len() > MAX_REMARK {
                break;
            }
            s.push_str(&w);
        }
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
    pending: Vec<Pending>,
    now: DateTime<Utc>,
) -> State {
    next_state_held(raised, &[], before, delivered, pending, now)
}

/// [`next_state`], also keeping `held`: the ids of the regions the group
/// keeps failed over ([`held_event`]). Their transition was alerted as
/// such, so they are recorded from the first run that sees them, whether
/// or not anything was sent.
pub fn next_state_held(
    raised: &[&Event],
    held: &[String],
    before: &State,
    delivered: &HashSet<String>,
    pending: Vec<Pending>,
    now: DateTime<Utc>,
) -> State {
    let mut entries = Vec::new();
    for id in held {
        if entries.iter().any(|x: &Entry| &x.id == id) {
            continue;
        }
        entries.push(match before.get(id) {
            Some(old) => Entry {
                id: id.clone(),
                since: old.since,
                last: if delivered.contains(id) {
                    now
                } else {
                    old.last
                },
            },
            None => Entry {
                id: id.clone(),
                since: now,
                last: now,
            },
        });
    }
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
    State { entries, pending }
}

/// The transitions of `alert` (new or late) that some channel wanted and
/// none reached ([`super::Delivery::reached`]: a send with no answer may
/// have been delivered, and is not sent again). A transition no channel
/// wants (`min_severity`, `events`) is nobody's to deliver.
pub fn undelivered(
    channels: &[Channelled],
    alert: &Alert,
    deliveries: &[Delivery],
) -> Vec<Pending> {
    let mut out: Vec<Pending> = Vec::new();
    for e in alert
        .events
        .iter()
        .filter(|e| e.standing.is_none() && !is_standing(e.event.kind, e.event.severity))
    {
        let mut wanted = false;
        let mut reached = false;
        for (c, d) in channels.iter().zip(deliveries) {
            let wants = c
                .filter(alert)
                .is_some_and(|a| a.events.iter().any(|x| same(x, e)));
            wanted |= wants;
            reached |= wants && d.reached();
        }
        let p = Pending::of_event(e, alert.at);
        if wanted && !reached && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn same(a: &AlertEvent, b: &AlertEvent) -> bool {
    a.event == b.event && a.late == b.late
}

/// Ids of the standing conditions (those marked [`AlertEvent::standing`])
/// that at least one channel delivered. `deliveries` are
/// [`super::send_all`]'s results, in channel order.
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
                    .filter(|e| e.standing.is_some())
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
        let mut s = State {
            entries: vec![Entry {
                id: "0a1b2c3d".into(),
                since: t(0),
                last: t(600),
            }],
            pending: vec![],
        };
        let r = s.to_remark();
        assert!(r.starts_with("dns-failover alerted 0a1b2c3d:"), "{r}");
        assert_eq!(State::parse(&r), s);
        assert_eq!(State::parse("paused by alice"), State::default());
        s.pending.push(Pending {
            group: "web".into(),
            kind: EventKind::Failover,
            severity: Severity::Critical,
            regions: vec!["ap-shanghai".into(), "ap-guangzhou".into()],
            at: t(60),
        });
        let r = s.to_remark();
        assert_eq!(State::parse_of("web", &r), s, "{r}");
        // Older versions read the conditions and skip the pending word.
        assert_eq!(State::parse(&r).entries, s.entries);
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
            pending: vec![],
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
            pending: vec![],
        };
        // all_down raised, not delivered: not recorded; pending no longer raised: dropped.
        let none = Default::default();
        let s = next_state(&[&down, &failover], &old, &none, vec![], t(60));
        assert_eq!(s, State::default());
        let delivered = [condition_id(&down)].into_iter().collect();
        let s = next_state(&[&down, &pending], &old, &delivered, vec![], t(60));
        assert_eq!(s.get(&condition_id(&down)).unwrap().since, t(60));
        assert_eq!(s.get(&condition_id(&pending)).unwrap().last, t(0));
    }

    #[test]
    fn held_regions_are_the_ones_the_tool_keeps_out() {
        use crate::model::health::Health;
        let target = |region: &str, value: &str| TargetOutcome {
            group: "web".into(),
            region: region.into(),
            value: value.into(),
            endpoint: String::new(),
            health: Health::Down,
            attempts: vec![],
            drill: false,
        };
        let record = |value: &str, enabled: bool, remark: &str| Record {
            id: "1".into(),
            value: value.into(),
            ttl: 60,
            enabled,
            updated_on: None,
            remark: remark.into(),
            weight: None,
        };
        let targets = [target("sh", "1.1.1.1"), target("gz", "2.2.2.2")];
        let ours = "dns-failover disabled 2026-11-22T03:07:00Z sh down";
        // Active: the record the tool disabled; not one a person paused.
        let recs = [record("1.1.1.1", false, ours), record("2.2.2.2", true, "")];
        assert_eq!(held_regions(Mode::Active, &targets, &recs, &[]), ["sh"]);
        let recs = [record("1.1.1.1", false, "paused by alice")];
        assert!(held_regions(Mode::Active, &targets, &recs, &[]).is_empty());
        // Failover: the first target while the record points elsewhere.
        let moved = "dns-failover failover 2026-11-22T03:07:00Z sh -> gz";
        let recs = [record("2.2.2.2", true, moved)];
        assert_eq!(held_regions(Mode::Failover, &targets, &recs, &[]), ["sh"]);
        let recs = [record("1.1.1.1", true, moved)];
        assert!(held_regions(Mode::Failover, &targets, &recs, &[]).is_empty());
        // This run's failover counts from now.
        let e = ev(EventKind::Failover, &["gz", "sh"]);
        assert_eq!(held_regions(Mode::Failover, &targets, &[], &[e]), ["gz"]);
    }
}
