//! `type = "sms"`: the section's keys ([`SmsConfig`]), their defaults and
//! validation, and the registry entry ([`TYPE`]).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::Sms;
use crate::clock::Clock;
use crate::model::limits::string_limits::{ENV_NAME, NAME, SHORT_TEXT, URL};
use crate::model::secret::EnvString;
use crate::notify::config::{
    check_items, check_len, env_str, required, ChannelSettings, ChannelType, KeyError, Section,
};
use crate::notify::{BuildError, Notifier};

pub const DEFAULT_ENDPOINT: &str = "https://sms.tencentcloudapi.com";
/// API limit per request (reference §4).
pub const MAX_NUMBERS: usize = 200;
/// `type = "sms"`.
pub const TYPE: ChannelType = ChannelType {
    name: "sms",
    keys: &[
        "sdk_app_id",
        "sign_name",
        "template_id",
        "phone_numbers",
        "region",
        "endpoint",
        "template_params",
        "param_max_len",
        "region_labels",
        "secret_id_env",
        "secret_key_env",
        "session_token_env",
    ],
    parse,
};

const PLACEHOLDERS: [&str; 6] = ["name", "event", "regions", "severity", "prober", "time"];

/// `[[alert]] type = "sms"` keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// SMS application id, e.g. `1400006666`.
    pub sdk_app_id: String,
    /// Approved signature text; required for mainland China numbers.
    #[serde(default)]
    pub sign_name: String,
    /// Approved template id.
    pub template_id: String,
    /// E.164 numbers, `+8613711112222`; all mainland (+86) or all not.
    pub phone_numbers: Vec<String>,
    /// Sent as `X-TC-Region`; default `ap-guangzhou`.
    #[serde(default = "default_region")]
    pub region: String,
    /// API URL override (tests, private endpoints); default `https://sms.tencentcloudapi.com`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// One entry per template variable, with placeholders; default
    /// `["{name}", "{event}"]`.
    #[serde(default = "default_params")]
    pub template_params: Vec<String>,
    /// Characters kept of each filled parameter; default 6.
    #[serde(default = "default_param_max_len")]
    pub param_max_len: usize,
    /// Short label of a target region in `{regions}`, e.g.
    /// `{ "ap-shenzhen-fsi" = "szf" }`; default: a short form unique among
    /// the alert's regions (see [`super::short_labels`]).
    #[serde(default)]
    pub region_labels: std::collections::BTreeMap<String, String>,
    /// Default `TENCENTCLOUD_SECRETID`.
    #[serde(default = "default_id_env")]
    pub secret_id_env: String,
    /// Default `TENCENTCLOUD_SECRETKEY`.
    #[serde(default = "default_key_env")]
    pub secret_key_env: String,
    /// Default `TENCENTCLOUD_SESSIONTOKEN`.
    #[serde(default = "default_token_env")]
    pub session_token_env: String,
}

pub(super) fn default_region() -> String {
    "ap-guangzhou".into()
}
pub(super) fn default_params() -> Vec<String> {
    vec!["{name}".into(), "{event}".into()]
}
pub(super) fn default_param_max_len() -> usize {
    6
}
pub(super) fn default_id_env() -> String {
    "TENCENTCLOUD_SECRETID".into()
}
pub(super) fn default_key_env() -> String {
    "TENCENTCLOUD_SECRETKEY".into()
}
pub(super) fn default_token_env() -> String {
    "TENCENTCLOUD_SESSIONTOKEN".into()
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `+` then 7 to 15 digits, no leading zero (E.164).
pub fn is_e164(n: &str) -> bool {
    n.strip_prefix('+').is_some_and(|d| {
        (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

impl SmsConfig {
    /// A config with every default filled and the required keys empty.
    pub fn defaults() -> SmsConfig {
        SmsConfig {
            sdk_app_id: String::new(),
            sign_name: String::new(),
            template_id: String::new(),
            phone_numbers: Vec::new(),
            region: default_region(),
            endpoint: None,
            template_params: default_params(),
            param_max_len: default_param_max_len(),
            region_labels: Default::default(),
            secret_id_env: default_id_env(),
            secret_key_env: default_key_env(),
            session_token_env: default_token_env(),
        }
    }

    /// Check every key before any network call; errors are (key, message).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        self.validate_quoting(&|v| format!("{v:?}"))
    }

    /// [`SmsConfig::validate`], quoting values in messages with `quote`: the
    /// config passes one that shows a value from `${NAME}` as the reference.
    pub fn validate_quoting(
        &self,
        quote: &dyn Fn(&str) -> String,
    ) -> Result<(), (&'static str, String)> {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(&self.sdk_app_id) {
            return Err((
                "sdk_app_id",
                format!(
                    "{} is not an SMS application id such as \"1400006666\"",
                    quote(&self.sdk_app_id)
                ),
            ));
        }
        if !digits(&self.template_id) {
            return Err((
                "template_id",
                format!("{} is not a template id (digits)", quote(&self.template_id)),
            ));
        }
        if self.phone_numbers.is_empty() {
            return Err(("phone_numbers", "at least one number is needed".into()));
        }
        if self.phone_numbers.len() > MAX_NUMBERS {
            return Err((
                "phone_numbers",
                format!(
                    "{} numbers; SendSms takes at most {MAX_NUMBERS}",
                    self.phone_numbers.len()
                ),
            ));
        }
        for n in &self.phone_numbers {
            if !is_e164(n) {
                return Err((
                    "phone_numbers",
                    format!(
                        "{} is not an E.164 number such as \"+8613711112222\"",
                        quote(n)
                    ),
                ));
            }
        }
        let mainland = self
            .phone_numbers
            .iter()
            .filter(|n| n.starts_with("+86"))
            .count();
        if mainland != 0 && mainland != self.phone_numbers.len() {
            return Err((
                "phone_numbers",
                "mix of mainland China (+86) and other numbers; SendSms takes one kind per request, use two [[alert]] sections".into(),
            ));
        }
        if mainland > 0 && self.sign_name.trim().is_empty() {
            return Err((
                "sign_name",
                "required for mainland China numbers (the approved signature text)".into(),
            ));
        }
        if self.region.is_empty()
            || !self
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err((
                "region",
                format!("{:?} is not a region such as \"ap-guangzhou\"", self.region),
            ));
        }
        if let Some(ep) = &self.endpoint {
            match reqwest::Url::parse(ep) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => {
                    return Err((
                        "endpoint",
                        format!(
                            "{} is not an http(s) URL such as \"{DEFAULT_ENDPOINT}\"",
                            quote(ep)
                        ),
                    ))
                }
            }
        }
        if self.param_max_len == 0 {
            return Err(("param_max_len", "must be at least 1".into()));
        }
        for (region, label) in &self.region_labels {
            if label.trim().is_empty() || label.chars().count() > self.param_max_len {
                return Err((
                    "region_labels",
                    format!(
                        "the label of {region:?} must be 1 to {} characters (param_max_len)",
                        self.param_max_len
                    ),
                ));
            }
        }
        for p in &self.template_params {
            if let Some(bad) = unknown_placeholder(p) {
                return Err((
                    "template_params",
                    format!(
                        "unknown placeholder {{{bad}}} in {p:?}; known: {}",
                        PLACEHOLDERS.map(|x| format!("{{{x}}}")).join(", ")
                    ),
                ));
            }
        }
        for (k, v) in [
            ("secret_id_env", &self.secret_id_env),
            ("secret_key_env", &self.secret_key_env),
            ("session_token_env", &self.session_token_env),
        ] {
            if !is_env_name(v) {
                return Err((k, format!("{v:?} is not an environment variable name")));
            }
        }
        Ok(())
    }
}

/// Take the `type = "sms"` keys out of `section` and validate them.
fn parse(section: &mut Section) -> Result<Box<dyn ChannelSettings>, KeyError> {
    let sdk_app_id: Option<EnvString> = section.take("sdk_app_id")?;
    let sign_name: Option<EnvString> = section.take("sign_name")?;
    let template_id: Option<EnvString> = section.take("template_id")?;
    let phone_numbers: Option<Vec<EnvString>> = section.take("phone_numbers")?;
    let region: Option<String> = section.take("region")?;
    let endpoint: Option<EnvString> = section.take("endpoint")?;
    let template_params: Option<Vec<String>> = section.take("template_params")?;
    let param_max_len: Option<usize> = section.take("param_max_len")?;
    let region_labels: Option<std::collections::BTreeMap<String, String>> =
        section.take("region_labels")?;
    let secret_id_env: Option<String> = section.take("secret_id_env")?;
    let secret_key_env: Option<String> = section.take("secret_key_env")?;
    let session_token_env: Option<String> = section.take("session_token_env")?;
    for (k, v, max) in [
        ("sdk_app_id", env_str(&sdk_app_id), NAME),
        ("sign_name", env_str(&sign_name), NAME),
        ("template_id", env_str(&template_id), NAME),
        ("region", region.as_deref(), NAME),
        ("endpoint", env_str(&endpoint), URL),
        ("secret_id_env", secret_id_env.as_deref(), ENV_NAME),
        ("secret_key_env", secret_key_env.as_deref(), ENV_NAME),
        ("session_token_env", session_token_env.as_deref(), ENV_NAME),
    ] {
        check_len(k, v, max)?;
    }
    let numbers = phone_numbers.iter().flatten().map(|s| s.0.as_str());
    check_items("phone_numbers", numbers, SHORT_TEXT)?;
    let params = template_params.iter().flatten().map(String::as_str);
    check_items("template_params", params, SHORT_TEXT)?;
    let labels = region_labels
        .iter()
        .flatten()
        .flat_map(|(k, v)| [k.as_str(), v.as_str()]);
    check_items("region_labels", labels, NAME)?;

    let d = SmsConfig::defaults();
    let sdk_app_id = required(sdk_app_id, "sdk_app_id", "sms")?;
    let template_id = required(template_id, "template_id", "sms")?;
    let phone_numbers = required(phone_numbers, "phone_numbers", "sms")?;
    // Messages about these quote them as written: a value from `${NAME}`
    // shows as the reference.
    let mut written: Vec<EnvString> = vec![sdk_app_id.clone(), template_id.clone()];
    written.extend(phone_numbers.iter().cloned());
    written.extend(endpoint.iter().cloned());
    let quote = |v: &str| {
        written
            .iter()
            .find(|w| w.0 == v)
            .map_or_else(|| format!("{v:?}"), EnvString::quoted)
    };
    let cfg = SmsConfig {
        sdk_app_id: sdk_app_id.0,
        sign_name: sign_name.map(|s| s.0).unwrap_or_default(),
        template_id: template_id.0,
        phone_numbers: phone_numbers.into_iter().map(|s| s.0).collect(),
        region: region.unwrap_or(d.region),
        endpoint: endpoint.map(|e| e.0),
        template_params: template_params.unwrap_or(d.template_params),
        param_max_len: param_max_len.unwrap_or(d.param_max_len),
        region_labels: region_labels.unwrap_or_default(),
        secret_id_env: secret_id_env.unwrap_or(d.secret_id_env),
        secret_key_env: secret_key_env.unwrap_or(d.secret_key_env),
        session_token_env: session_token_env.unwrap_or(d.session_token_env),
    };
    section.finish()?;
    cfg.validate_quoting(&quote)
        .map_err(|(k, m)| (Some(k), m))?;
    Ok(Box::new(cfg))
}

impl ChannelSettings for SmsConfig {
    fn build(
        &self,
        name: &str,
        timeout: Duration,
        clock: &Arc<dyn Clock>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<dyn Notifier>, BuildError> {
        Ok(Arc::new(Sms::with_timeout(
            name,
            self.clone(),
            timeout,
            clock.clone(),
            lookup,
        )?))
    }
}

fn unknown_placeholder(s: &str) -> Option<String> {
    let mut rest = s;
    while let Some(i) = rest.find('{') {
        let tail = &rest[i + 1..];
        let j = tail.find('}')?;
        let name = &tail[..j];
        if !PLACEHOLDERS.contains(&name) {
            return Some(name.to_string());
        }
        rest = &tail[j + 1..];
    }
    None
}
