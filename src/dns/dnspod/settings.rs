//! The `[dns]` keys of `provider = "dnspod"`: read, checked, defaults
//! filled in, and the provider built from them.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::DnspodProvider;
use crate::dns::registry::{BuildContext, BuildError, ParseContext, Section, SectionError};
use crate::dns::DnsProvider;
use crate::model::duration::HumanDuration;
use crate::model::limits::{duration_limits, string_limits};
use crate::model::secret::EnvString;

/// The API's address when `endpoint` is not given.
pub const DEFAULT_ENDPOINT: &str = "https://dnspod.tencentcloudapi.com";

/// `[dns]` keys of `provider = "dnspod"`.
#[derive(Debug, Clone)]
pub struct DnspodSettings {
    /// API URL; default `https://dnspod.tencentcloudapi.com`.
    pub endpoint: String,
    /// Environment variable holding the SecretId; default `TENCENTCLOUD_SECRETID`.
    pub secret_id_env: String,
    /// Default `TENCENTCLOUD_SECRETKEY`.
    pub secret_key_env: String,
    /// Default `TENCENTCLOUD_SESSIONTOKEN`.
    pub session_token_env: String,
    /// Per API call; default 5 s.
    pub api_timeout: Duration,
    /// Total time for retries of one call; default 20 s.
    pub api_budget: Duration,
}

/// The keys as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDnspod {
    pub endpoint: Option<EnvString>,
    pub secret_id_env: Option<String>,
    pub secret_key_env: Option<String>,
    pub session_token_env: Option<String>,
    pub api_timeout: Option<HumanDuration>,
    pub api_budget: Option<HumanDuration>,
}

impl Section for DnspodSettings {
    const NAME: &'static str = "dnspod";
    const KEYS: &'static [&'static str] = &[
        "endpoint",
        "secret_id_env",
        "secret_key_env",
        "session_token_env",
        "api_timeout",
        "api_budget",
    ];
    type Raw = RawDnspod;

    fn lengths(raw: &RawDnspod) -> Result<(), SectionError> {
        use string_limits::{ENV_NAME, URL};
        for (k, v, max) in [
            ("endpoint", raw.endpoint.as_ref().map(EnvString::value), URL),
            ("secret_id_env", raw.secret_id_env.as_deref(), ENV_NAME),
            ("secret_key_env", raw.secret_key_env.as_deref(), ENV_NAME),
            (
                "session_token_env",
                raw.session_token_env.as_deref(),
                ENV_NAME,
            ),
        ] {
            if let Some(v) = v {
                SectionError::length(k, v, max)?;
            }
        }
        Ok(())
    }

    fn validate(raw: RawDnspod, _: &ParseContext) -> Result<Self, SectionError> {
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
            ("secret_id_env", &raw.secret_id_env),
            ("secret_key_env", &raw.secret_key_env),
            ("session_token_env", &raw.session_token_env),
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
        Ok(DnspodSettings {
            endpoint: endpoint.0,
            secret_id_env: raw
                .secret_id_env
                .unwrap_or_else(|| "TENCENTCLOUD_SECRETID".into()),
            secret_key_env: raw
                .secret_key_env
                .unwrap_or_else(|| "TENCENTCLOUD_SECRETKEY".into()),
            session_token_env: raw
                .session_token_env
                .unwrap_or_else(|| "TENCENTCLOUD_SESSIONTOKEN".into()),
            api_timeout,
            api_budget,
        })
    }

    fn build(&self, ctx: &BuildContext) -> Result<Arc<dyn DnsProvider>, BuildError> {
        Ok(Arc::new(
            DnspodProvider::from_settings(self, ctx.clock.clone(), ctx.lookup)?.until(ctx.deadline),
        ))
    }

    /// Kept as it was before the registry (issue 9 changes no text).
    fn foreign_key(owners: &str) -> String {
        format!("only used by provider = {owners}")
    }
}

/// A name a shell would accept for an environment variable.
fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
