//! The standing-condition memory: one disabled *state record* per group in
//! the zone itself, read before alerting and written after, so a condition
//! raised on every run (`all_down`, `empty_name`, ...) pages once, with
//! reminders on `repeat_every` (the rules and the remark format are
//! [`crate::notify::repeat`]'s). The function keeps no state of its own.
//!
//! Fails open: a state record that cannot be read makes its group's
//! conditions alert as new; one that cannot be written makes the next run
//! alert again.
//!
//! Where: always on the default line (`默认`), where DNSPod accepts any
//! host (a host on another line may first need a `默认` record:
//! `FailedOperation.MustAddDefaultLineFirst`). A group on the default line
//! keeps [`repeat::state_key`]'s host; a group on another line gets the
//! line's short hash in the host's first label
//! (`_dns-failover-<type>-<8 hex>.<subdomain>`), so groups of one name on
//! several lines keep apart. A new state record is written with the group's
//! TTL raised to the DNS plan's lowest, so the plan never refuses it.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::dns::{self, DnsProvider, Record, RecordKey};
use crate::model::event::Event;
use crate::notify::repeat;
use crate::report::RunReport;

/// The line every state record is written on.
pub const STATE_LINE: &str = crate::model::record::CONTROL_LINE;

/// Where a group's state record lives (see
/// [`crate::model::record::control_key`]): [`repeat::state_key`]'s host, on
/// the default line, with the group's line hashed into it when it is
/// another one.
pub fn state_key(group: &RecordKey, default_line: &str) -> RecordKey {
    crate::model::record::control_key(group, None, default_line)
}

/// Each decided group's state record (absent when it has none yet) and what
/// it remembers, by group name. A group whose record could not be read is
/// missing.
#[derive(Debug, Default)]
pub struct States(HashMap<String, (Option<Record>, repeat::State)>);

impl States {
    /// What is remembered, by group.
    pub fn plain(&self) -> HashMap<String, repeat::State> {
        self.0
            .iter()
            .map(|(g, (_, s))| (g.clone(), s.clone()))
            .collect()
    }

    /// Every group's transitions not delivered yet, oldest first.
    pub fn pending(&self) -> Vec<repeat::Pending> {
        let mut out: Vec<repeat::Pending> = self
            .0
            .values()
            .flat_map(|(_, s)| s.pending.iter().cloned())
            .collect();
        out.sort_by(|a, b| a.at.cmp(&b.at).then(a.group.cmp(&b.group)));
        out
    }
}

/// Read each decided group's state record (see [`notify::repeat`]), all in
/// one [`DnsProvider::list_many`] (one read of the domain on DNSPod and
/// Alidns). A group whose read fails is left out, so its conditions alert
/// as new (fail open).
pub async fn read(dns: &dyn DnsProvider, cfg: &Config, report: &RunReport) -> States {
    let groups: Vec<_> = report
        .groups
        .iter()
        .filter(|g| g.records.is_some())
        .filter_map(|g| cfg.groups.iter().find(|c| c.name == g.name))
        .collect();
    let keys: Vec<RecordKey> = groups
        .iter()
        .map(|g| state_key(&g.key, dns.default_line()))
        .collect();
    let reads = dns.list_many(&keys).await;
    let mut out = HashMap::new();
    for (g, r) in groups.into_iter().zip(reads) {
        match r {
            Ok(recs) => {
                let rec = recs
                    .into_iter()
                    .find(|r| dns::same_value(&r.value, repeat::STATE_VALUE));
                let state = rec
                    .as_ref()
                    .map(|r| repeat::State::parse_of(&g.name, &r.remark))
                    .unwrap_or_default();
                out.insert(g.name.clone(), (rec, state));
            }
            Err(e) => {
                tracing::warn!(group = %g.name, error = %e, "cannot read the alert state record; standing conditions alert as new")
            }
        }
    }
    States(out)
}

/// What a run's alert leaves to remember, by [`write()`].
#[derive(Debug, Default)]
pub struct Remember {
    /// Ids of the standing conditions some channel delivered.
    pub delivered: HashSet<String>,
    /// Transitions no channel has yet (they replace each group's pending list).
    pub undelivered: Vec<repeat::Pending>,
    /// By group: ids of the regions it keeps failed over.
    pub held: HashMap<String, Vec<String>>,
}

/// Write back the state records that changed: the standing conditions
/// raised, the regions held failed over, and the transitions no channel
/// has yet (see [`Remember`]). Failures are logged only: the worst
/// outcome is one more alert on the next run, or, for a transition, that
/// it is not retried.
pub async fn write(
    dns: &dyn DnsProvider,
    cfg: &Config,
    report: &RunReport,
    states: &States,
    sent: &Remember,
    now: DateTime<Utc>,
) {
    // A new state record gets the group's TTL raised to the plan's lowest
    // (asked once here; the provider keeps what it read this pass).
    let mut limits: Option<Option<dns::PlanLimits>> = None;
    let Remember {
        delivered,
        undelivered,
        held,
    } = sent;
    for p in undelivered {
        if !states.0.contains_key(&p.group) {
            tracing::warn!(group = %p.group, kind = p.kind.as_str(), "no channel delivered this transition and the alert state record cannot be read; it will not be retried");
        }
    }
    for g in report
        .groups
        .iter()
        .filter(|g| g.records.is_some() && g.error.is_none())
    {
        // Under [consensus] the group's writer keeps its memory; another
        // prober, which pages nothing of it, must not rewrite it.
        if g.consensus.as_ref().is_some_and(|c| !c.writes) {
            continue;
        }
        let Some(group) = cfg.groups.iter().find(|c| c.name == g.name) else {
            continue;
        };
        let Some((rec, before)) = states.0.get(&g.name) else {
            continue; // unreadable: leave it alone
        };
        let raised: Vec<&Event> = g.events.iter().collect();
        let pending = undelivered
            .iter()
            .filter(|p| p.group == g.name)
            .cloned()
            .collect();
        let held = held.get(&g.name).map_or(&[][..], Vec::as_slice);
        let next = repeat::next_state_held(&raised, held, before, delivered, pending, now);
        if &next == before {
            continue;
        }
        let key = state_key(&group.key, dns.default_line());
        let remark = next.to_remark();
        let result = match rec {
            Some(r) => dns.set_status(&key, r, false, &remark).await,
            None => {
                if limits.is_none() {
                    limits = Some(dns.limits(&key.domain).await.ok());
                }
                // Unknown limits: the group's TTL; a plan that refuses it
                // gets its minimum from the provider's fallback.
                let ttl = limits
                    .as_ref()
                    .and_then(Option::as_ref)
                    .map_or(group.ttl, |l| l.ttl_for(group.ttl));
                dns.create(
                    &key,
                    &dns::NewRecord {
                        value: repeat::STATE_VALUE.into(),
                        ttl,
                        enabled: false,
                        remark,
                    },
                )
                .await
                .map(|_| ())
            }
        };
        if let Err(e) = result {
            tracing::warn!(group = %g.name, error = %e, "cannot write the alert state record; the next run may alert again");
        }
    }
}
