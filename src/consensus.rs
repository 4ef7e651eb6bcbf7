//! Votes of regional probers, exchanged through the DNS zone itself
//! (docs/consensus.md). For each group, a prober publishes its own view in
//! its vote record (see [`crate::model::consensus`]), reads every prober's,
//! and counts them ([`crate::decide::consensus::tally`]).
//!
//! A vote is written only when the view changed, or when the prober's last
//! write is a `heartbeat` old, so the write rate stays far under the API's
//! limits. Freshness is judged on the provider's update times, against the
//! newest vote: no clock of any prober is compared with another's.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::decide::consensus::{tally, Ballot, Tally};
use crate::dns::{self, DnsProvider, NewRecord, Record};
use crate::model::consensus::{
    digest, health_letter, vote_key, vote_value, voter_index, ConsensusReport, ConsensusSettings,
    Vote, VoteRow,
};
use crate::model::health::{Health, TargetOutcome};
use crate::model::target::Group;

/// What the exchange on one group gave.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub tally: Tally,
    pub report: ConsensusReport,
    /// Whether this prober wrote its vote in this exchange.
    pub wrote: bool,
    /// This prober's previous vote said nothing (it was unhealthy), or
    /// there was none.
    pub was_silent: bool,
}

/// This prober's place in `[consensus] probers` (validated to be there).
pub fn my_index(cfg: &Config, settings: &ConsensusSettings) -> usize {
    settings
        .probers
        .iter()
        .position(|p| *p == cfg.prober)
        .unwrap_or(usize::MAX)
}

/// This prober's vote on `group` from its outcomes, keeping the `since` of
/// every target whose state did not change since `previous`.
pub fn own_vote(
    group: &Group,
    outcomes: &[TargetOutcome],
    previous: Option<&Vote>,
    now: DateTime<Utc>,
) -> Vote {
    let d = digest(group);
    let previous = previous.filter(|p| p.digest == d && p.targets.len() == group.targets.len());
    let targets = group
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let h = outcomes
                .iter()
                .find(|o| o.region == t.region)
                .map_or(Health::Unknown, |o| o.health);
            let since = previous
                .and_then(|p| p.targets.get(i))
                .filter(|(ph, _)| *ph == h)
                .map_or(now, |(_, s)| *s);
            (h, since)
        })
        .collect();
    Vote {
        digest: d,
        at: now,
        targets,
    }
}

/// Publish this prober's vote on `group` (unless `publish` is false: a pass
/// that writes nothing) and count every prober's. An unhealthy prober
/// passes outcomes that are all unknown: its vote then says nothing and
/// never makes it the writer. `read` is the vote records as the pass read
/// them at its start (with every other name, in one call); `None`: read
/// them now. One read (none with `read`), and when this prober's vote
/// changed or its heartbeat is due, one write and one more read.
#[allow(clippy::too_many_arguments)]
pub async fn exchange(
    dns: &dyn DnsProvider,
    cfg: &Config,
    settings: &ConsensusSettings,
    group: &Group,
    outcomes: &[TargetOutcome],
    read: Option<Result<Vec<Record>, dns::Error>>,
    publish: bool,
    now: DateTime<Utc>,
) -> Result<Exchange, dns::Error> {
    let key = vote_key(&group.key, dns.default_line());
    let me = my_index(cfg, settings);
    let mut records = match read {
        Some(r) => r?,
        None => dns.list(&key).await?,
    };
    let mine = records.iter().find(|r| r.value == vote_value(me)).cloned();
    let previous = mine.as_ref().and_then(|r| Vote::parse(&r.remark));
    let was_silent = previous
        .as_ref()
        .is_none_or(|p| p.targets.iter().all(|t| t.0 == Health::Unknown));
    let vote = own_vote(group, outcomes, previous.as_ref(), now);
    let changed = previous.as_ref().is_none_or(|p| {
        p.digest != vote.digest
            || p.targets
                .iter()
                .map(|t| t.0)
                .ne(vote.targets.iter().map(|t| t.0))
    });
    let due = previous.as_ref().is_none_or(|p| {
        (now - p.at).to_std().unwrap_or(Duration::ZERO) >= settings.heartbeat
            // A vote "written" in the future by this clock: write again.
            || p.at > now
    });
    let mut wrote = false;
    if publish && (changed || due) {
        let remark = vote.to_remark();
        let result = match &mine {
            Some(r) => dns.set_status(&key, r, false, &remark).await,
            None => dns
                .create(
                    &key,
                    &NewRecord {
                        value: vote_value(me),
                        ttl: group.ttl,
                        enabled: false,
                        remark,
                    },
                )
                .await
                .map(|_| ()),
        };
        match result {
            Ok(()) => {
                wrote = true;
                records = dns.list(&key).await?;
            }
            // Another write to our own record (a second process with this
            // prober's name): count what is there.
            Err(e) => {
                tracing::warn!(group = %group.name, error = %e, "cannot publish this prober's vote")
            }
        }
    }
    let mut x = count(cfg, settings, group, &records, wrote, now);
    x.was_silent = was_silent;
    Ok(x)
}

/// Count the votes in `records` (the group's vote records).
///
/// A vote's age is the provider's: how long before the newest vote record
/// it was updated (DNSPod's `UpdatedOn`, the file zone's and the rfc2136
/// control record's times), so the probers' clocks need not agree. When a
/// vote record has no update time (Alidns's reads give none), every vote
/// is judged by the time written in it against `now`, this prober's clock,
/// either way: there the clocks must agree to well within `stale_after`.
pub fn count(
    cfg: &Config,
    settings: &ConsensusSettings,
    group: &Group,
    records: &[Record],
    wrote: bool,
    now: DateTime<Utc>,
) -> Exchange {
    let d = digest(group);
    let provider_times = records.iter().all(|r| r.updated_on.is_some());
    let newest = records.iter().filter_map(|r| r.updated_on).max();
    let mut ballots = Vec::new();
    let mut rows: Vec<VoteRow> = settings
        .probers
        .iter()
        .map(|p| VoteRow {
            prober: p.clone(),
            counted: false,
            age_s: None,
            targets: vec![],
        })
        .collect();
    for r in records {
        let (Some(i), Some(vote)) = (voter_index(&r.value), Vote::parse(&r.remark)) else {
            continue;
        };
        if i >= settings.probers.len() || r.enabled {
            continue;
        }
        let age = if provider_times {
            newest
                .zip(r.updated_on)
                .map(|(n, u)| (n - u).to_std().unwrap_or(Duration::ZERO))
        } else {
            // Either way off: a vote stamped far ahead of this clock is as
            // doubtful as an old one.
            (now - vote.at).abs().to_std().ok()
        };
        let fresh = age.is_some_and(|a| a <= settings.stale_after);
        rows[i].age_s = age.map(|a| a.as_secs() as i64);
        rows[i].targets = vote.targets.iter().map(|t| t.0).collect();
        rows[i].counted = fresh && vote.digest == d && vote.targets.len() == group.targets.len();
        ballots.push(Ballot {
            prober: i,
            vote,
            fresh,
        });
    }
    let t = tally(settings, &d, group.targets.len(), &ballots);
    let me = my_index(cfg, settings);
    let report = ConsensusReport {
        quorum: settings.quorum,
        writer: t.writer.map(|w| settings.probers[w].clone()),
        writes: t.writer == Some(me),
        verdict: t.health.clone(),
        no_quorum: t
            .no_quorum
            .iter()
            .map(|&i| group.targets[i].region.clone())
            .collect(),
        votes: rows,
    };
    Exchange {
        tally: t,
        report,
        wrote,
        was_silent: false,
    }
}

/// `h d g u` letters of a row, for a compact line in text reports.
pub fn letters(row: &VoteRow) -> String {
    row.targets.iter().map(|h| health_letter(*h)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const CONFIG: &str = r#"prober = "p1"
[consensus]
probers = ["p1", "p2", "p3"]
quorum = 2
stale_after = "2m"

[dns]
provider = "file"
domain = "example.com"
path = "zone.json"

[[group]]
name = "api"
subdomain = "api"
type = "A"
mode = "active"

[[group.target]]
region = "gz"
value = "192.0.2.1"
tcp = "127.0.0.1:9"
"#;

    fn vote_record(
        prober: usize,
        at: DateTime<Utc>,
        updated_on: Option<DateTime<Utc>>,
        group: &Group,
    ) -> Record {
        let vote = Vote {
            digest: digest(group),
            at,
            targets: vec![(Health::Down, at)],
        };
        Record {
            id: prober.to_string(),
            value: vote_value(prober),
            ttl: 60,
            enabled: false,
            updated_on,
            remark: vote.to_remark(),
            weight: None,
        }
    }

    /// Votes with the provider's update times are aged against the newest
    /// of them, whatever this prober's clock says; votes without (Alidns)
    /// by the time written in each, against this clock, either way.
    #[test]
    fn votes_are_aged_by_the_providers_times_else_by_their_own() {
        let cfg = Config::from_toml(CONFIG, std::path::Path::new("c.toml")).unwrap();
        let settings = cfg.consensus.clone().unwrap();
        let g = &cfg.groups[0];
        let now = Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap();
        let min = |m: i64| now + chrono::Duration::minutes(m);
        let counted =
            |x: &Exchange| -> Vec<bool> { x.report.votes.iter().map(|v| v.counted).collect() };

        // Provider times: p2's vote is 3 minutes older than the newest.
        // This prober's clock (a day off) does not matter.
        let recs = [
            vote_record(0, min(-100), Some(min(0)), g),
            vote_record(1, min(-100), Some(min(-3)), g),
            vote_record(2, min(-100), Some(min(-1)), g),
        ];
        let x = count(&cfg, &settings, g, &recs, false, min(24 * 60));
        assert_eq!(counted(&x), [true, false, true]);
        assert_eq!(x.tally.health, [Health::Down]);

        // No update times: each vote's own time against `now`; one from
        // 3 minutes ago is stale, and so is one stamped 3 minutes ahead.
        let recs = [
            vote_record(0, min(0), None, g),
            vote_record(1, min(-3), None, g),
            vote_record(2, min(1), None, g),
        ];
        let x = count(&cfg, &settings, g, &recs, false, now);
        assert_eq!(counted(&x), [true, false, true]);
        assert_eq!(x.tally.health, [Health::Down]);
        let recs = [
            vote_record(0, min(0), None, g),
            vote_record(2, min(3), None, g),
        ];
        let x = count(&cfg, &settings, g, &recs, false, now);
        assert_eq!(counted(&x), [true, false, false]);
        assert_eq!(
            x.tally.health,
            [Health::Unknown],
            "one fresh vote: no quorum"
        );
    }
}
