//! Notify: the run's alert, sent on every channel that wants it, with the
//! standing-condition memory (see [`crate::memory`]) deciding what pages
//! again.

use crate::config::Config;
use crate::memory;
use crate::notify::{self, repeat};
use crate::report::RunReport;

use super::{Action, Deps, RunOptions};

/// Send the run's alert and remember the standing conditions. Standing
/// conditions page once per occurrence, with reminders; their memory is a
/// state record per group. Drills and manual failbacks are asked for, so
/// they always alert.
pub(super) async fn alert(deps: &Deps, cfg: &Config, opts: &RunOptions, report: &mut RunReport) {
    let now = report.started_at;
    let standing = matches!(opts.action, Action::Run) && !deps.channels.is_empty();
    let states = if standing {
        memory::read(deps.dns.as_ref(), cfg, report).await
    } else {
        memory::States::default()
    };
    let mut delivered = Default::default();
    let mut undelivered = Vec::new();
    let mut alert = report.alert(&cfg.alert_timezone);
    if standing {
        // Transitions that earlier runs could not deliver go out again, late.
        let late: Vec<_> = states
            .pending()
            .iter()
            .map(|p| {
                let record = report
                    .groups
                    .iter()
                    .find(|g| g.name == p.group)
                    .map_or("", |g| g.record.as_str());
                p.to_event(record, now)
            })
            .collect();
        if !late.is_empty() {
            let mut events = late;
            if let Some(a) = alert.take() {
                events.extend(a.events);
            }
            alert = Some(notify::Alert::of_events(
                events,
                false,
                &report.prober,
                &cfg.alert_timezone,
                now,
            ));
        }
    }
    if let Some(mut alert) = alert {
        if standing {
            repeat::annotate(&mut alert.events, &states.plain(), now);
        }
        report.alerts = notify::send_all(&deps.channels, &alert, opts.alert_timeout).await;
        delivered = repeat::delivered(&deps.channels, &alert, &report.alerts);
        if standing {
            undelivered = repeat::undelivered(&deps.channels, &alert, &report.alerts);
        }
    }
    if standing {
        memory::write(
            deps.dns.as_ref(),
            cfg,
            report,
            &states,
            &delivered,
            &undelivered,
            now,
        )
        .await;
        report.alerts_undelivered = undelivered;
    }
}

/// `status`: the transitions that no channel has delivered yet, as the
/// groups' state records keep them.
pub(super) async fn undelivered(deps: &Deps, cfg: &Config, report: &mut RunReport) {
    if deps.channels.is_empty() {
        return;
    }
    report.alerts_undelivered = memory::read(deps.dns.as_ref(), cfg, report).await.pending();
}

/// `notify-test`: one TEST alert on every configured channel, built the way
/// a pass builds them (credentials from the config's settings), ignoring
/// `min_severity` and `events`. An error when a channel cannot be built.
pub async fn notify_test(cfg: &Config) -> Result<Vec<notify::Delivery>, notify::BuildError> {
    let clock: std::sync::Arc<dyn crate::clock::Clock> =
        std::sync::Arc::new(crate::clock::SystemClock);
    let lookup = cfg.settings.lookup();
    let channels = notify::build(&cfg.alerts, clock.clone(), &lookup)?;
    let alert = notify::Alert::test(&cfg.prober, &cfg.alert_timezone, clock.now());
    Ok(notify::send_all(&channels, &alert, None).await)
}
