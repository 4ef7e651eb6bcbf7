//! Alibaba Cloud credentials: an AccessKey pair, with the security token
//! of STS credentials, and how texts lose them.

use std::fmt;

use super::sign;
use crate::model::secret::{replace_all, Secret};
use crate::tencent::mask_id;

/// Credentials that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "Alibaba Cloud credentials: environment variable {var} (the {what}) is not set or empty"
    )]
    Missing { var: String, what: &'static str },
}

/// An AccessKey pair, with the security token of STS credentials. `Debug`
/// never shows the secret or the token, and shows the id masked.
#[derive(Clone)]
pub struct Credentials {
    pub(super) id: String,
    pub(super) secret: Secret,
    pub(super) token: Option<Secret>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &mask_id(&self.id))
            .field("access_key_secret", &self.secret)
            .field("security_token", &self.token)
            .finish()
    }
}

impl Credentials {
    pub fn new(id: impl Into<String>, secret: Secret, token: Option<Secret>) -> Self {
        Credentials {
            id: id.into(),
            secret,
            token: token.filter(|t| !t.is_empty()),
        }
    }

    /// Read the credentials through `lookup` (config's settings: the
    /// environment, a map in tests) by the names of their variables. The id
    /// and the secret are required (empty counts as missing, as in the
    /// official credentials library); the token is optional.
    pub fn from_lookup(
        id_var: &str,
        secret_var: &str,
        token_var: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, CredentialsError> {
        let (id, secret, token) = crate::tencent::credentials::read_key_pair(
            lookup,
            (id_var, "AccessKey ID"),
            (secret_var, "AccessKey secret"),
            token_var,
        )
        .map_err(|(var, what)| CredentialsError::Missing { var, what })?;
        Ok(Credentials::new(id, secret, token))
    }

    /// `text` without these credentials: the secret and the token (as
    /// written and percent-encoded: the service quotes its string to sign)
    /// become `[redacted]`, the id its masked form.
    pub fn redact(&self, text: &str) -> String {
        let masked = mask_id(&self.id);
        let mut pairs: Vec<(String, String)> = vec![(self.id.clone(), masked)];
        for s in std::iter::once(&self.secret).chain(self.token.as_ref()) {
            let raw = s.expose().to_string();
            let once = sign::percent_encode(&raw);
            let twice = sign::percent_encode(&once);
            for form in [raw, once, twice] {
                pairs.push((form, "[redacted]".into()));
            }
        }
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        replace_all(text, &refs)
    }
}
