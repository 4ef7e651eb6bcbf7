//! The `[dns]` keys of `provider = "alidns"`: read, checked, defaults
//! filled in, and the provider built from them. `endpoint`, `api_timeout`
//! and `api_budget` mean what they mean for `dnspod` (the registry lets
//! providers share a key of the same type).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::AlidnsProvider;
use crate::dns::registry::{BuildContext, BuildError, ParseContext, Section, SectionError};
use crate::dns::DnsProvider;
use crate::model::duration::HumanDuration;
use crate::model::limits::{duration_limits, string_limits};
use crate::model::secret::EnvString;

/// The API's address when `endpoint` is not given (every region).
pub const DEFAULT_ENDPOINT: &str = "https://alidns.aliyuncs.com";

/// `[dns]` keys of `provider = "alidns"`.
#[derive(Debug, Clone)]
pub struct AlidnsSettings {
    /// API URL; default `https://alidns.aliyuncs.com`.
    pub endpoint: String,
    /// Environment variable holding the AccessKey ID; default
    /// `ALIBABA_CLOUD_ACCESS_KEY_ID`.
    pub access_key_id_env: String,
    /// Default `ALIBABA_CLOUD_ACCESS_KEY_SECRET`.
    pub access_key_secret_env: String,
    /// STS token, optional; default `ALIBABA_CLOUD_SECURITY_TOKEN`.
    pub security_token_env: String,
    /// Per API call; default 5 s.
    pub api_timeout: Duration,
    /// Total time for retries of one call; default 20 s.
    pub api_budget: Duration,
}

/// The keys as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlidns {
    pub endpoint: Option<EnvString>,
    pub access_key_id_env: Option<String>,
    pub access_key_secret_env: Option<String>,
    pub security_token_env: Option<String>,
    pub api_timeout: Option<HumanDuration>,
    pub api_budget: Option<HumanDuration>,
}

impl Section for AlidnsSettings {
    const NAME: &'static str = "alidns";
    const KEYS: &'static [&'static str] = &[
        "endpoint",
        "access_key_id_env",
        "access_key_secret_env",
        "security_token_env",
        "api_timeout",
        "api_budget",
    ];
    const DEFAULT_LINE: &'static str = super::DEFAULT_LINE;
    const LINES: Option<&'static [&'static str]> = Some(super::LINES);
    type Raw = RawAlidns;

    fn lengths(raw: &RawAlidns) -> Result<(), SectionError> {
        use string_limits::{ENV_NAME, URL};
        for (k, v, max) in [
            ("endpoint", raw.endpoint.as_ref().map(EnvString::value), URL),
            (
                "access_key_id_env",
                raw.access_key_id_env.as_deref(),
                ENV_NAME,
            ),
            (
                "access_key_secret_env",
                raw.access_key_secret_env.as_deref(),
                ENV_NAME,
            ),
            (
                "security_token_env",
                raw.security_token_env.as_deref(),
                ENV_NAME,
            ),
        ] {
            if let Some(v) = v {
                SectionError::length(k, v, max)?;
            }
        }
        Ok(())
    }

    fn validate(raw: RawAlidns, _: &ParseContext) -> Result<Self, SectionError> {
        let endpoint = raw.endpoint.unwrap_or_else(|| DEFAULT_ENDPOINT.into());
        match reqwest::Url::parse(endpoint.value()) {
            Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => {}
            _ => {
                return Err(SectionError::new(
                    "endpoint",
                    format!(
                        "{} is not an http(s) URL such as \"{DEFAULT_ENDPOINT}\"",
                        endpoint.quoted()
                    ),
                ))
            }
        }
        for (k, v) in [
            ("access_key_id_env", &raw.access_key_id_env),
            ("access_key_secret_env", &raw.access_key_secret_env),
            ("security_token_env", &raw.security_token_env),
        ] {
            if let Some(v) = v {
                if !is_env_name(v) {
                    return Err(SectionError::new(
                        k,
                        format!("{v:?} is not an environment variable name"),
                    ));
                }
            }
        }
        let api_timeout = raw.api_timeout.map_or(Duration::from_secs(5), |d| d.0);
        let api_budget = raw.api_budget.map_or(Duration::from_secs(20), |d| d.0);
        SectionError::at_most("api_timeout", api_timeout, duration_limits::API_TIMEOUT)?;
        SectionError::at_most("api_budget", api_budget, duration_limits::API_BUDGET)?;
        if api_timeout.is_zero() || api_budget < api_timeout {
            return Err(SectionError::new(
                "api_budget",
                "api_timeout must be > 0 and api_budget at least api_timeout",
            ));
        }
        Ok(AlidnsSettings {
            endpoint: endpoint.0,
            access_key_id_env: raw
                .access_key_id_env
                .unwrap_or_else(|| "ALIBABA_CLOUD_ACCESS_KEY_ID".into()),
            access_key_secret_env: raw
                .access_key_secret_env
                .unwrap_or_else(|| "ALIBABA_CLOUD_ACCESS_KEY_SECRET".into()),
            security_token_env: raw
                .security_token_env
                .unwrap_or_else(|| "ALIBABA_CLOUD_SECURITY_TOKEN".into()),
            api_timeout,
            api_budget,
        })
    }

    fn build(&self, ctx: &BuildContext) -> Result<Arc<dyn DnsProvider>, BuildError> {
        Ok(Arc::new(
            AlidnsProvider::from_settings(self, ctx.clock.clone(), ctx.lookup)?.until(ctx.deadline),
        ))
    }
}

/// A name a shell would accept for an environment variable.
fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
