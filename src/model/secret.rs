//! Values that may hold secrets: [`Secret`] (never shown) and [`EnvString`]
//! (a config string with `${NAME}` references expanded, shown as written).
//! Expansion takes its lookup as a parameter: reading the environment is
//! `config`'s job.

use std::fmt;

/// Why a `${NAME}` reference could not be expanded. Messages name the
/// reference as written, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// `${` without its `}`; carries the text as written.
    #[error("unclosed `${{` in {0:?}")]
    Unclosed(String),
    /// `${}` or a name with characters other than letters, digits and `_`.
    #[error("`${{{0}}}` is not a valid environment variable reference")]
    BadName(String),
    /// The variable is not set.
    #[error("environment variable `{0}` is not set")]
    Missing(String),
}

/// Expand `${NAME}` references from the environment. `$${` is a literal `${`.
/// Returns the name of the first missing variable as the error.
pub fn expand_env(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, ExpandError> {
    expand_tracked(s, lookup).map(|(v, _)| v)
}

/// [`expand_env`], also returning each reference that was replaced, as
/// `(name, value)` in order of appearance.
pub fn expand_tracked(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Vec<(String, String)>), ExpandError> {
    let mut out = String::with_capacity(s.len());
    let mut refs = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = t;
        } else if let Some(t) = tail.strip_prefix("${") {
            let end = t
                .find('}')
                .ok_or_else(|| ExpandError::Unclosed(s.to_string()))?;
            let name = &t[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ExpandError::BadName(name.to_string()));
            }
            match lookup(name) {
                Some(v) => {
                    out.push_str(&v);
                    refs.push((name.to_string(), v));
                }
                None => return Err(ExpandError::Missing(name.to_string())),
            }
            rest = &t[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok((out, refs))
}

/// A string from the config with `${NAME}` expanded (`.0`), which remembers
/// how it was written. The config cannot tell which references hold secrets
/// (`url = "https://${HOST}/health?token=${PROBE_TOKEN}"`), so wherever the
/// string is *shown* (reports, alerts, logs, error messages) it appears as
/// written, references unexpanded ([`EnvString::shown`]); only the code that
/// uses it (the probe, the API client) reads `.0`. `Debug` shows the written
/// form. There is deliberately no `Display` (nor `Deref<Target = str>`, which
/// would lend it `str`'s `to_string`): a caller picks `shown()` or `value()`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct EnvString(pub String, Option<Box<Expansion>>);

/// What a `${NAME}` expansion replaced: kept to show and to redact.
#[derive(Clone, PartialEq, Eq)]
struct Expansion {
    /// The text as written in the file.
    written: String,
    /// `(name, value)` of each reference.
    refs: Vec<(String, String)>,
}

/// Expanded values shorter than this are not searched for in free text
/// ([`EnvString::redact`]): a value of one to three characters is no secret,
/// and replacing it everywhere would garble messages.
pub const REDACT_MIN_LEN: usize = 4;

impl EnvString {
    /// A value that did not come from the environment.
    pub fn literal(s: impl Into<String>) -> Self {
        EnvString(s.into(), None)
    }

    /// Expand `written` through `lookup`.
    pub fn expand(
        written: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ExpandError> {
        let (value, refs) = expand_tracked(written, lookup)?;
        let expansion = (!refs.is_empty()).then(|| {
            Box::new(Expansion {
                written: written.to_string(),
                refs,
            })
        });
        Ok(EnvString(value, expansion))
    }

    /// The value to use.
    pub fn value(&self) -> &str {
        &self.0
    }

    /// Whether any `${NAME}` was expanded.
    pub fn is_expanded(&self) -> bool {
        self.1.is_some()
    }

    /// The form to show people: as written in the file when a reference was
    /// expanded (`https://host/health?token=${PROBE_TOKEN}`), else the value.
    pub fn shown(&self) -> &str {
        match &self.1 {
            Some(x) => &x.written,
            None => &self.0,
        }
    }

    /// `shown`, quoted for messages: `"${GZ_IP}"` (Debug quoting, so quotes
    /// and control characters in a literal value stay visible).
    pub fn quoted(&self) -> String {
        format!("{:?}", self.shown())
    }

    /// `text` with this string's expanded parts replaced by how they were
    /// written: the whole value by [`EnvString::shown`], then each expanded
    /// reference of at least four characters by `${NAME}`. For free text that
    /// may have picked the value up (a resolver's or TLS library's message).
    pub fn redact(&self, text: &str) -> String {
        let Some(x) = &self.1 else {
            return text.to_string();
        };
        let mut pairs: Vec<(&str, String)> = vec![(self.0.as_str(), x.written.clone())];
        pairs.extend(
            x.refs
                .iter()
                .filter(|(_, v)| v.len() >= REDACT_MIN_LEN)
                .map(|(n, v)| (v.as_str(), format!("${{{n}}}"))),
        );
        replace_all(text, &pairs)
    }
}

/// Replace each `(from, to)` in `text`, longest `from` first (a URL goes
/// before the key inside it). Empty `from`s are skipped.
pub fn replace_all<S: AsRef<str>>(text: &str, pairs: &[(&str, S)]) -> String {
    let mut pairs: Vec<&(&str, S)> = pairs.iter().filter(|(f, _)| !f.is_empty()).collect();
    pairs.sort_by_key(|(f, _)| std::cmp::Reverse(f.len()));
    let mut out = text.to_string();
    for (from, to) in pairs {
        if out.contains(from) {
            out = out.replace(from, to.as_ref());
        }
    }
    out
}

impl fmt::Debug for EnvString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EnvString").field(&self.shown()).finish()
    }
}

impl From<&str> for EnvString {
    fn from(s: &str) -> Self {
        EnvString::literal(s)
    }
}

impl From<String> for EnvString {
    fn from(s: String) -> Self {
        EnvString::literal(s)
    }
}

impl From<EnvString> for String {
    fn from(s: EnvString) -> Self {
        s.0
    }
}

impl PartialEq<str> for EnvString {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for EnvString {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A secret value (password, key, token). Redacted in `Debug` and `Display`;
/// call [`Secret::expose`] only at the point of use.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
