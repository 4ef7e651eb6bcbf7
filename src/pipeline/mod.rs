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

impl Deps {
    /// Real edges for a config. Credentials are read here (each run).
    pub fn from_config(cfg: &Config) -> Result<Deps, String> {
        Self::from_config_until(cfg, None)
    }

    /// [`Deps::from_config`] with every DNS API call (retries included)
    /// ending by `dns_deadline`: the SCF runtime passes the part of the
    /// invocation left for DNS, so that the alerts after it have their time.
    pub fn from_config_until(cfg: &Config, dns_deadline: Option<Instant>) -> Result<Deps, String> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Self::build(cfg, clock, dns_deadline)
    }

    pub fn with_clock(cfg: &Config, clock: Arc<dyn Clock>) -> Result<Deps, String> {
        Self::build(cfg, clock, None)
    }

    fn build(
        cfg: &Config,
        clock: Arc<dyn Clock>,
        dns_deadline: Option<Instant>,
    ) -> Result<Deps, String> {
        // Credentials come from the config's settings, read now (each run).
        let lookup = cfg.settings.lookup();
        let dns = cfg.dns.provider.build(&dns::BuildContext {
            clock: &clock,
            lookup: &lookup,
            deadline: dns_deadline,
        })?;
        Ok(Deps {
            dns,
            channels: notify::build(&cfg.alerts, clock.clone(), &lookup)
                .map_err(|e| e.to_string())?,
            clock,
            prober: Prober::new(&cfg.probe).map_err(|e| e.to_string())?,
        })
    }
}

mod alert;
mod apply;

pub use alert::notify_test;
mod observe;
mod options;
mod unprobed;

pub use options::{check_options, Action, RunOptions, UsageError};

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Run one pass. Never fails; see the report's `ok` and `errors`.
#[tracing::instrument(skip_all, fields(action = opts.action.name(), prober = %cfg.prober))]
pub async fn run_once(deps: &Deps, cfg: &Config, opts: &RunOptions) -> RunReport {
    let t0 = Instant::now();
    let started_at = deps.clock.now();
    let writes = opts.action.writes(opts.dry_run);
    let scope = observe::Scope::of(&opts.action);

    // Probe and read DNS at the same time: neither depends on the other.
    let seen = observe::observe(deps, cfg, &scope, opts.deadline).await;

    let mut errors = Vec::new();
    let t_decide = Instant::now();
    let dopts = decide::Options {
        force: opts.force,
        failback: match &opts.action {
            Action::Failback { group, region } => Some((group.clone(), region.clone())),
            _ => None,
        },
        drill: scope.drill.is_some(),
    };
    let decides = !matches!(opts.action, Action::Status);
    let mut groups = observe::plan(
        cfg,
        &scope,
        seen.outcomes,
        seen.records,
        |g, recs, targets| {
            decides.then(|| decide::decide_group(g, recs, targets, started_at, &dopts))
        },
    );
    unprobed::flag(&mut groups, seen.probe_fit.as_ref(), &mut errors);
    for g in &mut groups {
        if let Some(e) = &g.error {
            errors.push(e.clone());
        }
    }
    let decide_time = t_decide.elapsed();

    let t_apply = Instant::now();
    if writes {
        apply::apply_all(
            deps,
            &cfg.groups,
            &mut groups,
            started_at,
            &dopts,
            &mut errors,
        )
        .await;
    }
    let apply_time = t_apply.elapsed();

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
        timings: Timings {
            probe_ms: ms(seen.probe_time),
            dns_read_ms: ms(seen.read_time),
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
        alert::alert(deps, cfg, opts, &mut report).await;
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
