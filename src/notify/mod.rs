//! Alerts: what the people on call are told, and the channels that tell them.
//!
//! The report side turns a run into at most one [`Alert`]
//! (`RunReport::alert`); the pipeline hands it to every configured
//! [`Notifier`] concurrently ([`send_all`]), each under its own timeout; only
//! a failure a retry can fix is retried ([`Error::retry_now`]), and a send
//! with no answer is never repeated. A failing channel is recorded and
//! never blocks the others or undoes a DNS change; a transition no channel
//! delivered is kept and sent late ([`repeat::Pending`]). Channels get the
//! alert only; they never see a DNS client, the config or the report.
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
pub use deliver::{build, send_all, Channelled, Delivery, Outcome};
pub(crate) use http::{http_client, post_json, scrub};

/// A channel failed to deliver, or cannot say whether it did. The variant
/// says what a retry could change (see [`Error::retry_now`]): only failures
/// that happened before the message reached the service, and answers the
/// service documents as temporary, are tried again.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No answer in time, and nothing says whether the request got through.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Failed before the message reached the service (connect, TLS
    /// handshake, a refused or dropped connection): nothing was delivered.
    #[error("transport: {0}")]
    Transport(String),
    /// The service answered with a permanent error (a bad key, a refused
    /// signature, SMTP 5xx): trying again cannot succeed.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The service answered that it cannot take the message now (SMTP 4xx,
    /// HTTP 429/5xx, "system busy"): one retry.
    #[error("temporarily refused: {0}")]
    Temporary(String),
    /// Over the service's rate limit (WeCom 45009, 20 messages a minute per
    /// robot): not retried within the run, since the window is a minute.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// The request was sent and no answer came in time: the service may
    /// have delivered it. Not resent (no channel has an idempotency key).
    #[error("delivery unknown: {0}")]
    Unknown(String),
}

impl Error {
    /// The same error with `secrets` scrubbed from its text.
    pub(crate) fn scrubbed(self, secrets: &[&crate::model::secret::Secret]) -> Error {
        let s = |m: String| scrub(&m, secrets);
        match self {
            Error::Timeout(d) => Error::Timeout(d),
            Error::Transport(m) => Error::Transport(s(m)),
            Error::Rejected(m) => Error::Rejected(s(m)),
            Error::Temporary(m) => Error::Temporary(s(m)),
            Error::RateLimited(m) => Error::RateLimited(s(m)),
            Error::Unknown(m) => Error::Unknown(s(m)),
        }
    }

    /// Worth one more try within this run: nothing was delivered and the
    /// failure may pass (transport, a documented temporary answer).
    pub fn retry_now(&self) -> bool {
        matches!(self, Error::Transport(_) | Error::Temporary(_))
    }
}

/// A channel delivered the alert. `notes` say what went only partly well:
/// a recipient the mail server refused, a mention message that failed
/// after the alert itself was delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    pub notes: Vec<String>,
}

/// A notification channel. Implementers must not log or return secrets
/// (webhook keys, tokens, passwords) in errors, and must respect their
/// service's message size limits by cutting with a visible marker. They
/// classify each failure by what a retry could change ([`Error`]), and
/// never send the same message twice themselves.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Channel type: `console`, `email`, `wecom`, ...
    fn channel(&self) -> &'static str;
    /// The configured name of this channel instance.
    fn name(&self) -> &str;
    /// Deliver one alert.
    async fn send(&self, alert: &Alert) -> Result<Sent, Error>;
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
