//! The `sms` channel: Tencent Cloud SMS `SendSms` (service `sms`, version
//! `2021-01-11`, `X-TC-Region` required) through [`crate::tencent::Client`].
//!
//! An SMS carries an approved template whose variables we fill per alert from
//! `template_params` with placeholders: `{name}` (group names), `{event}`
//! (event kinds), `{regions}`, `{severity}`, `{prober}`, `{time}` (`HH:MM` in
//! the alert's time zone). Each value is cut to `param_max_len` characters:
//! accounts opened after 2024-01-25 get 6 characters per variable by default
//! (reference §4), and a longer value fails the whole send with
//! `InvalidParameterValue.TemplateParameterLengthLimit`.
//!
//! `SendSms` can succeed as a request while single numbers fail: every
//! number's `Code` is checked, and any number not sent makes the channel fail
//! with its code (numbers masked in the message). Credentials are read from
//! the environment when the channel is built (once per run).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

mod config;

pub use config::{is_e164, SmsConfig, DEFAULT_ENDPOINT, MAX_NUMBERS, TYPE};

use super::{Alert, BuildError, Error, Notifier};
use crate::clock::Clock;
use crate::tencent::{self, Client, ClientOptions, Credentials, Service};

/// Tencent Cloud SMS; SendSms allows 3000 requests/s (reference §2).
pub static SERVICE: Service = Service {
    name: "sms",
    version: "2021-01-11",
    rate_limits: &[("SendSms", 3000)],
};

/// `+8613711112222` -> `+86137****2222`, for messages and logs.
pub fn mask(n: &str) -> String {
    let chars: Vec<char> = n.chars().collect();
    if chars.len() <= 8 {
        return "****".into();
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Fill one template parameter for `alert` and cut it to `max` characters.
pub fn fill(template: &str, alert: &Alert, max: usize) -> String {
    let names = unique(alert.events.iter().map(|e| e.event.group.clone())).join(",");
    let kinds = unique(
        alert
            .events
            .iter()
            .map(|e| e.event.kind.as_str().to_string()),
    )
    .join(",");
    let regions = unique(
        alert
            .events
            .iter()
            .flat_map(|e| e.event.regions.iter().cloned()),
    )
    .join(",");
    let local = alert.at + super::timezone_offset(&alert.timezone).unwrap_or_default();
    let s = template
        .replace("{name}", &names)
        .replace("{event}", &kinds)
        .replace("{regions}", &regions)
        .replace("{severity}", alert.severity.as_str())
        .replace("{prober}", &alert.prober)
        .replace("{time}", &local.format("%H:%M").to_string());
    s.chars().take(max).collect()
}

/// The SMS channel.
#[derive(Debug)]
pub struct Sms {
    name: String,
    cfg: SmsConfig,
    client: Client,
}

impl Sms {
    /// Build the channel, reading its credentials through `lookup` (the
    /// config's settings) now. `cfg` must have passed [`SmsConfig::validate`].
    pub fn new(
        name: impl Into<String>,
        cfg: SmsConfig,
        clock: Arc<dyn Clock>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Sms, BuildError> {
        let creds = Credentials::from_lookup(
            &cfg.secret_id_env,
            &cfg.secret_key_env,
            &cfg.session_token_env,
            lookup,
        )
        .map_err(|e| BuildError::Credentials(e.to_string()))?;
        let mut opts = ClientOptions::new(
            cfg.endpoint
                .clone()
                .unwrap_or_else(|| DEFAULT_ENDPOINT.into()),
            // Inside the pipeline's per-channel timeout (5 s, one retry).
            Duration::from_secs(3),
            Duration::from_secs(4),
        );
        opts.region = Some(cfg.region.clone());
        Ok(Sms {
            name: name.into(),
            client: Client::new(&SERVICE, creds, opts, clock)
                .map_err(|e| BuildError::Setup(e.to_string()))?,
            cfg,
        })
    }

    /// The `TemplateParamSet` for `alert`.
    pub fn params(&self, alert: &Alert) -> Vec<String> {
        self.cfg
            .template_params
            .iter()
            .map(|t| fill(t, alert, self.cfg.param_max_len))
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendReply {
    #[serde(default)]
    send_status_set: Vec<SendStatus>,
    #[serde(default)]
    request_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendStatus {
    phone_number: String,
    code: String,
    #[serde(default)]
    message: String,
}

fn map_error(e: tencent::Error) -> Error {
    match e.last() {
        tencent::Error::Api { .. } => Error::Rejected(e.to_string()),
        _ => Error::Transport(e.to_string()),
    }
}

#[async_trait]
impl Notifier for Sms {
    fn channel(&self) -> &'static str {
        "sms"
    }
    fn name(&self) -> &str {
        &self.name
    }
    async fn send(&self, alert: &Alert) -> Result<(), Error> {
        let mut body = json!({
            "PhoneNumberSet": self.cfg.phone_numbers,
            "SmsSdkAppId": self.cfg.sdk_app_id,
            "TemplateId": self.cfg.template_id,
            "TemplateParamSet": self.params(alert),
        });
        if !self.cfg.sign_name.is_empty() {
            body["SignName"] = json!(self.cfg.sign_name);
        }
        let reply: SendReply = self
            .client
            .call("SendSms", &body)
            .await
            .map_err(map_error)?;
        // Numbers may come back normalised (`+86...`); compare digits only.
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        let mut failed = Vec::new();
        for n in &self.cfg.phone_numbers {
            let status = reply.send_status_set.iter().find(|s| {
                digits(&s.phone_number).ends_with(&digits(n))
                    || digits(n).ends_with(&digits(&s.phone_number))
            });
            match status {
                Some(s) if s.code == "Ok" => {}
                Some(s) => failed.push(format!("{}: {} ({})", mask(n), s.code, s.message)),
                None => failed.push(format!("{}: no status returned", mask(n))),
            }
        }
        // The per-number messages are the server's words too.
        let failed: Vec<String> = failed.iter().map(|f| self.client.redact(f)).collect();
        if failed.is_empty() {
            tracing::debug!(numbers = self.cfg.phone_numbers.len(), request_id = %reply.request_id, "sms sent");
            Ok(())
        } else {
            Err(Error::Rejected(format!(
                "{} of {} numbers not sent: {} (RequestId {})",
                failed.len(),
                self.cfg.phone_numbers.len(),
                failed.join("; "),
                reply.request_id
            )))
        }
    }
}

#[cfg(test)]
mod tests;
