//! Configuration: the TOML file and the environment, turned into a validated
//! [`Config`] before any network call.
//!
//! This is the only module that reads the config file. `${VAR}` references are
//! expanded while deserialising (so a missing variable is reported by the TOML
//! parser with its line, and the message shows the reference, never the
//! value). Semantic checks run next, in [`Config::validate`]-style functions
//! per section; each error names the file, the key path and its line.
//! Secrets are kept in [`Secret`], whose `Debug` and `Display` are redacted.
//! Other strings that may hold `${VAR}` are [`EnvString`]s: used expanded,
//! shown (reports, alerts, errors, `Debug`) as written in the file.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use crate::dns::registry::{self, ProviderKeys};
use crate::dns::RecordType;
pub use crate::model::consensus::{ConsensusSettings, NoQuorum};
pub use crate::model::duration::HumanDuration;
pub use crate::model::secret::{expand_env, replace_all, EnvString, Secret, REDACT_MIN_LEN};
pub use crate::model::target::{
    Check, Failback, Group, HttpCheck, Mode, ProbeSettings, StatusMatcher, Target, TlsOptions,
};
use crate::notify::config::{AlertConfig, RawAlert};

mod consensus;
pub mod deploy;
mod group;
mod locate;
mod probe_tls;
mod raw;
mod settings;
mod validate;
mod verify;
mod watch;

use group::*;
pub use locate::group_key_error;
use locate::*;
use raw::*;
pub use settings::{Context, Settings, CONFIG_ENV, DEFAULT_CODE_ROOT, DEFAULT_CONFIG_FILE};
use validate::*;
pub use watch::WatchSettings;

/// Resolve the CLI's config path from the process environment: the flag,
/// else `$DNS_FAILOVER_CONFIG`, else `./dns-failover.toml`
/// (see [`Settings::config_path`]).
pub fn config_path(flag: Option<&Path>) -> PathBuf {
    Settings::process()
        .config_path(flag, Context::Cli, &|_| true)
        .unwrap_or_else(|_| PathBuf::from(DEFAULT_CONFIG_FILE))
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A configuration error: which file, which key, which line, what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `group[0].target[1].url` (empty for file-level errors).
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

// ---------------------------------------------------------------------------
// Values with environment expansion
// ---------------------------------------------------------------------------

thread_local! {
    /// The settings `${NAME}` references expand from while a config is
    /// parsed ([`Config::from_toml_with`] sets it; serde gives a
    /// `Deserialize` impl no other way in).
    static SOURCE: std::cell::RefCell<Settings> = std::cell::RefCell::new(Settings::process());
}

/// Expansion from the current settings (see [`crate::model::secret`]).
fn env_lookup(name: &str) -> Option<String> {
    SOURCE.with(|s| s.borrow().var(name))
}

impl<'de> Deserialize<'de> for EnvString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        EnvString::expand(&raw, &env_lookup).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        EnvString::deserialize(d).map(|s| Secret::new(s.0))
    }
}

// ---------------------------------------------------------------------------
// Validated configuration
// ---------------------------------------------------------------------------

/// The validated configuration. Every default is filled in.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (for messages).
    pub path: PathBuf,
    /// Who is probing: shown in alerts and reports. Default: `$TENCENTCLOUD_REGION`,
    /// else the host name, else `local`.
    pub prober: String,
    /// IANA zone for local times in alerts; default `Asia/Shanghai`.
    pub alert_timezone: String,
    pub probe: ProbeSettings,
    pub dns: DnsSettings,
    pub groups: Vec<Group>,
    pub alerts: Vec<AlertConfig>,
    /// Allowed but probably wrong, e.g. a `line` outside DNSPod's built-in
    /// lines: same shape as an error. `validate` prints them; the other
    /// commands log them.
    pub warnings: Vec<ConfigError>,
    /// Where the config's `${NAME}`s came from; credentials are read from
    /// it on every run.
    pub settings: Settings,
    /// `[consensus]`: probers that vote before traffic moves; absent = this
    /// prober acts alone.
    pub consensus: Option<ConsensusSettings>,
    /// `[probe] witnesses`: neutral endpoints that prove this prober's own
    /// network; when every one fails, the prober neither votes nor writes.
    pub witnesses: Vec<Check>,
    /// `[watch]`: passes every few seconds.
    pub watch: WatchSettings,
}

/// `[dns]`.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    pub domain: String,
    /// Default TTL of every record the tool writes; default 60 s.
    pub ttl: u32,
    pub provider: ProviderSettings,
    /// `verify`, `verify_servers`, `verify_within`: whether each write is
    /// checked at the zone's authoritative servers; default off.
    pub verify: crate::model::verify::VerifySettings,
}

pub use crate::dns::dnspod::DnspodSettings;
pub use crate::dns::file::FileSettings;
/// The provider and its own keys (`dns::registry`).
pub use crate::dns::registry::ProviderSettings;

/// DNSPod accepts TTLs 1..=604800; the domain's plan may raise the minimum.
pub const TTL_RANGE: std::ops::RangeInclusive<i64> = 1..=604_800;

use crate::model::limits::show_duration;
pub use crate::model::limits::{duration_limits, string_limits};

pub mod lines;
mod structure;

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

impl Config {
    /// Read, parse and validate a config file, `${NAME}` from the process
    /// environment. Nothing else is touched.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with(path, &Settings::process())
    }

    /// [`Config::load`] with `${NAME}` (and later the credentials) taken
    /// from `settings`.
    pub fn load_with(path: &Path, settings: &Settings) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            key: String::new(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "cannot read config file: {e} (give -c FILE, set ${CONFIG_ENV}, or create ./{DEFAULT_CONFIG_FILE})"
                )
            } else {
                format!("cannot read config file: {e}")
            },
        })?;
        Config::from_toml_with(&text, path, settings)
    }

    /// Parse and validate config text; `path` is used in messages and to
    /// resolve relative paths (e.g. a file zone) against the file's folder.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        Self::from_toml_with(text, path, &Settings::process())
    }

    /// [`Config::from_toml`] with `${NAME}` taken from `settings`, which the
    /// config keeps for what is read later (credentials, on every run).
    pub fn from_toml_with(
        text: &str,
        path: &Path,
        settings: &Settings,
    ) -> Result<Config, ConfigError> {
        let previous = SOURCE.with(|s| s.replace(settings.clone()));
        let result = Self::parse(text, path);
        SOURCE.with(|s| *s.borrow_mut() = previous);
        let mut cfg = result?;
        cfg.settings = settings.clone();
        Ok(cfg)
    }

    fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let span = e.span();
            let mut err = ConfigError {
                file: path.to_path_buf(),
                line: span.as_ref().map(|s| line_of(text, s.start)),
                // Type errors and unknown keys carry the offending span;
                // name the key there (a syntax error has no document).
                key: span
                    .clone()
                    .and_then(|s| key_at(toml::de::DeTable::parse(text).ok()?.get_ref(), s.start))
                    .unwrap_or_default(),
                message: e.message().trim().to_string(),
            };
            if let Some(s) = span {
                structure::explain(text, s, &mut err);
            }
            err
        })?;
        let mut v = Validator {
            text,
            file: path,
            doc: None,
            warnings: Vec::new(),
        };
        v.config(raw)
    }
}

#[cfg(test)]
mod tests;
