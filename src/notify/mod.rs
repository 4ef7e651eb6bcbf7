//! Alerts: what the people on call are told, and the channels that tell them.
//!
//! The report side turns a run into at most one [`Alert`]
//! (`RunReport::alert`); the pipeline hands it to every configured
//! [`Notifier`] concurrently ([`send_all`]), each under its own timeout with
//! one retry. A failing channel is recorded and never blocks the others or
//! undoes a DNS change. Channels get the alert only; they never see a DNS
//! client, the config or the report.
//!
//! Layout:
//! - [`alert`]: the [`Alert`] model, its title and times;
//! - [`config`]: the `[[alert]]` keys common to every channel, the
//!   [`config::CHANNELS`] registry and the [`config::Section`] each channel
//!   reads its own keys from;
//! - one file per channel: [`console`], [`email`], [`wecom`], [`sms`],
//!   [`dingtalk`], [`feishu`], [`webhook`], each with its section, its
//!   validation and its construction;
//! - [`deliver`]: [`build`], the filters ([`Channelled`]), [`send_all`];
//! - `http`: the HTTP helpers of the robot channels (client, POST, scrubbing);
//! - [`render`]: the alert as text, markdown and HTML;
//! - [`repeat`]: standing conditions (page once, remind).
//!
//! This module imports only [`crate::model`], [`crate::clock`] and
//! [`crate::tencent`] (SMS, and the HMAC of the robot signatures).

pub mod alert;
pub mod config;
pub mod console;
pub mod deliver;
pub mod dingtalk;
pub mod email;
pub mod feishu;
mod http;
pub mod render;
pub mod repeat;
pub mod sms;
pub mod webhook;
pub mod wecom;

use std::time::Duration;

use async_trait::async_trait;

pub use alert::{
    alerts_on, timezone_offset, title_of, Alert, AlertEvent, ChangeNote, RegionEvidence,
};
pub use console::Console;
pub use deliver::{build, send_all, Channelled, Delivery};
pub(crate) use http::{http_client, post_json, scrub};

/// A channel failed to deliver.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("transport: {0}")]
    Transport(String),
    /// The service answered with an error code.
    #[error("rejected: {0}")]
    Rejected(String),
}

/// A notification channel. Implementers must not log or return secrets
/// (webhook keys, tokens, passwords) in errors, and must respect their
/// service's message size limits by cutting with a visible marker.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Channel type: `console`, `email`, `wecom`, ...
    fn channel(&self) -> &'static str;
    /// The configured name of this channel instance.
    fn name(&self) -> &str;
    /// Deliver one alert.
    async fn send(&self, alert: &Alert) -> Result<(), Error>;
}

/// A channel could not be built from its settings (at the start of a pass,
/// before anything is sent). The message names the channel and never shows
/// a secret.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Credentials read from the environment are missing or unusable (SMS).
    #[error("{0}")]
    Credentials(String),
    /// The settings cannot make a working client: a URL that does not
    /// parse, a TLS set-up that fails, an HTTP client that cannot be built.
    #[error("{0}")]
    Setup(String),
}
