//! E-mail over SMTP (lettre, rustls): one message per alert, with a plain-text
//! and an HTML part (`multipart/alternative`). The subject is
//! `[SEVERITY] title`, which carries `[DRILL]` or `[TEST]` when it applies.
//!
//! `tls`: `none` (plain SMTP, port 25: only on a trusted network), `starttls`
//! (port 587, upgrade required, never falls back to plain) or `tls` (implicit
//! TLS, port 465). Certificates are checked against the Mozilla roots
//! (webpki-roots) plus, with `ca_file`, a private CA's PEM certificates: that
//! is how a relay with an internal CA is trusted. There is no switch to turn
//! verification off. The password never appears in errors, whole or as the
//! base64 of an AUTH line.
//!
//! The session is driven step by step: each step has the channel's timeout
//! and names itself in errors (`timed out after 5s waiting for the answer
//! to AUTH`); every recipient is asked on its own, so a refused address
//! (`550`, `451`) is a note and the others still get the message; after the
//! message is sent, no answer means `unknown` (it may have been delivered),
//! never a resend. Each message has a `Message-ID` at the sender's domain.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::Error as SmtpError;
use lettre::Message;

use std::sync::Arc;

use super::config::{
    check_items, check_len, env_str, required, secret_str, ChannelSettings, ChannelType, KeyError,
    Section,
};
use super::http::{chain, scrub};
use super::{render, Alert, BuildError, Error, Notifier, Sent};
use crate::clock::Clock;
use crate::model::limits::string_limits::{HOST, PATH, SHORT_TEXT, TEXT, WORD};
use crate::model::secret::{EnvString, Secret};

/// `type = "email"`.
pub const TYPE: ChannelType = ChannelType {
    name: "email",
    keys: &[
        "smtp_host",
        "smtp_port",
        "tls",
        "username",
        "password",
        "from",
        "to",
        "ca_file",
    ],
    parse,
};

fn parse(section: &mut Section) -> Result<Box<dyn ChannelSettings>, KeyError> {
    let raw = Raw::read(section)?;
    let cfg = Config::validate(raw)?;
    section.finish()?;
    Ok(Box::new(cfg))
}

/// The `type = "email"` keys as written.
#[derive(Debug, Default)]
pub struct Raw {
    pub smtp_host: Option<EnvString>,
    pub smtp_port: Option<i64>,
    pub tls: Option<String>,
    pub username: Option<EnvString>,
    pub password: Option<Secret>,
    pub from: Option<EnvString>,
    pub to: Option<Vec<EnvString>>,
    pub ca_file: Option<EnvString>,
}

impl Raw {
    /// Take the e-mail keys out of `section` and check their lengths.
    pub fn read(section: &mut Section) -> Result<Raw, KeyError> {
        let raw = Raw {
            smtp_host: section.take("smtp_host")?,
            smtp_port: section.take("smtp_port")?,
            tls: section.take("tls")?,
            username: section.take("username")?,
            password: section.take("password")?,
            from: section.take("from")?,
            to: section.take("to")?,
            ca_file: section.take("ca_file")?,
        };
        check_len("smtp_host", env_str(&raw.smtp_host), HOST)?;
        check_len("tls", raw.tls.as_deref(), WORD)?;
        check_len("username", env_str(&raw.username), SHORT_TEXT)?;
        check_len("password", secret_str(&raw.password), TEXT)?;
        check_len("from", env_str(&raw.from), SHORT_TEXT)?;
        check_len("ca_file", env_str(&raw.ca_file), PATH)?;
        check_items(
            "to",
            raw.to.iter().flatten().map(|s| s.0.as_str()),
            SHORT_TEXT,
        )?;
        Ok(raw)
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    None,
    Starttls,
    Tls,
}

/// `type = "email"` settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub smtp_host: String,
    /// Default: 25 (`none`), 587 (`starttls`), 465 (`tls`).
    pub smtp_port: u16,
    /// Default `starttls`.
    pub tls: TlsMode,
    /// Login; with `password`, AUTH PLAIN/LOGIN (whichever the server offers).
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    /// PEM certificates of an extra CA to trust (read at config load).
    pub ca_pem: Option<Vec<u8>>,
}

impl Config {
    pub fn validate(mut raw: Raw) -> Result<Config, KeyError> {
        let smtp_host = required(raw.smtp_host.take(), "smtp_host", "email")?.0;
        if smtp_host.trim().is_empty() {
            return Err((Some("smtp_host"), "must not be empty".into()));
        }
        let tls = match raw.tls.take().as_deref() {
            None | Some("starttls") => TlsMode::Starttls,
            Some("tls") => TlsMode::Tls,
            Some("none") => TlsMode::None,
            Some(o) => {
                return Err((
                    Some("tls"),
                    format!("unknown tls mode {o:?}; expected \"none\", \"starttls\" or \"tls\""),
                ))
            }
        };
        let smtp_port = match raw.smtp_port.take() {
            None => match tls {
                TlsMode::None => 25,
                TlsMode::Starttls => 587,
                TlsMode::Tls => 465,
            },
            Some(p) => u16::try_from(p)
                .ok()
                .filter(|p| *p > 0)
                .ok_or((Some("smtp_port"), format!("{p} is not a TCP port")))?,
        };
        let username = raw.username.take().map(|u| u.0).filter(|u| !u.is_empty());
        let password = raw.password.take();
        if username.is_some() != password.is_some() {
            return Err((
                Some(if username.is_some() {
                    "password"
                } else {
                    "username"
                }),
                "username and password go together".into(),
            ));
        }
        let from = required(raw.from.take(), "from", "email")?;
        let from = Mailbox::from_str(&from.0)
            .map_err(|e| (Some("from"), format!("{}: {e}", from.quoted())))?;
        let to_raw = required(raw.to.take(), "to", "email")?;
        if to_raw.is_empty() {
            return Err((Some("to"), "needs at least one address".into()));
        }
        let mut to = Vec::new();
        for t in to_raw {
            to.push(
                Mailbox::from_str(&t.0)
                    .map_err(|e| (Some("to"), format!("{}: {e}", t.quoted())))?,
            );
        }
        let ca_pem = match raw.ca_file.take() {
            None => None,
            Some(path) => {
                let pem = std::fs::read(&path.0).map_err(|e| {
                    (
                        Some("ca_file"),
                        format!("cannot read {}: {e}", path.quoted()),
                    )
                })?;
                Certificate::from_pem(&pem).map_err(|e| {
                    (
                        Some("ca_file"),
                        format!("{}: not a PEM certificate ({e})", path.quoted()),
                    )
                })?;
                Some(pem)
            }
        };
        if ca_pem.is_some() && tls == TlsMode::None {
            return Err((Some("ca_file"), "has no effect with tls = \"none\"".into()));
        }
        Ok(Config {
            smtp_host,
            smtp_port,
            tls,
            username,
            password,
            from,
            to,
            ca_pem,
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
        Ok(Arc::new(Email::new(
            name.to_string(),
            self.clone(),
            timeout,
        )?))
    }
}

/// The e-mail channel. One SMTP session per alert, driven step by step
/// (lettre's connection API rather than its transport) so that each
/// recipient's answer counts on its own and every error names its step.
pub struct Email {
    name: String,
    cfg: Config,
    timeout: Duration,
    /// TLS parameters, built once: for `tls` (implicit) or `starttls`.
    tls: Option<TlsParameters>,
}

impl Email {
    pub fn new(name: String, cfg: Config, timeout: Duration) -> Result<Self, BuildError> {
        let tls = match cfg.tls {
            TlsMode::None => None,
            TlsMode::Starttls | TlsMode::Tls => {
                let mut b = TlsParameters::builder(cfg.smtp_host.clone());
                if let Some(pem) = &cfg.ca_pem {
                    let cert = Certificate::from_pem(pem)
                        .map_err(|e| BuildError::Setup(format!("alert {name:?}: ca_file: {e}")))?;
                    b = b.add_root_certificate(cert);
                }
                Some(
                    b.build_rustls().map_err(|e| {
                        BuildError::Setup(format!("alert {name:?}: TLS set-up: {e}"))
                    })?,
                )
            }
        };
        Ok(Email {
            name,
            cfg,
            timeout,
            tls,
        })
    }

    /// The message for `alert`, with a `Message-ID` at the sender's domain
    /// (some providers refuse mail without one) and a subject of at most
    /// [`render::SUBJECT_MAX`] characters.
    pub fn message(&self, alert: &Alert) -> Result<Message, Error> {
        let mut b = Message::builder()
            .from(self.cfg.from.clone())
            .message_id(Some(message_id(&self.cfg.from, alert.at)))
            .subject(render::subject(alert));
        for t in &self.cfg.to {
            b = b.to(t.clone());
        }
        b.multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(render::text(alert)),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(render::html(alert)),
                ),
        )
        .map_err(|e| Error::Transport(format!("cannot build the message: {e}")))
    }

    /// The password, and the AUTH PLAIN line a server may echo (scrubbed
    /// whole and in base64).
    fn secrets(&self) -> Vec<Secret> {
        let mut out = Vec::new();
        if let Some(p) = &self.cfg.password {
            out.push(p.clone());
            if let Some(u) = &self.cfg.username {
                out.push(Secret::new(format!("\0{u}\0{}", p.expose())));
            }
        }
        out
    }

    /// Run one step of the session under the channel's timeout.
    async fn step<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = Result<T, SmtpError>>,
        secrets: &[&Secret],
    ) -> Result<T, Error> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(smtp_error(what, &e, secrets)),
            Err(_) => Err(Error::Transport(format!(
                "timed out after {} {what}",
                humantime::format_duration(self.timeout)
            ))),
        }
    }

    async fn session(
        &self,
        conn: &mut AsyncSmtpConnection,
        msg: &Message,
        secrets: &[&Secret],
    ) -> Result<Sent, Error> {
        let hello = ClientId::default();
        if self.cfg.tls == TlsMode::Starttls {
            if !conn.can_starttls() {
                return Err(Error::Rejected(
                    "the server does not offer STARTTLS (tls = \"starttls\" never falls back to plain text)".into(),
                ));
            }
            let params = self.tls.clone().expect("built with starttls"); // set in new() for starttls
            self.step("during STARTTLS", conn.starttls(params, &hello), secrets)
                .await?;
        }
        if let (Some(u), Some(p)) = (&self.cfg.username, &self.cfg.password) {
            let creds = Credentials::new(u.clone(), p.expose().to_string());
            self.step(
                "waiting for the answer to AUTH",
                conn.auth(DEFAULT_MECHANISMS, &creds),
                secrets,
            )
            .await?;
        }
        let envelope = msg.envelope();
        let body = msg.formatted();
        let mut params = vec![];
        if !body.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        self.step(
            "waiting for the answer to MAIL FROM",
            conn.command(Mail::new(envelope.from().cloned(), params)),
            secrets,
        )
        .await?;
        // Every recipient on its own: one refused address must not silence
        // the others.
        let (mut accepted, mut refused) = (0, Vec::new());
        let mut all_temporary = true;
        for to in envelope.to() {
            match tokio::time::timeout(self.timeout, conn.command(Rcpt::new(to.clone(), vec![])))
                .await
            {
                Ok(Ok(_)) => accepted += 1,
                Ok(Err(e)) if e.is_permanent() || e.is_transient() => {
                    all_temporary &= e.is_transient();
                    refused.push(format!("{to}: {}", scrub(&chain(&e), secrets)));
                }
                Ok(Err(e)) => {
                    return Err(smtp_error("waiting for the answer to RCPT TO", &e, secrets))
                }
                Err(_) => {
                    return Err(Error::Transport(format!(
                        "timed out after {} waiting for the answer to RCPT TO",
                        humantime::format_duration(self.timeout)
                    )))
                }
            }
        }
        if accepted == 0 {
            let m = format!("every recipient refused: {}", refused.join("; "));
            return Err(if all_temporary {
                Error::Temporary(m)
            } else {
                Error::Rejected(m)
            });
        }
        self.step(
            "waiting for the answer to DATA",
            conn.command(Data),
            secrets,
        )
        .await?;
        // From here the server has the message: no answer means it may
        // have been delivered, so it is not sent again.
        match tokio::time::timeout(self.timeout, conn.message(&body)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.is_permanent() || e.is_transient() => {
                return Err(smtp_error("after the message", &e, secrets))
            }
            Ok(Err(e)) => {
                return Err(Error::Unknown(scrub(
                    &format!(
                        "the connection failed after the message was sent: {}",
                        chain(&e)
                    ),
                    secrets,
                )))
            }
            Err(_) => {
                return Err(Error::Unknown(format!(
                    "no answer within {} after the message was sent",
                    humantime::format_duration(self.timeout)
                )))
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), conn.quit()).await;
        Ok(Sent {
            notes: refused
                .into_iter()
                .map(|r| format!("recipient refused: {r}"))
                .collect(),
        })
    }
}

/// `<random.unix-seconds@sender-domain>`: unique per message, at the
/// sender's domain as RFC 5322 asks.
fn message_id(from: &Mailbox, at: chrono::DateTime<chrono::Utc>) -> String {
    let domain = from.email.domain();
    format!("<{:016x}.{}@{domain}>", fastrand::u64(..), at.timestamp())
}

/// An SMTP error with its step. A 4xx answer is temporary, a 5xx answer
/// permanent, anything else (connection, TLS, a broken answer) happened
/// before the message was handed over.
fn smtp_error(step: &str, e: &SmtpError, secrets: &[&Secret]) -> Error {
    let text = scrub(&format!("{step}: {}", chain(e)), secrets);
    if e.is_permanent() {
        Error::Rejected(text)
    } else if e.is_transient() {
        Error::Temporary(text)
    } else {
        Error::Transport(text)
    }
}

#[async_trait]
impl Notifier for Email {
    fn channel(&self) -> &'static str {
        "email"
    }
    fn name(&self) -> &str {
        &self.name
    }
    async fn send(&self, alert: &Alert) -> Result<Sent, Error> {
        let msg = self.message(alert)?;
        let owned = self.secrets();
        let secrets: Vec<&Secret> = owned.iter().collect();
        let implicit = match self.cfg.tls {
            TlsMode::Tls => self.tls.clone(),
            _ => None,
        };
        let mut conn = self
            .step(
                "connecting and waiting for the SMTP greeting",
                AsyncSmtpConnection::connect_tokio1(
                    (self.cfg.smtp_host.as_str(), self.cfg.smtp_port),
                    Some(self.timeout),
                    &ClientId::default(),
                    implicit,
                    None,
                ),
                &secrets,
            )
            .await?;
        // On failure the connection is dropped, not QUIT: after a failed
        // STARTTLS handshake lettre's stream must not be written to.
        self.session(&mut conn, &msg, &secrets).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_unique_and_at_the_senders_domain() {
        let from: Mailbox = "dns-failover <alerts@example.com>".parse().unwrap();
        let at = chrono::Utc::now();
        let (a, b) = (message_id(&from, at), message_id(&from, at));
        assert!(a.starts_with('<') && a.ends_with("@example.com>"), "{a}");
        assert_ne!(a, b);
    }
}
