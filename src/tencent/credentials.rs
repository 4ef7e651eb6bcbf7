//! Tencent Cloud credentials: a SecretId/SecretKey pair, with the session
//! token of temporary (role) credentials, and how texts lose them.
//!
//! Credentials are looked up by the names the config gives, through a lookup
//! the caller supplies (`config` owns the environment): see
//! [`Credentials::from_lookup`]. Build them once per run, because the
//! temporary credentials of an SCF execution role rotate.

use std::fmt;

use super::error::Error;
use crate::model::secret::{replace_all, Secret};

/// Credentials that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// A required variable is not set, or is empty.
    #[error(
        "Tencent Cloud credentials: environment variable {var} (the {what}) is not set or empty"
    )]
    Missing {
        /// The variable's name, as the config gives it.
        var: String,
        /// `SecretId` or `SecretKey`.
        what: &'static str,
    },
}

/// A SecretId/SecretKey pair, with the session token of temporary (role)
/// credentials. `Debug` never shows the key or the token, and shows the
/// SecretId masked ([`mask_id`]).
#[derive(Clone)]
pub struct Credentials {
    pub(super) secret_id: String,
    pub(super) secret_key: Secret,
    pub(super) token: Option<Secret>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &mask_id(&self.secret_id))
            .field("secret_key", &self.secret_key)
            .field("token", &self.token)
            .finish()
    }
}

/// A key pair and its optional session token, read through `lookup` by the
/// names of their variables: `id` and `secret` are `(variable, what it
/// holds)`. Values are trimmed; an empty one counts as missing. The error
/// is the missing variable and what it should hold. The Tencent Cloud and
/// the Alidns credentials both read theirs here.
pub fn read_key_pair(
    lookup: &dyn Fn(&str) -> Option<String>,
    id: (&str, &'static str),
    secret: (&str, &'static str),
    token_var: &str,
) -> Result<(String, Secret, Option<Secret>), (String, &'static str)> {
    let get = |name: &str| {
        lookup(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let need = |(var, what): (&str, &'static str)| get(var).ok_or_else(|| (var.to_string(), what));
    Ok((
        need(id)?,
        Secret::new(need(secret)?),
        get(token_var).map(Secret::new),
    ))
}

impl Credentials {
    pub fn new(secret_id: impl Into<String>, secret_key: Secret, token: Option<Secret>) -> Self {
        Credentials {
            secret_id: secret_id.into(),
            secret_key,
            token: token.filter(|t| !t.is_empty()),
        }
    }

    /// Read the credentials through `lookup` (the settings source `config`
    /// reads; a map in tests), by the names of their variables. SecretId and
    /// SecretKey are required; the token is optional (present = temporary
    /// credentials, sent as `X-TC-Token`). Values are trimmed; an empty one
    /// counts as missing.
    pub fn from_lookup(
        id_var: &str,
        key_var: &str,
        token_var: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, CredentialsError> {
        let (id, key, token) = read_key_pair(
            lookup,
            (id_var, "SecretId"),
            (key_var, "SecretKey"),
            token_var,
        )
        .map_err(|(var, what)| CredentialsError::Missing { var, what })?;
        Ok(Credentials::new(id, key, token))
    }

    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// Temporary credentials carry a session token.
    pub fn is_temporary(&self) -> bool {
        self.token.is_some()
    }

    /// `text` without these credentials: the SecretKey and the session token
    /// become `[redacted]`, the SecretId its masked form. The SecretId is an
    /// identifier rather than a secret in Tencent Cloud's model, but the
    /// masked form is enough to tell which key is meant.
    pub fn redact(&self, text: &str) -> String {
        let masked = mask_id(&self.secret_id);
        let mut pairs = vec![
            (self.secret_key.expose(), "[redacted]"),
            (self.secret_id.as_str(), masked.as_str()),
        ];
        if let Some(t) = &self.token {
            pairs.push((t.expose(), "[redacted]"));
        }
        replace_all(text, &pairs)
    }

    /// `e` with [`Credentials::redact`] applied to every text it carries.
    pub(super) fn redact_error(&self, e: Error) -> Error {
        let r = |s: String| self.redact(&s);
        match e {
            Error::Api {
                code,
                message,
                request_id,
            } => Error::Api {
                code: r(code),
                message: r(message),
                request_id: r(request_id),
            },
            Error::Http { status, detail } => Error::Http {
                status,
                detail: r(detail),
            },
            Error::Timeout(d) => Error::Timeout(d),
            Error::Transport(m) => Error::Transport(r(m)),
            Error::Decode(m) => Error::Decode(r(m)),
            Error::GaveUp {
                attempts,
                budget,
                last,
            } => Error::GaveUp {
                attempts,
                budget,
                last: Box::new(self.redact_error(*last)),
            },
        }
    }
}

/// `AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE` -> `AKID****MPLE`: enough to tell
/// keys apart in a message, not the whole identifier.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 12 {
        return "****".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_credentials_name_the_variable() {
        let none = |_: &str| None;
        let e = Credentials::from_lookup("MY_ID", "MY_KEY", "MY_TOKEN", &none).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Tencent Cloud credentials: environment variable MY_ID (the SecretId) is not set or empty"
        );
        let only_id = |n: &str| (n == "MY_ID").then(|| "AKIDx".to_string());
        let e = Credentials::from_lookup("MY_ID", "MY_KEY", "MY_TOKEN", &only_id).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Tencent Cloud credentials: environment variable MY_KEY (the SecretKey) is not set or empty"
        );
        let empty_key = |n: &str| Some(if n == "MY_KEY" { "  " } else { "x" }.to_string());
        assert!(Credentials::from_lookup("MY_ID", "MY_KEY", "MY_TOKEN", &empty_key).is_err());
    }

    #[test]
    fn token_makes_credentials_temporary_and_debug_hides_secrets() {
        let all = |n: &str| {
            Some(
                match n {
                    "I" => "AKIDabc",
                    "K" => "very-secret-key",
                    _ => "very-secret-token",
                }
                .to_string(),
            )
        };
        let c = Credentials::from_lookup("I", "K", "T", &all).unwrap();
        assert!(c.is_temporary());
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("very-secret"), "{dbg}");
        let no_token = |n: &str| (n != "T").then(|| "x".to_string());
        assert!(!Credentials::from_lookup("I", "K", "T", &no_token)
            .unwrap()
            .is_temporary());
    }
}
