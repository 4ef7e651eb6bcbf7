//! Delivery: the configured channels with their filters ([`Channelled`],
//! built by [`build`]) and [`send_all`], which sends one alert on every
//! channel concurrently and records each result as a [`Delivery`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::config::AlertConfig;
use super::{repeat, title_of, Alert, AlertEvent, BuildError, Error, Notifier};
use crate::clock::Clock;
use crate::model::event::Severity;

/// A configured channel with its filters.
#[derive(Clone)]
pub struct Channelled {
    pub config: AlertConfig,
    pub notifier: Arc<dyn Notifier>,
}

impl Channelled {
    /// The part of `alert` this channel wants, or `None`.
    pub fn filter(&self, alert: &Alert) -> Option<Alert> {
        if alert.test {
            return Some(alert.clone());
        }
        let events: Vec<AlertEvent> = alert
            .events
            .iter()
            .filter(|e| repeat::wanted(e, self.config.repeat_every, alert.at))
            .filter(|e| e.event.severity >= self.config.min_severity)
            .filter(|e| {
                self.config
                    .events
                    .as_ref()
                    .is_none_or(|k| k.contains(&e.event.kind))
            })
            .cloned()
            .collect();
        if events.is_empty() {
            return None;
        }
        let mut a = alert.clone();
        a.severity = events
            .iter()
            .map(|e| e.event.severity)
            .max()
            .unwrap_or(Severity::Info);
        a.title = title_of(&events, a.drill);
        a.events = events;
        Some(a)
    }
}

/// Build the channels of a config: each [`AlertConfig`]'s channel, made by
/// its settings (see [`super::config::ChannelSettings::build`]).
///
/// Channels that hold credentials from the environment (SMS) read them here,
/// so this runs once per pass.
pub fn build(
    alerts: &[AlertConfig],
    clock: Arc<dyn Clock>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Channelled>, BuildError> {
    alerts
        .iter()
        .map(|c| {
            Ok(Channelled {
                notifier: c.channel.build(&c.name, c.timeout, &clock, lookup)?,
                config: c.clone(),
            })
        })
        .collect()
}

/// One channel's delivery result, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub channel: String,
    pub name: String,
    pub ok: bool,
    /// Not sent: `min_severity`/`events` left nothing, or every event was a
    /// standing condition already alerted (no reminder due).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub filtered: bool,
    pub attempts: u32,
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Send `alert` on every channel concurrently; each gets its own `timeout`
/// per try and one retry, so a hanging channel costs at most about twice its
/// timeout and delays no other. Never fails: results say what happened.
///
/// `cap`, when given, bounds every channel's own timeout (the SCF runtime
/// passes what is left of the invocation's time).
pub async fn send_all(
    channels: &[Channelled],
    alert: &Alert,
    cap: Option<Duration>,
) -> Vec<Delivery> {
    let futs = channels.iter().map(|c| async move {
        let start = Instant::now();
        let timeout = cap.map_or(c.config.timeout, |cap| cap.min(c.config.timeout));
        let Some(a) = c.filter(alert) else {
            return Delivery {
                channel: c.notifier.channel().into(),
                name: c.notifier.name().into(),
                ok: true,
                filtered: true,
                attempts: 0,
                elapsed_ms: 0,
                error: None,
            };
        };
        let mut last = None;
        let mut tries = 0;
        for attempt in 0..2 {
            tries = attempt + 1;
            match tokio::time::timeout(timeout, c.notifier.send(&a)).await {
                Ok(Ok(())) => {
                    last = None;
                    break;
                }
                Ok(Err(e)) => last = Some(e.to_string()),
                Err(_) => last = Some(Error::Timeout(timeout).to_string()),
            }
            if attempt == 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        if let Some(e) = &last {
            tracing::warn!(channel = c.notifier.channel(), name = c.notifier.name(), error = %e, "alert not delivered");
        } else {
            tracing::info!(channel = c.notifier.channel(), name = c.notifier.name(), "alert delivered");
        }
        Delivery {
            channel: c.notifier.channel().into(),
            name: c.notifier.name().into(),
            ok: last.is_none(),
            filtered: false,
            attempts: tries,
            elapsed_ms: start.elapsed().as_millis() as u64,
            error: last,
        }
    });
    futures_util::future::join_all(futs).await
}
