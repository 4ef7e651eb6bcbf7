//! Consensus among regional probers: the settings, and a prober's vote as
//! it is kept in DNS.
//!
//! A vote is one prober's view of one group: per target (in config order)
//! healthy, degraded, down or unknown, and since when. It lives in the
//! remark of a *vote record*: same domain as the group, on the default line
//! like every control record (a group on another line gets its line's hash
//! in the name), name `_dns-failover-vote-<type>.<subdomain>`, type A, value
//! `127.0.1.<n>` where `n` is the prober's place in `[consensus] probers`
//! (1-based), always **disabled** (resolvers never serve it). One name per
//! group, so one `DescribeRecordList` reads every prober's vote.
//!
//! The remark, version 1 (at most 180 bytes: 10 targets take about 100):
//!
//! ```text
//! dns-failover vote1 <digest> <at> <states> <since>,<since>,...
//! dns-failover vote1 3fa2 1kz41c hhdh 1kz3m0,1kz3m0,1kz40a,1kz3m0
//! ```
//!
//! - `digest`: 4 hex digits of SHA-256 over the group name and its regions in
//!   order; a vote made from another target list is ignored (and reported);
//! - `at`: when the voter wrote it, by its own clock (Unix seconds, base 36):
//!   the voter alone compares it with its clock, for its heartbeat;
//! - `states`: one letter per target: `h` healthy, `g` degraded, `d` down,
//!   `u` unknown (not probed);
//! - `since`: per target, when its state last changed, Unix seconds in base
//!   36, by the voter's clock (shown to people, never compared).
//!
//! Freshness is judged from the provider's own update time of the record,
//! not from anything the voter wrote, so probers with skewed clocks agree.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};

use super::health::Health;
use super::record::RecordKey;
use super::target::Group;

/// What to do when too few fresh votes exist to decide a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoQuorum {
    /// Change nothing and page once (the default with `[consensus]`).
    Hold,
    /// Act on this prober's own view (a single-prober set-up).
    Local,
}

/// `[consensus]`: the probers expected to vote and how many must agree.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsensusSettings {
    /// Prober names in order of preference as the writer.
    pub probers: Vec<String>,
    /// Fresh votes needed to call a target down (or back up); default a
    /// majority of `probers`.
    pub quorum: usize,
    pub on_no_quorum: NoQuorum,
    /// A vote older than this (by the provider's update time, against the
    /// newest vote) is not fresh; default 3 minutes.
    pub stale_after: Duration,
    /// An unchanged vote is written again this often, so it stays fresh;
    /// default 1 minute.
    pub heartbeat: Duration,
}

/// The letter of a health in a vote.
pub fn health_letter(h: Health) -> char {
    match h {
        Health::Healthy => 'h',
        Health::Degraded => 'g',
        Health::Down => 'd',
        Health::Unknown => 'u',
    }
}

fn letter_health(c: char) -> Option<Health> {
    Some(match c {
        'h' => Health::Healthy,
        'g' => Health::Degraded,
        'd' => Health::Down,
        'u' => Health::Unknown,
        _ => return None,
    })
}

/// One prober's view of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    pub digest: String,
    /// When the voter wrote it (voter's clock).
    pub at: DateTime<Utc>,
    /// Per target, in config order: its health and since when (voter's clock).
    pub targets: Vec<(Health, DateTime<Utc>)>,
}

const PREFIX: &str = "dns-failover vote1";

/// 4 hex digits naming a group's target list: votes made from another list
/// (a config that differs between regions) are not counted.
pub fn digest(group: &Group) -> String {
    let mut h = Sha256::new();
    h.update(group.name.as_bytes());
    for t in &group.targets {
        h.update(b"\0");
        h.update(t.region.as_bytes());
    }
    hex::encode(&h.finalize()[..2])
}

impl Vote {
    /// The remark that carries this vote.
    pub fn to_remark(&self) -> String {
        let states: String = self
            .targets
            .iter()
            .map(|(h, _)| health_letter(*h))
            .collect();
        let since: Vec<String> = self
            .targets
            .iter()
            .map(|(_, t)| base36(t.timestamp().max(0) as u64))
            .collect();
        format!(
            "{PREFIX} {} {} {states} {}",
            self.digest,
            base36(self.at.timestamp().max(0) as u64),
            since.join(",")
        )
    }

    /// Parse a remark; `None` if it is not a version-1 vote.
    pub fn parse(remark: &str) -> Option<Vote> {
        let rest = remark.strip_prefix(PREFIX)?.trim_start();
        let mut words = rest.split_whitespace();
        let digest = words.next()?.to_string();
        let at = unbase36(words.next()?)?;
        let states = words.next()?;
        let since: Vec<&str> = words.next().unwrap_or("").split(',').collect();
        if states.chars().count() != since.len() {
            return None;
        }
        let targets = states
            .chars()
            .zip(since)
            .map(|(c, s)| Some((letter_health(c)?, unbase36(s)?)))
            .collect::<Option<Vec<_>>>()?;
        Some(Vote {
            digest,
            at,
            targets,
        })
    }
}

fn unbase36(s: &str) -> Option<DateTime<Utc>> {
    let t = i64::try_from(u64::from_str_radix(s, 36).ok()?).ok()?;
    Utc.timestamp_opt(t, 0).single()
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// One prober's vote as a row of the vote matrix in the report and alert.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VoteRow {
    pub prober: String,
    /// Counted: fresh, and made from the same target list.
    pub counted: bool,
    /// Seconds older than the newest vote, by the provider's update times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_s: Option<i64>,
    /// Per target, in config order: `healthy`, `degraded`, `down`, `unknown`
    /// (empty when the prober has no vote).
    pub targets: Vec<Health>,
}

/// What consensus said about one group, for the report and the alert.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConsensusReport {
    pub quorum: usize,
    /// The prober that applies the plan, if any vote is fresh.
    pub writer: Option<String>,
    /// Whether this prober is the writer (it applies and alerts).
    pub writes: bool,
    /// Targets decided by consensus: their health, in config order.
    pub verdict: Vec<Health>,
    /// Regions with no quorum either way.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub no_quorum: Vec<String>,
    pub votes: Vec<VoteRow>,
}

/// Key of a group's vote records: `_dns-failover-vote-<type>.<subdomain>`
/// on the default line, like every control record (see
/// [`super::record::control_key`]).
pub fn vote_key(key: &RecordKey, default_line: &str) -> RecordKey {
    super::record::control_key(key, Some("vote"), default_line)
}

/// The value of prober number `index` (0-based) in `[consensus] probers`.
pub fn vote_value(index: usize) -> String {
    format!("127.0.1.{}", index + 1)
}

/// The prober number (0-based) a vote record's value names.
pub fn voter_index(value: &str) -> Option<usize> {
    value
        .strip_prefix("127.0.1.")?
        .parse::<usize>()
        .ok()?
        .checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vote_of_ten_targets_round_trips_and_fits_a_remark() {
        let t = Utc.with_ymd_and_hms(2026, 12, 5, 3, 7, 0).unwrap();
        let v = Vote {
            digest: "3fa2".into(),
            at: t,
            targets: (0..10)
                .map(|i| {
                    (
                        [
                            Health::Healthy,
                            Health::Down,
                            Health::Degraded,
                            Health::Unknown,
                        ][i % 4],
                        t + chrono::Duration::seconds(i as i64),
                    )
                })
                .collect(),
        };
        let r = v.to_remark();
        assert!(r.len() <= 180, "{} bytes: {r}", r.len());
        assert_eq!(Vote::parse(&r), Some(v));
        assert_eq!(Vote::parse("dns-failover alerted 1:2:3"), None);
        assert_eq!(Vote::parse("dns-failover vote1 3fa2 1 hx 1,2"), None);
        assert_eq!(Vote::parse("dns-failover vote1 3fa2 1 hh 1"), None);
    }

    #[test]
    fn voters_are_numbered_by_value() {
        assert_eq!(voter_index(&vote_value(0)), Some(0));
        assert_eq!(voter_index(&vote_value(7)), Some(7));
        assert_eq!(voter_index("127.0.0.1"), None);
        assert_eq!(voter_index("127.0.1.0"), None);
    }
}
