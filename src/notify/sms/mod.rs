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
//! `{regions}` shows each region's short label ([`short_labels`]): the
//! configured `region_labels`, else a short form unique among the alert's
//! regions, since a 6-character cut makes `ap-shanghai` and
//! `ap-shenzhen-fsi` the same.
//!
//! `SendSms` can succeed as a request while single numbers fail: every
//! number's `Code` is checked. Some numbers sent: delivered, with the others
//! named in a note (masked); none: the channel failed. Nothing is ever sent
//! twice to a number that accepted it: the only retries are of failures
//! before SendSms was answered, and a SendSms with no answer within the
//! channel's `timeout` is `unknown` (it may have gone out). Credentials are
//! read from the environment when the channel is built (once per run).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

mod config;

pub use config::{is_e164, SmsConfig, DEFAULT_ENDPOINT, MAX_NUMBERS, TYPE};

use super::{Alert, BuildError, Error, Notifier, Sent};
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
/// Regions are shown by their short labels ([`short_labels`]): a region's
/// full name rarely survives the 6-character cut. A `notify-test` alert
/// has no events, so its names read `test` rather than nothing (SendSms
/// refuses empty variables).
pub fn fill(
    template: &str,
    alert: &Alert,
    max: usize,
    labels: &std::collections::BTreeMap<String, String>,
) -> String {
    let test = |v: String| {
        if alert.test && v.is_empty() {
            "test".to_string()
        } else {
            v
        }
    };
    let names = test(unique(alert.events.iter().map(|e| e.event.group.clone())).join(","));
    let kinds = test(
        unique(
            alert
                .events
                .iter()
                .map(|e| e.event.kind.as_str().to_string()),
        )
        .join(","),
    );
    let regions = unique(
        alert
            .events
            .iter()
            .flat_map(|e| e.event.regions.iter().cloned()),
    );
    let regions = test(short_labels(&regions, labels).join(","));
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

/// Each region's SMS label: the configured one (`region_labels`), else a
/// short form unique among `regions`: the region's name without its
/// continent prefix (`ap-`, `na-`, ...), its first word cut to the fewest
/// letters (at least 2) that tell the regions apart, plus the first letter
/// of each further word: `ap-shanghai` -> `sh`, `ap-shenzhen-fsi` -> `shf`;
/// `ap-shanghai` beside `ap-shenzhen` -> `sha`, `she`.
pub fn short_labels(
    regions: &[String],
    labels: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    let words = |r: &str| -> Vec<String> {
        let mut w: Vec<String> = r.split(['-', '_', '.']).map(str::to_string).collect();
        if w.len() > 1 && w[0].len() == 2 {
            w.remove(0);
        }
        w
    };
    let short = |r: &str, n: usize| -> String {
        let w = words(r);
        let mut s: String = w[0].chars().take(n).collect();
        for x in &w[1..] {
            s.extend(x.chars().next());
        }
        s
    };
    let longest = regions.iter().map(|r| r.len()).max().unwrap_or(0);
    let auto: Vec<&String> = regions
        .iter()
        .filter(|r| !labels.contains_key(*r))
        .collect();
    let n = (2..=longest.max(2))
        .find(|&n| {
            let mut seen: Vec<String> = labels.values().cloned().collect();
            auto.iter().all(|r| {
                let s = short(r, n);
                let fresh = !seen.contains(&s);
                seen.push(s);
                fresh
            })
        })
        .unwrap_or(longest);
    regions
        .iter()
        .map(|r| labels.get(r).cloned().unwrap_or_else(|| short(r, n)))
        .collect()
}

/// The `[[alert]]` default `timeout`, for [`Sms::new`].
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

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
        Self::with_timeout(name, cfg, DEFAULT_TIMEOUT, clock, lookup)
    }

    /// [`Sms::new`] with the channel's `timeout`: one SendSms waits that
    /// long for its answer. The API client retries only what failed before
    /// the request was answered within that same time (a refused
    /// connection, a throttle); a SendSms that got no answer may have gone
    /// out, so it is never sent again (see [`Error::Unknown`]).
    pub fn with_timeout(
        name: impl Into<String>,
        cfg: SmsConfig,
        timeout: Duration,
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
            // Per try and for the whole call: a try that timed out leaves
            // no time for another, so an unanswered SendSms is not resent.
            timeout,
            timeout,
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
            .map(|t| fill(t, alert, self.cfg.param_max_len, &self.cfg.region_labels))
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

/// What a failed SendSms means for delivery. No answer in time: the SMS
/// may have gone out (tried: answers after 3.5 s were delivered), so it is
/// `Unknown` and not resent. A refused or dropped connection, a 5xx or a
/// throttle: nothing was sent, worth one more try. Every other API error
/// (`AuthFailure*`, `FailedOperation.SignatureIncorrectOrUnapproved`, a
/// template refused, ...) is permanent. A 200 that is not an API answer
/// may have been sent as well.
fn map_error(e: tencent::Error) -> Error {
    let text = e.to_string();
    match e.last() {
        tencent::Error::Timeout(d) => Error::Unknown(format!(
            "no answer to SendSms within {}; the SMS may have been sent",
            humantime::format_duration(*d)
        )),
        tencent::Error::Api { code, .. } if tencent::is_retryable_code(code) => {
            Error::Temporary(text)
        }
        tencent::Error::Api { .. } => Error::Rejected(text),
        tencent::Error::Http { status, .. } if *status >= 500 || *status == 429 => {
            Error::Temporary(text)
        }
        tencent::Error::Http { .. } => Error::Rejected(text),
        tencent::Error::Decode(_) => Error::Unknown(text),
        _ => Error::Transport(text),
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
    async fn send(&self, alert: &Alert) -> Result<Sent, Error> {
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
        let total = self.cfg.phone_numbers.len();
        if failed.is_empty() {
            tracing::debug!(numbers = total, request_id = %reply.request_id, "sms sent");
            Ok(Sent::default())
        } else if failed.len() < total {
            // Delivered to the others: a number the API refused is named,
            // and nothing is sent again (the accepted numbers have it).
            Ok(Sent {
                notes: vec![format!(
                    "{} of {total} numbers not sent: {} (RequestId {})",
                    failed.len(),
                    failed.join("; "),
                    reply.request_id
                )],
            })
        } else {
            Err(Error::Rejected(format!(
                "{} of {total} numbers not sent: {} (RequestId {})",
                failed.len(),
                failed.join("; "),
                reply.request_id
            )))
        }
    }
}

#[cfg(test)]
mod tests;
