//! The `[dns]` keys of `provider = "alidns"`: read, checked, defaults
//! filled in, and the provider built from them. `endpoint`, `api_timeout`
//! and `api_budget` mean what they mean for `dnspod` (the registry lets
//! providers share a key of the same type).

use crate::dns::registry::checks;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::AlidnsProvider;
use crate::dns::registry::{BuildContext, BuildError, ParseContext, Section, SectionError};
use crate::dns::DnsProvider;
use crate::model::duration::HumanDuration;
use crate::model::limits::string_limits;
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
        let endpoint = checks::endpoint(raw.endpoint, DEFAULT_ENDPOINT)?;
        checks::env_names(&[
            ("access_key_id_env", &raw.access_key_id_env),
            ("access_key_secret_env", &raw.access_key_secret_env),
            ("security_token_env", &raw.security_token_env),
        ])?;
        let (api_timeout, api_budget) =
            checks::api_times(raw.api_timeout.map(|d| d.0), raw.api_budget.map(|d| d.0))?;
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
