//! One pass: config -> probe -> decide -> apply -> notify -> report.
//!
//! [`run_once`] is the only caller of every stage, and every entry point (the
//! CLI commands, the SCF runtime loop, the demo) goes through it. It never
//! returns an error: whatever went wrong is in the [`RunReport`], whose
//! `ok` decides the exit code.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ProviderSettings};
use crate::decide::{self, Event, EventKind, Severity};
use crate::dns::{self, ChangeOp, DnsProvider, Record};
use crate::notify::{self, repeat, Channelled};
use crate::probe::{Prober, TargetOutcome};
use crate::report::{ChangeResult, ChangeStatus, GroupReport, RunReport, Timings};

/// The edges a pass talks to. Binaries build real ones with
/// [`Deps::from_config`]; tests put fakes in.
#[derive(Clone)]
pub struct Deps {
    pub dns: Arc<dyn DnsProvider>,
    pub channels: Vec<Channelled>,
    pub clock: Arc<dyn Clock>,
    pub prober: Prober,
}

impl Deps {
    /// Real edges for a config. Credentials are read here (each run).
    pub fn from_config(cfg: &Config) -> Result<Deps, String> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Self::with_clock(cfg, clock)
    }

    pub fn with_clock(cfg: &Config, clock: Arc<dyn Clock>) -> Result<Deps, String> {
        let dns: Arc<dyn DnsProvider> = match &cfg.dns.provider {
            ProviderSettings::File { path } => {
                Arc::new(dns::file::FileProvider::new(path.clone(), clock.clone()))
            }
            ProviderSettings::Dnspod(s) => Arc::new(dns::dnspod::DnspodProvider::from_settings(
                s,
                clock.clone(),
            )?),
        };
        Ok(Deps {
            dns,
            channels: notify::build(&cfg.alerts, clock.clone()).map_err(|e| e.to_string())?,
            clock,
            prober: Prober::new(&cfg.probe).map_err(|e| e.to_string())?,
        })
    }
}

/// What a pass does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Probe, decide, apply, notify.
    Run,
    /// Probe and decide; write nothing, send nothing.
    Plan,
    /// Probe only.
    Probe,
    /// Probe and read the records.
    Status,
    /// Treat `fail` as down; plan, or apply with `apply`.
    Drill { fail: Vec<String>, apply: bool },
    /// Put `region` of `group` back (manual failback).
    Failback { group: String, region: String },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Run => "run",
            Action::Plan => "plan",
            Action::Probe => "probe",
            Action::Status => "status",
            Action::Drill { .. } => "drill",
            Action::Failback { .. } => "failback",
        }
    }
    fn writes(&self, dry_run: bool) -> bool {
        match self {
            Action::Run | Action::Failback { .. } => !dry_run,
            Action::Drill { apply, .. } => *apply && !dry_run,
            Action::Plan | Action::Probe | Action::Status => false,
        }
    }
}

/// Options of one pass.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub action: Action,
    /// Decide but write nothing and send nothing.
    pub dry_run: bool,
    /// Go past `max_changes` (and failback of a degraded target).
    pub force: bool,
    /// Stop starting probes so the pass can finish before this instant.
    pub deadline: Option<Instant>,
    /// Upper bound on every alert channel's own timeout (per try).
    pub alert_timeout: Option<Duration>,
}

impl RunOptions {
    pub fn new(action: Action) -> Self {
        RunOptions {
            action,
            dry_run: false,
            force: false,
            deadline: None,
            alert_timeout: None,
        }
    }
}

/// Usage errors found before anything runs (exit code 2): unknown regions or
/// groups named by a drill or a failback.
pub fn check_options(cfg: &Config, opts: &RunOptions) -> Result<(), String> {
    match &opts.action {
        Action::Drill { fail, .. } => {
            if fail.is_empty() {
                return Err("drill needs at least one --fail REGION".into());
            }
            for r in fail {
                if !cfg.groups.iter().any(|g| g.target(r).is_some()) {
                    return Err(format!(
                        "--fail {r:?}: no group has a target in that region (known: {})",
                        regions(cfg).join(", ")
                    ));
                }
            }
        }
        Action::Failback { group, region } => {
            let Some(g) = cfg.groups.iter().find(|g| &g.name == group) else {
                let names: Vec<&str> = cfg.groups.iter().map(|g| g.name.as_str()).collect();
                return Err(format!(
                    "--group {group:?}: no such group (known: {})",
                    names.join(", ")
                ));
            };
            if g.target(region).is_none() {
                let rs: Vec<&str> = g.targets.iter().map(|t| t.region.as_str()).collect();
                return Err(format!(
                    "--region {region:?}: not a target of group {group:?} (its regions: {})",
                    rs.join(", ")
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

fn regions(cfg: &Config) -> Vec<String> {
    let mut v: Vec<String> = cfg
        .groups
        .iter()
        .flat_map(|g| g.targets.iter().map(|t| t.region.clone()))
        .collect();
    v.sort();
    v.dedup();
    v
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Run one pass. Never fails; see the report's `ok` and `errors`.
#[tracing::instrument(skip_all, fields(action = opts.action.name(), prober = %cfg.prober))]
pub async fn run_once(deps: &Deps, cfg: &Config, opts: &RunOptions) -> RunReport {
    let t0 = Instant::now();
    let started_at = deps.clock.now();
    let writes = opts.action.writes(opts.dry_run);
    let drill_regions = match &opts.action {
        Action::Drill { fail, .. } => Some(fail.clone()),
        _ => None,
    };
    let only_group = match &opts.action {
        Action::Failback { group, .. } => Some(group.clone()),
        _ => None,
    };
    let in_scope = |name: &str| only_group.as_deref().is_none_or(|g| g == name);
    let read_dns = !matches!(opts.action, Action::Probe);

    // Probe and read DNS at the same time: neither depends on the other.
    let drilled = |r: &str| {
        drill_regions
            .as_ref()
            .is_some_and(|f| f.iter().any(|x| x == r))
    };
    let skip = |g: &crate::config::Group, t: &crate::config::Target| {
        !in_scope(&g.name) || drilled(&t.region)
    };
    let probe_fut = async {
        let t = Instant::now();
        let out = deps
            .prober
            .probe_all(&cfg.groups, &skip, opts.deadline)
            .await;
        (out, t.elapsed())
    };
    let read_fut = async {
        let t = Instant::now();
        let reads = futures_util::future::join_all(
            cfg.groups
                .iter()
                .filter(|g| read_dns && in_scope(&g.name))
                .map(|g| async move { (g.name.clone(), deps.dns.list(&g.key).await) }),
        )
        .await;
        (reads, t.elapsed())
    };
    let ((mut outcomes, probe_time), (reads, read_time)) = tokio::join!(probe_fut, read_fut);
    for g in cfg.groups.iter().filter(|g| in_scope(&g.name)) {
        for t in g.targets.iter().filter(|t| drilled(&t.region)) {
            outcomes.push(TargetOutcome::drilled(g, t, cfg.probe.attempts));
        }
    }
    for o in &outcomes {
        tracing::info!(group = %o.group, region = %o.region, health = o.health.as_str(), evidence = %o.summary(), "probed");
    }
    let mut records: HashMap<String, Result<Vec<Record>, dns::Error>> = reads.into_iter().collect();

    let mut errors = Vec::new();
    let t_decide = Instant::now();
    let dopts = decide::Options {
        force: opts.force,
        failback: match &opts.action {
            Action::Failback { group, region } => Some((group.clone(), region.clone())),
            _ => None,
        },
        drill: drill_regions.is_some(),
    };
    let mut plans = Vec::new();
    // One pass over the outcomes, not one per group: with thousands of
    // groups the per-group scan dominated a probe run.
    let mut by_group: HashMap<String, Vec<TargetOutcome>> = HashMap::new();
    for o in outcomes {
        by_group.entry(o.group.clone()).or_default().push(o);
    }
    for g in cfg.groups.iter().filter(|g| in_scope(&g.name)) {
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
        };
        let plan = match records.remove(&g.name) {
            None => None,
            Some(Err(e)) => {
                let msg = format!("cannot read records of {}: {e}", g.key);
                tracing::error!(group = %g.name, error = %e, "dns read failed");
                errors.push(msg.clone());
                report.error = Some(msg);
                None
            }
            Some(Ok(recs)) => {
                let plan = (!matches!(opts.action, Action::Status))
                    .then(|| decide::decide_group(g, &recs, &report.targets, started_at, &dopts));
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
        plans.push(report);
    }
    let decide_time = t_decide.elapsed();

    // Apply, group by group, in plan order. The first failure in a group
    // stops that group's remaining changes: the plan's safety (never empty a
    // group) assumed all of them; the next run re-plans from what is there.
    // Then the group is read once more: if its name was left with no
    // enabled record (probers or people acting at the same moment), a
    // record goes back at once (see decide::rescue_empty).
    let t_apply = Instant::now();
    if writes {
        for report in &mut plans {
            let mut failed = false;
            let mut extra_events = Vec::new();
            for c in &mut report.changes {
                if failed {
                    c.status = ChangeStatus::Skipped;
                    c.error = Some("not attempted: an earlier change of this group failed".into());
                    continue;
                }
                failed = !apply_one(deps, c, &mut extra_events, &mut errors).await;
            }
            report.events.extend(extra_events);
            if let Some(g) = cfg.groups.iter().find(|g| g.name == report.name) {
                check_not_empty(deps, g, report, started_at, &dopts, &mut errors).await;
            }
        }
    }
    let apply_time = t_apply.elapsed();

    let mut report = RunReport {
        version: env!("CARGO_PKG_VERSION"),
        action: opts.action.name().to_string(),
        dry_run: !writes,
        drill: drill_regions,
        prober: cfg.prober.clone(),
        provider: deps.dns.name().to_string(),
        started_at,
        finished_at: started_at,
        ok: errors.is_empty(),
        errors,
        severity: None,
        groups: plans,
        alerts: vec![],
        timings: Timings {
            probe_ms: ms(probe_time),
            dns_read_ms: ms(read_time),
            decide_ms: ms(decide_time),
            apply_ms: ms(apply_time),
            ..Default::default()
        },
    };
    report.severity = report
        .groups
        .iter()
        .flat_map(|g| g.events.iter().map(|e| e.severity))
        .max();

    let t_notify = Instant::now();
    if writes {
        // Standing conditions page once per occurrence, with reminders; their
        // memory is a state record per group (see notify::repeat). Drills
        // and manual failbacks are asked for, so they always alert.
        let standing = matches!(opts.action, Action::Run) && !deps.channels.is_empty();
        let states = if standing {
            read_alert_states(deps, cfg, &report).await
        } else {
            HashMap::new()
        };
        let mut delivered = Default::default();
        if let Some(mut alert) = report.alert(&cfg.alert_timezone) {
            if standing {
                let plain = states
                    .iter()
                    .map(|(g, (_, s))| (g.clone(), s.clone()))
                    .collect();
                repeat::annotate(&mut alert.events, &plain, started_at);
            }
            report.alerts = notify::send_all(&deps.channels, &alert, opts.alert_timeout).await;
            delivered = repeat::delivered(&deps.channels, &alert, &report.alerts);
        }
        if standing {
            write_alert_states(deps, cfg, &report, &states, &delivered, started_at).await;
        }
    }
    report.timings.notify_ms = ms(t_notify.elapsed());
    report.timings.total_ms = ms(t0.elapsed());
    report.finished_at = started_at
        + chrono::Duration::from_std(t0.elapsed()).unwrap_or_else(|_| chrono::Duration::zero());
    tracing::info!(
        ok = report.ok,
        total_ms = report.timings.total_ms,
        "pass done"
    );
    report
}

type AlertStates = HashMap<String, (Option<Record>, repeat::State)>;

/// Read each decided group's state record (see [`notify::repeat`]). A group
/// whose read fails is left out, so its conditions alert as new (fail open).
async fn read_alert_states(deps: &Deps, cfg: &Config, report: &RunReport) -> AlertStates {
    let reads = futures_util::future::join_all(
        report
            .groups
            .iter()
            .filter(|g| g.records.is_some())
            .filter_map(|g| cfg.groups.iter().find(|c| c.name == g.name))
            .map(|g| async move { (g, deps.dns.list(&repeat::state_key(&g.key)).await) }),
    )
    .await;
    let mut out = HashMap::new();
    for (g, r) in reads {
        match r {
            Ok(recs) => {
                let rec = recs.into_iter().find(|r| r.value == repeat::STATE_VALUE);
                let state = rec
                    .as_ref()
                    .map(|r| repeat::State::parse(&r.remark))
                    .unwrap_or_default();
                out.insert(g.name.clone(), (rec, state));
            }
            Err(e) => {
                tracing::warn!(group = %g.name, error = %e, "cannot read the alert state record; standing conditions alert as new")
            }
        }
    }
    out
}

/// Write back the state records that changed. Failures are logged only: the
/// worst outcome is one more alert on the next run.
async fn write_alert_states(
    deps: &Deps,
    cfg: &Config,
    report: &RunReport,
    states: &AlertStates,
    delivered: &std::collections::HashSet<String>,
    now: chrono::DateTime<chrono::Utc>,
) {
    for g in report
        .groups
        .iter()
        .filter(|g| g.records.is_some() && g.error.is_none())
    {
        let Some(group) = cfg.groups.iter().find(|c| c.name == g.name) else {
            continue;
        };
        let Some((rec, before)) = states.get(&g.name) else {
            continue; // unreadable: leave it alone
        };
        let raised: Vec<&Event> = g.events.iter().collect();
        let next = repeat::next_state(&raised, before, delivered, now);
        if &next == before {
            continue;
        }
        let key = repeat::state_key(&group.key);
        let remark = next.to_remark();
        let result = match rec {
            Some(r) => deps.dns.set_status(&key, r, false, &remark).await,
            None => deps
                .dns
                .create(
                    &key,
                    &dns::NewRecord {
                        value: repeat::STATE_VALUE.into(),
                        ttl: group.ttl,
                        enabled: false,
                        remark,
                    },
                )
                .await
                .map(|_| ()),
        };
        if let Err(e) = result {
            tracing::warn!(group = %g.name, error = %e, "cannot write the alert state record; the next run may alert again");
        }
    }
}

/// Apply one planned change and record its outcome; false when it failed
/// (a conflict included), which stops the group's later changes.
async fn apply_one(
    deps: &Deps,
    c: &mut ChangeResult,
    events: &mut Vec<Event>,
    errors: &mut Vec<String>,
) -> bool {
    let t = Instant::now();
    let result = dns::apply_change(deps.dns.as_ref(), &c.change).await;
    c.elapsed_ms = t.elapsed().as_millis() as u64;
    match result {
        Ok(dns::Applied::Done { record }) => {
            tracing::info!(group = %c.change.group, change = %c.change.summary(), "applied");
            c.status = ChangeStatus::Applied;
            if let Some(ev) = ttl_event(&c.change, &record) {
                events.push(ev);
            }
            c.record = Some(record);
            true
        }
        Ok(dns::Applied::AlreadyApplied { record }) => {
            c.status = ChangeStatus::AlreadyApplied;
            c.record = Some(record);
            true
        }
        Err(e) => {
            let (status, kind) = match e {
                dns::Error::Conflict { .. } => (ChangeStatus::Conflict, EventKind::Conflict),
                _ => (ChangeStatus::Failed, EventKind::ApplyFailed),
            };
            tracing::error!(group = %c.change.group, change = %c.change.summary(), error = %e, "apply failed");
            c.status = status;
            c.error = Some(e.to_string());
            events.push(Event {
                kind,
                severity: Severity::Critical,
                group: c.change.group.clone(),
                regions: vec![c.change.region.clone()],
                message: format!("could not {}: {e}", c.change.summary()),
            });
            if status == ChangeStatus::Failed {
                errors.push(format!(
                    "group {}: could not {}: {e}",
                    c.change.group,
                    c.change.summary()
                ));
            }
            false
        }
    }
}

/// After a group's writes, read it back once: a name with no enabled record
/// gets one back at once, and a critical `empty_name` event either way.
async fn check_not_empty(
    deps: &Deps,
    g: &crate::config::Group,
    report: &mut GroupReport,
    now: chrono::DateTime<chrono::Utc>,
    dopts: &decide::Options,
    errors: &mut Vec<String>,
) {
    if g.mode != crate::config::Mode::Active || report.changes.is_empty() {
        return;
    }
    let disabled_now: Vec<String> = report
        .changes
        .iter()
        .filter(|c| c.status == ChangeStatus::Applied)
        .filter_map(|c| match &c.change.op {
            ChangeOp::SetStatus {
                record_id,
                enabled: false,
                ..
            } => Some(record_id.clone()),
            _ => None,
        })
        .collect();
    let records = match deps.dns.list(&g.key).await {
        Ok(r) => r,
        Err(e) => {
            // The next run's decide sees an empty name too; say why we
            // could not look now.
            tracing::warn!(group = %g.name, error = %e, "cannot read the records back after the writes; an empty name would be caught by the next run");
            return;
        }
    };
    let rescue = decide::rescue_empty(g, &records, &report.targets, &disabled_now, now, dopts);
    let mut events = rescue.events;
    for ev in &events {
        tracing::error!(group = %ev.group, kind = ev.kind.as_str(), message = %ev.message, "event");
    }
    for change in rescue.changes {
        let mut c = ChangeResult {
            change,
            status: ChangeStatus::Planned,
            error: None,
            record: None,
            elapsed_ms: 0,
        };
        apply_one(deps, &mut c, &mut events, errors).await;
        report.changes.push(c);
    }
    report.events.extend(events);
}

/// The provider accepted the write with another TTL than planned (a plan
/// minimum): say so plainly.
fn ttl_event(change: &dns::Change, after: &Record) -> Option<Event> {
    let planned = match &change.op {
        ChangeOp::SetValue { ttl, .. } => *ttl,
        ChangeOp::Create { record } => record.ttl,
        ChangeOp::SetStatus { .. } => return None,
    };
    (after.ttl != planned).then(|| Event {
        kind: EventKind::TtlRefused,
        severity: Severity::Warning,
        group: change.group.clone(),
        regions: vec![change.region.clone()],
        message: format!(
            "TTL {planned} was refused by the domain's DNS plan; record {} was written with TTL {} (the lowest it accepts), so clients may take up to {} s to move",
            after.id, after.ttl, after.ttl
        ),
    })
}
