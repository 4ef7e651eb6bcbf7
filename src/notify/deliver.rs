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

/// What became of one channel's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The service accepted it (possibly with `notes`).
    Delivered,
    /// Sent, but no answer came in time: it may have been delivered. Not a
    /// failure, and not resent.
    Unknown,
    /// Not delivered.
    Failed,
    /// Nothing for this channel (see [`Delivery::filtered`]).
    Filtered,
}

/// One channel's delivery result, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub channel: String,
    pub name: String,
    /// Not a failure: delivered, filtered, or sent with its delivery unknown.
    pub ok: bool,
    /// Not sent: `min_severity`/`events` left nothing, or every event was a
    /// standing condition already alerted (no reminder due).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub filtered: bool,
    /// `delivered`, `unknown` (sent, no answer in time), `failed` or `filtered`.
    pub delivery: Outcome,
    pub attempts: u32,
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What went only partly well on a delivered message: a refused
    /// recipient, a failed mention message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Delivery {
    /// The service has (or may have) the message: delivered, or sent with
    /// no answer. Such a message is not sent again on a later run.
    pub fn reached(&self) -> bool {
        matches!(self.delivery, Outcome::Delivered | Outcome::Unknown)
    }
}

/// How long past its own timeout a channel is given before the pipeline
/// stops waiting: each channel enforces its timeout itself, and can say at
/// which step it ran out; this is the backstop.
const BACKSTOP: Duration = Duration::from_millis(500);

/// Send `alert` on every channel concurrently. A try that failed before the
/// message reached the service, or that the service answered as temporary,
/// is tried once more after 200 ms; permanent answers, rate limits and
/// sends with no answer are not (see [`Error::retry_now`]). So a hanging
/// channel costs about its timeout and delays no other. Never fails:
/// results say what happened.
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
        let own = c.config.timeout + BACKSTOP;
        let timeout = cap.map_or(own, |cap| cap.min(own));
        let mut d = Delivery {
            channel: c.notifier.channel().into(),
            name: c.notifier.name().into(),
            ok: true,
            filtered: false,
            delivery: Outcome::Delivered,
            attempts: 0,
            elapsed_ms: 0,
            error: None,
            notes: vec![],
        };
        let Some(a) = c.filter(alert) else {
            d.filtered = true;
            d.delivery = Outcome::Filtered;
            return d;
        };
        let result = loop {
            d.attempts += 1;
            let t = Instant::now();
            let r = match tokio::time::timeout(timeout, c.notifier.send(&a)).await {
                Ok(r) => r,
                Err(_) => Err(Error::Unknown(format!(
                    "no answer within {}",
                    humantime::format_duration(Duration::from_millis(
                        t.elapsed().as_millis() as u64
                    ))
                ))),
            };
            match &r {
                Err(e) if e.retry_now() && d.attempts == 1 => {
                    tracing::info!(channel = c.notifier.channel(), name = c.notifier.name(), error = %e, "alert not delivered; one retry");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => break r,
            }
        };
        match result {
            Ok(sent) => {
                tracing::info!(channel = c.notifier.channel(), name = c.notifier.name(), notes = ?sent.notes, "alert delivered");
                d.notes = sent.notes;
            }
            Err(e @ Error::Unknown(_)) => {
                tracing::warn!(channel = c.notifier.channel(), name = c.notifier.name(), error = %e, "alert sent, delivery unknown; not resent");
                d.delivery = Outcome::Unknown;
                d.error = Some(e.to_string());
            }
            Err(e) => {
                tracing::warn!(channel = c.notifier.channel(), name = c.notifier.name(), error = %e, "alert not delivered");
                d.ok = false;
                d.delivery = Outcome::Failed;
                d.error = Some(e.to_string());
            }
        }
        d.elapsed_ms = start.elapsed().as_millis() as u64;
        d
    });
    futures_util::future::join_all(futs).await
}
