//! DingTalk (钉钉) custom robot: `POST <webhook>` with a markdown message.
//!
//! With 加签 (a `secret` starting with `SEC`), every request carries
//! `&timestamp=<ms>&sign=<sign>` where `sign` is
//! `urlEncode(base64(HMAC-SHA256(key = secret, msg = timestamp + "\n" + secret)))`
//! (DingTalk custom-robot docs; see shared/reference/tencent-cloud.md §8.2).
//! A reply with `errcode` other than 0 is a failure. The URL (access token)
//! and the secret never appear in errors.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use serde_json::json;

use super::config::{ChannelSettings, ChannelType, KeyError, Section, SignedWebhook};
use super::render::{self, truncate_bytes, Flavour};
use super::{post_json, Alert, BuildError, Error, Notifier, Sent};
use crate::clock::Clock;

/// Markdown text limit in bytes. DingTalk documents about 20,000 bytes per
/// message; we keep a margin for the JSON around it.
pub const TEXT_MAX: usize = 18_000;

/// `type = "dingtalk"` settings: the webhook and its optional signing secret.
pub type Config = SignedWebhook;

/// `type = "dingtalk"`.
pub const TYPE: ChannelType = ChannelType {
    name: "dingtalk",
    keys: SignedWebhook::KEYS,
    parse,
};

fn parse(section: &mut Section) -> Result<Box<dyn ChannelSettings>, KeyError> {
    let cfg = Settings(SignedWebhook::read(section)?);
    section.finish()?;
    Ok(Box::new(cfg))
}

/// The validated `type = "dingtalk"` settings (a [`SignedWebhook`]).
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
        Ok(Arc::new(Dingtalk::new(
            name.to_string(),
            self.0.clone(),
            timeout,
        )?))
    }
}

/// `base64(HMAC-SHA256(key = secret, msg = "<ts_ms>\n<secret>"))`, before URL encoding.
pub fn sign(secret: &str, timestamp_ms: i64) -> String {
    let to_sign = format!("{timestamp_ms}\n{secret}");
    let mac = crate::tencent::sign::hmac_sha256(secret.as_bytes(), to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac)
}

/// The webhook URL with `timestamp` and `sign` appended (URL-encoded).
pub fn signed_url(webhook: &reqwest::Url, secret: &str, timestamp_ms: i64) -> reqwest::Url {
    let mut u = webhook.clone();
    u.query_pairs_mut()
        .append_pair("timestamp", &timestamp_ms.to_string())
        .append_pair("sign", &sign(secret, timestamp_ms));
    u
}

/// The DingTalk robot channel.
pub struct Dingtalk {
    name: String,
    cfg: Config,
    url: reqwest::Url,
    client: reqwest::Client,
}

impl Dingtalk {
    pub fn new(name: String, cfg: Config, timeout: Duration) -> Result<Self, BuildError> {
        let url = reqwest::Url::parse(cfg.webhook.expose()).map_err(|_| {
            BuildError::Setup(format!("alert {name:?}: invalid webhook URL (not shown)"))
        })?;
        Ok(Dingtalk {
            name,
            cfg,
            url,
            client: super::http_client(timeout)?,
        })
    }
}

/// The markdown message body.
pub fn body(alert: &Alert) -> serde_json::Value {
    let text = truncate_bytes(&render::markdown(alert, Flavour::Dingtalk), TEXT_MAX);
    json!({"msgtype": "markdown", "markdown": {"title": render::subject(alert), "text": text}})
}

#[async_trait]
impl Notifier for Dingtalk {
    fn channel(&self) -> &'static str {
        "dingtalk"
    }
    fn name(&self) -> &str {
        &self.name
    }
    async fn send(&self, alert: &Alert) -> Result<Sent, Error> {
        let url = match &self.cfg.secret {
            // The signature must be within an hour of DingTalk's clock, so it
            // uses the real time, not the run's (possibly fixed) clock.
            Some(s) => signed_url(&self.url, s.expose(), chrono::Utc::now().timestamp_millis()),
            None => self.url.clone(),
        };
        let mut secrets = vec![&self.cfg.webhook];
        secrets.extend(self.cfg.secret.as_ref());
        let reply = post_json(&self.client, url, &[], &body(alert), &secrets).await?;
        check_reply(&reply)
            .map(|_| Sent::default())
            .map_err(|e| e.scrubbed(&secrets))
    }
}

/// errcode 130101: sending too fast (20 messages a minute per robot).
const RATE_LIMITED: i64 = 130101;
/// errcode -1: "system busy".
const BUSY: i64 = -1;

/// `errcode` 0 is success. 130101 is the rate limit and -1 "system busy";
/// every other code (310000 sign not match or keyword missing, 300001
/// invalid token, ...) is permanent.
fn check_reply(reply: &serde_json::Value) -> Result<(), Error> {
    match reply.get("errcode").and_then(|c| c.as_i64()) {
        Some(0) => Ok(()),
        Some(code) => {
            let m = format!(
                "errcode {code}: {}",
                reply.get("errmsg").and_then(|m| m.as_str()).unwrap_or("")
            );
            Err(match code {
                RATE_LIMITED => Error::RateLimited(m),
                BUSY => Error::Temporary(m),
                _ => Error::Rejected(m),
            })
        }
        None => Err(Error::Rejected(format!(
            "reply without errcode: {}",
            super::http::body_start(reply)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vector from shared/reference/tencent-cloud.md §8.2.
    #[test]
    fn signature_matches_the_reference_vector() {
        assert_eq!(
            sign("SECexample", 1_700_000_000_000),
            "uroalHrWHORz59talE1o26b8HuX2kOp8WlAN91F9Pj0="
        );
        let base =
            reqwest::Url::parse("https://oapi.dingtalk.com/robot/send?access_token=t").unwrap();
        let u = signed_url(&base, "SECexample", 1_700_000_000_000);
        assert_eq!(
            u.query(),
            Some("access_token=t&timestamp=1700000000000&sign=uroalHrWHORz59talE1o26b8HuX2kOp8WlAN91F9Pj0%3D")
        );
    }
}
