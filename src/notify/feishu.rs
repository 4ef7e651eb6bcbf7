//! Feishu / Lark custom bot: `POST <webhook>` with a text message.
//!
//! With a signing `secret`, the JSON body carries `timestamp` (seconds) and
//! `sign = base64(HMAC-SHA256(key = timestamp + "\n" + secret, msg = ""))`:
//! key and message are the other way round from DingTalk's (Feishu bot docs;
//! shared/reference/tencent-cloud.md §8.3). A reply whose `code` (or legacy
//! `StatusCode`) is not 0 is a failure. Bodies are limited to 20 KB.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use serde_json::json;

use super::config::{ChannelSettings, ChannelType, KeyError, Section, SignedWebhook};
use super::render::{self, truncate_bytes};
use super::{post_json, Alert, BuildError, Error, Notifier, Sent};
use crate::clock::Clock;

/// Text limit in bytes (the whole body must stay under 20 KB).
pub const TEXT_MAX: usize = 18_000;

/// `type = "feishu"` settings: the webhook and its optional signing secret.
pub type Config = SignedWebhook;

/// `type = "feishu"`.
pub const TYPE: ChannelType = ChannelType {
    name: "feishu",
    keys: SignedWebhook::KEYS,
    parse,
};

fn parse(section: &mut Section) -> Result<Box<dyn ChannelSettings>, KeyError> {
    let cfg = Settings(SignedWebhook::read(section)?);
    section.finish()?;
    Ok(Box::new(cfg))
}

/// The validated `type = "feishu"` settings (a [`SignedWebhook`]).
#[derive(Debug, Clone)]
pub struct Settings(pub Config);

impl ChannelSettings for Settings {
    fn build(
        &self,
        name: &str,
        timeout: Duration,
        _clock: &Arc<dyn Clock>,
        _lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<dyn Notifier>, BuildError> {
        Ok(Arc::new(Feishu::new(
            name.to_string(),
            self.0.clone(),
            timeout,
        )?))
    }
}

/// `base64(HMAC-SHA256(key = "<ts_s>\n<secret>", msg = ""))`.
pub fn sign(secret: &str, timestamp_s: i64) -> String {
    let key = format!("{timestamp_s}\n{secret}");
    let mac = crate::tencent::sign::hmac_sha256(key.as_bytes(), b"");
    base64::engine::general_purpose::STANDARD.encode(mac)
}

/// The message body; `signed` is `(timestamp_s, secret)`.
pub fn body(alert: &Alert, signed: Option<(i64, &str)>) -> serde_json::Value {
    let text = truncate_bytes(&render::text(alert), TEXT_MAX);
    let mut b = json!({"msg_type": "text", "content": {"text": text}});
    if let Some((ts, secret)) = signed {
        b["timestamp"] = json!(ts.to_string());
        b["sign"] = json!(sign(secret, ts));
    }
    b
}

/// The Feishu bot channel.
pub struct Feishu {
    name: String,
    cfg: Config,
    url: reqwest::Url,
    client: reqwest::Client,
}

impl Feishu {
    pub fn new(name: String, cfg: Config, timeout: Duration) -> Result<Self, BuildError> {
        let url = reqwest::Url::parse(cfg.webhook.expose()).map_err(|_| {
            BuildError::Setup(format!("alert {name:?}: invalid webhook URL (not shown)"))
        })?;
        Ok(Feishu {
            name,
            cfg,
            url,
            client: super::http_client(timeout)?,
        })
    }
}

#[async_trait]
impl Notifier for Feishu {
    fn channel(&self) -> &'static str {
        "feishu"
    }
    fn name(&self) -> &str {
        &self.name
    }
    async fn send(&self, alert: &Alert) -> Result<Sent, Error> {
        // Real time: Feishu rejects signatures more than an hour off its clock.
        let signed = self
            .cfg
            .secret
            .as_ref()
            .map(|s| (chrono::Utc::now().timestamp(), s.expose()));
        let mut secrets = vec![&self.cfg.webhook];
        secrets.extend(self.cfg.secret.as_ref());
        let reply = post_json(
            &self.client,
            self.url.clone(),
            &[],
            &body(alert, signed),
            &secrets,
        )
        .await?;
        check_reply(&reply)
            .map(|_| Sent::default())
            .map_err(|e| e.scrubbed(&secrets))
    }
}

/// code 9499 / 11232: too many requests (100 a minute, 5 a second per bot).
const RATE_LIMITED: [i64; 2] = [9499, 11232];

/// `code` (or the legacy `StatusCode`) 0 is success. The frequency limits
/// are rate limits; every other code (19021 sign match fail, 19024 key
/// words not found, 19001 param invalid, ...) is permanent.
fn check_reply(reply: &serde_json::Value) -> Result<(), Error> {
    let code = reply
        .get("code")
        .or_else(|| reply.get("StatusCode"))
        .and_then(|c| c.as_i64());
    match code {
        Some(0) => Ok(()),
        Some(code) => {
            let m = format!(
                "code {code}: {}",
                reply
                    .get("msg")
                    .or_else(|| reply.get("StatusMessage"))
                    .and_then(|m| m.as_str())
                    .unwrap_or("")
            );
            Err(if RATE_LIMITED.contains(&code) {
                Error::RateLimited(m)
            } else {
                Error::Rejected(m)
            })
        }
        None => Err(Error::Rejected(format!(
            "reply without code: {}",
            super::http::body_start(reply)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vector from shared/reference/tencent-cloud.md §8.3.
    #[test]
    fn signature_matches_the_reference_vector() {
        assert_eq!(
            sign("SECexample", 1_700_000_000),
            "giaCP81WKcKmxS0uSLlrqVVwRIDJGES6GpFgEr4g4C4="
        );
    }
}
