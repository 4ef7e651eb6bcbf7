//! `cert_expiring`: a warning per HTTPS target whose certificate expires
//! within its `cert_expiry_warning`. It is evidence for people, never for
//! traffic: health is judged by the attempts alone, and nothing here is
//! seen by the rest of `decide`.

use chrono::{DateTime, Utc};

use super::{Ctx, Event, EventKind, Severity};
use crate::model::duration::human;

impl Ctx<'_> {
    /// One warning per target whose latest presented certificate expires
    /// before `now + cert_expiry_warning`.
    pub(super) fn cert_events(&self) -> Vec<Event> {
        let mut out = Vec::new();
        for t in &self.group.targets {
            let Some(warn) = t.tls.cert_expiry_warning else {
                continue;
            };
            let Some(o) = self.health.get(t.region.as_str()) else {
                continue;
            };
            // The last attempt that completed a handshake.
            let Some(not_after) = o.attempts.iter().rev().find_map(|a| a.cert_not_after) else {
                continue;
            };
            let Some(left) = expires_within(not_after, self.now, warn) else {
                continue;
            };
            out.push(self.event(
                EventKind::CertExpiring,
                Severity::Warning,
                vec![t.region.clone()],
                format!(
                    "the certificate of {} ({}) expires {} ({}), within cert_expiry_warning = {}; traffic is not moved for this",
                    o.endpoint,
                    t.region,
                    not_after.format("%Y-%m-%d %H:%M UTC"),
                    match left {
                        Some(d) => format!("in {}", days(d)),
                        None => "already".to_string(),
                    },
                    days(warn),
                ),
            ));
        }
        out
    }
}

/// `Some(time left)` when `not_after` falls within `warn` of `now`
/// (`Some(None)` when it has passed already).
fn expires_within(
    not_after: DateTime<Utc>,
    now: DateTime<Utc>,
    warn: std::time::Duration,
) -> Option<Option<std::time::Duration>> {
    let left = (not_after - now).to_std().ok();
    match left {
        Some(l) if l > warn => None,
        l => Some(l),
    }
}

/// "14d" from two days up, "5h 3m" below.
fn days(d: std::time::Duration) -> String {
    let h = d.as_secs() / 3600;
    if h >= 48 {
        format!("{}d", h / 24)
    } else {
        human(d)
    }
}
