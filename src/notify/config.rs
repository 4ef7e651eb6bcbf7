//! `[[alert]]` sections: one per channel. The keys common to every channel
//! (`type`, `name`, `min_severity`, `events`, `timeout`, `repeat_every`) are
//! validated here; each channel's own keys by its file's `validate`
//! (`email.rs`, `wecom.rs`, ...), before any network call. Secrets are
//! [`Secret`]s, read from `${ENV}` placeholders.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{duration_limits, EnvString, HumanDuration, Secret};
use crate::decide::{EventKind, Severity};

/// The raw `[[alert]]` table as written in the file. One flat table for every
/// channel type; a key that the chosen `type` does not use is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlert {
    #[serde(rename = "type")]
    pub kind: String,
    /// A label for reports; default: the type.
    pub name: Option<String>,
    pub min_severity: Option<String>,
    pub events: Option<Vec<String>>,
    /// Per-try timeout of this channel; default 5 s.
    pub timeout: Option<HumanDuration>,
    /// Remind about a standing condition (all targets down, ...) this often.
    pub repeat_every: Option<HumanDuration>,
    // -- email
    pub smtp_host: Option<EnvString>,
    pub smtp_port: Option<i64>,
    pub tls: Option<String>,
    pub username: Option<EnvString>,
    pub password: Option<Secret>,
    pub from: Option<EnvString>,
    pub to: Option<Vec<EnvString>>,
    pub ca_file: Option<EnvString>,
    // -- wecom, dingtalk, feishu
    pub webhook: Option<Secret>,
    pub secret: Option<Secret>,
    pub mentioned_mobile_list: Option<Vec<EnvString>>,
    // -- webhook
    pub url: Option<Secret>,
    pub headers: Option<BTreeMap<String, Secret>>,
    // -- sms (Tencent Cloud SendSms)
    pub sdk_app_id: Option<EnvString>,
    pub sign_name: Option<EnvString>,
    pub template_id: Option<EnvString>,
    pub phone_numbers: Option<Vec<EnvString>>,
    pub region: Option<String>,
    pub endpoint: Option<EnvString>,
    pub template_params: Option<Vec<String>>,
    pub param_max_len: Option<usize>,
    pub secret_id_env: Option<String>,
    pub secret_key_env: Option<String>,
    pub session_token_env: Option<String>,
}

/// Error of one `[[alert]]`: (key, message).
pub type KeyError = (Option<&'static str>, String);

impl RawAlert {
    /// The first channel-specific key that is set, with its name. Each
    /// channel's `validate` takes the keys it uses, then calls this to reject
    /// the rest ("`smtp_host` does not apply to type wecom").
    pub fn leftover(&self) -> Option<&'static str> {
        [
            ("smtp_host", self.smtp_host.is_some()),
            ("smtp_port", self.smtp_port.is_some()),
            ("tls", self.tls.is_some()),
            ("username", self.username.is_some()),
            ("password", self.password.is_some()),
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("ca_file", self.ca_file.is_some()),
            ("webhook", self.webhook.is_some()),
            ("secret", self.secret.is_some()),
            (
                "mentioned_mobile_list",
                self.mentioned_mobile_list.is_some(),
            ),
            ("url", self.url.is_some()),
            ("headers", self.headers.is_some()),
            ("sdk_app_id", self.sdk_app_id.is_some()),
            ("sign_name", self.sign_name.is_some()),
            ("template_id", self.template_id.is_some()),
            ("phone_numbers", self.phone_numbers.is_some()),
            ("region", self.region.is_some()),
            ("endpoint", self.endpoint.is_some()),
            ("template_params", self.template_params.is_some()),
            ("param_max_len", self.param_max_len.is_some()),
            ("secret_id_env", self.secret_id_env.is_some()),
            ("secret_key_env", self.secret_key_env.is_some()),
            ("session_token_env", self.session_token_env.is_some()),
        ]
        .into_iter()
        .find(|(_, set)| *set)
        .map(|(k, _)| k)
    }

    pub fn reject_leftover(&self) -> Result<(), KeyError> {
        match self.leftover() {
            None => Ok(()),
            Some(k) => Err((
                Some(k),
                format!("`{k}` does not apply to an alert of type {:?}", self.kind),
            )),
        }
    }
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
    /// Per-try timeout (one retry follows a failed try); default 5 s.
    pub timeout: Duration,
    /// Reminder period for standing conditions; default none (alert once).
    pub repeat_every: Option<Duration>,
    pub channel: Channel,
}

/// Default per-try timeout of a channel.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Channel-specific settings.
#[derive(Debug, Clone)]
pub enum Channel {
    /// Print the alert to standard error.
    Console,
    Email(super::email::Config),
    Wecom(super::wecom::Config),
    Dingtalk(super::dingtalk::Config),
    Feishu(super::feishu::Config),
    Webhook(super::webhook::Config),
    /// Tencent Cloud SMS (SendSms).
    Sms(super::sms::SmsConfig),
}

const TYPES: &str =
    "\"console\", \"email\", \"wecom\", \"sms\", \"dingtalk\", \"feishu\" or \"webhook\"";

/// Validate one `[[alert]]`; on error returns (key, message).
pub fn validate(mut raw: RawAlert) -> Result<AlertConfig, KeyError> {
    check_lengths(&raw)?;
    let min_severity = match raw.min_severity.as_deref() {
        None => Severity::Info,
        Some(s) => Severity::parse(s).ok_or((
            Some("min_severity"),
            format!("unknown severity {s:?}; expected \"info\", \"warning\" or \"critical\""),
        ))?,
    };
    let events = match raw.events.take() {
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
    let timeout = raw.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
    if timeout.is_zero() || timeout > duration_limits::ALERT_TIMEOUT {
        return Err((
            Some("timeout"),
            "must be between 1ms and 60s (each try; one retry follows)".into(),
        ));
    }
    let repeat_every = raw.repeat_every.map(|d| d.0);
    if repeat_every.is_some_and(|d| d < Duration::from_secs(60)) {
        return Err((
            Some("repeat_every"),
            "must be at least 1m (runs are a minute apart)".into(),
        ));
    }
    if repeat_every.is_some_and(|d| d > duration_limits::REPEAT_EVERY) {
        return Err((
            Some("repeat_every"),
            "must be at most 7days (without it a standing condition pages once)".into(),
        ));
    }
    let channel = match raw.kind.as_str() {
        "console" => {
            raw.reject_leftover()?;
            Channel::Console
        }
        "email" => Channel::Email(super::email::Config::validate(&mut raw)?),
        "wecom" => Channel::Wecom(super::wecom::Config::validate(&mut raw)?),
        "dingtalk" => Channel::Dingtalk(SignedWebhook::validate(&mut raw, "dingtalk")?),
        "feishu" => Channel::Feishu(SignedWebhook::validate(&mut raw, "feishu")?),
        "webhook" => Channel::Webhook(super::webhook::Config::validate(&mut raw)?),
        "sms" => Channel::Sms(sms_from_raw(&mut raw)?),
        other => {
            return Err((
                Some("type"),
                format!("unknown alert type {other:?}; expected {TYPES}"),
            ))
        }
    };
    Ok(AlertConfig {
        name: raw.name.unwrap_or_else(|| raw.kind.clone()),
        min_severity,
        events,
        timeout,
        repeat_every,
        channel,
    })
}

/// Every string of one `[[alert]]` within its limit
/// ([`crate::config::string_limits`]), before any check that could echo one.
/// The message gives the length, never the value (most are secrets).
fn check_lengths(raw: &RawAlert) -> Result<(), KeyError> {
    use crate::config::env_str as one;
    use crate::config::string_limits::*;
    fn secret(v: &Option<Secret>) -> Option<&str> {
        v.as_ref().map(|v| v.expose())
    }
    let singles = [
        ("type", Some(raw.kind.as_str()), WORD),
        ("name", raw.name.as_deref(), NAME),
        ("min_severity", raw.min_severity.as_deref(), WORD),
        ("smtp_host", one(&raw.smtp_host), HOST),
        ("tls", raw.tls.as_deref(), WORD),
        ("username", one(&raw.username), SHORT_TEXT),
        ("password", secret(&raw.password), TEXT),
        ("from", one(&raw.from), SHORT_TEXT),
        ("ca_file", one(&raw.ca_file), PATH),
        ("webhook", secret(&raw.webhook), URL),
        ("secret", secret(&raw.secret), TEXT),
        ("url", secret(&raw.url), URL),
        ("sdk_app_id", one(&raw.sdk_app_id), NAME),
        ("sign_name", one(&raw.sign_name), NAME),
        ("template_id", one(&raw.template_id), NAME),
        ("region", raw.region.as_deref(), NAME),
        ("endpoint", one(&raw.endpoint), URL),
        ("secret_id_env", raw.secret_id_env.as_deref(), ENV_NAME),
        ("secret_key_env", raw.secret_key_env.as_deref(), ENV_NAME),
        (
            "session_token_env",
            raw.session_token_env.as_deref(),
            ENV_NAME,
        ),
    ];
    for (k, v, max) in singles {
        if let Some(v) = v {
            check(v, max).map_err(|m| (Some(k), m))?;
        }
    }
    let env_list = |v: &Option<Vec<EnvString>>| -> Vec<String> {
        v.iter().flatten().map(|s| s.0.clone()).collect()
    };
    let lists = [
        ("events", raw.events.clone().unwrap_or_default(), WORD),
        ("to", env_list(&raw.to), SHORT_TEXT),
        (
            "mentioned_mobile_list",
            env_list(&raw.mentioned_mobile_list),
            SHORT_TEXT,
        ),
        ("phone_numbers", env_list(&raw.phone_numbers), SHORT_TEXT),
        (
            "template_params",
            raw.template_params.clone().unwrap_or_default(),
            SHORT_TEXT,
        ),
    ];
    for (k, items, max) in lists {
        for (i, v) in items.iter().enumerate() {
            check(v, max).map_err(|m| (Some(k), format!("item {} {m}", i + 1)))?;
        }
    }
    for (name, v) in raw.headers.iter().flatten() {
        check(name, HEADER_NAME).map_err(|m| (Some("headers"), format!("a header name {m}")))?;
        check(v.expose(), HEADER_VALUE)
            .map_err(|m| (Some("headers"), format!("the value of header {name:?} {m}")))?;
    }
    Ok(())
}

/// A required key, taken out of the raw table.
pub fn required<T>(v: Option<T>, key: &'static str, kind: &str) -> Result<T, KeyError> {
    v.ok_or_else(|| (Some(key), format!("required for an alert of type {kind:?}")))
}

/// Check a webhook URL without ever echoing it (the URL holds the key).
pub fn check_url(url: &Secret, key: &'static str) -> Result<(), KeyError> {
    match reqwest::Url::parse(url.expose()) {
        Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host().is_some() => Ok(()),
        Ok(_) => Err((Some(key), "must be an http(s) URL with a host".into())),
        Err(e) => Err((Some(key), format!("not a valid URL ({e}); value not shown"))),
    }
}

/// `alert_timezone` must be a zone we can render times in.
pub fn validate_timezone(tz: &str) -> Result<(), String> {
    crate::notify::timezone_offset(tz)
        .map(|_| ())
        .ok_or_else(|| format!("unknown time zone {tz:?}; expected an IANA name such as \"Asia/Shanghai\" or \"UTC\""))
}

/// Take the `type = "sms"` keys out of the raw table and validate them.
fn sms_from_raw(raw: &mut RawAlert) -> Result<super::sms::SmsConfig, KeyError> {
    use super::sms;
    let d = sms::SmsConfig::defaults();
    let sdk_app_id = required(raw.sdk_app_id.take(), "sdk_app_id", "sms")?;
    let template_id = required(raw.template_id.take(), "template_id", "sms")?;
    let phone_numbers = required(raw.phone_numbers.take(), "phone_numbers", "sms")?;
    let endpoint = raw.endpoint.take();
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
    let cfg = sms::SmsConfig {
        sdk_app_id: sdk_app_id.0,
        sign_name: raw.sign_name.take().map(|s| s.0).unwrap_or_default(),
        template_id: template_id.0,
        phone_numbers: phone_numbers.into_iter().map(|s| s.0).collect(),
        region: raw.region.take().unwrap_or(d.region),
        endpoint: endpoint.map(|e| e.0),
        template_params: raw.template_params.take().unwrap_or(d.template_params),
        param_max_len: raw.param_max_len.take().unwrap_or(d.param_max_len),
        secret_id_env: raw.secret_id_env.take().unwrap_or(d.secret_id_env),
        secret_key_env: raw.secret_key_env.take().unwrap_or(d.secret_key_env),
        session_token_env: raw.session_token_env.take().unwrap_or(d.session_token_env),
    };
    raw.reject_leftover()?;
    cfg.validate_quoting(&quote)
        .map_err(|(k, m)| (Some(k), m))?;
    Ok(cfg)
}

/// A chat robot's webhook and its optional signing secret: the settings of
/// `type = "dingtalk"` and `type = "feishu"` (they differ in how they sign).
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    /// The robot URL; it holds the access token, so it is a secret.
    pub webhook: Secret,
    /// Signing secret (DingTalk 加签 `SEC...`, Feishu 签名校验), if the robot has one.
    pub secret: Option<Secret>,
}

impl SignedWebhook {
    pub fn validate(raw: &mut RawAlert, kind: &str) -> Result<SignedWebhook, KeyError> {
        let webhook = required(raw.webhook.take(), "webhook", kind)?;
        check_url(&webhook, "webhook")?;
        let secret = raw.secret.take().filter(|s| !s.is_empty());
        raw.reject_leftover()?;
        Ok(SignedWebhook { webhook, secret })
    }
}
