//! E-mail over SMTP (lettre, rustls): one message per alert, with a plain-text
//! and an HTML part (`multipart/alternative`). The subject is
//! `[SEVERITY] title`, which carries `[DRILL]` or `[TEST]` when it applies.
//!
//! `tls`: `none` (plain SMTP, port 25: only on a trusted network), `starttls`
//! (port 587, upgrade required, never falls back to plain) or `tls` (implicit
//! TLS, port 465). Certificates are checked against the Mozilla roots
//! (webpki-roots) plus, with `ca_file`, a private CA's PEM certificates: that
//! is how a relay with an internal CA is trusted. There is no switch to turn
//! verification off. The password never appears in errors.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::config::{required, KeyError, RawAlert};
use super::{render, Alert, Error, Notifier};
use crate::config::Secret;

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
    pub fn validate(raw: &mut RawAlert) -> Result<Config, KeyError> {
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
        raw.reject_leftover()?;
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

/// The e-mail channel; the transport is built once.
pub struct Email {
    name: String,
    cfg: Config,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Email {
    pub fn new(name: String, cfg: Config, timeout: Duration) -> Result<Self, String> {
        let host = cfg.smtp_host.clone();
        let params = || -> Result<TlsParameters, String> {
            let mut b = TlsParameters::builder(host.clone());
            if let Some(pem) = &cfg.ca_pem {
                let cert = Certificate::from_pem(pem)
                    .map_err(|e| format!("alert {name:?}: ca_file: {e}"))?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls()
                .map_err(|e| format!("alert {name:?}: TLS set-up: {e}"))
        };
        let tls = match cfg.tls {
            TlsMode::None => Tls::None,
            TlsMode::Starttls => Tls::Required(params()?),
            TlsMode::Tls => Tls::Wrapper(params()?),
        };
        // builder_dangerous only means "no TLS preset": TLS is set just above.
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(cfg.smtp_port)
            .tls(tls)
            .timeout(Some(timeout));
        if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
            b = b.credentials(Credentials::new(u.clone(), p.expose().to_string()));
        }
        let transport = b.build();
        Ok(Email {
            name,
            cfg,
            transport,
        })
    }

    /// The message for `alert`.
    pub fn message(&self, alert: &Alert) -> Result<Message, Error> {
        let mut b = Message::builder()
            .from(self.cfg.from.clone())
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
}

#[async_trait]
impl Notifier for Email {
    fn channel(&self) -> &'static str {
        "email"
    }
    fn name(&self) -> &str {
        &self.name
    }
    async fn send(&self, alert: &Alert) -> Result<(), Error> {
        let msg = self.message(alert)?;
        let secrets: Vec<&Secret> = self.cfg.password.iter().collect();
        self.transport.send(msg).await.map(|_| ()).map_err(|e| {
            let text = super::scrub(&e.to_string(), &secrets);
            if e.is_permanent() || e.is_transient() {
                Error::Rejected(text)
            } else {
                Error::Transport(text)
            }
        })
    }
}
