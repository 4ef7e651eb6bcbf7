//! The DNS providers `provider = "..."` can name, and what each brings: its
//! own `[dns]` keys, their validation and the construction of the provider.
//!
//! `config` keeps the common keys (`provider`, `domain`, `ttl`) and hands
//! every other `[dns]` key here; this module knows which provider owns it.
//! A provider is a type implementing [`Section`] in its own file (its
//! settings, validated), plus one line in `providers!` below. Adding one:
//! 1. `src/dns/<name>.rs`: the provider ([`super::DnsProvider`]) and its
//!    settings type implementing [`Section`] (`NAME`, `KEYS`, `Raw`,
//!    `lengths`, `validate`, `build`);
//! 2. one line in the `providers!` list below;
//! 3. `tests/<name>.rs`: the provider against a fake on 127.0.0.1.
//!
//! Keys are checked in three steps, so errors come where they came when
//! `[dns]` was one struct: while the TOML is read (unknown keys, values of
//! the wrong type: [`KeySeed`], [`ValueSeed`]), with the lengths of every
//! string ([`check_lengths`]), and when `[dns]` is validated
//! ([`validate`]).

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, Error as _};
use serde::Deserialize;

use super::{alidns, dnspod, file, rfc2136, DnsProvider};
use crate::clock::Clock;
use crate::model::limits::{show_duration, string_limits};
use crate::tencent;

/// The `[dns]` keys of the providers, each value as written (checked for
/// its type while the TOML was read).
pub type ProviderKeys = toml::Table;

/// An error about one key of `[dns]`: config shows it as `dns.<key>`, with
/// the key's line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dns.{key}: {message}")]
pub struct SectionError {
    pub key: &'static str,
    pub message: String,
}

impl SectionError {
    pub fn new(key: &'static str, message: impl Into<String>) -> Self {
        SectionError {
            key,
            message: message.into(),
        }
    }

    /// `value` within `max` characters (`string_limits`), with the
    /// documented message.
    pub fn length(key: &'static str, value: &str, max: usize) -> Result<(), SectionError> {
        string_limits::check(value, max).map_err(|m| SectionError::new(key, m))
    }

    /// A duration within its documented upper bound (`duration_limits`).
    pub fn at_most(key: &'static str, d: Duration, max: Duration) -> Result<(), SectionError> {
        if d <= max {
            return Ok(());
        }
        Err(SectionError::new(
            key,
            format!(
                "{} is too long; at most {} (docs/configuration.md, \"Limits\")",
                show_duration(d),
                show_duration(max)
            ),
        ))
    }
}

/// Checks that API providers share: an `endpoint` URL, `*_env` names, and
/// `api_timeout`/`api_budget`.
pub mod checks {
    use std::time::Duration;

    use super::SectionError;
    use crate::model::limits::duration_limits;
    use crate::model::secret::EnvString;

    /// `endpoint` (or `default`) as an http(s) URL with a host.
    pub fn endpoint(value: Option<EnvString>, default: &str) -> Result<EnvString, SectionError> {
        let endpoint = value.unwrap_or_else(|| default.into());
        match reqwest::Url::parse(endpoint.value()) {
            Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => {
                Ok(endpoint)
            }
            _ => Err(SectionError::new(
                "endpoint",
                format!(
                    "{} is not an http(s) URL such as \"{default}\"",
                    endpoint.quoted()
                ),
            )),
        }
    }

    /// Every set `*_env` key names an environment variable a shell accepts.
    pub fn env_names(keys: &[(&'static str, &Option<String>)]) -> Result<(), SectionError> {
        for (k, v) in keys {
            if let Some(v) = v {
                if !is_env_name(v) {
                    return Err(SectionError::new(
                        k,
                        format!("{v:?} is not an environment variable name"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A name a shell would accept for an environment variable.
    pub fn is_env_name(s: &str) -> bool {
        !s.is_empty()
            && !s.starts_with(|c: char| c.is_ascii_digit())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    /// `api_timeout` (default 5 s) and `api_budget` (default 20 s), each
    /// within its bound, the budget at least the timeout.
    pub fn api_times(
        timeout: Option<Duration>,
        budget: Option<Duration>,
    ) -> Result<(Duration, Duration), SectionError> {
        let api_timeout = timeout.unwrap_or(Duration::from_secs(5));
        let api_budget = budget.unwrap_or(Duration::from_secs(20));
        SectionError::at_most("api_timeout", api_timeout, duration_limits::API_TIMEOUT)?;
        SectionError::at_most("api_budget", api_budget, duration_limits::API_BUDGET)?;
        if api_timeout.is_zero() || api_budget < api_timeout {
            return Err(SectionError::new(
                "api_budget",
                "api_timeout must be > 0 and api_budget at least api_timeout",
            ));
        }
        Ok((api_timeout, api_budget))
    }
}

/// What validation may need besides the keys.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext<'a> {
    /// The config file's folder: relative paths are taken from there.
    pub base_dir: &'a Path,
}

/// What building a provider may need: the clock, and the lookup of named
/// settings (environment variables) that `config` supplies, so no provider
/// reads the environment itself.
#[derive(Clone, Copy)]
pub struct BuildContext<'a> {
    pub clock: &'a Arc<dyn Clock>,
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Every API call of the provider (retries included) ends by this
    /// instant: the part of the invocation's time left for DNS.
    pub deadline: Option<std::time::Instant>,
}

/// Why a provider could not be built (before any call).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Credentials named by the config are missing.
    #[error(transparent)]
    Credentials(#[from] tencent::CredentialsError),
    /// The API client cannot be built from the settings.
    #[error(transparent)]
    Client(#[from] tencent::BuildError),
    /// Alibaba Cloud credentials named by the config are missing.
    #[error(transparent)]
    AlidnsCredentials(#[from] alidns::CredentialsError),
}

/// A provider's part of `[dns]`: its keys, their validation, and how the
/// provider is built from the validated settings.
pub trait Section: Sized + std::fmt::Debug + Clone {
    /// The value of `provider`.
    const NAME: &'static str;
    /// Its own keys, in the order their errors are reported. A key two
    /// providers share (`endpoint`, `api_timeout`, `api_budget`) must be
    /// read as the same type by both.
    const KEYS: &'static [&'static str];
    /// Its name of the default line: a group's `line` when none is given,
    /// and where the control records live. Default: DNSPod's `默认`.
    const DEFAULT_LINE: &'static str = crate::model::record::CONTROL_LINE;
    /// Its built-in line names when they are not DNSPod's (config warns
    /// about a `line` outside them). Default: `None`, DNSPod's.
    const LINES: Option<&'static [&'static str]> = None;
    /// The keys as serde reads them: every field optional, unknown fields
    /// denied (the registry refuses them before this is read).
    type Raw: DeserializeOwned;
    /// Every string key within its limit (`model::limits::string_limits`),
    /// checked on the values as read, before any other check.
    fn lengths(raw: &Self::Raw) -> Result<(), SectionError>;
    /// Check the keys and fill in the defaults.
    fn validate(raw: Self::Raw, ctx: &ParseContext) -> Result<Self, SectionError>;
    /// The provider, with what it reads now (credentials: once per run).
    fn build(&self, ctx: &BuildContext) -> Result<Arc<dyn DnsProvider>, BuildError>;
    /// Whether a group may name `line` (`group.line`, default `默认`);
    /// the error says why not. Default: any line.
    fn check_line(&self, line: &str) -> Result<(), String> {
        let _ = line;
        Ok(())
    }
    /// The error for a key of other providers set under this one;
    /// `owners` is their names, quoted: `"dnspod" or "alidns"`.
    fn foreign_key(owners: &str) -> String {
        format!(
            "only used by provider = {owners}; remove it for provider = {:?}",
            Self::NAME
        )
    }
}

/// The list of providers: one line each, `Variant(settings type)`. It
/// makes [`ProviderSettings`] (one variant per provider) and the table
/// the registry looks names and keys up in.
macro_rules! providers {
    ($($(#[$doc:meta])* $variant:ident($ty:ty),)+) => {
        /// The provider `[dns]` names, with its own validated keys.
        #[derive(Debug, Clone)]
        pub enum ProviderSettings {
            $($(#[$doc])* $variant($ty),)+
        }

        impl ProviderSettings {
            /// The value of `provider`: `file`, `dnspod`, `alidns`.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$ty as Section>::NAME,)+
                }
            }

            /// The provider's default line ([`Section::DEFAULT_LINE`]).
            pub fn default_line(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$ty as Section>::DEFAULT_LINE,)+
                }
            }

            /// The provider's own line names, when not DNSPod's ([`Section::LINES`]).
            pub fn lines(&self) -> Option<&'static [&'static str]> {
                match self {
                    $(Self::$variant(_) => <$ty as Section>::LINES,)+
                }
            }

            /// Whether a group may name `line` ([`Section::check_line`]).
            pub fn check_line(&self, line: &str) -> Result<(), String> {
                match self {
                    $(Self::$variant(s) => s.check_line(line),)+
                }
            }

            /// Build the provider (credentials are read now: once per run).
            pub fn build(&self, ctx: &BuildContext) -> Result<Arc<dyn DnsProvider>, BuildError> {
                match self {
                    $(Self::$variant(s) => s.build(ctx),)+
                }
            }
        }

        $(impl From<$ty> for ProviderSettings {
            fn from(s: $ty) -> Self {
                Self::$variant(s)
            }
        })+

        static PROVIDERS: &[Entry] = &[$(Entry::of::<$ty>(),)+];
    };
}

providers! {
    /// A zone kept as JSON on disk.
    File(file::FileSettings),
    /// DNSPod through Tencent Cloud API 3.0.
    Dnspod(dnspod::DnspodSettings),
    /// Alibaba Cloud DNS (API 2015-01-09).
    Alidns(alidns::AlidnsSettings),
    /// A primary DNS server through RFC 2136 updates signed with TSIG.
    Rfc2136(rfc2136::Rfc2136Settings),
}

/// One provider's [`Section`], without its type.
struct Entry {
    name: &'static str,
    keys: &'static [&'static str],
    check_value: fn(&str, toml::Value) -> Result<(), String>,
    lengths: fn(&ProviderKeys) -> Result<(), SectionError>,
    validate: fn(&ProviderKeys, &ParseContext) -> Result<ProviderSettings, SectionError>,
    foreign_key: fn(&str) -> String,
}

impl Entry {
    const fn of<S: Section>() -> Entry
    where
        ProviderSettings: From<S>,
    {
        Entry {
            name: S::NAME,
            keys: S::KEYS,
            check_value: check_value::<S>,
            lengths: lengths::<S>,
            validate: validate_as::<S>,
            foreign_key: S::foreign_key,
        }
    }

    fn owns(&self, key: &str) -> bool {
        self.keys.contains(&key)
    }
}

/// `S::Raw` from the keys `S` owns.
fn raw<S: Section>(keys: &ProviderKeys) -> Result<S::Raw, SectionError> {
    let own: toml::Table = keys
        .iter()
        .filter(|(k, _)| S::KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    own.try_into().map_err(|e: toml::de::Error| {
        // Each value was checked alone while the TOML was read; this is
        // the first key that fails again (an environment variable gone).
        let key = S::KEYS
            .iter()
            .find(|k| {
                keys.get(**k)
                    .is_some_and(|v| value::<S>(k, v.clone()).is_err())
            })
            .copied()
            .unwrap_or(S::NAME);
        SectionError::new(key, e.message().trim())
    })
}

/// One value alone, read as `S::Raw` reads it.
fn value<S: Section>(key: &str, v: toml::Value) -> Result<S::Raw, toml::de::Error> {
    toml::Table::from_iter([(key.to_string(), v)]).try_into()
}

fn check_value<S: Section>(key: &str, v: toml::Value) -> Result<(), String> {
    value::<S>(key, v)
        .map(drop)
        .map_err(|e| e.message().trim().to_string())
}

fn lengths<S: Section>(keys: &ProviderKeys) -> Result<(), SectionError> {
    S::lengths(&raw::<S>(keys)?)
}

fn validate_as<S: Section>(
    keys: &ProviderKeys,
    ctx: &ParseContext,
) -> Result<ProviderSettings, SectionError>
where
    ProviderSettings: From<S>,
{
    S::validate(raw::<S>(keys)?, ctx).map(ProviderSettings::from)
}

fn owner(key: &str) -> Option<&'static Entry> {
    PROVIDERS.iter().find(|e| e.owns(key))
}

/// Every `[dns]` key: `common` (config's own), then each provider's, in
/// the order of the list: what an unknown key's error says is expected.
/// serde wants it `'static`, so it is made once (and leaked, once); config
/// has one `common` list, read on the first call.
fn all_keys(common: &'static [&'static str]) -> &'static [&'static str] {
    static ALL: OnceLock<&'static [&'static str]> = OnceLock::new();
    ALL.get_or_init(|| {
        let all: Vec<&'static str> = common
            .iter()
            .copied()
            .chain(PROVIDERS.iter().flat_map(|e| e.keys.iter().copied()))
            .fold(Vec::new(), |mut all, k| {
                // Shared keys once.
                if !all.contains(&k) {
                    all.push(k);
                }
                all
            });
        Box::leak(all.into_boxed_slice())
    })
}

/// Reads a key of `[dns]`: one of `common` or of a provider, else the
/// error serde gives an unknown field (with the key's line).
pub struct KeySeed(pub &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        let key = String::deserialize(d)?;
        if self.0.contains(&key.as_str()) || owner(&key).is_some() {
            Ok(key)
        } else {
            Err(D::Error::unknown_field(&key, all_keys(self.0)))
        }
    }
}

/// Reads the value of a provider's key (one [`KeySeed`] accepted), checked
/// by the provider that owns it whichever provider is chosen, as when
/// `[dns]` was one struct: a value of the wrong type is an error with the
/// value's line.
pub struct ValueSeed<'a>(pub &'a str);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = toml::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<toml::Value, D::Error> {
        let v = toml::Value::deserialize(d)?;
        if let Some(e) = owner(self.0) {
            (e.check_value)(self.0, v.clone()).map_err(D::Error::custom)?;
        }
        Ok(v)
    }
}

/// The lengths of every provider key set, whichever provider is chosen,
/// in the order of the list.
pub fn check_lengths(keys: &ProviderKeys) -> Result<(), SectionError> {
    PROVIDERS.iter().try_for_each(|e| (e.lengths)(keys))
}

/// The settings of `provider` from its keys: an unknown provider, and a
/// key of another provider, are errors.
pub fn validate(
    provider: &str,
    keys: &ProviderKeys,
    ctx: &ParseContext,
) -> Result<ProviderSettings, SectionError> {
    let Some(entry) = PROVIDERS.iter().find(|e| e.name == provider) else {
        return Err(SectionError::new(
            "provider",
            format!("unknown provider {provider:?}; expected {}", names()),
        ));
    };
    for other in PROVIDERS.iter().filter(|e| e.name != provider) {
        // A key the chosen provider shares with another is its own too.
        if let Some(k) = other
            .keys
            .iter()
            .find(|k| keys.contains_key(**k) && !entry.owns(k))
        {
            let owners: Vec<&str> = PROVIDERS
                .iter()
                .filter(|e| e.owns(k))
                .map(|e| e.name)
                .collect();
            return Err(SectionError::new(k, (entry.foreign_key)(&quoted(&owners))));
        }
    }
    (entry.validate)(keys, ctx)
}

/// `"file" or "dnspod"`, `"a", "b" or "c"`.
fn names() -> String {
    quoted(&PROVIDERS.iter().map(|e| e.name).collect::<Vec<_>>())
}

/// `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
fn quoted(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shared keys are the known ones, read alike (the value of a shared
    /// key is type-checked by its first owner while the TOML is read).
    #[test]
    fn only_known_keys_are_shared_and_no_common_key_is_claimed() {
        const SHARED: &[&str] = &["endpoint", "api_timeout", "api_budget"];
        let mut seen = std::collections::HashSet::new();
        for e in PROVIDERS {
            for k in e.keys {
                assert!(
                    seen.insert(*k) || SHARED.contains(k),
                    "{k} is claimed by two providers"
                );
                assert!(!["provider", "domain", "ttl"].contains(k), "{k}");
            }
        }
        let owners = |k: &str| PROVIDERS.iter().filter(|e| e.owns(k)).count();
        assert!(SHARED.iter().all(|k| owners(k) == 2));
        for k in SHARED {
            for v in [
                toml::Value::from("https://x.example"),
                toml::Value::from("5s"),
            ] {
                let verdicts: Vec<bool> = PROVIDERS
                    .iter()
                    .filter(|e| e.owns(k))
                    .map(|e| (e.check_value)(k, v.clone()).is_ok())
                    .collect();
                assert!(verdicts.windows(2).all(|w| w[0] == w[1]), "{k} {v:?}");
            }
        }
    }

    #[test]
    fn names_read_as_a_list() {
        assert_eq!(names(), "\"file\", \"dnspod\", \"alidns\" or \"rfc2136\"");
    }
}
