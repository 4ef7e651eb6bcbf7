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

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::dns::registry::{self, ProviderKeys};
use crate::dns::RecordType;
pub use crate::model::consensus::{ConsensusSettings, NoQuorum};
pub use crate::model::duration::HumanDuration;
pub use crate::model::secret::{expand_env, replace_all, EnvString, Secret, REDACT_MIN_LEN};
pub use crate::model::target::{
    Check, Failback, Group, HttpCheck, Mode, ProbeSettings, StatusMatcher, Target,
};
use crate::notify::config::{AlertConfig, RawAlert};

#[path = "config_consensus.rs"]
mod consensus;
#[path = "config_deploy.rs"]
pub mod deploy;
#[path = "config_settings.rs"]
mod settings;
pub use settings::{Context, Settings, CONFIG_ENV, DEFAULT_CODE_ROOT, DEFAULT_CONFIG_FILE};

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
// Raw file shape (what serde reads; validated into the types further down)
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    prober: Option<EnvString>,
    alert_timezone: Option<String>,
    #[serde(default)]
    probe: RawProbe,
    dns: RawDns,
    #[serde(default, rename = "group")]
    groups: Vec<RawGroup>,
    #[serde(default, rename = "alert")]
    alerts: Vec<RawAlert>,
    consensus: Option<consensus::RawConsensus>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    timeout: Option<HumanDuration>,
    attempts: Option<u32>,
    interval: Option<HumanDuration>,
    fail_threshold: Option<u32>,
    concurrency: Option<usize>,
    follow_redirects: Option<bool>,
    user_agent: Option<String>,
    #[serde(default)]
    witnesses: Vec<EnvString>,
}

/// `[dns]`: the common keys, and the provider's keys for the DNS registry
/// (`dns::registry`), which owns them.
#[derive(Debug)]
struct RawDns {
    provider: String,
    domain: EnvString,
    ttl: Option<i64>,
    /// Every other key, each value checked by the provider owning it.
    keys: ProviderKeys,
}

/// The keys of `[dns]` that config reads itself.
const DNS_KEYS: &[&str] = &["provider", "domain", "ttl"];

/// By hand rather than derived, to hand the provider keys over: an unknown
/// key and a value of the wrong type are still errors of the TOML reader,
/// with the same line and message as when `[dns]` was one struct.
impl<'de> Deserialize<'de> for RawDns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawDns;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("struct RawDns")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawDns, A::Error> {
                use serde::de::Error;
                let (mut provider, mut domain, mut ttl) = (None, None, None);
                let mut keys = ProviderKeys::new();
                while let Some(key) = map.next_key_seed(registry::KeySeed(DNS_KEYS))? {
                    match key.as_str() {
                        "provider" => provider = Some(map.next_value()?),
                        "domain" => domain = Some(map.next_value()?),
                        "ttl" => ttl = map.next_value()?,
                        _ => {
                            let v = map.next_value_seed(registry::ValueSeed(&key))?;
                            keys.insert(key, v);
                        }
                    }
                }
                Ok(RawDns {
                    provider: provider.ok_or_else(|| A::Error::missing_field("provider"))?,
                    domain: domain.ok_or_else(|| A::Error::missing_field("domain"))?,
                    ttl,
                    keys,
                })
            }
        }
        d.deserialize_struct("RawDns", DNS_KEYS, Visitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: String,
    subdomain: EnvString,
    #[serde(rename = "type")]
    rtype: String,
    line: Option<String>,
    mode: Option<String>,
    failback: Option<String>,
    failback_after: Option<HumanDuration>,
    max_changes: Option<u32>,
    ttl: Option<i64>,
    #[serde(default, rename = "target")]
    targets: Vec<RawTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    region: String,
    value: EnvString,
    url: Option<EnvString>,
    tcp: Option<EnvString>,
    priority: Option<i64>,
    expect_status: Option<StatusList>,
    body_contains: Option<EnvString>,
    max_latency: Option<HumanDuration>,
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, Secret>,
    resolve: Option<String>,
    timeout: Option<HumanDuration>,
    follow_redirects: Option<bool>,
}

/// `expect_status` may be one item or a list; items are codes or ranges.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StatusList {
    One(StatusItem),
    Many(Vec<StatusItem>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StatusItem {
    Code(i64),
    Text(String),
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
}

/// `[dns]`.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    pub domain: String,
    /// Default TTL of every record the tool writes; default 60 s.
    pub ttl: u32,
    pub provider: ProviderSettings,
}

pub use crate::dns::dnspod::DnspodSettings;
pub use crate::dns::file::FileSettings;
/// The provider and its own keys (`dns::registry`).
pub use crate::dns::registry::ProviderSettings;

/// DNSPod accepts TTLs 1..=604800; the domain's plan may raise the minimum.
pub const TTL_RANGE: std::ops::RangeInclusive<i64> = 1..=604_800;

use crate::model::limits::show_duration;
pub use crate::model::limits::{duration_limits, string_limits};

#[path = "config_lines.rs"]
pub mod lines;

#[path = "config_structure.rs"]
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

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// One path segment for locating a key in the document.
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

struct Validator<'a> {
    text: &'a str,
    file: &'a Path,
    /// The document with spans, parsed on the first error only.
    doc: Option<toml::de::DeTable<'a>>,
    warnings: Vec<ConfigError>,
}

/// An error about a group's key found after loading (`validate --online`),
/// with the line of the key when the file can still be read.
pub fn group_key_error(cfg: &Config, gi: usize, key: &'static str, message: String) -> ConfigError {
    let text = std::fs::read_to_string(&cfg.path).unwrap_or_default();
    let mut v = Validator {
        text: &text,
        file: &cfg.path,
        doc: None,
        warnings: Vec::new(),
    };
    v.err(&[Seg::Key("group"), Seg::Index(gi), Seg::Key(key)], message)
}

impl Validator<'_> {
    fn err(&mut self, path: &[Seg], message: impl Into<String>) -> ConfigError {
        let key = path
            .iter()
            .map(|s| match s {
                Seg::Key(k) => format!(".{k}"),
                Seg::Index(i) => format!("[{i}]"),
            })
            .collect::<String>()
            .trim_start_matches('.')
            .to_string();
        ConfigError {
            file: self.file.to_path_buf(),
            line: self.locate(path),
            key,
            message: message.into(),
        }
    }

    /// Find the line of a key path (or of its nearest existing parent).
    fn locate(&mut self, path: &[Seg]) -> Option<usize> {
        if self.doc.is_none() {
            self.doc = toml::de::DeTable::parse(self.text)
                .ok()
                .map(|d| d.into_inner());
        }
        let doc = self.doc.as_ref()?;
        let mut best = None;
        walk(doc, path, &mut best);
        best.map(|o| line_of(self.text, o))
    }
}

/// Descend `path` from `table`, remembering the start offset of the deepest
/// key found, so an error points at the key itself or its closest parent.
fn walk(table: &toml::de::DeTable<'_>, path: &[Seg], best: &mut Option<usize>) {
    use toml::de::DeValue;
    let Some((Seg::Key(k), rest)) = path.split_first() else {
        return;
    };
    let Some((key, item)) = table.iter().find(|(key, _)| key.get_ref().as_ref() == *k) else {
        return;
    };
    *best = Some(key.span().start);
    match (rest.split_first(), item.get_ref()) {
        (Some((Seg::Index(n), rest2)), DeValue::Array(a)) => {
            if let Some(v) = a.get(*n) {
                *best = Some(v.span().start);
                if let DeValue::Table(t) = v.get_ref() {
                    walk(t, rest2, best);
                }
            }
        }
        (Some(_), DeValue::Table(t)) => walk(t, rest, best),
        _ => {}
    }
}

/// The dotted key path (`group[0].target[1].url`) of the deepest key whose
/// key or value spans `offset`. A table's own span is only its header, so
/// every table is searched, not only the ones spanning `offset`.
fn key_at(table: &toml::de::DeTable<'_>, offset: usize) -> Option<String> {
    use toml::de::DeValue;
    let within = |r: std::ops::Range<usize>| r.start <= offset && offset < r.end.max(r.start + 1);
    for (key, value) in table.iter() {
        let k = key.get_ref();
        match value.get_ref() {
            DeValue::Table(t) => {
                if let Some(sub) = key_at(t, offset) {
                    return Some(format!("{k}.{sub}"));
                }
            }
            DeValue::Array(a) => {
                for (i, e) in a.iter().enumerate() {
                    if let DeValue::Table(t) = e.get_ref() {
                        if let Some(sub) = key_at(t, offset) {
                            return Some(format!("{k}[{i}].{sub}"));
                        }
                    }
                    if within(e.span()) {
                        return Some(format!("{k}[{i}]"));
                    }
                }
            }
            _ => {}
        }
        if within(key.span()) || within(value.span()) {
            return Some(k.to_string());
        }
    }
    None
}

type VResult<T> = Result<T, ConfigError>;

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "OPTIONS", "PATCH", "DELETE"];

impl Validator<'_> {
    fn config(&mut self, mut raw: RawConfig) -> VResult<Config> {
        self.lengths(&raw)?;
        let witnesses = std::mem::take(&mut raw.probe.witnesses);
        let probe = self.probe(raw.probe)?;
        let witnesses = self.witnesses(witnesses)?;
        let dns = self.dns(raw.dns)?;
        if raw.groups.is_empty() {
            return Err(self.err(
                &[Seg::Key("group")],
                "no [[group]] defined; at least one is required",
            ));
        }
        let mut names = HashSet::new();
        let mut groups = Vec::with_capacity(raw.groups.len());
        for (gi, g) in raw.groups.into_iter().enumerate() {
            if !names.insert(g.name.clone()) {
                let msg = format!(
                    "duplicate group name {:?}; each group needs its own name",
                    g.name
                );
                return Err(self.err(&[Seg::Key("group"), Seg::Index(gi), Seg::Key("name")], msg));
            }
            groups.push(self.group(gi, g, &dns, &probe)?);
        }
        let mut keys = HashSet::new();
        for (gi, g) in groups.iter().enumerate() {
            if !keys.insert(g.key.clone()) {
                let msg = format!(
                    "group {:?} manages {} like an earlier group; two groups must not manage the same records",
                    g.name, g.key
                );
                return Err(self.err(
                    &[Seg::Key("group"), Seg::Index(gi), Seg::Key("subdomain")],
                    msg,
                ));
            }
        }
        let mut alerts = Vec::with_capacity(raw.alerts.len());
        for (ai, a) in raw.alerts.into_iter().enumerate() {
            match crate::notify::config::validate(a) {
                Ok(c) => alerts.push(c),
                Err((key, msg)) => {
                    let mut path = vec![Seg::Key("alert"), Seg::Index(ai)];
                    if let Some(k) = key {
                        path.push(Seg::Key(k));
                    }
                    return Err(self.err(&path, msg));
                }
            }
        }
        let alert_timezone = raw.alert_timezone.unwrap_or_else(|| "Asia/Shanghai".into());
        if let Err(msg) = crate::notify::config::validate_timezone(&alert_timezone) {
            return Err(self.err(&[Seg::Key("alert_timezone")], msg.to_string()));
        }
        let prober = match raw.prober {
            Some(p) if !p.0.trim().is_empty() => p.0.trim().to_string(),
            Some(_) => return Err(self.err(&[Seg::Key("prober")], "must not be empty")),
            None => default_prober(),
        };
        let consensus = match raw.consensus {
            Some(c) => Some(self.consensus(c, &prober)?),
            None => None,
        };
        Ok(Config {
            path: self.file.to_path_buf(),
            prober,
            alert_timezone,
            probe,
            dns,
            groups,
            alerts,
            warnings: std::mem::take(&mut self.warnings),
            settings: Settings::process(),
            consensus,
            witnesses,
        })
    }

    fn probe(&mut self, raw: RawProbe) -> VResult<ProbeSettings> {
        let d = ProbeSettings::default();
        let key = |k| [Seg::Key("probe"), Seg::Key(k)];
        let timeout = raw.timeout.map_or(d.timeout, |t| t.0);
        if timeout.is_zero() || timeout > duration_limits::PROBE_TIMEOUT {
            return Err(self.err(&key("timeout"), "must be between 1ms and 60s"));
        }
        let attempts = raw.attempts.unwrap_or(d.attempts);
        if !(1..=10).contains(&attempts) {
            return Err(self.err(
                &key("attempts"),
                format!("must be between 1 and 10, got {attempts}"),
            ));
        }
        let fail_threshold = raw.fail_threshold.unwrap_or(d.fail_threshold.min(attempts));
        if fail_threshold == 0 || fail_threshold > attempts {
            return Err(self.err(
                &key("fail_threshold"),
                format!("must be between 1 and attempts ({attempts}), got {fail_threshold}"),
            ));
        }
        let interval = raw.interval.map_or(d.interval, |t| t.0);
        if interval > duration_limits::PROBE_INTERVAL {
            return Err(self.err(&key("interval"), "must be at most 60s"));
        }
        let concurrency = raw.concurrency.unwrap_or(d.concurrency);
        if !(1..=100_000).contains(&concurrency) {
            return Err(self.err(
                &key("concurrency"),
                format!("must be between 1 and 100000, got {concurrency}"),
            ));
        }
        Ok(ProbeSettings {
            timeout,
            attempts,
            interval,
            fail_threshold,
            concurrency,
            follow_redirects: raw.follow_redirects.unwrap_or(false),
            user_agent: raw.user_agent.unwrap_or(d.user_agent),
        })
    }

    fn dns(&mut self, raw: RawDns) -> VResult<DnsSettings> {
        let key = |k| [Seg::Key("dns"), Seg::Key(k)];
        let domain = raw
            .domain
            .0
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if !is_hostname(&domain) || !domain.contains('.') {
            let shown = shown_or(&raw.domain, &domain);
            return Err(self.err(
                &key("domain"),
                format!("{shown} is not a domain name like \"example.com\""),
            ));
        }
        let ttl = self.ttl(raw.ttl, &key("ttl"))?.unwrap_or(60);
        let ctx = registry::ParseContext {
            base_dir: self.file.parent().unwrap_or(Path::new(".")),
        };
        let provider = registry::validate(&raw.provider, &raw.keys, &ctx)
            .map_err(|e| self.err(&key(e.key), e.message))?;
        Ok(DnsSettings {
            domain,
            ttl,
            provider,
        })
    }

    /// One string within `max` characters.
    fn len(&mut self, path: &[Seg], value: &str, max: usize) -> VResult<()> {
        string_limits::check(value, max).map_err(|m| self.err(path, m))
    }

    /// Every string of the file (but the alerts, checked with their channel)
    /// within its limit, before any check that could echo one.
    fn lengths(&mut self, raw: &RawConfig) -> VResult<()> {
        use string_limits::*;
        let top = |k| [Seg::Key(k)];
        if let Some(p) = &raw.prober {
            self.len(&top("prober"), &p.0, NAME)?;
        }
        if let Some(tz) = &raw.alert_timezone {
            self.len(&top("alert_timezone"), tz, NAME)?;
        }
        if let Some(ua) = &raw.probe.user_agent {
            self.len(&[Seg::Key("probe"), Seg::Key("user_agent")], ua, SHORT_TEXT)?;
        }
        let d = &raw.dns;
        self.len(&[Seg::Key("dns"), Seg::Key("provider")], &d.provider, WORD)?;
        self.len(&[Seg::Key("dns"), Seg::Key("domain")], &d.domain.0, HOST)?;
        registry::check_lengths(&d.keys)
            .map_err(|e| self.err(&[Seg::Key("dns"), Seg::Key(e.key)], e.message))?;
        for (gi, g) in raw.groups.iter().enumerate() {
            let gk = |k| [Seg::Key("group"), Seg::Index(gi), Seg::Key(k)];
            for (k, v, max) in [
                ("name", Some(g.name.as_str()), NAME),
                ("subdomain", Some(g.subdomain.0.as_str()), HOST),
                ("type", Some(g.rtype.as_str()), WORD),
                ("line", g.line.as_deref(), NAME),
                ("mode", g.mode.as_deref(), WORD),
                ("failback", g.failback.as_deref(), WORD),
            ] {
                if let Some(v) = v {
                    self.len(&gk(k), v, max)?;
                }
            }
            for (ti, t) in g.targets.iter().enumerate() {
                let tk = |k| {
                    [
                        Seg::Key("group"),
                        Seg::Index(gi),
                        Seg::Key("target"),
                        Seg::Index(ti),
                        Seg::Key(k),
                    ]
                };
                for (k, v, max) in [
                    ("region", Some(t.region.as_str()), NAME),
                    ("value", Some(t.value.0.as_str()), HOST),
                    ("url", env_str(&t.url), URL),
                    ("tcp", env_str(&t.tcp), HOST_PORT),
                    ("body_contains", env_str(&t.body_contains), TEXT),
                    ("method", t.method.as_deref(), WORD),
                    ("resolve", t.resolve.as_deref(), IP),
                ] {
                    if let Some(v) = v {
                        self.len(&tk(k), v, max)?;
                    }
                }
                let items = match &t.expect_status {
                    Some(StatusList::One(i)) => std::slice::from_ref(i),
                    Some(StatusList::Many(v)) => v.as_slice(),
                    None => &[],
                };
                for i in items {
                    if let StatusItem::Text(v) = i {
                        self.len(&tk("expect_status"), v, WORD)?;
                    }
                }
                for (name, v) in &t.headers {
                    self.len(&tk("headers"), name, HEADER_NAME)?;
                    let path = [
                        Seg::Key("group"),
                        Seg::Index(gi),
                        Seg::Key("target"),
                        Seg::Index(ti),
                        Seg::Key("headers"),
                        Seg::Key(name),
                    ];
                    self.len(&path, v.expose(), HEADER_VALUE)?;
                }
            }
        }
        Ok(())
    }

    /// A duration key within its documented upper bound.
    fn at_most(&mut self, path: &[Seg], d: Duration, max: Duration) -> VResult<()> {
        if d <= max {
            return Ok(());
        }
        Err(self.err(
            path,
            format!(
                "{} is too long; at most {} (docs/configuration.md, \"Limits\")",
                show_duration(d),
                show_duration(max)
            ),
        ))
    }

    fn ttl(&mut self, ttl: Option<i64>, path: &[Seg]) -> VResult<Option<u32>> {
        match ttl {
            None => Ok(None),
            Some(t) if TTL_RANGE.contains(&t) => Ok(Some(t as u32)),
            Some(t) => Err(self.err(
                path,
                format!("TTL {t} is out of range; expected 1 to 604800 seconds (DNSPod free plans accept 600 and up)"),
            )),
        }
    }

    fn group(
        &mut self,
        gi: usize,
        g: RawGroup,
        dns: &DnsSettings,
        probe: &ProbeSettings,
    ) -> VResult<Group> {
        let gk = |k| [Seg::Key("group"), Seg::Index(gi), Seg::Key(k)];
        if g.name.trim().is_empty() || g.name.chars().any(char::is_whitespace) {
            return Err(self.err(
                &gk("name"),
                "must be a non-empty word without spaces (it is typed in `failback --group`)",
            ));
        }
        let subdomain = g.subdomain.0.trim().to_ascii_lowercase();
        if !(subdomain == "@" || is_hostname(&subdomain) || is_wildcard(&subdomain)) {
            let shown = shown_or(&g.subdomain, &subdomain);
            return Err(self.err(
                &gk("subdomain"),
                format!("{shown} is not a host name; use \"@\" for the apex"),
            ));
        }
        let Some(rtype) = RecordType::parse(&g.rtype) else {
            return Err(self.err(
                &gk("type"),
                format!(
                    "unsupported record type {:?}; expected \"A\", \"AAAA\" or \"CNAME\"",
                    g.rtype
                ),
            ));
        };
        let line = g.line.unwrap_or_else(|| "默认".into());
        if let Err(m) = lines::check(&line) {
            return Err(self.err(&gk("line"), m));
        }
        if let Some(m) = lines::warning(&line) {
            let w = self.err(&gk("line"), m);
            self.warnings.push(w);
        }
        let mode = match g.mode.as_deref() {
            None | Some("failover") => Mode::Failover,
            Some("active") => Mode::Active,
            Some(m) => {
                return Err(self.err(
                    &gk("mode"),
                    format!("unknown mode {m:?}; expected \"failover\" or \"active\""),
                ))
            }
        };
        let failback = match g.failback.as_deref() {
            None | Some("auto") => Failback::Auto,
            Some("manual") => Failback::Manual,
            Some(m) => {
                return Err(self.err(
                    &gk("failback"),
                    format!("unknown failback {m:?}; expected \"auto\" or \"manual\""),
                ))
            }
        };
        let max_changes = g.max_changes.unwrap_or(2);
        if max_changes == 0 {
            return Err(self.err(&gk("max_changes"), "must be at least 1"));
        }
        let ttl = self.ttl(g.ttl, &gk("ttl"))?.unwrap_or(dns.ttl);
        let failback_after = g.failback_after.map_or(Duration::from_secs(300), |d| d.0);
        self.at_most(
            &gk("failback_after"),
            failback_after,
            duration_limits::FAILBACK_AFTER,
        )?;
        if g.targets.is_empty() {
            return Err(self.err(
                &gk("name"),
                format!(
                    "group {:?} has no [[group.target]]; add at least one",
                    g.name
                ),
            ));
        }
        let mut regions = HashSet::new();
        let mut values = HashSet::new();
        let mut targets = Vec::with_capacity(g.targets.len());
        for (ti, t) in g.targets.into_iter().enumerate() {
            let tk = |k| {
                [
                    Seg::Key("group"),
                    Seg::Index(gi),
                    Seg::Key("target"),
                    Seg::Index(ti),
                    Seg::Key(k),
                ]
            };
            if t.region.trim().is_empty() {
                return Err(self.err(&tk("region"), "must not be empty"));
            }
            if !regions.insert(t.region.clone()) {
                let msg = format!(
                    "duplicate region {:?} in group {:?}; each region appears once per group",
                    t.region, g.name
                );
                return Err(self.err(&tk("region"), msg));
            }
            let value = t.value.0.trim().trim_end_matches('.').to_string();
            let shown = shown_or(&t.value, &value);
            if let Err(m) = check_value(rtype, &value, &shown) {
                return Err(self.err(&tk("value"), m));
            }
            if !values.insert(value.clone()) {
                let msg = format!("value {shown} is used by two targets of group {:?}", g.name);
                return Err(self.err(&tk("value"), msg));
            }
            let target = self.target(t, &tk, value, ti, probe)?;
            targets.push(target);
        }
        // Stable: equal priorities keep file order.
        targets.sort_by_key(|t| t.priority);
        Ok(Group {
            name: g.name,
            key: crate::dns::RecordKey {
                domain: dns.domain.clone(),
                subdomain,
                rtype,
                line,
            },
            mode,
            failback,
            failback_after,
            max_changes,
            ttl,
            targets,
        })
    }

    fn target(
        &mut self,
        t: RawTarget,
        tk: &dyn Fn(&'static str) -> [Seg<'static>; 5],
        value: String,
        ti: usize,
        probe: &ProbeSettings,
    ) -> VResult<Target> {
        let timeout = t.timeout.map_or(probe.timeout, |d| d.0);
        if timeout.is_zero() || timeout > duration_limits::PROBE_TIMEOUT {
            return Err(self.err(&tk("timeout"), "must be between 1ms and 60s"));
        }
        if let Some(d) = &t.max_latency {
            self.at_most(&tk("max_latency"), d.0, duration_limits::MAX_LATENCY)?;
        }
        let check = match (t.url, t.tcp) {
            (Some(_), Some(_)) => {
                return Err(self.err(&tk("tcp"), "give either `url` or `tcp`, not both"))
            }
            (None, None) => {
                return Err(self.err(
                    &tk("region"),
                    "needs `url` (HTTP/HTTPS probe) or `tcp` (\"host:port\")",
                ))
            }
            (None, Some(addr)) => {
                for (k, set) in [
                    ("expect_status", t.expect_status.is_some()),
                    ("body_contains", t.body_contains.is_some()),
                    ("method", t.method.is_some()),
                    ("resolve", t.resolve.is_some()),
                    ("headers", !t.headers.is_empty()),
                    ("follow_redirects", t.follow_redirects.is_some()),
                ] {
                    if set {
                        return Err(
                            self.err(&tk(k), "only applies to HTTP probes (`url`), not `tcp`")
                        );
                    }
                }
                match addr.0.rsplit_once(':') {
                    Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0) => {}
                    _ => {
                        return Err(self.err(
                            &tk("tcp"),
                            format!("{} is not \"host:port\"", addr.quoted()),
                        ))
                    }
                }
                if t.max_latency.is_some() {
                    return Err(self.err(
                        &tk("max_latency"),
                        "only applies to HTTP probes (`url`); a TCP probe is bounded by `timeout`",
                    ));
                }
                Check::Tcp { addr }
            }
            (Some(url), None) => {
                match reqwest::Url::parse(&url.0) {
                    Ok(u)
                        if (u.scheme() == "http" || u.scheme() == "https")
                            && u.host().is_some() => {}
                    // The scheme is named only when it was written in the
                    // file: from the environment, it is part of the value.
                    Ok(u) if !url.is_expanded() => {
                        return Err(self.err(
                            &tk("url"),
                            format!(
                                "scheme {:?} is not supported; expected an http:// or https:// URL",
                                u.scheme()
                            ),
                        ))
                    }
                    Ok(_) => {
                        return Err(self.err(
                            &tk("url"),
                            format!("{} is not an http:// or https:// URL", url.quoted()),
                        ))
                    }
                    Err(e) => {
                        return Err(self.err(
                            &tk("url"),
                            format!("{} is not a valid URL: {e}", url.quoted()),
                        ))
                    }
                }
                let method = t
                    .method
                    .unwrap_or_else(|| "GET".into())
                    .to_ascii_uppercase();
                if !METHODS.contains(&method.as_str()) {
                    return Err(self.err(
                        &tk("method"),
                        format!(
                            "unsupported method {method:?}; expected one of {}",
                            METHODS.join(", ")
                        ),
                    ));
                }
                let expect_status = match t.expect_status {
                    None => StatusMatcher(vec![(200, 299)]),
                    Some(list) => {
                        let items = match list {
                            StatusList::One(i) => vec![i],
                            StatusList::Many(v) => v,
                        };
                        if items.is_empty() {
                            return Err(
                                self.err(&tk("expect_status"), "must list at least one status")
                            );
                        }
                        let mut ranges = Vec::new();
                        for it in items {
                            let text = match it {
                                StatusItem::Code(c) => c.to_string(),
                                StatusItem::Text(s) => s,
                            };
                            match StatusMatcher::parse_item(&text) {
                                Some(r) => ranges.push(r),
                                None => {
                                    return Err(self.err(
                                        &tk("expect_status"),
                                        format!("{text:?} is not a status; expected a code (200), a class (\"2xx\") or a range (\"200-399\")"),
                                    ))
                                }
                            }
                        }
                        StatusMatcher(ranges)
                    }
                };
                let resolve = match t.resolve {
                    None => None,
                    Some(r) => match r.trim().parse::<std::net::IpAddr>() {
                        Ok(ip) => Some(ip),
                        Err(_) => {
                            return Err(
                                self.err(&tk("resolve"), format!("{r:?} is not an IP address"))
                            )
                        }
                    },
                };
                let mut headers = Vec::new();
                for (name, v) in t.headers {
                    if name.is_empty()
                        || !name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b))
                    {
                        return Err(self.err(
                            &tk("headers"),
                            format!("{name:?} is not a valid header name"),
                        ));
                    }
                    if v.expose().contains(['\r', '\n']) {
                        return Err(self.err(
                            &tk("headers"),
                            format!("value of header {name:?} contains a line break"),
                        ));
                    }
                    headers.push((name, v));
                }
                if let Some(b) = &t.body_contains {
                    if b.0.is_empty() {
                        return Err(self.err(&tk("body_contains"), "must not be empty"));
                    }
                }
                Check::Http(HttpCheck {
                    url,
                    method,
                    headers,
                    expect_status,
                    body_contains: t.body_contains,
                    max_latency: t.max_latency.map(|d| d.0),
                    resolve,
                    follow_redirects: t.follow_redirects.unwrap_or(probe.follow_redirects),
                })
            }
        };
        Ok(Target {
            region: t.region,
            value,
            priority: t.priority.unwrap_or(ti as i64),
            check,
            timeout,
        })
    }
}

/// An optional expanded string as `&str`.
pub(crate) fn env_str(v: &Option<EnvString>) -> Option<&str> {
    v.as_ref().map(|v| v.0.as_str())
}

fn default_prober() -> String {
    if let Some(r) = env_lookup("TENCENTCLOUD_REGION") {
        if !r.is_empty() {
            return r;
        }
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".into())
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

fn is_wildcard(s: &str) -> bool {
    s == "*" || s.strip_prefix("*.").is_some_and(is_hostname)
}

/// `v` must suit the record type; messages quote `shown`, never `v`.
fn check_value(rtype: RecordType, v: &str, shown: &str) -> Result<(), String> {
    match rtype {
        RecordType::A => v
            .parse::<std::net::Ipv4Addr>()
            .map(|_| ())
            .map_err(|_| format!("{shown} is not an IPv4 address (type A)")),
        RecordType::Aaaa => v
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| format!("{shown} is not an IPv6 address (type AAAA)")),
        RecordType::Cname => {
            if is_hostname(v) && v.contains('.') {
                Ok(())
            } else {
                Err(format!("{shown} is not a host name (type CNAME), e.g. \"service-abc-123.gz.apigw.tencentcs.com\""))
            }
        }
    }
}

/// How an error quotes a value normalised from `s` (trimmed, lower-cased):
/// `s` as written when it came from the environment, else `normalised`.
fn shown_or(s: &EnvString, normalised: &str) -> String {
    if s.is_expanded() {
        s.quoted()
    } else {
        format!("{normalised:?}")
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
