//! Consensus (`[consensus]`): this prober's own network checked against
//! its witnesses, its vote published and every vote counted per group,
//! and the outcomes `decide` sees replaced by the verdict of the votes.

use crate::config::Config;
use crate::consensus::{self, Exchange};
use crate::model::consensus::NoQuorum;
use crate::model::event::{Event, EventKind, Severity};
use crate::model::health::{Health, TargetOutcome};
use crate::model::target::Group;

use super::Pass;

/// This prober's own network, judged by its witnesses before it votes.
#[derive(Debug, Clone)]
pub(super) struct SelfCheck {
    /// `false` when every witness failed.
    pub healthy: bool,
    /// Why the witnesses failed, for the event.
    pub witness_evidence: String,
}

impl SelfCheck {
    pub fn of(witnesses: &[TargetOutcome]) -> SelfCheck {
        SelfCheck {
            healthy: witnesses.is_empty() || witnesses.iter().any(|w| w.health.is_up()),
            witness_evidence: witnesses
                .iter()
                .map(|w| format!("{}: {}", w.endpoint, w.summary()))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// Publish this prober's vote on `g` (when the pass writes) and count
/// everyone's; `None` when consensus does not apply to this pass. A prober
/// whose witnesses failed votes unknown on every target and never writes.
pub(super) async fn vote(
    pass: &Pass<'_>,
    g: &Group,
    outcomes: &[TargetOutcome],
    read: Option<Result<Vec<crate::dns::Record>, crate::dns::Error>>,
) -> Option<Result<Exchange, String>> {
    let (cfg, check) = (pass.cfg, &pass.check);
    let settings = cfg.consensus.as_ref().filter(|_| pass.scope.consensus)?;
    let own: Vec<TargetOutcome> = outcomes
        .iter()
        .map(|o| {
            let mut o = o.clone();
            if !check.healthy {
                o.health = Health::Unknown;
            }
            o
        })
        .collect();
    let dns = pass.deps.dns.as_ref();
    let mut x = consensus::exchange(
        dns,
        cfg,
        settings,
        g,
        &own,
        read,
        pass.writes,
        pass.started_at,
    )
    .await
    .map_err(|e| e.to_string());
    if let (false, Ok(x)) = (check.healthy, x.as_mut()) {
        x.report.writes = false;
    }
    Some(x)
}

/// What `decide` sees for `group` under consensus: this prober's evidence,
/// with each target's health replaced by the verdict of the votes (or, with
/// `on_no_quorum = "local"`, this prober's own where there is none), and
/// the events the votes raise.
pub(super) fn outcomes(
    cfg: &Config,
    group: &Group,
    own: &[TargetOutcome],
    x: &Result<Exchange, String>,
    healthy: bool,
) -> (Vec<TargetOutcome>, Vec<Event>) {
    let Some(settings) = &cfg.consensus else {
        return (own.to_vec(), vec![]);
    };
    let event = |kind, severity, regions: Vec<String>, message: String| Event {
        kind,
        severity,
        group: group.name.clone(),
        regions,
        message,
    };
    let x = match x {
        Ok(x) => x,
        Err(e) => {
            let held = own
                .iter()
                .map(|o| TargetOutcome {
                    health: Health::Unknown,
                    ..o.clone()
                })
                .collect();
            let ev = event(
                EventKind::NoQuorum,
                Severity::Warning,
                vec![],
                format!(
                    "cannot read the probers' votes on {}: {e}; nothing changed",
                    group.key
                ),
            );
            return (held, vec![ev]);
        }
    };
    let mut events = Vec::new();
    let local = settings.on_no_quorum == NoQuorum::Local;
    let out = group
        .targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let mut o = own.iter().find(|o| o.region == t.region)?.clone();
            let verdict = x.tally.health.get(i).copied().unwrap_or(Health::Unknown);
            let no_quorum = x.tally.no_quorum.contains(&i);
            if !(no_quorum && local && healthy) {
                o.health = verdict;
            }
            Some(o)
        })
        .collect();
    // Too few fresh votes (not votes that disagree, which simply hold) is
    // what pages; never on the first exchange of a prober, when the others'
    // votes may still be on their way.
    let too_few = x.tally.voters.len() < settings.quorum && !x.was_silent;
    if too_few && !x.report.no_quorum.is_empty() && !local {
        events.push(event(
            EventKind::NoQuorum,
            Severity::Warning,
            x.report.no_quorum.clone(),
            format!(
                "{} of {} probers' votes are fresh, fewer than the quorum of {} needed to decide {}; nothing changed for them (on_no_quorum = \"hold\")",
                x.tally.voters.len(),
                settings.probers.len(),
                settings.quorum,
                x.report.no_quorum.join(", ")
            ),
        ));
    }
    (out, events)
}

/// The `prober_unhealthy` event, raised once when this prober's witnesses
/// all fail (its previous vote still said something).
pub(super) fn unhealthy_event(
    cfg: &Config,
    group: &Group,
    check: &SelfCheck,
    x: &Result<Exchange, String>,
) -> Option<Event> {
    let x = x.as_ref().ok()?;
    (!check.healthy && !x.was_silent).then(|| Event {
        kind: EventKind::ProberUnhealthy,
        severity: Severity::Warning,
        group: group.name.clone(),
        regions: vec![cfg.prober.clone()],
        message: format!(
            "prober {} cannot reach any of its witnesses ({}); its own network is in doubt, so it neither votes nor writes until they answer",
            cfg.prober, check.witness_evidence
        ),
    })
}

/// Add to each transition event of a group decided by votes which prober
/// said what about its regions, so the page carries the vote matrix:
/// `votes (quorum 2): ap-shanghai down by ap-guangzhou, ap-beijing; healthy by ap-shanghai`.
pub(super) fn annotate(group: &Group, x: &Exchange, events: &mut [Event]) {
    for e in events.iter_mut().filter(|e| {
        matches!(
            e.kind,
            EventKind::Failover | EventKind::Failback | EventKind::EmptyName
        )
    }) {
        let mut parts = Vec::new();
        for region in &e.regions {
            let Some(i) = group.targets.iter().position(|t| &t.region == region) else {
                continue;
            };
            let mut by: Vec<(Health, Vec<&str>)> = Vec::new();
            for row in x.report.votes.iter().filter(|r| r.counted) {
                let Some(h) = row.targets.get(i).copied() else {
                    continue;
                };
                match by.iter_mut().find(|(bh, _)| *bh == h) {
                    Some((_, v)) => v.push(&row.prober),
                    None => by.push((h, vec![&row.prober])),
                }
            }
            let said: Vec<String> = by
                .iter()
                .map(|(h, who)| format!("{} by {}", h.as_str(), who.join(", ")))
                .collect();
            parts.push(format!("{region} {}", said.join("; ")));
        }
        if !parts.is_empty() {
            e.message = format!(
                "{}; votes (quorum {}): {}",
                e.message,
                x.report.quorum,
                parts.join(" | ")
            );
        }
    }
}
