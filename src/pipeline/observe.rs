//! What a pass sees: the probes' outcomes and the records of each group,
//! gathered at the same time, then put side by side per group with the
//! plan `decide` makes of them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::config::{Config, Group, Target};
use crate::decide::GroupPlan;
use crate::dns::{self, PlanLimits, Record, RecordKey};
use crate::model::consensus::vote_key;
use crate::model::health::{Health, TargetOutcome};
use crate::model::pause::pause_key;
use crate::probe::{fit_probes, ProbeFit};
use crate::report::{ChangeResult, ChangeStatus, GroupReport};

use super::{Action, Deps};

/// Which groups and regions a pass is about.
pub(super) struct Scope {
    /// Regions a drill declares down (not probed).
    pub drill: Option<Vec<String>>,
    /// The one group of a manual failback.
    only_group: Option<String>,
    /// `probe` reads no DNS.
    read_dns: bool,
    /// `[consensus]` applies: a `run` or a `plan` (drills and manual
    /// failbacks are an operator's own decision).
    pub consensus: bool,
    /// Passes that plan read the DNS plan's limits (`status` does not).
    read_limits: bool,
}

impl Scope {
    pub fn of(action: &Action, cfg: &Config) -> Scope {
        Scope {
            consensus: cfg.consensus.is_some() && matches!(action, Action::Run | Action::Plan),
            drill: match action {
                Action::Drill { fail, .. } => Some(fail.clone()),
                _ => None,
            },
            only_group: match action {
                Action::Failback { group, .. }
                | Action::Pause { group, .. }
                | Action::Resume { group } => Some(group.clone()),
                _ => None,
            },
            read_dns: !matches!(action, Action::Probe),
            read_limits: !matches!(action, Action::Probe | Action::Status),
        }
    }

    pub fn covers(&self, group: &str) -> bool {
        self.only_group.as_deref().is_none_or(|g| g == group)
    }

    /// Not probed by this pass: outside its scope, or declared down by
    /// its drill.
    pub fn skips(&self, g: &Group, t: &Target) -> bool {
        !self.covers(&g.name) || self.drilled(&t.region)
    }

    fn drilled(&self, region: &str) -> bool {
        self.drill
            .as_ref()
            .is_some_and(|f| f.iter().any(|x| x == region))
    }
}

/// What a pass reads once for every group, at the same time as the probes:
/// the DNS side, and the witnesses.
pub(super) struct Seen {
    /// `[probe] witnesses`, probed when consensus is on.
    pub witnesses: Vec<TargetOutcome>,
    /// The domain's plan limits; `None` when not read (`probe`, `status`)
    /// or unreadable.
    pub limits: Option<PlanLimits>,
    /// The pause records (one read for every group); `None` for `probe`.
    pub pauses: Option<Result<Vec<Record>, dns::Error>>,
    pub read_time: Duration,
}

/// Each group's records and, with consensus, its vote records: taken by
/// the group's own part of the pass.
#[derive(Default)]
pub(super) struct Reads {
    pub records: HashMap<String, Result<Vec<Record>, dns::Error>>,
    pub votes: HashMap<String, Result<Vec<Record>, dns::Error>>,
}

/// How the probes fit into the time left (passes with a deadline): shorten
/// them to fit what the invocation leaves, or probe nothing (and say so)
/// when even the shortest allowed plan cannot fit.
pub(super) fn fit(
    deps: &Deps,
    cfg: &Config,
    scope: &Scope,
    deadline: Option<Instant>,
) -> Option<ProbeFit> {
    let probe_fit = deadline.map(|d| {
        let probed: Vec<&Target> = cfg
            .groups
            .iter()
            .flat_map(|g| g.targets.iter().filter(move |t| !scope.skips(g, t)))
            .collect();
        let max_timeout = probed.iter().map(|t| t.timeout).max().unwrap_or_default();
        let available = d.saturating_duration_since(Instant::now());
        fit_probes(deps.prober.settings(), max_timeout, probed.len(), available)
    });
    if let Some(f) = probe_fit.as_ref().filter(|f| f.shortened || f.refused) {
        tracing::warn!(available_ms = f.available_ms, needed_ms = f.needed_ms, shortened = f.shortened, refused = f.refused, note = %f.note, "probe plan does not fit the time limit");
    }
    probe_fit
}

/// Probe every target in scope (drilled regions are not probed), handing
/// each group's outcomes to `each` as soon as the group is done (see
/// [`crate::probe::Prober::probe_each`]); returns how long the sweep took.
pub(super) async fn probe(
    deps: &Deps,
    cfg: &Config,
    scope: &Scope,
    deadline: Option<Instant>,
    probe_fit: Option<&ProbeFit>,
    each: tokio::sync::mpsc::UnboundedSender<(usize, Vec<TargetOutcome>)>,
) -> Duration {
    let t = Instant::now();
    let skip = |g: &Group, t: &Target| scope.skips(g, t);
    match probe_fit {
        Some(f) if f.refused => {
            for (gi, g) in cfg.groups.iter().enumerate() {
                let _ = each.send((gi, unprobed(g, &skip)));
            }
        }
        Some(f) if f.shortened => {
            let prober = deps.prober.fitted(f);
            prober
                .probe_each(&cfg.groups, &skip, deadline, Some(&each))
                .await;
        }
        _ => {
            deps.prober
                .probe_each(&cfg.groups, &skip, deadline, Some(&each))
                .await;
        }
    }
    t.elapsed()
}

/// A group's outcomes as `decide` gets them: the drilled targets added
/// (declared down, not probed), and each one logged.
pub(super) fn complete(cfg: &Config, scope: &Scope, g: &Group, outcomes: &mut Vec<TargetOutcome>) {
    for t in g.targets.iter().filter(|t| scope.drilled(&t.region)) {
        outcomes.push(TargetOutcome::drilled(g, t, cfg.probe.attempts));
    }
    for o in outcomes.iter() {
        tracing::info!(group = %o.group, region = %o.region, health = o.health.as_str(), evidence = %o.summary(), "probed");
    }
}

/// Read DNS (each group's records, the plan's limits, the pause records)
/// and probe the witnesses, all at once.
pub(super) async fn read(
    deps: &Deps,
    cfg: &Config,
    scope: &Scope,
    deadline: Option<Instant>,
) -> (Seen, Reads) {
    // Every name the pass reads, in one `list_many` (one call for the
    // whole domain on DNSPod): the groups', their votes', the pauses'.
    let read_fut = async {
        let t = Instant::now();
        if !scope.read_dns {
            return (Reads::default(), None, t.elapsed());
        }
        let groups: Vec<&Group> = cfg
            .groups
            .iter()
            .filter(|g| scope.covers(&g.name))
            .collect();
        let mut keys: Vec<RecordKey> = groups.iter().map(|g| g.key.clone()).collect();
        if scope.consensus {
            let line = deps.dns.default_line();
            keys.extend(groups.iter().map(|g| vote_key(&g.key, line)));
        }
        keys.push(pause_key(&cfg.dns.domain, deps.dns.default_line()));
        let mut got = deps.dns.list_many(&keys).await.into_iter();
        let mut next = || {
            got.next()
                .unwrap_or_else(|| Err(dns::Error::Storage("list_many answered fewer keys".into())))
        };
        let mut reads = Reads::default();
        for g in &groups {
            reads.records.insert(g.name.clone(), next());
        }
        if scope.consensus {
            for g in &groups {
                reads.votes.insert(g.name.clone(), next());
            }
        }
        let pauses = Some(next());
        (reads, pauses, t.elapsed())
    };
    // The plan's limits (DNSPod: two calls, once per pass) decide the TTL
    // written and whether TTLs converge; unreadable, the pass goes on
    // without (no TTL is lowered, writes fall back on a refusal).
    let limits_fut = async {
        if !scope.read_limits {
            return None;
        }
        match deps.dns.limits(&cfg.dns.domain).await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the DNS plan's limits; no TTL is lowered this pass");
                None
            }
        }
    };
    let witness_groups = if scope.consensus {
        witness_groups(cfg)
    } else {
        vec![]
    };
    let witness_fut = witnesses(deps, &witness_groups, deadline);
    let ((reads, pauses, read_time), limits, witnesses) =
        tokio::join!(read_fut, limits_fut, witness_fut);
    for w in &witnesses {
        tracing::info!(witness = %w.endpoint, health = w.health.as_str(), evidence = %w.summary(), "witness probed");
    }
    let seen = Seen {
        witnesses,
        limits,
        pauses,
        read_time,
    };
    (seen, reads)
}

/// Every target of `g` in scope, not probed.
fn unprobed(g: &Group, skip: &dyn Fn(&Group, &Target) -> bool) -> Vec<TargetOutcome> {
    g.targets
        .iter()
        .filter(|t| !skip(g, t))
        .map(|t| TargetOutcome {
            group: g.name.clone(),
            region: t.region.clone(),
            value: t.value.clone(),
            endpoint: t.check.endpoint(),
            health: Health::Unknown,
            attempts: vec![],
            drill: false,
        })
        .collect()
}

/// The report of group `g`: its outcomes in config order, its records, and
/// the plan `decide` makes of them (`None` for `status`). A group whose
/// records could not be read gets its error and no plan.
pub(super) fn plan_group(
    g: &Group,
    mut targets: Vec<TargetOutcome>,
    records: Option<Result<Vec<Record>, dns::Error>>,
    decide: impl FnOnce(&Group, &[Record], &[TargetOutcome]) -> Option<GroupPlan>,
) -> GroupReport {
    // Keep config order of targets in the report.
    let order: HashMap<&str, usize> = g
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.region.as_str(), i))
        .collect();
    targets.sort_by_key(|o| order.get(o.region.as_str()).copied());
    let mut report = GroupReport {
        name: g.name.clone(),
        record: g.key.to_string(),
        mode: g.mode,
        ttl: g.ttl,
        targets,
        records: None,
        events: vec![],
        changes: vec![],
        refused: vec![],
        error: None,
        consensus: None,
        paused: None,
        verify: None,
    };
    let plan = match records {
        None => None,
        Some(Err(e)) => {
            tracing::error!(group = %g.name, error = %e, "dns read failed");
            report.error = Some(format!("cannot read records of {}: {e}", g.key));
            None
        }
        Some(Ok(recs)) => {
            let plan = decide(g, &recs, &report.targets);
            report.records = Some(recs);
            plan
        }
    };
    if let Some(plan) = plan {
        report.events = plan.events;
        report.refused = plan.refused;
        report.changes = plan
            .changes
            .into_iter()
            .map(|c| ChangeResult {
                change: c,
                status: ChangeStatus::Planned,
                error: None,
                record: None,
                elapsed_ms: 0,
            })
            .collect();
    }
    for e in &report.events {
        tracing::info!(group = %e.group, kind = e.kind.as_str(), severity = e.severity.as_str(), message = %e.message, "event");
    }
    report
}

/// `[probe] witnesses`, each as a group of one target, to probe like any
/// other target and hand over on its own.
fn witness_groups(cfg: &Config) -> Vec<Group> {
    let Some(first) = cfg.groups.first() else {
        return vec![];
    };
    cfg.witnesses
        .iter()
        .enumerate()
        .map(|(i, check)| Group {
            name: "witnesses".into(),
            key: first.key.clone(),
            mode: crate::model::target::Mode::Active,
            failback: crate::model::target::Failback::Manual,
            failback_after: Duration::ZERO,
            max_changes: 0,
            ttl: 0,
            targets: vec![Target {
                region: format!("witness-{}", i + 1),
                value: String::new(),
                priority: i as i64,
                check: check.clone(),
                timeout: cfg.probe.timeout,
                tls: cfg.probe.tls.clone(),
            }],
        })
        .collect()
}

/// Probe the witnesses until the self-check is settled: one witness up is
/// enough ([`super::vote::SelfCheck`]), so the first one up ends the wait
/// and the others are dropped (a hanging witness then delays no group's
/// vote); otherwise every witness's outcome, once all are in.
async fn witnesses(deps: &Deps, groups: &[Group], deadline: Option<Instant>) -> Vec<TargetOutcome> {
    if groups.is_empty() {
        return vec![];
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let probe = deps
        .prober
        .probe_each(groups, &|_, _| false, deadline, Some(&tx));
    tokio::pin!(probe);
    let mut got = Vec::new();
    loop {
        tokio::select! {
            biased;
            Some((_, outs)) = rx.recv() => {
                let up = outs.iter().any(|o: &TargetOutcome| o.health.is_up());
                got.extend(outs);
                if up {
                    return got;
                }
            }
            _ = &mut probe => {
                // Every witness was handed over before the sweep ended.
                while let Ok((_, outs)) = rx.try_recv() {
                    got.extend(outs);
                }
                return got;
            }
        }
    }
}
