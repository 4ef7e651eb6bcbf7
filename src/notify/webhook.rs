//! Generic webhook: `POST <url>` with the [`Alert`] as JSON (plus a `text`
//! rendering), for anything we have no channel for. Any 2xx is success.
//!
//! The URL may hold a token and header values are usually credentials, so
//! both are [`Secret`]s and never appear in errors.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use super::config::{
    check_len, check_url, required, secret_str, ChannelSettings, ChannelType, KeyError, Section,
};
use super::{post_json, render, Alert, BuildError, Error, Notifier, Sent};
use crate::clock::Clock;
use crate::model::limits::string_limits::{check, HEADER_NAME, HEADER_VALUE, URL};
use crate::model::secret::Secret;

/// `type = "webhook"`.
pub const TYPE: ChannelType = ChannelType {
    name: "webhook",
    keys: &["url", "headers"],
    parse,
};

fn parse(section: &mut Section) -> Result<Box<dyn ChannelSettings>, KeyError> {
    let cfg = Config::validate(section)?;
    section.finish()?;
    Ok(Box::new(cfg))
}

/// `type = "webhook"` settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub url: Secret,
    /// Extra request headers, e.g. `Authorization`.
    pub headers: Vec<(String, Secret)>,
}

impl Config {
    /// Read the `type = "webhook"` keys from `section` and validate them.
    pub fn validate(section: &mut Section) -> Result<Config, KeyError> {
        let url: Option<Secret> = section.take("url")?;
        let headers: Option<BTreeMap<String, Secret>> = section.take("headers")?;
        check_len("url", secret_str(&url), URL)?;
        for (name, v) in headers.iter().flatten() {
            check(name, HEADER_NAME)
                .map_err(|m| (Some("headers"), format!("a header name {m}")))?;
            check(v.expose(), HEADER_VALUE)
                .map_err(|m| (Some("headers"), format!("the value of header {name:?} {m}")))?;
        }
        let url = required(url, "url", "webhook")?;
        check_url(&url, "url")?;
        let headers = headers.unwrap_or_default();
        for (k, v) in &headers {
            if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
                return Err((Some("headers"), format!("{k:?} is not a valid header name")));
            }
            if reqwest::header::HeaderValue::from_str(v.expose()).is_err() {
                return Err((
                    Some("headers"),
                    format!("the value of header {k:?} is not a valid header value (not shown)"),
                ));
            }
        }
        Ok(Config {
            url,
            headers: headers.into_iter().collect(),
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
        Ok(Arc::new(Webhook::new(
            name.to_string(),
            self.clone(),
            timeout,
        )?))
    }
}

/// What is posted: every field of [`Alert`] plus `text`.
#[derive(Serialize)]
pub struct Body<'a> {
    #[serde(flatten)]
    pub alert: &'a Alert,
    /// The plain-text rendering, for receivers that just forward it.
    pub text: String,
}

/// The generic webhook channel.
pub struct Webhook {
    name: String,
    cfg: Config,
    url: reqwest::Url,
    client: reqwest::Client,
}

impl Webhook {
    pub fn new(name: String, cfg: Config, timeout: Duration) -> Result<Self, BuildError> {
        let url = reqwest::Url::parse(cfg.url.expose())
            .map_err(|_| BuildError::Setup(format!("alert {name:?}: invalid url (not shown)")))?;
        Ok(Webhook {
            name,
            cfg,
            url,
            client: super::http_client(timeout)?,
        })
    }
}

#[async_trait]
impl Notifier for Webhook {
    fn channel(&self) -> &'static str {
        "webhook"
    }
    fn name(&self) -> &str {
        &self.name
    }
    async fn send(&self, alert: &Alert) -> Result<Sent, Error> {
        let body = serde_json::to_value(Body {
            alert,
            text: render::text(alert),
        })
        .map_err(|e| Error::Transport(format!("cannot encode the alert: {e}")))?;
        let mut secrets = vec![&self.cfg.url];
        secrets.extend(self.cfg.headers.iter().map(|(_, v)| v));
        post_json(
            &self.client,
            self.url.clone(),
            &self.cfg.headers,
            &body,
            &secrets,
        )
        .await?;
        Ok(Sent::default())
    }
}
