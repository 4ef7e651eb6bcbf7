//! One pass: config -> probe -> decide -> apply -> notify -> report.
//!
//! [`run_once`] is the only caller of every stage, and every entry point (the
//! CLI commands, the SCF runtime loop, the demo) goes through it. It never
//! returns an error: whatever went wrong is in the [`RunReport`], whose
//! `ok` decides the exit code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::decide;
use crate::dns::{self, DnsProvider};
use crate::notify::{self, Channelled};
use crate::probe::Prober;
use crate::report::{RunReport, Timings};

/// The edges a pass talks to. Binaries build real ones with
/// [`Deps::from_config`]; tests put fakes in.
#[derive(Clone)]
pub struct Deps {
    pub dns: Arc<dyn DnsProvider>,
    pub channels: Vec<Channelled>,
    pub clock: Arc<dyn Clock>,
    pub prober: Prober,
}

/// The edges could not be built from the config (a credential missing, a
/// client the TLS stack refuses): nothing ran. Messages name the variable or
/// the setting, never a secret value.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Dns(#[from] dns::BuildError),
    #[error(transparent)]
    Notify(#[from] notify::BuildError),
    #[error(transparent)]
    Probe(#[from] crate::probe::Error),
}

impl Deps {
    /// Real edges for a config. Credentials are read here (each run).
    pub fn from_config(cfg: &Config) -> Result<Deps, BuildError> {
        Self::from_config_until(cfg, None)
    }

    /// [`Deps::from_config`] with every DNS API call (retries included)
    /// ending by `dns_deadline`: the SCF runtime passes the part of the
    /// invocation left for DNS, so that the alerts after it have their time.
    pub fn from_config_until(
        cfg: &Config,
        dns_deadline: Option<Instant>,
    ) -> Result<Deps, BuildError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Self::build(cfg, clock, dns_deadline)
    }

    pub fn with_clock(cfg: &Config, clock: Arc<dyn Clock>) -> Result<Deps, BuildError> {
        Self::build(cfg, clock, None)
    }

    fn build(
        cfg: &Config,
        clock: Arc<dyn Clock>,
        dns_deadline: Option<Instant>,
    ) -> Result<Deps, BuildError> {
        // Credentials come from the config's settings, read now (each run).
        let lookup = cfg.settings.lookup();
        let dns = cfg.dns.provider.build(&dns::BuildContext {
            clock: &clock,
            lookup: &lookup,
            deadline: dns_deadline,
        })?;
        Ok(Deps {
            dns,
            channels: notify::build(&cfg.alerts, clock.clone(), &lookup)?,
            clock,
            prober: Prober::new(&cfg.probe)?,
        })
    }
}

mod alert;
mod apply;
mod vote;
pub mod watch;

pub use alert::notify_test;
mod observe;
mod options;
mod pause;
mod unprobed;
mod verify;

pub use options::{check_options, Action, RunOptions, UsageError};

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// `plan` also says what the DNS plan will refuse or round up: an active
/// group that may need more enabled records than the round-robin cap, a
/// `ttl` below the plan's lowest (unless the plan already says so).
fn plan_warnings(
    cfg: &Config,
    limits: Option<&dns::PlanLimits>,
    groups: &mut [crate::report::GroupReport],
) {
    let Some(limits) = limits else { return };
    for report in groups {
        let Some(g) = cfg.groups.iter().find(|g| g.name == report.name) else {
            continue;
        };
        let records = report.records.as_deref().unwrap_or_default();
        let mut extra: Vec<_> = decide::roll_warning(g, records, limits)
            .into_iter()
            .collect();
        if !report
            .events
            .iter()
            .any(|e| e.kind == decide::EventKind::TtlRefused)
        {
            extra.extend(decide::ttl_floor_warning(g, limits));
        }
        for e in &extra {
            tracing::warn!(group = %e.group, kind = e.kind.as_str(), message = %e.message, "event");
        }
        report.events.extend(extra);
    }
}

/// Run one pass. Never fails; see the report's `ok` and `errors`.
pub async fn run_once(deps: &Deps, cfg: &Config, opts: &RunOptions) -> RunReport {
    run_with_streaks(deps, cfg, opts, None).await
}

/// One pass of a watch: the probes' verdicts go through the fall/rise
/// streaks before `decide` sees them.
#[tracing::instrument(name = "run_once", skip_all, fields(action = opts.action.name(), prober = %cfg.prober))]
async fn run_with_streaks(
    deps: &Deps,
    cfg: &Config,
    opts: &RunOptions,
    streaks: Option<&mut watch::Streaks>,
) -> RunReport {
    let t0 = Instant::now();
    let started_at = deps.clock.now();
    let writes = opts.action.writes(opts.dry_run);
    let scope = observe::Scope::of(&opts.action, cfg);

    // Probe and read DNS at the same time: neither depends on the other.
    let mut seen = observe::observe(deps, cfg, &scope, opts.deadline).await;
    if let Some(s) = streaks {
        s.apply(&mut seen.outcomes);
    }
    // With [consensus]: publish this prober's view and count everyone's.
    let votes = vote::vote(deps, cfg, &scope, &seen, writes, started_at).await;

    let mut errors = Vec::new();
    let t_decide = Instant::now();
    let dopts = decide::Options {
        force: opts.force,
        failback: match &opts.action {
            Action::Failback { group, region } => Some((group.clone(), region.clone())),
            _ => None,
        },
        drill: scope.drill.is_some(),
        limits: seen.limits.clone(),
    };
    let decides = !matches!(opts.action, Action::Status);
    let mut groups = observe::plan(
        cfg,
        &scope,
        seen.outcomes,
        seen.records,
        |g, recs, targets| {
            if !decides {
                return None;
            }
            let Some(x) = votes.by_group.get(&g.name) else {
                return Some(decide::decide_group(g, recs, targets, started_at, &dopts));
            };
            let (outs, extra) = vote::outcomes(cfg, g, targets, x, votes.healthy);
            let mut plan = decide::decide_group(g, recs, &outs, started_at, &dopts);
            if let Ok(x) = x {
                vote::annotate(g, x, &mut plan.events);
            }
            plan.events.extend(extra);
            plan.events.extend(vote::unhealthy_event(cfg, g, &votes));
            Some(plan)
        },
    );
    if matches!(opts.action, Action::Plan) {
        plan_warnings(cfg, dopts.limits.as_ref(), &mut groups);
    }
    unprobed::flag(&mut groups, seen.probe_fit.as_ref(), &mut errors);
    for g in &mut groups {
        if let Some(e) = &g.error {
            errors.push(e.clone());
        }
        if let Some(Ok(x)) = votes.by_group.get(&g.name) {
            g.consensus = Some(x.report.clone());
        }
    }
    let decide_time = t_decide.elapsed();
    // Before any write: a paused group's plan is held, never applied.
    pause::settle(
        deps,
        cfg,
        &opts.action,
        seen.pauses,
        &mut groups,
        &pause::Settle {
            now: started_at,
            writes,
            limits: dopts.limits.as_ref(),
        },
        &mut errors,
    )
    .await;

    let t_apply = Instant::now();
    // `pause` writes its pause record only; `resume` hands the group back
    // and its plan is applied at once.
    let applies = !matches!(opts.action, Action::Pause { .. });
    // With [dns] verify: each group's writes are checked at the zone's
    // authoritative servers from the moment they are confirmed.
    let mut verifier = verify::Verifier::new(deps, cfg, opts.dns_deadline);
    if writes && applies {
        apply::apply_all(
            deps,
            &cfg.groups,
            &mut groups,
            started_at,
            &dopts,
            &mut errors,
            verifier.as_mut(),
        )
        .await;
    }
    let apply_time = t_apply.elapsed();
    let t_verify = Instant::now();
    if let Some(v) = verifier {
        v.finish(&mut groups).await;
    }
    if matches!(opts.action, Action::Status) {
        verify::status(deps, cfg, &mut groups, opts.dns_deadline).await;
    }
    let verify_time = t_verify.elapsed();

    let mut report = RunReport {
        version: env!("CARGO_PKG_VERSION"),
        action: opts.action.name().to_string(),
        dry_run: !writes,
        drill: scope.drill.clone(),
        prober: cfg.prober.clone(),
        provider: deps.dns.name().to_string(),
        started_at,
        finished_at: started_at,
        ok: errors.is_empty(),
        errors,
        severity: None,
        groups,
        notes: opts
            .notes
            .iter()
            .cloned()
            .chain(
                seen.probe_fit
                    .as_ref()
                    .filter(|f| f.shortened || f.refused)
                    .map(|f| f.note.clone()),
            )
            .collect(),
        probe_budget: seen.probe_fit,
        alerts: vec![],
        alerts_undelivered: vec![],
        timings: Timings {
            probe_ms: ms(seen.probe_time),
            dns_read_ms: ms(seen.read_time),
            decide_ms: ms(decide_time),
            apply_ms: ms(apply_time),
            verify_ms: ms(verify_time),
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
        alert::alert(deps, cfg, opts, &mut report).await;
    } else if matches!(opts.action, Action::Status) {
        alert::undelivered(deps, cfg, &mut report).await;
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
