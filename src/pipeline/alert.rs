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
    let view = paged(report);
    if let Some(mut alert) = view.alert(&cfg.alert_timezone) {
        if standing {
            repeat::annotate(&mut alert.events, &states.plain(), now);
        }
        report.alerts = notify::send_all(&deps.channels, &alert, opts.alert_timeout).await;
        delivered = repeat::delivered(&deps.channels, &alert, &report.alerts);
    }
    if standing {
        memory::write(deps.dns.as_ref(), cfg, &view, &states, &delivered, now).await;
    }
}

/// The report as this prober pages it. Under `[consensus]` only a group's
/// writer pages its events (exactly one alert per transition across the
/// regions), and a transition the writer found already done by another
/// prober is not paged again; a prober that lost its own network pages
/// that alone.
fn paged(report: &RunReport) -> RunReport {
    use crate::model::event::EventKind;
    use crate::report::ChangeStatus;
    let mut view = report.clone();
    for g in &mut view.groups {
        let Some(c) = &g.consensus else { continue };
        if !c.writes {
            g.events.retain(|e| e.kind == EventKind::ProberUnhealthy);
            continue;
        }
        let done_by_another = !g.changes.is_empty()
            && g.changes
                .iter()
                .all(|c| c.status == ChangeStatus::AlreadyApplied);
        if done_by_another {
            g.events.retain(|e| {
                !matches!(
                    e.kind,
                    EventKind::Failover | EventKind::Failback | EventKind::EmptyName
                )
            });
        }
    }
    view
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
