//! Watch mode: passes every `[watch] interval`, so a failure is acted on in
//! seconds rather than at the next timer. In `serve` one invocation keeps
//! watching for `[watch] for` (always ending before the invocation's
//! deadline); `dns-failover watch` runs until it is told to stop.
//!
//! Only the fall/rise streaks live in the process ([`Streaks`]): a target
//! counts as down after `fall` consecutive down passes, and as healthy again
//! after `rise` consecutive healthy ones. Everything that must survive the
//! process (what the tool changed, since when, the alert memory, the votes)
//! lives in DNS, as with one pass per invocation.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::model::health::{Health, TargetOutcome};
use crate::report::RunReport;

use super::{BuildError, Deps, RunOptions};

/// Consecutive passes per target, and the health last handed to `decide`.
#[derive(Debug, Default)]
pub struct Streaks {
    fall: u32,
    rise: u32,
    by_target: HashMap<(String, String), Streak>,
}

#[derive(Debug, Clone, Copy)]
struct Streak {
    reported: Health,
    down: u32,
    up: u32,
}

impl Streaks {
    pub fn new(fall: u32, rise: u32) -> Self {
        Streaks {
            fall: fall.max(1),
            rise: rise.max(1),
            by_target: HashMap::new(),
        }
    }

    /// Replace each outcome's health by what the streaks allow: a down
    /// target stays at its last health until it has been down `fall` passes
    /// in a row (unknown when there is none), a recovered one until it has
    /// been healthy `rise` passes in a row (a target first seen healthy is
    /// healthy at once). Degraded and unknown pass
    /// through (neither moves traffic) and break both streaks.
    pub fn apply(&mut self, outcomes: &mut [TargetOutcome]) {
        for o in outcomes {
            let s = self
                .by_target
                .entry((o.group.clone(), o.region.clone()))
                .or_insert(Streak {
                    reported: Health::Unknown,
                    down: 0,
                    up: 0,
                });
            let shown = match o.health {
                Health::Down => {
                    s.down += 1;
                    s.up = 0;
                    if s.down >= self.fall {
                        Health::Down
                    } else {
                        s.reported
                    }
                }
                Health::Healthy => {
                    s.up += 1;
                    s.down = 0;
                    // `rise` is about recovering; with nothing known yet a
                    // healthy target is simply healthy.
                    if s.up >= self.rise || s.reported == Health::Unknown {
                        Health::Healthy
                    } else {
                        s.reported
                    }
                }
                h => {
                    s.down = 0;
                    s.up = 0;
                    h
                }
            };
            s.reported = shown;
            o.health = shown;
        }
    }
}

/// What a watch did.
#[derive(Debug)]
pub struct Watched {
    pub passes: u32,
    /// The last pass's report, or the last one that failed when any did.
    pub report: Option<RunReport>,
}

/// How often a long watch builds its edges again, re-reading credentials
/// (role credentials rotate in hours). Between rebuilds the edges are
/// reused, with what they learnt once (the DNS plan's limits: two API calls
/// per build, not per pass).
pub const REBUILD_EVERY: Duration = Duration::from_secs(300);

/// Run passes every `cfg.watch.interval` until `until` (the next pass would
/// not start before it) or until `stop` resolves (checked between passes:
/// the current pass always completes). Edges are built at the start and
/// again every [`REBUILD_EVERY`]. Each report goes to `on_pass` as it comes.
pub async fn watch(
    cfg: &Config,
    opts: &RunOptions,
    until: Option<Instant>,
    stop: impl Future<Output = ()>,
    build: impl Fn(&Config) -> Result<Deps, BuildError>,
    mut on_pass: impl FnMut(&RunReport),
) -> Result<Watched, BuildError> {
    let interval = cfg.watch.interval;
    let mut streaks = Streaks::new(cfg.watch.fall, cfg.watch.rise);
    let mut watched = Watched {
        passes: 0,
        report: None,
    };
    tokio::pin!(stop);
    let mut deps: Option<(Deps, Instant)> = None;
    loop {
        let started = Instant::now();
        if until.is_some_and(|u| started >= u) {
            break;
        }
        if deps
            .as_ref()
            .is_none_or(|(_, at)| at.elapsed() >= REBUILD_EVERY)
        {
            deps = Some((build(cfg)?, started));
        }
        let Some((deps, _)) = &deps else {
            unreachable!("built just above")
        };
        // `until` only stops new passes; a pass's probes keep the caller's
        // deadline (the invocation's), so that every attempt fits.
        let report = super::run_with_streaks(deps, cfg, opts, Some(&mut streaks)).await;
        watched.passes += 1;
        on_pass(&report);
        // Keep the last failed report over later good ones: the answer of
        // an invocation that watched says a pass failed.
        let keep = !matches!(&watched.report, Some(prev) if !prev.ok && report.ok);
        if keep {
            watched.report = Some(report);
        }
        let next = started + interval;
        if until.is_some_and(|u| next + interval / 2 > u) {
            break;
        }
        let pause = next.saturating_duration_since(Instant::now());
        tokio::select! {
            _ = tokio::time::sleep(pause.max(Duration::from_millis(1))) => {}
            _ = &mut stop => break,
        }
    }
    Ok(watched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::health::Attempt;

    fn outcome(h: Health) -> TargetOutcome {
        TargetOutcome {
            group: "api".into(),
            region: "gz".into(),
            value: "v".into(),
            endpoint: "http://x".into(),
            health: h,
            attempts: vec![Attempt::success(Duration::from_millis(1), Some(200))],
            drill: false,
        }
    }

    fn pass(s: &mut Streaks, h: Health) -> Health {
        let mut o = [outcome(h)];
        s.apply(&mut o);
        o[0].health
    }

    #[test]
    fn a_target_is_down_after_fall_passes_and_back_after_rise() {
        let mut s = Streaks::new(2, 3);
        assert_eq!(pass(&mut s, Health::Healthy), Health::Healthy);
        assert_eq!(pass(&mut s, Health::Down), Health::Healthy, "one blip");
        assert_eq!(pass(&mut s, Health::Healthy), Health::Healthy);
        assert_eq!(pass(&mut s, Health::Down), Health::Healthy);
        assert_eq!(pass(&mut s, Health::Down), Health::Down, "two in a row");
        assert_eq!(pass(&mut s, Health::Healthy), Health::Down);
        assert_eq!(pass(&mut s, Health::Healthy), Health::Down);
        assert_eq!(
            pass(&mut s, Health::Healthy),
            Health::Healthy,
            "three in a row"
        );
    }

    #[test]
    fn a_first_down_pass_is_unknown_and_one_pass_streaks_change_nothing() {
        let mut s = Streaks::new(2, 1);
        assert_eq!(pass(&mut s, Health::Down), Health::Unknown);
        let mut s = Streaks::new(1, 1);
        for h in [
            Health::Down,
            Health::Healthy,
            Health::Degraded,
            Health::Unknown,
        ] {
            assert_eq!(pass(&mut s, h), h);
        }
    }
}
