//! The `[dns]` keys of `provider = "dnspod"`: read, checked, defaults
//! filled in, and the provider built from them.

use crate::dns::registry::checks;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::DnspodProvider;
use crate::dns::registry::{BuildContext, BuildError, ParseContext, Section, SectionError};
use crate::dns::DnsProvider;
use crate::model::duration::HumanDuration;
use crate::model::limits::string_limits;
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
        let endpoint = checks::endpoint(raw.endpoint, DEFAULT_ENDPOINT)?;
        checks::env_names(&[
            ("secret_id_env", &raw.secret_id_env),
            ("secret_key_env", &raw.secret_key_env),
            ("session_token_env", &raw.session_token_env),
        ])?;
        let (api_timeout, api_budget) =
            checks::api_times(raw.api_timeout.map(|d| d.0), raw.api_budget.map(|d| d.0))?;
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
