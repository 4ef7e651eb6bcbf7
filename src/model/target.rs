//! What is watched: groups of records, their targets, and how each target
//! is probed. Built by `config`, read by `probe` and `decide`.

use std::fmt;
use std::time::Duration;

use super::record::RecordKey;
use super::secret::{EnvString, Secret};

/// `[probe]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSettings {
    /// Per attempt; default 2 s.
    pub timeout: Duration,
    /// Attempts per target per run; default 3.
    pub attempts: u32,
    /// Pause between attempts of one target; default 1 s.
    pub interval: Duration,
    /// Failed attempts (of `attempts`) that make a target down; default 2.
    pub fail_threshold: u32,
    /// Targets probed at once; default 64.
    pub concurrency: usize,
    /// Follow HTTP redirects (at most 5); default false.
    pub follow_redirects: bool,
    /// User-Agent header of HTTP probes.
    pub user_agent: String,
    /// `ca_file` and `cert_expiry_warning` under `[probe]`: the default of
    /// every HTTPS target.
    pub tls: TlsOptions,
}

/// TLS settings of an HTTPS probe (`[probe]` or per target).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsOptions {
    /// `ca_file`, as written: a PEM bundle trusted besides the public roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// The bundle's certificates (DER), read by the config.
    pub ca_certs: std::sync::Arc<Vec<Vec<u8>>>,
    /// `cert_expiry_warning`: warn (`cert_expiring`) when the peer
    /// certificate expires within this; none by default.
    pub cert_expiry_warning: Option<Duration>,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            timeout: Duration::from_secs(2),
            attempts: 3,
            interval: Duration::from_secs(1),
            fail_threshold: 2,
            concurrency: 64,
            follow_redirects: false,
            user_agent: format!("dns-failover/{}", env!("CARGO_PKG_VERSION")),
            tls: TlsOptions::default(),
        }
    }
}

/// How a group serves its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One record; its value points at the best healthy target.
    Failover,
    /// One record per target; down targets' records are disabled.
    Active,
}

/// Whether recovered targets are put back automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Failback {
    Auto,
    Manual,
}

/// One `[[group]]`: the records of one name on one line.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub key: RecordKey,
    pub mode: Mode,
    pub failback: Failback,
    /// How long a target must have been out before it may be put back; default 5 min.
    pub failback_after: Duration,
    /// Most traffic-moving changes one run may make; default 2.
    pub max_changes: u32,
    /// TTL of records written for this group; default `[dns].ttl`.
    pub ttl: u32,
    /// Sorted by priority (lowest first), then file order.
    pub targets: Vec<Target>,
}

impl Group {
    /// The target of a region, if it belongs to this group.
    pub fn target(&self, region: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.region == region)
    }
}

/// One `[[group.target]]`.
#[derive(Debug, Clone)]
pub struct Target {
    pub region: String,
    /// The record value (gateway domain or IP).
    pub value: String,
    pub priority: i64,
    pub check: Check,
    /// Per attempt, overriding `[probe].timeout`.
    pub timeout: Duration,
    /// TLS settings (HTTPS targets), `[probe]`'s unless the target sets its own.
    pub tls: TlsOptions,
}

/// What a probe checks.
#[derive(Debug, Clone)]
pub enum Check {
    Http(HttpCheck),
    /// Connect to `host:port`.
    Tcp {
        /// `host:port`; shown as written (see [`EnvString`]).
        addr: EnvString,
    },
}

/// An HTTP(S) check.
#[derive(Debug, Clone)]
pub struct HttpCheck {
    /// Probed as expanded, shown as written (see [`EnvString`]).
    pub url: EnvString,
    pub method: String,
    pub headers: Vec<(String, Secret)>,
    pub expect_status: StatusMatcher,
    pub body_contains: Option<EnvString>,
    pub max_latency: Option<Duration>,
    /// Probe this IP while keeping the URL's Host and SNI.
    pub resolve: Option<std::net::IpAddr>,
    pub follow_redirects: bool,
}

/// Accepted HTTP status ranges, inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMatcher(pub Vec<(u16, u16)>);

impl StatusMatcher {
    pub fn matches(&self, code: u16) -> bool {
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&code))
    }
    /// Parse "2xx", "200", "200-299".
    pub fn parse_item(s: &str) -> Option<(u16, u16)> {
        let s = s.trim();
        if s.len() == 3 && s.ends_with("xx") {
            let d = s[..1].parse::<u16>().ok().filter(|d| (1..=5).contains(d))?;
            return Some((d * 100, d * 100 + 99));
        }
        if let Some((a, b)) = s.split_once('-') {
            let a = a.trim().parse::<u16>().ok()?;
            let b = b.trim().parse::<u16>().ok()?;
            return ((100..=599).contains(&a) && (a..=599).contains(&b)).then_some((a, b));
        }
        let c = s.parse::<u16>().ok().filter(|c| (100..=599).contains(c))?;
        Some((c, c))
    }
}

impl fmt::Display for StatusMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else if a % 100 == 0 && *b == a + 99 {
                    format!("{}xx", a / 100)
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl Check {
    /// The endpoint string shown in reports and alerts: as written in the
    /// config, so a `${NAME}` reference shows as itself, never as its value.
    pub fn endpoint(&self) -> String {
        match self {
            Check::Http(h) => h.url.shown().to_string(),
            Check::Tcp { addr } => format!("tcp://{}", addr.shown()),
        }
    }
}
