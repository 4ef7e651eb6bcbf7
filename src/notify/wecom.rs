//! WeCom (企业微信) group robot: `POST <webhook>` with a markdown message, and
//! an extra text message when people must be @-mentioned (markdown cannot
//! mention anyone by phone number).
//!
//! The webhook URL holds the robot's key (`?key=...`), so it is a [`Secret`]
//! and never appears in errors. Limits: markdown content 4096 bytes, text
//! content 2048 bytes (UTF-8 bytes, not characters); longer messages are cut
//! with a visible marker. A reply with `errcode` other than 0 is a failure.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::config::{
    check_items, check_len, check_url, required, secret_str, ChannelSettings, ChannelType,
    KeyError, Section,
};
use super::render::{self, truncate_bytes, Flavour};
use super::{post_json, Alert, BuildError, Error, Notifier, Sent};
use crate::clock::Clock;
use crate::model::limits::string_limits::{SHORT_TEXT, URL};
use crate::model::secret::{EnvString, Secret};

/// `type = "wecom"`.
pub const TYPE: ChannelType = ChannelType {
    name: "wecom",
    keys: &["webhook", "mentioned_mobile_list"],
    parse,
};

fn parse(section: &mut Section) -> Result<Box<dyn ChannelSettings>, KeyError> {
    let cfg = Config::validate(section)?;
    section.finish()?;
    Ok(Box::new(cfg))
}

/// Markdown content limit in bytes.
pub const MARKDOWN_MAX: usize = 4096;
/// Text content limit in bytes.
pub const TEXT_MAX: usize = 2048;

/// `type = "wecom"` settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...`
    pub webhook: Secret,
    /// Mobile numbers to @-mention (or `@all`), sent as an extra text message.
    pub mentioned_mobile_list: Vec<String>,
}

impl Config {
    /// Read the `type = "wecom"` keys from `section` and validate them.
    pub fn validate(section: &mut Section) -> Result<Config, KeyError> {
        let webhook: Option<Secret> = section.take("webhook")?;
        let mobiles: Option<Vec<EnvString>> = section.take("mentioned_mobile_list")?;
        check_len("webhook", secret_str(&webhook), URL)?;
        check_items(
            "mentioned_mobile_list",
            mobiles.iter().flatten().map(|s| s.0.as_str()),
            SHORT_TEXT,
        )?;
        let webhook = required(webhook, "webhook", "wecom")?;
        check_url(&webhook, "webhook")?;
        let mobiles = mobiles.unwrap_or_default();
        if let Some(bad) = mobiles.iter().find(|m| {
            let m = m.0.trim();
            m != "@all" && !m.chars().all(|c| c.is_ascii_digit() || c == '+')
        }) {
            return Err((
                Some("mentioned_mobile_list"),
                format!("{} is not a mobile number or \"@all\"", bad.quoted()),
            ));
        }
        let mentioned_mobile_list: Vec<String> = mobiles
            .into_iter()
            .map(|s| s.0.trim().to_string())
            .collect();
        Ok(Config {
            webhook,
            mentioned_mobile_list,
        })
    }
}

impl ChannelSettings for Config {
    fn build(
        &self,
        name: &str,
        timeout: Duration,
        _clock: &Arc<dyn Clock>,
        _lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<dyn Notifier>, BuildError> {
        Ok(Arc::new(Wecom::new(
            name.to_string(),
            self.clone(),
            timeout,
        )?))
    }
}

/// The WeCom robot channel.
pub struct Wecom {
    name: String,
    cfg: Config,
    url: reqwest::Url,
    client: reqwest::Client,
}

impl Wecom {
    pub fn new(name: String, cfg: Config, timeout: Duration) -> Result<Self, BuildError> {
        let url = reqwest::Url::parse(cfg.webhook.expose()).map_err(|_| {
            BuildError::Setup(format!("alert {name:?}: invalid webhook URL (not shown)"))
        })?;
        Ok(Wecom {
            name,
            cfg,
            url,
            client: super::http_client(timeout)?,
        })
    }

    async fn post(&self, body: serde_json::Value) -> Result<(), Error> {
        let secrets = [&self.cfg.webhook];
        let reply = post_json(&self.client, self.url.clone(), &[], &body, &secrets).await?;
        check_reply(&reply).map_err(|e| e.scrubbed(&secrets))
    }

    /// Messages one alert costs on the robot: the markdown, and the
    /// mention message when there are people to ring.
    fn messages_per_alert(&self) -> usize {
        1 + usize::from(!self.cfg.mentioned_mobile_list.is_empty())
    }
}

/// errcode 45009: the robot's limit, 20 messages a minute. Retrying within
/// the minute cannot succeed, so it is not retried in this run.
pub const RATE_LIMITED: i64 = 45009;
/// errcode -1: "system busy", documented as worth a retry.
const BUSY: i64 = -1;

/// `{"errcode":0,"errmsg":"ok"}` is success; anything else is not. Only
/// "system busy" is temporary and 45009 is the rate limit; every other
/// code (93000 invalid webhook URL, 40008 invalid message type, ...) is
/// permanent.
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

/// The markdown message body.
pub fn markdown_body(alert: &Alert) -> serde_json::Value {
    let content = truncate_bytes(&render::markdown(alert, Flavour::Wecom), MARKDOWN_MAX);
    json!({"msgtype": "markdown", "markdown": {"content": content}})
}

/// The mention message: one short line, the mobiles to ring.
pub fn mention_body(alert: &Alert, mobiles: &[String]) -> serde_json::Value {
    let content = truncate_bytes(&render::subject(alert), TEXT_MAX);
    json!({"msgtype": "text", "text": {"content": content, "mentioned_mobile_list": mobiles}})
}

#[async_trait]
impl Notifier for Wecom {
    fn channel(&self) -> &'static str {
        "wecom"
    }
    fn name(&self) -> &str {
        &self.name
    }
    async fn send(&self, alert: &Alert) -> Result<Sent, Error> {
        let cost = self.messages_per_alert();
        self.post(markdown_body(alert)).await.map_err(|e| match e {
            Error::RateLimited(m) => Error::RateLimited(format!(
                "{m} (the robot takes 20 messages a minute; this alert costs {cost}); not retried now, the next run tries again"
            )),
            e => e,
        })?;
        let mut sent = Sent::default();
        if !self.cfg.mentioned_mobile_list.is_empty() {
            // The alert itself is delivered: a failed mention is a note, and
            // the markdown is never sent again for it.
            if let Err(e) = self
                .post(mention_body(alert, &self.cfg.mentioned_mobile_list))
                .await
            {
                sent.notes.push(format!("mention message not sent: {e}"));
            }
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errcode_other_than_zero_fails() {
        assert!(check_reply(&json!({"errcode": 0, "errmsg": "ok"})).is_ok());
        let e =
            check_reply(&json!({"errcode": 93000, "errmsg": "invalid webhook url"})).unwrap_err();
        assert!(
            matches!(&e, Error::Rejected(m) if m.contains("93000")),
            "{e}"
        );
        let e = check_reply(&json!({"errcode": 45009, "errmsg": "api freq out of limit"}));
        assert!(matches!(e, Err(Error::RateLimited(_))));
        let e = check_reply(&json!("<html>gateway</html>")).unwrap_err();
        assert!(
            e.to_string()
                .contains("reply without errcode: <html>gateway"),
            "{e}"
        );
    }
}
