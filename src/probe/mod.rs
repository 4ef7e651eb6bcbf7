//! Probes: is each region's endpoint answering as expected, right now?
//!
//! This module owns the evidence ([`Attempt`], [`TargetOutcome`]) and the
//! runner that probes every target of every group concurrently, bounded by
//! `[probe].concurrency`, each attempt under its own timeout and attempts
//! spaced by `[probe].interval`. A failed probe is data, not an error: the
//! runner itself cannot fail. What to do about the evidence is `decide`'s job.

pub mod cert;
pub mod http;
mod io;
pub mod tcp;
pub mod timing;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

pub use crate::model::budget::{fit_probes, ProbeFit};
pub use crate::model::health::{health_of, Attempt, FailureClass, Health, Phases, TargetOutcome};
use crate::model::target::{Check, Group, ProbeSettings, Target};

/// `a.detail` with every expanded value of `check` replaced by its
/// reference, and header values by `***`. The detail comes from libraries
/// (resolver, TLS, the TCP connect message) that may quote a host name or an
/// address that came from the environment.
pub fn redact_attempt(mut a: Attempt, check: &Check) -> Attempt {
    let Some(d) = a.detail.take() else {
        return a;
    };
    let d = match check {
        Check::Http(h) => {
            let mut d = h.url.redact(&d);
            if let Some(b) = &h.body_contains {
                d = b.redact(&d);
            }
            let headers: Vec<(&str, &str)> = h
                .headers
                .iter()
                .map(|(_, v)| v.expose())
                .filter(|v| v.len() >= crate::model::secret::REDACT_MIN_LEN)
                .map(|v| (v, "***"))
                .collect();
            crate::model::secret::replace_all(&d, &headers)
        }
        Check::Tcp { addr } => addr.redact(&d),
    };
    a.detail = Some(d);
    a
}

/// The prober could not be built (the TLS stack or the HTTP client refused
/// its settings): nothing was probed.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the prober: {0}")]
pub struct Error(pub String);

/// Runs probes. Holds the HTTP clients, built once per process.
#[derive(Clone)]
pub struct Prober {
    http: http::HttpProber,
    settings: ProbeSettings,
    /// Every attempt's timeout is at most this (a shortened plan).
    timeout_cap: Option<Duration>,
}

impl Prober {
    /// A prober for `[probe]` settings, resolving names through the system
    /// resolver.
    pub fn new(settings: &ProbeSettings) -> Result<Self, Error> {
        Ok(Prober {
            http: http::HttpProber::new(settings)?,
            settings: settings.clone(),
            timeout_cap: None,
        })
    }

    /// A prober whose HTTP and TCP probes resolve host names through
    /// `resolver` instead of the system resolver (a `resolve` pin in a
    /// target still wins). Tests use it so that no name leaves the machine.
    pub fn with_resolver(
        settings: &ProbeSettings,
        resolver: Arc<dyn reqwest::dns::Resolve>,
    ) -> Result<Self, Error> {
        Ok(Prober {
            http: http::HttpProber::with_resolver(settings, resolver)?,
            settings: settings.clone(),
            timeout_cap: None,
        })
    }

    /// The `[probe]` settings this prober runs.
    pub fn settings(&self) -> &ProbeSettings {
        &self.settings
    }

    /// This prober with the plan of `fit` (see [`fit_probes`]): its
    /// attempts, its interval and its cap on every attempt's timeout. The
    /// clients are shared.
    pub fn fitted(&self, fit: &ProbeFit) -> Prober {
        let mut p = self.clone();
        p.settings.attempts = fit.used.attempts;
        p.settings.interval = Duration::from_millis(fit.used.interval_ms);
        p.timeout_cap = fit.timeout_cap();
        p
    }

    /// Probe every target of every group, except those `skip` names.
    /// Never fails: every target gets an outcome. Targets that cannot start
    /// before `deadline` get [`Health::Unknown`].
    pub async fn probe_all(
        &self,
        groups: &[Group],
        skip: &(dyn Fn(&Group, &Target) -> bool + Sync),
        deadline: Option<Instant>,
    ) -> Vec<TargetOutcome> {
        self.probe_each(groups, skip, deadline, None).await
    }

    /// [`Prober::probe_all`], handing each group's outcomes to `each` (with
    /// the group's index in `groups`) as soon as that group's last target
    /// is done, so that a pass can act on a group while targets of other
    /// groups are still being probed (a hanging target delays only its own
    /// group). Groups are started in order, under one concurrency limit. A
    /// group with no target to probe is handed over empty, at once. With
    /// `each`, the returned list is empty; without, it holds every outcome.
    pub async fn probe_each(
        &self,
        groups: &[Group],
        skip: &(dyn Fn(&Group, &Target) -> bool + Sync),
        deadline: Option<Instant>,
        each: Option<&tokio::sync::mpsc::UnboundedSender<(usize, Vec<TargetOutcome>)>>,
    ) -> Vec<TargetOutcome> {
        let settings = &self.settings;
        let limit = effective_concurrency(settings.concurrency);
        let sem = Arc::new(Semaphore::new(limit));
        let mut set = tokio::task::JoinSet::new();
        // Per target probed: its group's index and the target.
        let mut order: Vec<(usize, &Target)> = Vec::new();
        let mut sweep = Sweep {
            groups,
            settings,
            results: Vec::new(),
            remaining: vec![0; groups.len()],
            first: vec![0; groups.len()],
            each,
        };
        for (gi, group) in groups.iter().enumerate() {
            sweep.first[gi] = order.len();
            sweep.remaining[gi] = group.targets.iter().filter(|t| !skip(group, t)).count();
            sweep
                .results
                .resize(order.len() + sweep.remaining[gi], None);
            if sweep.remaining[gi] == 0 {
                sweep.hand_over(gi, &order);
                continue;
            }
            for target in &group.targets {
                if skip(group, target) {
                    continue;
                }
                let idx = order.len();
                order.push((gi, target));
                // Take the permit before spawning: at most `limit` probe
                // tasks exist at once, so memory follows the concurrency,
                // not the number of targets.
                // The semaphore is never closed, so acquire cannot fail.
                let permit = sem.clone().acquire_owned().await.expect("semaphore closed");
                let http = self.http.clone();
                let mut target = target.clone();
                if let Some(cap) = self.timeout_cap {
                    target.timeout = target.timeout.min(cap);
                }
                let attempts = settings.attempts;
                let interval = settings.interval;
                set.spawn(async move {
                    let _permit = permit;
                    let mut out = Vec::with_capacity(attempts as usize);
                    for i in 0..attempts {
                        if i > 0 && !interval.is_zero() {
                            tokio::time::sleep(interval).await;
                        }
                        if let Some(d) = deadline {
                            // Leave room for the attempt's own timeout.
                            if Instant::now()
                                .checked_add(target.timeout)
                                .is_none_or(|t| t > d)
                            {
                                break;
                            }
                        }
                        let a = match &target.check {
                            Check::Http(h) => http.check_tls(h, target.timeout, &target.tls).await,
                            Check::Tcp { addr } => {
                                tcp::check_with(addr.value(), target.timeout, http.resolver()).await
                            }
                        };
                        out.push(redact_attempt(a, &target.check));
                    }
                    (idx, out)
                });
                // Collect finished probes as we go so their tasks are freed
                // and finished groups are handed over.
                while let Some(joined) = set.try_join_next() {
                    sweep.collect(joined, &order);
                }
            }
        }
        while let Some(joined) = set.join_next().await {
            sweep.collect(joined, &order);
        }
        // Without `each`, every group in config order; with it, a group
        // whose task panicked is still waiting: hand it over with the target
        // as not probed (Unknown).
        let mut kept = Vec::new();
        for gi in 0..groups.len() {
            if sweep.each.is_none() {
                kept.extend(sweep.outcomes(gi, &order));
            } else if sweep.remaining[gi] > 0 {
                sweep.remaining[gi] = 0;
                sweep.hand_over(gi, &order);
            }
        }
        kept
    }
}

/// The bookkeeping of one sweep: attempts per probed target, and how many
/// targets of each group are still out.
struct Sweep<'a> {
    groups: &'a [Group],
    settings: &'a ProbeSettings,
    results: Vec<Option<Vec<Attempt>>>,
    remaining: Vec<usize>,
    /// The index in `results` of each group's first target.
    first: Vec<usize>,
    each: Option<&'a tokio::sync::mpsc::UnboundedSender<(usize, Vec<TargetOutcome>)>>,
}

impl Sweep<'_> {
    fn collect(
        &mut self,
        joined: Result<(usize, Vec<Attempt>), tokio::task::JoinError>,
        order: &[(usize, &Target)],
    ) {
        match joined {
            Ok((idx, attempts)) => {
                self.results[idx] = Some(attempts);
                let gi = order[idx].0;
                self.remaining[gi] -= 1;
                if self.remaining[gi] == 0 {
                    self.hand_over(gi, order);
                }
            }
            // A panicking probe leaves its target without attempts: Unknown.
            Err(e) => tracing::error!(error = %e, "probe task failed"),
        }
    }

    /// Group `gi` is done: send its outcomes (with `each`).
    fn hand_over(&mut self, gi: usize, order: &[(usize, &Target)]) {
        if let Some(tx) = self.each {
            // The receiver may be gone (the pass ended early): nothing to do.
            let _ = tx.send((gi, self.outcomes(gi, order)));
        }
    }

    /// Group `gi`'s outcomes, in probing order (its attempts moved out).
    fn outcomes(&mut self, gi: usize, order: &[(usize, &Target)]) -> Vec<TargetOutcome> {
        let group = &self.groups[gi];
        let settings = self.settings;
        let start = self.first[gi];
        let end = order[start..]
            .iter()
            .position(|(g, _)| *g != gi)
            .map_or(order.len(), |n| start + n);
        (start..end)
            .map(|idx| {
                let target = order[idx].1;
                let attempts = self.results[idx].take().unwrap_or_default();
                let health = health_of(
                    &attempts,
                    settings.fail_threshold.min(attempts.len().max(1) as u32),
                );
                let health =
                    if attempts.len() < settings.attempts as usize && health != Health::Down {
                        // Cut short by the deadline: not enough evidence to call it healthy.
                        if attempts.is_empty() {
                            Health::Unknown
                        } else {
                            Health::Degraded
                        }
                    } else {
                        health
                    };
                TargetOutcome {
                    group: group.name.clone(),
                    region: target.region.clone(),
                    value: target.value.clone(),
                    endpoint: target.check.endpoint(),
                    health,
                    attempts,
                    drill: false,
                }
            })
            .collect()
    }
}

/// File descriptors kept free for everything that is not a probe socket
/// (stdio, the zone file, the runtime's epoll, alert connections).
const FD_RESERVE: u64 = 64;

/// `[probe].concurrency`, capped so the in-flight probes (one socket each)
/// fit the open-file limit. Past that limit, connects would fail with
/// EMFILE and healthy targets would be reported down. The CLI raises the
/// soft limit to the hard one at start; under SCF it is 1024.
pub fn effective_concurrency(configured: usize) -> usize {
    let cap = match rlimit::Resource::NOFILE.get() {
        Ok((soft, _)) => soft.saturating_sub(FD_RESERVE).max(1),
        Err(_) => return configured,
    };
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    if configured > cap {
        tracing::warn!(
            configured,
            cap,
            "probe concurrency capped to fit the open-file limit"
        );
    }
    configured.min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(ok: bool) -> Attempt {
        if ok {
            Attempt::success(Duration::from_millis(3), Some(200))
        } else {
            Attempt::failure(Duration::from_millis(3), None, FailureClass::Timeout, "t")
        }
    }

    #[test]
    fn health_follows_the_threshold() {
        assert_eq!(health_of(&[a(true), a(true), a(true)], 2), Health::Healthy);
        assert_eq!(
            health_of(&[a(false), a(true), a(true)], 2),
            Health::Degraded
        );
        assert_eq!(health_of(&[a(false), a(true), a(false)], 2), Health::Down);
        assert_eq!(health_of(&[a(false)], 1), Health::Down);
        assert_eq!(health_of(&[], 1), Health::Unknown);
    }

    #[test]
    fn endpoints_and_details_show_references_not_values() {
        let env = |n: &str| match n {
            "HOST" => Some("db.internal.example".to_string()),
            _ => None,
        };
        let addr = crate::model::secret::EnvString::expand("${HOST}:5432", &env).unwrap();
        let check = Check::Tcp { addr };
        assert_eq!(check.endpoint(), "tcp://${HOST}:5432");
        let a = Attempt::failure(
            Duration::from_millis(1),
            None,
            FailureClass::Dns,
            "resolve db.internal.example:5432: no such name db.internal.example",
        );
        assert_eq!(
            redact_attempt(a, &check).detail.as_deref(),
            Some("resolve ${HOST}:5432: no such name ${HOST}")
        );
    }

    #[test]
    fn summary_lists_failures_with_their_class() {
        let o = TargetOutcome {
            group: "g".into(),
            region: "r".into(),
            value: "v".into(),
            endpoint: "http://x".into(),
            health: Health::Down,
            attempts: vec![
                a(false),
                Attempt::failure(
                    Duration::from_millis(4),
                    Some(502),
                    FailureClass::UnexpectedStatus,
                    "502",
                ),
                a(true),
            ],
            drill: false,
        };
        assert_eq!(
            o.summary(),
            "2/3 failed: timeout after 3ms; unexpected_status (502) in 4ms"
        );
    }
}
