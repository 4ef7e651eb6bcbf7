//! Generic webhook: `POST <url>` with the [`Alert`] as JSON (plus a `text`
//! rendering), for anything we have no channel for. Any 2xx is success.
//!
//! The URL may hold a token and header values are usually credentials, so
//! both are [`Secret`]s and never appear in errors.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use super::config::{check_url, required, KeyError, RawAlert};
use super::{post_json, render, Alert, Error, Notifier};
use crate::config::Secret;

/// `type = "webhook"` settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub url: Secret,
    /// Extra request headers, e.g. `Authorization`.
    pub headers: Vec<(String, Secret)>,
}

impl Config {
    pub fn validate(raw: &mut RawAlert) -> Result<Config, KeyError> {
        let url = required(raw.url.take(), "url", "webhook")?;
        check_url(&url, "url")?;
        let headers: BTreeMap<String, Secret> = raw.headers.take().unwrap_or_default();
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
        raw.reject_leftover()?;
        Ok(Config {
            url,
            headers: headers.into_iter().collect(),
        })
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
    pub fn new(name: String, cfg: Config, timeout: Duration) -> Result<Self, String> {
        let url = reqwest::Url::parse(cfg.url.expose())
            .map_err(|_| format!("alert {name:?}: invalid url (not shown)"))?;
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
    async fn send(&self, alert: &Alert) -> Result<(), Error> {
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
        Ok(())
    }
}
