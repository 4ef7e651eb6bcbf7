//! `[[alert]]` sections: one per channel. Each channel's keys are validated
//! here, before any network call; secrets are [`Secret`]s.

use serde::Deserialize;

#[allow(unused_imports)]
use crate::config::{EnvString, Secret};
use crate::decide::{EventKind, Severity};

/// The raw `[[alert]]` table as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlert {
    #[serde(rename = "type")]
    pub kind: String,
    /// A label for reports; default: the type.
    pub name: Option<String>,
    pub min_severity: Option<String>,
    pub events: Option<Vec<String>>,
}

/// A validated alert channel.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// Label in reports, e.g. `console` or `wecom-oncall`.
    pub name: String,
    /// Alerts below this severity are not sent on this channel; default `info`.
    pub min_severity: Severity,
    /// Only these event kinds (default: every alerting kind).
    pub events: Option<Vec<EventKind>>,
    pub channel: Channel,
}

/// Channel-specific settings.
#[derive(Debug, Clone)]
pub enum Channel {
    /// Print the alert to standard error.
    Console,
}

/// Validate one `[[alert]]`; on error returns (key, message).
pub fn validate(raw: RawAlert) -> Result<AlertConfig, (Option<&'static str>, String)> {
    let min_severity = match raw.min_severity.as_deref() {
        None => Severity::Info,
        Some(s) => Severity::parse(s).ok_or((
            Some("min_severity"),
            format!("unknown severity {s:?}; expected \"info\", \"warning\" or \"critical\""),
        ))?,
    };
    let events = match raw.events {
        None => None,
        Some(list) => {
            let mut out = Vec::new();
            for e in list {
                match EventKind::parse(&e) {
                    Some(k) => out.push(k),
                    None => {
                        let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                        return Err((
                            Some("events"),
                            format!("unknown event {e:?}; expected some of {}", names.join(", ")),
                        ));
                    }
                }
            }
            Some(out)
        }
    };
    let channel = match raw.kind.as_str() {
        "console" => Channel::Console,
        other => {
            return Err((
                Some("type"),
                format!("unknown alert type {other:?}; expected \"console\""),
            ))
        }
    };
    Ok(AlertConfig {
        name: raw.name.unwrap_or_else(|| raw.kind.clone()),
        min_severity,
        events,
        channel,
    })
}

/// `alert_timezone` must be a zone we can render times in.
pub fn validate_timezone(tz: &str) -> Result<(), String> {
    crate::notify::timezone_offset(tz)
        .map(|_| ())
        .ok_or_else(|| format!("unknown time zone {tz:?}; expected an IANA name such as \"Asia/Shanghai\" or \"UTC\""))
}
