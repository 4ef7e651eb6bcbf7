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
use super::{post_json, Alert, BuildError, Error, Notifier};
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
        check_reply(&reply).map_err(|m| Error::Rejected(super::scrub(&m, &secrets)))
    }
}

/// `{"errcode":0,"errmsg":"ok"}` is success; anything else is not.
fn check_reply(reply: &serde_json::Value) -> Result<(), String> {
    match reply.get("errcode").and_then(|c| c.as_i64()) {
        Some(0) => Ok(()),
        Some(code) => Err(format!(
            "errcode {code}: {}",
            reply.get("errmsg").and_then(|m| m.as_str()).unwrap_or("")
        )),
        None => Err("reply without errcode".into()),
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
    async fn send(&self, alert: &Alert) -> Result<(), Error> {
        self.post(markdown_body(alert)).await?;
        if !self.cfg.mentioned_mobile_list.is_empty() {
            self.post(mention_body(alert, &self.cfg.mentioned_mobile_list))
                .await?;
        }
        Ok(())
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
        assert!(e.contains("93000"), "{e}");
        assert!(check_reply(&json!({})).is_err());
    }
}
