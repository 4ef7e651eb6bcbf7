//! Health: the evidence of one run's probes and the verdict drawn from it.
//! A failed probe is data, not an error.

use std::time::Duration;

use serde::Serialize;

use super::target::{Group, Target};

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// No answer within the attempt's timeout.
    Timeout,
    /// The port is closed (RST on connect).
    ConnectionRefused,
    /// The connection was reset or closed mid-request.
    ConnectionReset,
    /// The host name did not resolve.
    Dns,
    /// TLS handshake or certificate failure.
    Tls,
    /// HTTP status not in `expect_status`.
    UnexpectedStatus,
    /// `body_contains` not found in the first 64 KiB.
    BodyMismatch,
    /// Answered correctly but slower than `max_latency`.
    TooSlow,
    /// Any other connect or protocol failure.
    Other,
    /// Not probed: the region was declared down by a drill.
    Drill,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Timeout => "timeout",
            FailureClass::ConnectionRefused => "connection_refused",
            FailureClass::ConnectionReset => "connection_reset",
            FailureClass::Dns => "dns",
            FailureClass::Tls => "tls",
            FailureClass::UnexpectedStatus => "unexpected_status",
            FailureClass::BodyMismatch => "body_mismatch",
            FailureClass::TooSlow => "too_slow",
            FailureClass::Other => "other",
            FailureClass::Drill => "drill",
        }
    }
}

impl std::fmt::Display for FailureClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One attempt's evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    pub ok: bool,
    /// Wall time of the attempt in milliseconds.
    pub latency_ms: f64,
    /// HTTP status, when one was received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureClass>,
    /// Human detail of the failure (never contains header values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Where the attempt's time went, phase by phase; absent for drills and
    /// for evidence built by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phases: Option<Phases>,
    /// HTTPS: when the peer's certificate expires (its `notAfter`), as
    /// presented in this attempt's handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_not_after: Option<chrono::DateTime<chrono::Utc>>,
}

/// The time of each phase of one attempt, in milliseconds (0.1 ms
/// resolution), as blackbox_exporter's `probe_http_duration_seconds{phase}`.
/// A phase that did not happen (no name to resolve, plain HTTP has no TLS,
/// a TCP probe has no request) or was not reached (the attempt failed or
/// timed out before it) is absent. When redirects are followed, each phase
/// is the sum over every hop.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Phases {
    /// Name resolution, when the target names a host (no IP, no `resolve`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve_ms: Option<f64>,
    /// TCP connect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<f64>,
    /// TLS handshake (HTTPS only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ms: Option<f64>,
    /// From sending the request to the response head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttfb_ms: Option<f64>,
    /// Reading the body, from the response head to its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_ms: Option<f64>,
    /// The whole attempt (the same as the attempt's `latency_ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_ms: Option<f64>,
}

impl Phases {
    /// Add `d` to the phase `slot` (phases of redirect hops add up).
    pub fn add(slot: &mut Option<f64>, d: Duration) {
        *slot = Some(ms(Duration::from_secs_f64(
            slot.unwrap_or(0.0) / 1000.0 + d.as_secs_f64(),
        )));
    }

    /// `resolve 1.2ms, connect 0.3ms, tls 4.1ms, ttfb 2.0ms, body 0.1ms`:
    /// the phases that happened, in order, for alerts and the text table.
    pub fn short(&self) -> String {
        let parts: Vec<String> = [
            ("resolve", self.resolve_ms),
            ("connect", self.connect_ms),
            ("tls", self.tls_ms),
            ("ttfb", self.ttfb_ms),
            ("body", self.body_ms),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| format!("{n} {v:.1}ms")))
        .collect();
        parts.join(", ")
    }
}

impl Attempt {
    pub fn success(latency: Duration, status: Option<u16>) -> Self {
        Attempt {
            ok: true,
            latency_ms: ms(latency),
            status,
            failure: None,
            detail: None,
            phases: None,
            cert_not_after: None,
        }
    }
    pub fn failure(
        latency: Duration,
        status: Option<u16>,
        class: FailureClass,
        detail: impl Into<String>,
    ) -> Self {
        Attempt {
            ok: false,
            latency_ms: ms(latency),
            status,
            failure: Some(class),
            detail: Some(detail.into()),
            phases: None,
            cert_not_after: None,
        }
    }
    /// This attempt with its phase timings; `total_ms` is set to the
    /// attempt's latency.
    pub fn with_phases(mut self, mut phases: Phases) -> Self {
        phases.total_ms = Some(self.latency_ms);
        self.phases = Some(phases);
        self
    }

    /// `timeout 2000ms`, `503 in 12ms`, `ok 200 in 3ms`.
    pub fn short(&self) -> String {
        let lat = format!("{:.0}ms", self.latency_ms);
        match (self.ok, self.failure, self.status) {
            (true, _, Some(s)) => format!("ok {s} in {lat}"),
            (true, _, None) => format!("ok in {lat}"),
            (false, Some(c), Some(s)) => format!("{c} ({s}) in {lat}"),
            (false, Some(c), None) => format!("{c} after {lat}"),
            (false, None, _) => format!("failed after {lat}"),
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

/// A target's state for this run, from its attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Every attempt succeeded: may be put back after an outage.
    Healthy,
    /// Some attempts failed, fewer than `fail_threshold`: stays in, is not put back.
    Degraded,
    /// At least `fail_threshold` attempts failed.
    Down,
    /// Not probed this run (deadline reached): no decision is made on it.
    Unknown,
}

impl Health {
    /// Counts as serving (not down, not unknown).
    pub fn is_up(self) -> bool {
        matches!(self, Health::Healthy | Health::Degraded)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }
}

/// The verdict rule: down when at least `fail_threshold` attempts failed,
/// healthy when all succeeded, degraded in between.
pub fn health_of(attempts: &[Attempt], fail_threshold: u32) -> Health {
    if attempts.is_empty() {
        return Health::Unknown;
    }
    let failed = attempts.iter().filter(|a| !a.ok).count() as u32;
    if failed >= fail_threshold.max(1) {
        Health::Down
    } else if failed == 0 {
        Health::Healthy
    } else {
        Health::Degraded
    }
}

/// Everything known about one target after this run's probes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetOutcome {
    pub group: String,
    pub region: String,
    pub value: String,
    /// What was probed: the URL or `tcp://host:port`, as written in the
    /// config (`${NAME}` references unexpanded: they may hold secrets).
    pub endpoint: String,
    pub health: Health,
    pub attempts: Vec<Attempt>,
    /// True when the health was imposed by a drill rather than measured.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub drill: bool,
}

impl TargetOutcome {
    /// `2/3 failed: timeout after 2000ms; unexpected_status (502) in 4ms`
    pub fn summary(&self) -> String {
        let failed: Vec<String> = self
            .attempts
            .iter()
            .filter(|a| !a.ok)
            .map(Attempt::short)
            .collect();
        if failed.is_empty() {
            let lat: Vec<String> = self
                .attempts
                .iter()
                .map(|a| format!("{:.0}ms", a.latency_ms))
                .collect();
            format!(
                "{}/{} ok ({})",
                self.attempts.len(),
                self.attempts.len(),
                lat.join(", ")
            )
        } else {
            format!(
                "{}/{} failed: {}",
                failed.len(),
                self.attempts.len(),
                failed.join("; ")
            )
        }
    }

    /// An outcome imposed by a drill: one synthetic failed attempt per configured attempt.
    pub fn drilled(group: &Group, target: &Target, attempts: u32) -> Self {
        TargetOutcome {
            group: group.name.clone(),
            region: target.region.clone(),
            value: target.value.clone(),
            endpoint: target.check.endpoint(),
            health: Health::Down,
            attempts: (0..attempts.max(1))
                .map(|_| {
                    Attempt::failure(
                        Duration::ZERO,
                        None,
                        FailureClass::Drill,
                        "declared down by a drill; not probed",
                    )
                })
                .collect(),
            drill: true,
        }
    }
}
