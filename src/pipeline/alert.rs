//! Notify: the run's alert, sent on every channel that wants it, with the
//! standing-condition memory (see [`crate::memory`]) deciding what pages
//! again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::memory;
use crate::model::budget::ALERT_RETRY_PAUSE;
use crate::model::event::EventKind;
use crate::notify::{self, repeat};
use crate::report::RunReport;

use super::{Action, Deps, RunOptions};

/// Send the run's alert and remember the standing conditions. Standing
/// conditions page once per occurrence, with reminders; their memory is a
/// state record per group, which also keeps the transitions no channel
/// delivered: they go out again, late, first in the alert. Drills and
/// manual failbacks are asked for, so they always alert, and are not kept.
pub(super) async fn alert(deps: &Deps, cfg: &Config, opts: &RunOptions, report: &mut RunReport) {
    let now = report.started_at;
    let standing = matches!(opts.action, Action::Run) && !deps.channels.is_empty();
    let states = if standing {
        memory::read(deps.dns.as_ref(), cfg, report).await
    } else {
        memory::States::default()
    };
    let mut sent = memory::Remember::default();
    // Under [consensus] only a group's writer pages it (see `paged`).
    let view = paged(report);
    let mut alert = view.alert(&cfg.alert_timezone);
    if standing {
        let (held, reminders) = held_failed_over(deps, &states, report, now);
        sent.held = held;
        let mut events = late_events(&states, &view, now);
        if !events.is_empty() || !reminders.is_empty() {
            events.extend(alert.take().map(|a| a.events).unwrap_or_default());
            events.extend(reminders);
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
        report.alerts = notify::send_all(&deps.channels, &alert, alert_cap(opts)).await;
        sent.delivered = repeat::delivered(&deps.channels, &alert, &report.alerts);
        if standing {
            sent.undelivered = repeat::undelivered(&deps.channels, &alert, &report.alerts);
        }
    }
    if standing {
        memory::write(deps.dns.as_ref(), cfg, &view, &states, &sent, now).await;
        report.alerts_undelivered = sent.undelivered;
    }
}

/// The transitions earlier runs could not deliver, as late events.
fn late_events(
    states: &memory::States,
    report: &RunReport,
    now: DateTime<Utc>,
) -> Vec<notify::AlertEvent> {
    states
        .pending()
        .iter()
        // Under [consensus] the group's writer sends what is late.
        .filter(|p| {
            !report
                .groups
                .iter()
                .any(|g| g.name == p.group && g.consensus.as_ref().is_some_and(|c| !c.writes))
        })
        .map(|p| {
            let record = report
                .groups
                .iter()
                .find(|g| g.name == p.group)
                .map_or("", |g| g.record.as_str());
            p.to_event(record, now)
        })
        .collect()
}

/// Regions kept failed over, a standing condition remembered from the first
/// run that sees it: each group's condition ids (to keep in its state
/// record), and the reminders due on some channel's `repeat_every`.
fn held_failed_over(
    deps: &Deps,
    states: &memory::States,
    report: &RunReport,
    now: DateTime<Utc>,
) -> (HashMap<String, Vec<String>>, Vec<notify::AlertEvent>) {
    let plain = states.plain();
    let mut held = HashMap::new();
    let mut reminders = Vec::new();
    for g in &report.groups {
        let (Some(records), Some(state)) = (&g.records, plain.get(&g.name)) else {
            continue;
        };
        let mut ids = Vec::new();
        for region in repeat::held_regions(g.mode, &g.targets, records, &g.events) {
            let ev = repeat::held_event(&g.name, &region);
            let id = repeat::condition_id(&ev);
            // This run's failover is its own page, not a reminder.
            let moved_now = g
                .events
                .iter()
                .any(|e| e.kind == EventKind::Failover && e.regions.first() == Some(&region));
            if let (Some(entry), false) = (state.get(&id), moved_now) {
                let event = notify::AlertEvent {
                    event: ev,
                    record: g.record.clone(),
                    evidence: vec![],
                    changes: vec![],
                    standing: Some(repeat::Standing {
                        since: entry.since,
                        last: entry.last,
                        first: false,
                    }),
                    late: None,
                    servers: vec![],
                };
                if deps
                    .channels
                    .iter()
                    .any(|c| repeat::wanted(&event, c.config.repeat_every, now))
                {
                    reminders.push(event);
                }
            }
            ids.push(id);
        }
        held.insert(g.name.clone(), ids);
    }
    (held, reminders)
}

/// `status`: the transitions that no channel has delivered yet, as the
/// groups' state records keep them.
pub(super) async fn undelivered(deps: &Deps, cfg: &Config, report: &mut RunReport) {
    if deps.channels.is_empty() {
        return;
    }
    report.alerts_undelivered = memory::read(deps.dns.as_ref(), cfg, report).await.pending();
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

/// Every channel's timeout per try: the runtime's cap, and no more than
/// fits both tries (and the pause between them) before the answer is due.
fn alert_cap(opts: &RunOptions) -> Option<Duration> {
    let Some(answer_by) = opts.answer_by else {
        return opts.alert_timeout;
    };
    let left = answer_by.saturating_duration_since(Instant::now());
    let fits = (left.saturating_sub(ALERT_RETRY_PAUSE) / 2).max(Duration::from_millis(1));
    Some(opts.alert_timeout.map_or(fits, |t| t.min(fits)))
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
