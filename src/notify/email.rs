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

use std::sync::Arc;

use super::config::{
    check_items, check_len, env_str, required, secret_str, ChannelSettings, ChannelType, KeyError,
    Section,
};
use super::{render, Alert, BuildError, Error, Notifier};
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

/// The e-mail channel; the transport is built once.
pub struct Email {
    name: String,
    cfg: Config,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Email {
    pub fn new(name: String, cfg: Config, timeout: Duration) -> Result<Self, BuildError> {
        let host = cfg.smtp_host.clone();
        let params = || -> Result<TlsParameters, BuildError> {
            let mut b = TlsParameters::builder(host.clone());
            if let Some(pem) = &cfg.ca_pem {
                let cert = Certificate::from_pem(pem)
                    .map_err(|e| BuildError::Setup(format!("alert {name:?}: ca_file: {e}")))?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls()
                .map_err(|e| BuildError::Setup(format!("alert {name:?}: TLS set-up: {e}")))
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
