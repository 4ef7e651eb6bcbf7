//! Notify: the run's alert, sent on every channel that wants it, with the
//! standing-condition memory (see [`crate::memory`]) deciding what pages
//! again.

use std::time::{Duration, Instant};

use crate::config::Config;
use crate::memory;
use crate::model::budget::ALERT_RETRY_PAUSE;
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
    if let Some(mut alert) = report.alert(&cfg.alert_timezone) {
        if standing {
            repeat::annotate(&mut alert.events, &states.plain(), now);
        }
        report.alerts = notify::send_all(&deps.channels, &alert, alert_cap(opts)).await;
        delivered = repeat::delivered(&deps.channels, &alert, &report.alerts);
    }
    if standing {
        memory::write(deps.dns.as_ref(), cfg, report, &states, &delivered, now).await;
    }
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
