//! What a pass sees: the probes' outcomes and the records of each group,
//! gathered at the same time, then put side by side per group with the
//! plan `decide` makes of them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::config::{Config, Group, Target};
use crate::decide::GroupPlan;
use crate::dns::{self, PlanLimits, Record};
use crate::model::health::{Health, TargetOutcome};
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

    fn drilled(&self, region: &str) -> bool {
        self.drill
            .as_ref()
            .is_some_and(|f| f.iter().any(|x| x == region))
    }
}

/// The probes' outcomes and each group's records, with how long each took.
pub(super) struct Seen {
    pub outcomes: Vec<TargetOutcome>,
    /// `[probe] witnesses`, probed when consensus is on.
    pub witnesses: Vec<TargetOutcome>,
    pub records: HashMap<String, Result<Vec<Record>, dns::Error>>,
    /// The domain's plan limits; `None` when not read (`probe`, `status`)
    /// or unreadable.
    pub limits: Option<PlanLimits>,
    /// The pause records (one read for every group); `None` for `probe`.
    pub pauses: Option<Result<Vec<Record>, dns::Error>>,
    pub probe_time: Duration,
    pub read_time: Duration,
    /// How the probes were fitted into the time left (passes with a deadline).
    pub probe_fit: Option<ProbeFit>,
}

/// Probe (drilled regions are declared down instead) and read DNS at once.
pub(super) async fn observe(
    deps: &Deps,
    cfg: &Config,
    scope: &Scope,
    deadline: Option<Instant>,
) -> Seen {
    let skip = |g: &Group, t: &Target| !scope.covers(&g.name) || scope.drilled(&t.region);
    // Plan the probes' time before probing: shorten them to fit what the
    // invocation leaves, or probe nothing (and say so) when even the
    // shortest allowed plan cannot fit.
    let probe_fit = deadline.map(|d| {
        let probed: Vec<&Target> = cfg
            .groups
            .iter()
            .flat_map(|g| g.targets.iter().filter(move |t| !skip(g, t)))
            .collect();
        let max_timeout = probed.iter().map(|t| t.timeout).max().unwrap_or_default();
        let available = d.saturating_duration_since(Instant::now());
        fit_probes(deps.prober.settings(), max_timeout, probed.len(), available)
    });
    if let Some(f) = probe_fit.as_ref().filter(|f| f.shortened || f.refused) {
        tracing::warn!(available_ms = f.available_ms, needed_ms = f.needed_ms, shortened = f.shortened, refused = f.refused, note = %f.note, "probe plan does not fit the time limit");
    }
    let probe_fut = async {
        let t = Instant::now();
        let out = match &probe_fit {
            Some(f) if f.refused => unprobed(cfg, &skip),
            Some(f) if f.shortened => {
                let prober = deps.prober.fitted(f);
                prober.probe_all(&cfg.groups, &skip, deadline).await
            }
            _ => deps.prober.probe_all(&cfg.groups, &skip, deadline).await,
        };
        (out, t.elapsed())
    };
    let read_fut = async {
        let t = Instant::now();
        let reads = futures_util::future::join_all(
            cfg.groups
                .iter()
                .filter(|g| scope.read_dns && scope.covers(&g.name))
                .map(|g| async move { (g.name.clone(), deps.dns.list(&g.key).await) }),
        )
        .await;
        (reads, t.elapsed())
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
    let pauses_fut = async {
        if scope.read_dns {
            Some(super::pause::read(deps.dns.as_ref(), &cfg.dns.domain).await)
        } else {
            None
        }
    };
    let witness_group = scope.consensus.then(|| witness_group(cfg)).flatten();
    let witness_fut = async {
        match &witness_group {
            Some(g) => {
                deps.prober
                    .probe_all(std::slice::from_ref(g), &|_, _| false, deadline)
                    .await
            }
            None => vec![],
        }
    };
    let ((mut outcomes, probe_time), (reads, read_time), limits, pauses, witnesses) =
        tokio::join!(probe_fut, read_fut, limits_fut, pauses_fut, witness_fut);
    for w in &witnesses {
        tracing::info!(witness = %w.endpoint, health = w.health.as_str(), evidence = %w.summary(), "witness probed");
    }
    for g in cfg.groups.iter().filter(|g| scope.covers(&g.name)) {
        for t in g.targets.iter().filter(|t| scope.drilled(&t.region)) {
            outcomes.push(TargetOutcome::drilled(g, t, cfg.probe.attempts));
        }
    }
    for o in &outcomes {
        tracing::info!(group = %o.group, region = %o.region, health = o.health.as_str(), evidence = %o.summary(), "probed");
    }
    Seen {
        outcomes,
        witnesses,
        records: reads.into_iter().collect(),
        limits,
        pauses,
        probe_time,
        read_time,
        probe_fit,
    }
}

/// Every target in scope, not probed.
fn unprobed(cfg: &Config, skip: &dyn Fn(&Group, &Target) -> bool) -> Vec<TargetOutcome> {
    cfg.groups
        .iter()
        .flat_map(|g| {
            g.targets
                .iter()
                .filter(move |t| !skip(g, t))
                .map(move |t| TargetOutcome {
                    group: g.name.clone(),
                    region: t.region.clone(),
                    value: t.value.clone(),
                    endpoint: t.check.endpoint(),
                    health: Health::Unknown,
                    attempts: vec![],
                    drill: false,
                })
        })
        .collect()
}

/// One report per group in scope: its outcomes in config order, its
/// records, and the plan `decide` makes of them (`None` for `status`). A
/// group whose records could not be read gets its error and no plan.
pub(super) fn plan(
    cfg: &Config,
    scope: &Scope,
    outcomes: Vec<TargetOutcome>,
    mut records: HashMap<String, Result<Vec<Record>, dns::Error>>,
    decide: impl Fn(&Group, &[Record], &[TargetOutcome]) -> Option<GroupPlan>,
) -> Vec<GroupReport> {
    // One pass over the outcomes, not one per group: with thousands of
    // groups the per-group scan dominated a probe run.
    let mut by_group: HashMap<String, Vec<TargetOutcome>> = HashMap::new();
    for o in outcomes {
        by_group.entry(o.group.clone()).or_default().push(o);
    }
    let mut out = Vec::new();
    for g in cfg.groups.iter().filter(|g| scope.covers(&g.name)) {
        // Keep config order of targets in the report.
        let mut targets: Vec<TargetOutcome> = by_group.remove(&g.name).unwrap_or_default();
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
        let plan = match records.remove(&g.name) {
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
        out.push(report);
    }
    out
}

/// `[probe] witnesses` as a group of targets, to probe like any other.
fn witness_group(cfg: &Config) -> Option<Group> {
    if cfg.witnesses.is_empty() {
        return None;
    }
    Some(Group {
        name: "witnesses".into(),
        key: cfg.groups.first()?.key.clone(),
        mode: crate::model::target::Mode::Active,
        failback: crate::model::target::Failback::Manual,
        failback_after: Duration::ZERO,
        max_changes: 0,
        ttl: 0,
        targets: cfg
            .witnesses
            .iter()
            .enumerate()
            .map(|(i, check)| Target {
                region: format!("witness-{}", i + 1),
                value: String::new(),
                priority: i as i64,
                check: check.clone(),
                timeout: cfg.probe.timeout,
                tls: cfg.probe.tls.clone(),
            })
            .collect(),
    })
}
