//! Alerts: what the people on call are told, and the channels that tell them.
//!
//! The pipeline turns a run's events into at most one [`Alert`] per run
//! ([`Alert::from_report`]) and hands it to every configured [`Notifier`]
//! concurrently ([`send_all`]), each under its own timeout with one retry. A
//! failing channel is recorded and never blocks the others or undoes a DNS
//! change. Channels get the alert only; they never see a DNS client.

pub mod config;
pub mod dingtalk;
pub mod email;
pub mod feishu;
pub mod render;
pub mod repeat;
pub mod sms;
pub mod webhook;
pub mod wecom;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Secret;
use crate::decide::{Event, EventKind, Severity};
use crate::probe::{Attempt, Health};
use crate::report::{ChangeStatus, RunReport};
use config::{AlertConfig, Channel};

/// A channel failed to deliver.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("transport: {0}")]
    Transport(String),
    /// The service answered with an error code.
    #[error("rejected: {0}")]
    Rejected(String),
}

/// A notification channel. Implementers must not log or return secrets
/// (webhook keys, tokens, passwords) in errors, and must respect their
/// service's message size limits by cutting with a visible marker.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Channel type: `console`, `email`, `wecom`, ...
    fn channel(&self) -> &'static str;
    /// The configured name of this channel instance.
    fn name(&self) -> &str;
    /// Deliver one alert.
    async fn send(&self, alert: &Alert) -> Result<(), Error>;
}

/// Evidence about one region, for the alert text.
#[derive(Debug, Clone, Serialize)]
pub struct RegionEvidence {
    pub region: String,
    pub endpoint: String,
    pub health: Health,
    pub attempts: Vec<Attempt>,
}

/// A DNS change as the alert shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeNote {
    pub summary: String,
    pub status: ChangeStatus,
    /// TTL of the record as read back after the write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One event with its context.
#[derive(Debug, Clone, Serialize)]
pub struct AlertEvent {
    #[serde(flatten)]
    pub event: Event,
    /// `api.example.com A [默认]`
    pub record: String,
    pub evidence: Vec<RegionEvidence>,
    pub changes: Vec<ChangeNote>,
    /// Set on standing conditions (see [`repeat`]): since when it was alerted
    /// and whether this run is the first to alert it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standing: Option<repeat::Standing>,
}

/// What one run tells the people on call.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub severity: Severity,
    /// One line: what happened, for subjects and SMS.
    pub title: String,
    pub drill: bool,
    /// A `notify-test` alert.
    pub test: bool,
    pub prober: String,
    pub at: DateTime<Utc>,
    /// IANA zone for the local time shown beside UTC.
    pub timezone: String,
    pub events: Vec<AlertEvent>,
}

/// Events that page: transitions and failures. `recovering` and `created`
/// are reported in the run report only, and so is `left_alone` unless it is
/// a warning (a healthy region kept out by someone else, a record the tool
/// cannot manage: a standing condition that pages once).
pub fn alerts_on(kind: EventKind, severity: Severity) -> bool {
    match kind {
        EventKind::Recovering | EventKind::Created => false,
        EventKind::LeftAlone => severity >= Severity::Warning,
        _ => true,
    }
}

impl Alert {
    /// Build the run's alert from its report: every alerting event, with the
    /// evidence of its regions and the changes of its group. `None` when
    /// nothing alert-worthy happened.
    pub fn from_report(report: &RunReport, timezone: &str) -> Option<Alert> {
        let mut events = Vec::new();
        for g in &report.groups {
            for e in g.events.iter().filter(|e| alerts_on(e.kind, e.severity)) {
                let evidence = g
                    .targets
                    .iter()
                    .filter(|t| e.regions.contains(&t.region))
                    .map(|t| RegionEvidence {
                        region: t.region.clone(),
                        endpoint: t.endpoint.clone(),
                        health: t.health,
                        attempts: t.attempts.clone(),
                    })
                    .collect();
                let changes = g
                    .changes
                    .iter()
                    .filter(|c| e.regions.contains(&c.change.region))
                    .filter(|c| c.change.moves_traffic())
                    .map(|c| ChangeNote {
                        summary: c.change.summary(),
                        status: c.status,
                        ttl: c.record.as_ref().map(|r| r.ttl),
                        error: c.error.clone(),
                    })
                    .collect();
                events.push(AlertEvent {
                    event: e.clone(),
                    record: g.record.clone(),
                    evidence,
                    changes,
                    standing: None,
                });
            }
        }
        if events.is_empty() {
            return None;
        }
        let severity = events
            .iter()
            .map(|e| e.event.severity)
            .max()
            .unwrap_or(Severity::Info);
        let drill = report.drill.is_some();
        let title = title_of(&events, drill);
        Some(Alert {
            severity,
            title,
            drill,
            test: false,
            prober: report.prober.clone(),
            at: report.started_at,
            timezone: timezone.to_string(),
            events,
        })
    }

    /// The alert sent by `dns-failover notify-test`: clearly marked, no events.
    pub fn test(prober: &str, timezone: &str, at: DateTime<Utc>) -> Alert {
        Alert {
            severity: Severity::Info,
            title: "[TEST] dns-failover notify-test: this channel works".into(),
            drill: false,
            test: true,
            prober: prober.to_string(),
            at,
            timezone: timezone.to_string(),
            events: vec![],
        }
    }

    /// The alert as plain text (see [`render::text`]).
    pub fn render_text(&self) -> String {
        render::text(self)
    }

    /// `2026-11-22 03:04:05 UTC / 2026-11-22 11:04:05 Asia/Shanghai`
    pub fn times(&self) -> String {
        let utc = self.at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        match timezone_offset(&self.timezone) {
            Some(off) if self.timezone != "UTC" => format!(
                "{utc} / {} {}",
                (self.at + off).format("%Y-%m-%d %H:%M:%S"),
                self.timezone
            ),
            _ => utc,
        }
    }
}

fn title_of(events: &[AlertEvent], drill: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in events {
        let regions = e.event.regions.join(",");
        let p = match e.event.kind {
            // Failover mode names the region left and the one now serving.
            EventKind::Failover if e.event.regions.len() == 2 => format!(
                "{}: failover {} -> {}",
                e.event.group, e.event.regions[0], e.event.regions[1]
            ),
            EventKind::Failover => format!("{}: failover {regions}", e.event.group),
            EventKind::Failback => format!("{}: failback {regions}", e.event.group),
            EventKind::AllDown => format!("{}: ALL regions down", e.event.group),
            EventKind::EmptyName => format!("{}: NAME EMPTY", e.event.group),
            k => format!("{}: {} {regions}", e.event.group, k.as_str()),
        };
        if !parts.contains(&p) {
            parts.push(p);
        }
    }
    let t = parts.join("; ");
    if drill {
        format!("[DRILL] {t}")
    } else {
        t
    }
}

/// Fixed UTC offsets of the zones we render. China has had no daylight saving
/// since 1991, so Asia/Shanghai is always +08:00; this avoids shipping a tz
/// database in a 64 MB function. Other zones fall back to UTC at validation.
pub fn timezone_offset(tz: &str) -> Option<chrono::Duration> {
    let h = match tz {
        "UTC" | "Etc/UTC" => 0,
        "Asia/Shanghai" | "Asia/Chongqing" | "Asia/Harbin" | "PRC" | "Asia/Hong_Kong"
        | "Asia/Macau" | "Asia/Taipei" | "Asia/Singapore" | "Asia/Kuala_Lumpur" | "Asia/Manila" => {
            8
        }
        "Asia/Tokyo" | "Asia/Seoul" => 9,
        "Asia/Kolkata" => return Some(chrono::Duration::minutes(330)),
        "Asia/Bangkok" | "Asia/Jakarta" | "Asia/Ho_Chi_Minh" => 7,
        "Asia/Dubai" => 4,
        _ => return None,
    };
    Some(chrono::Duration::hours(h))
}

/// Prints alerts to standard error.
pub struct Console {
    name: String,
}

#[async_trait]
impl Notifier for Console {
    fn channel(&self) -> &'static str {
        "console"
    }
    fn name(&self) -> &str {
        &self.name
    }
    async fn send(&self, alert: &Alert) -> Result<(), Error> {
        use std::io::Write;
        let text = alert.render_text();
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "---- alert ({}) ----\n{text}-------------------",
            self.name
        )
        .map_err(|e| Error::Transport(e.to_string()))
    }
}

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

/// Build the channels of a config.
///
/// Channels that hold credentials from the environment (SMS) read them here,
/// so this runs once per pass.
pub fn build(
    alerts: &[AlertConfig],
    clock: Arc<dyn crate::clock::Clock>,
) -> Result<Vec<Channelled>, String> {
    alerts
        .iter()
        .map(|c| {
            let name = c.name.clone();
            let notifier: Arc<dyn Notifier> = match &c.channel {
                Channel::Console => Arc::new(Console { name }),
                Channel::Email(e) => Arc::new(email::Email::new(name, e.clone(), c.timeout)?),
                Channel::Wecom(w) => Arc::new(wecom::Wecom::new(name, w.clone(), c.timeout)?),
                Channel::Dingtalk(d) => {
                    Arc::new(dingtalk::Dingtalk::new(name, d.clone(), c.timeout)?)
                }
                Channel::Feishu(f) => Arc::new(feishu::Feishu::new(name, f.clone(), c.timeout)?),
                Channel::Webhook(w) => Arc::new(webhook::Webhook::new(name, w.clone(), c.timeout)?),
                Channel::Sms(s) => Arc::new(sms::Sms::new(name, s.clone(), clock.clone())?),
            };
            Ok(Channelled {
                config: c.clone(),
                notifier,
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

// ---------------------------------------------------------------------------
// Helpers shared by the HTTP channels
// ---------------------------------------------------------------------------

/// One HTTP client per channel, with the channel's timeout. No redirects: a
/// robot endpoint that redirects is misconfigured, and following it could
/// carry the key elsewhere.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("dns-failover/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// Replace every secret value in `msg` with `[redacted]`. A secret that is a
/// URL also hides its parts, since a server may echo just the path or the
/// query: every query value, the user-info, and the last path segment
/// (Feishu's token) when it is long enough to be a token.
pub(crate) fn scrub(msg: &str, secrets: &[&Secret]) -> String {
    let mut words: Vec<String> = Vec::new();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        words.push(s.expose().to_string());
        if let Ok(u) = reqwest::Url::parse(s.expose()) {
            words.extend(
                u.query_pairs()
                    .map(|(_, v)| v.into_owned())
                    .filter(|v| v.len() >= 4),
            );
            words.extend(u.password().map(str::to_string));
            if !u.username().is_empty() {
                words.push(u.username().to_string());
            }
            if let Some(last) = u.path_segments().and_then(|mut p| p.next_back()) {
                if last.len() >= 8 {
                    words.push(last.to_string());
                }
            }
        }
    }
    // Longest first, so a URL goes before the key inside it.
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    let mut out = msg.to_string();
    for w in words {
        out = out.replace(&w, "[redacted]");
    }
    out
}

/// A transport error without the URL (which holds the key) and scrubbed.
pub(crate) fn transport_error(e: reqwest::Error, secrets: &[&Secret]) -> Error {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut msg = what.to_string();
    let e = e.without_url();
    let mut src = std::error::Error::source(&e);
    let mut seen = 0;
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
        seen += 1;
        if seen > 4 {
            break;
        }
    }
    Error::Transport(scrub(&msg, secrets))
}

/// POST JSON, require a 2xx, return the body parsed as JSON (or `Null` when
/// it is not JSON). Errors never carry the URL or a secret.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: reqwest::Url,
    headers: &[(String, Secret)],
    body: &serde_json::Value,
    secrets: &[&Secret],
) -> Result<serde_json::Value, Error> {
    let mut req = client.post(url).json(body);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.expose());
    }
    let resp = req.send().await.map_err(|e| transport_error(e, secrets))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| transport_error(e, secrets))?;
    if !status.is_success() {
        let snippet = render::truncate_bytes(text.trim(), 200);
        return Err(Error::Rejected(scrub(
            &format!("HTTP {}: {snippet}", status.as_u16()),
            secrets,
        )));
    }
    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

#[cfg(test)]
mod scrub_tests {
    use super::*;

    #[test]
    fn scrub_hides_a_url_secret_and_its_parts() {
        let u = Secret::new(
            "https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef?key=wk-123&x=1",
        );
        let m = scrub(
            "GET /open-apis/bot/v2/hook/0123456789abcdef failed; key wk-123; https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef?key=wk-123&x=1",
            &[&u],
        );
        assert!(
            !m.contains("0123456789abcdef") && !m.contains("wk-123"),
            "{m}"
        );
        assert!(m.contains("/open-apis/bot/v2/hook/[redacted]"), "{m}");
    }
}

#[cfg(test)]
mod title_tests {
    use super::*;

    fn ev(kind: EventKind, group: &str, regions: &[&str]) -> AlertEvent {
        AlertEvent {
            event: Event {
                kind,
                severity: Severity::Critical,
                group: group.into(),
                regions: regions.iter().map(|r| r.to_string()).collect(),
                message: String::new(),
            },
            record: String::new(),
            evidence: vec![],
            changes: vec![],
            standing: None,
        }
    }

    #[test]
    fn titles_say_where_traffic_went_and_mark_drills() {
        let events = [
            ev(EventKind::Failover, "api", &["sh"]),
            ev(EventKind::Failover, "www", &["sh", "gz"]),
            ev(EventKind::AllDown, "adm", &["a", "b"]),
        ];
        assert_eq!(
            title_of(&events, false),
            "api: failover sh; www: failover sh -> gz; adm: ALL regions down"
        );
        assert_eq!(title_of(&events[..1], true), "[DRILL] api: failover sh");
    }
}
