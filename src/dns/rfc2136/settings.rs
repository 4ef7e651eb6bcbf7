//! The `[dns]` keys of `provider = "rfc2136"`: read, checked, defaults
//! filled in, and the provider built from them.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use super::Rfc2136Provider;
use crate::clock::SystemClock;
use crate::dns::registry::{BuildContext, BuildError, ParseContext, Section, SectionError};
use crate::dns::DnsProvider;
use crate::model::duration::HumanDuration;
use crate::model::limits::{duration_limits, string_limits};
use crate::model::record::CONTROL_LINE;
use crate::model::secret::{EnvString, Secret};

/// TSIG algorithms the provider can sign with (`tsig_algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsigAlgorithm {
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl TsigAlgorithm {
    const ALL: [TsigAlgorithm; 3] = [Self::HmacSha256, Self::HmacSha384, Self::HmacSha512];

    /// The name BIND's `tsig-keygen -a` and named.conf use.
    pub fn name(self) -> &'static str {
        match self {
            Self::HmacSha256 => "hmac-sha256",
            Self::HmacSha384 => "hmac-sha384",
            Self::HmacSha512 => "hmac-sha512",
        }
    }
}

/// `[dns]` keys of `provider = "rfc2136"`.
#[derive(Debug, Clone)]
pub struct Rfc2136Settings {
    /// The primary server, `host:port` (port 53 when written without one).
    pub server: String,
    /// The zone updates name (`dns.zone`); `None`: the group's `domain`.
    pub zone: Option<String>,
    /// TSIG key name, as the server's `key "<name>"` (case does not matter).
    pub tsig_key_name: String,
    /// The key's secret, base64 (`tsig-keygen` prints it); from `${NAME}` only.
    pub tsig_secret: Secret,
    /// Default `hmac-sha256`.
    pub tsig_algorithm: TsigAlgorithm,
    /// Per message (connect, send, reply); default 5 s.
    pub timeout: Duration,
}

/// The keys as written. No `Debug`: it would show a secret written in the
/// file before validation refuses it.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRfc2136 {
    pub server: Option<EnvString>,
    pub zone: Option<EnvString>,
    pub tsig_key_name: Option<EnvString>,
    pub tsig_secret: Option<EnvString>,
    pub tsig_algorithm: Option<String>,
    pub timeout: Option<HumanDuration>,
}

impl Section for Rfc2136Settings {
    const NAME: &'static str = "rfc2136";
    const KEYS: &'static [&'static str] = &[
        "server",
        "zone",
        "tsig_key_name",
        "tsig_secret",
        "tsig_algorithm",
        "timeout",
    ];
    type Raw = RawRfc2136;

    fn lengths(raw: &RawRfc2136) -> Result<(), SectionError> {
        use string_limits::{HOST, HOST_PORT, TEXT, WORD};
        let v = |s: &Option<EnvString>| s.as_ref().map(|s| s.value().to_string());
        for (k, val, max) in [
            ("server", v(&raw.server), HOST_PORT),
            ("zone", v(&raw.zone), HOST),
            ("tsig_key_name", v(&raw.tsig_key_name), HOST),
            ("tsig_secret", v(&raw.tsig_secret), TEXT),
            ("tsig_algorithm", raw.tsig_algorithm.clone(), WORD),
        ] {
            if let Some(val) = val {
                SectionError::length(k, &val, max)?;
            }
        }
        Ok(())
    }

    fn validate(raw: RawRfc2136, _: &ParseContext) -> Result<Self, SectionError> {
        let need = |k: &'static str, what: &str| {
            SectionError::new(k, format!("provider = \"rfc2136\" needs `{k}`, {what}"))
        };
        let server = raw
            .server
            .ok_or_else(|| need("server", "the primary server as \"host:port\""))?;
        let server = check_server(server.value())
            .map_err(|m| SectionError::new("server", format!("{}: {m}", server.quoted())))?;
        let zone = match raw.zone {
            None => None,
            Some(z) => {
                let name = z.value().trim().trim_end_matches('.').to_ascii_lowercase();
                if !is_dns_name(&name) || !name.contains('.') {
                    return Err(SectionError::new(
                        "zone",
                        format!("{} is not a zone name like \"example.com\"", z.quoted()),
                    ));
                }
                Some(name)
            }
        };
        let key = raw.tsig_key_name.ok_or_else(|| {
            need(
                "tsig_key_name",
                "the TSIG key's name (named.conf `key \"<name>\"`)",
            )
        })?;
        let tsig_key_name = key.value().trim().trim_end_matches('.').to_string();
        if !is_dns_name(&tsig_key_name.to_ascii_lowercase()) {
            return Err(SectionError::new(
                "tsig_key_name",
                format!(
                    "{} is not a key name (letters, digits, `-`, `_` and dots, as in `tsig-keygen update-key`)",
                    key.quoted()
                ),
            ));
        }
        let secret = raw.tsig_secret.ok_or_else(|| {
            need(
                "tsig_secret",
                "the key's base64 secret from an environment variable: tsig_secret = \"${TSIG_SECRET}\"",
            )
        })?;
        if !secret.is_expanded() || !is_one_reference(secret.shown()) {
            // Never echo it: a literal here is the secret itself.
            return Err(SectionError::new(
                "tsig_secret",
                "must be one environment variable reference such as \"${TSIG_SECRET}\"; a secret is never written in the config file",
            ));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(secret.value().trim())
            .ok()
            .filter(|b| !b.is_empty());
        if decoded.is_none() {
            return Err(SectionError::new(
                "tsig_secret",
                format!(
                    "{} does not hold a base64 secret (the `secret \"...\"` of `tsig-keygen`)",
                    secret.shown()
                ),
            ));
        }
        let tsig_algorithm = match raw.tsig_algorithm.as_deref() {
            None => TsigAlgorithm::HmacSha256,
            Some(a) => TsigAlgorithm::ALL
                .into_iter()
                .find(|x| x.name().eq_ignore_ascii_case(a.trim()))
                .ok_or_else(|| {
                    SectionError::new(
                        "tsig_algorithm",
                        format!(
                            "unsupported TSIG algorithm {a:?}; expected \"hmac-sha256\" (recommended), \"hmac-sha384\" or \"hmac-sha512\""
                        ),
                    )
                })?,
        };
        let timeout = raw.timeout.map_or(Duration::from_secs(5), |d| d.0);
        SectionError::at_most("timeout", timeout, duration_limits::API_TIMEOUT)?;
        if timeout.is_zero() {
            return Err(SectionError::new("timeout", "must be more than 0s"));
        }
        Ok(Rfc2136Settings {
            server,
            zone,
            tsig_key_name,
            tsig_secret: Secret::new(secret.value().trim()),
            tsig_algorithm,
            timeout,
        })
    }

    fn build(&self, ctx: &BuildContext) -> Result<Arc<dyn DnsProvider>, BuildError> {
        Ok(Arc::new(
            Rfc2136Provider::new(self, ctx.clock.clone(), Arc::new(SystemClock))
                .until(ctx.deadline),
        ))
    }

    fn check_line(&self, line: &str) -> Result<(), String> {
        if line == CONTROL_LINE {
            return Ok(());
        }
        Err(format!(
            "{line:?}: provider = \"rfc2136\" has no lines (a DNS server gives every client the same answer); remove `line`"
        ))
    }
}

/// `host:port` or `host` (port 53); an IPv6 address in brackets.
fn check_server(s: &str) -> Result<String, String> {
    let s = s.trim();
    if let Ok(a) = s.parse::<std::net::SocketAddr>() {
        if a.port() == 0 {
            return Err("the port must be a number from 1 to 65535".into());
        }
        return Ok(s.to_string());
    }
    if s.parse::<std::net::IpAddr>().is_ok() {
        return Ok(if s.contains(':') {
            format!("[{s}]:53")
        } else {
            format!("{s}:53")
        });
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or("the port must be a number from 1 to 65535")?,
        ),
        None => (s, 53),
    };
    if !is_dns_name(&host.to_ascii_lowercase()) {
        return Err(
            "expected \"host:port\", e.g. \"ns1.example.com:53\" or \"127.0.0.1:53\"".into(),
        );
    }
    Ok(format!("{host}:{port}"))
}

/// Labels of letters, digits, `-` and `_`, at most 63 each, 253 in all.
fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// Exactly `${NAME}`.
fn is_one_reference(written: &str) -> bool {
    written
        .strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}
