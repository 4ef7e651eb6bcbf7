//! One pass: config -> probe -> decide -> apply -> notify -> report.
//!
//! [`run_once`] is the only caller of every stage, and every entry point (the
//! CLI commands, the SCF runtime loop, the demo) goes through it. It never
//! returns an error: whatever went wrong is in the [`RunReport`], whose
//! `ok` decides the exit code.

use std::sync::Arc;

use futures_util::StreamExt;
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
        let dns = dns_provider(cfg, &clock, dns_deadline)?;
        // Credentials come from the config's settings, read now (each run).
        let lookup = cfg.settings.lookup();
        Ok(Deps {
            dns,
            channels: notify::build(&cfg.alerts, clock.clone(), &lookup)?,
            clock,
            prober: Prober::new(&cfg.probe)?,
        })
    }
}

/// The config's DNS provider alone, its credentials read from the config's
/// settings now: what [`Deps`] holds, for a command that needs no probe and
/// no alert channel (`validate --online`).
pub fn dns_provider(
    cfg: &Config,
    clock: &Arc<dyn Clock>,
    deadline: Option<Instant>,
) -> Result<Arc<dyn DnsProvider>, dns::BuildError> {
    cfg.dns.provider.build(&dns::BuildContext {
        clock,
        lookup: &cfg.settings.lookup(),
        deadline,
    })
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

/// How many groups are planned and applied at once: their writes go to
/// one DNS API, whose per-action rate limits are per second.
const GROUPS_AT_ONCE: usize = 8;

/// What every group's part of one pass shares.
struct Pass<'a> {
    deps: &'a Deps,
    cfg: &'a Config,
    opts: &'a RunOptions,
    scope: &'a observe::Scope,
    check: vote::SelfCheck,
    dopts: decide::Options,
    seen: &'a observe::Seen,
    probe_fit: Option<&'a crate::probe::ProbeFit>,
    started_at: chrono::DateTime<chrono::Utc>,
    writes: bool,
    /// With `[dns] verify`: starts each group's check once it is written.
    verifier: Option<&'a std::sync::Mutex<verify::Verifier>>,
}

/// One group's part of a pass, done.
struct GroupDone {
    /// The group's place in the config.
    index: usize,
    report: crate::report::GroupReport,
    errors: Vec<String>,
    decide_time: Duration,
    apply_time: Duration,
}

impl Pass<'_> {
    /// Vote, plan, settle the pause and apply for one group whose targets
    /// are probed.
    async fn group(
        &self,
        index: usize,
        outcomes: Vec<crate::model::health::TargetOutcome>,
        records: Option<Result<Vec<dns::Record>, dns::Error>>,
        votes: Option<Result<Vec<dns::Record>, dns::Error>>,
    ) -> GroupDone {
        let (cfg, opts, started_at) = (self.cfg, self.opts, self.started_at);
        let g = &cfg.groups[index];
        let mut errors = Vec::new();
        // With [consensus]: publish this prober's view and count everyone's.
        let x = vote::vote(self, g, &outcomes, votes).await;
        let t_decide = Instant::now();
        let decides = !matches!(opts.action, Action::Status);
        let mut report = observe::plan_group(g, outcomes, records, |g, recs, targets| {
            if !decides {
                return None;
            }
            let Some(x) = &x else {
                return Some(decide::decide_group(
                    g,
                    recs,
                    targets,
                    started_at,
                    &self.dopts,
                ));
            };
            let (outs, extra) = vote::outcomes(cfg, g, targets, x, self.check.healthy);
            let mut plan = decide::decide_group(g, recs, &outs, started_at, &self.dopts);
            if let Ok(x) = x {
                vote::annotate(g, x, &mut plan.events);
            }
            plan.events.extend(extra);
            plan.events
                .extend(vote::unhealthy_event(cfg, g, &self.check, x));
            Some(plan)
        });
        let one = std::slice::from_mut(&mut report);
        if matches!(opts.action, Action::Plan) {
            plan_warnings(cfg, self.dopts.limits.as_ref(), one);
        }
        unprobed::flag(one, self.probe_fit, &mut errors);
        if let Some(e) = &report.error {
            errors.push(e.clone());
        }
        if let Some(Ok(x)) = &x {
            report.consensus = Some(x.report.clone());
        }
        let decide_time = t_decide.elapsed();
        // Before any write: a paused group's plan is held, never applied.
        pause::settle(
            self.deps,
            cfg,
            &opts.action,
            self.seen.pauses.as_ref(),
            std::slice::from_mut(&mut report),
            &pause::Settle {
                now: started_at,
                writes: self.writes,
                limits: self.dopts.limits.as_ref(),
            },
            &mut errors,
        )
        .await;
        let t_apply = Instant::now();
        // `pause` writes its pause record only; `resume` hands the group
        // back and its plan is applied at once.
        let applies = !matches!(opts.action, Action::Pause { .. });
        if self.writes && applies {
            apply::apply_all(
                self.deps,
                &cfg.groups,
                std::slice::from_mut(&mut report),
                started_at,
                &self.dopts,
                &mut errors,
                self.verifier,
            )
            .await;
        }
        GroupDone {
            index,
            report,
            errors,
            decide_time,
            apply_time: t_apply.elapsed(),
        }
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
    let dopts = decide::Options {
        force: opts.force,
        failback: match &opts.action {
            Action::Failback { group, region } => Some((group.clone(), region.clone())),
            _ => None,
        },
        drill: scope.drill.is_some(),
        limits: None,
    };
    let probe_fit = observe::fit(deps, cfg, &scope, opts.deadline);

    // Probe and read DNS at the same time: neither depends on the other.
    // Each group is then planned, settled and applied as soon as its own
    // targets are probed (and DNS read): a hanging target delays only its
    // group, never another group's failover.
    // With [dns] verify: each group's writes are checked at the zone's
    // authoritative servers from the moment they are confirmed.
    let verifier = verify::Verifier::new(deps, cfg, opts.dns_deadline).map(std::sync::Mutex::new);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let probe_fut = observe::probe(deps, cfg, &scope, opts.deadline, probe_fit.as_ref(), tx);
    let act_fut =
        async {
            let (seen, mut reads) = observe::read(deps, cfg, &scope, opts.deadline).await;
            let pass = Pass {
                deps,
                cfg,
                opts,
                scope: &scope,
                check: vote::SelfCheck::of(&seen.witnesses),
                dopts: decide::Options {
                    limits: seen.limits.clone(),
                    ..dopts.clone()
                },
                seen: &seen,
                probe_fit: probe_fit.as_ref(),
                started_at,
                writes,
                verifier: verifier.as_ref(),
            };
            let mut streaks = streaks;
            let done: Vec<GroupDone> = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|x| (x, rx))
            })
            .filter(|(gi, _)| std::future::ready(scope.covers(&cfg.groups[*gi].name)))
            .map(|(gi, mut outcomes)| {
                let g = &cfg.groups[gi];
                observe::complete(cfg, &scope, g, &mut outcomes);
                if let Some(s) = streaks.as_deref_mut() {
                    s.apply(&mut outcomes);
                }
                let records = reads.records.remove(&g.name);
                let votes = reads.votes.remove(&g.name);
                pass.group(gi, outcomes, records, votes)
            })
            .buffer_unordered(GROUPS_AT_ONCE)
            .collect()
            .await;
            let pause_error = match &seen.pauses {
                Some(Err(e)) => Some(format!(
                    "cannot read the pause records ({}): {e}; nothing written",
                    crate::model::pause::pause_key(&cfg.dns.domain, deps.dns.default_line())
                )),
                _ => None,
            };
            (seen.read_time, pause_error, done)
        };
    let (probe_time, (read_time, pause_error, mut done)) = tokio::join!(probe_fut, act_fut);
    // Config order, whatever order the groups finished in.
    done.sort_unstable_by_key(|d| d.index);

    let mut errors: Vec<String> = pause_error.into_iter().collect();
    let mut groups = Vec::with_capacity(done.len());
    let (mut decide_time, mut apply_time) = (Duration::ZERO, Duration::ZERO);
    for d in done {
        errors.extend(d.errors);
        decide_time += d.decide_time;
        apply_time = apply_time.max(d.apply_time);
        groups.push(d.report);
    }
    let t_verify = Instant::now();
    if let Some(v) = verifier.map(|v| v.into_inner().unwrap_or_else(|e| e.into_inner())) {
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
                probe_fit
                    .as_ref()
                    .filter(|f| f.shortened || f.refused)
                    .map(|f| f.note.clone()),
            )
            .collect(),
        probe_budget: probe_fit,
        alerts: vec![],
        alerts_undelivered: vec![],
        timings: Timings {
            probe_ms: ms(probe_time),
            dns_read_ms: ms(read_time),
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
