//! `[[alert]]` sections: one per channel. The keys common to every channel
//! (`type`, `name`, `min_severity`, `events`, `timeout`, `repeat_every`) are
//! read and validated here; the rest go, as written, to the channel named by
//! `type`, which reads them from its [`Section`] in its own file
//! (`email.rs`, `wecom.rs`, ...), before any network call.
//!
//! Adding a channel: a file with its settings type, a [`ChannelType`] const
//! (`name`, `keys`, `parse`) and an impl of [`ChannelSettings`]; one line in
//! [`CHANNELS`]; a test file. Nothing here imports the crate's `config`: it
//! calls [`validate`] on each `[[alert]]` it deserialised.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::{BuildError, Notifier};
use crate::clock::Clock;
use crate::model::duration::HumanDuration;
use crate::model::event::{EventKind, Severity};
use crate::model::limits::{duration_limits, string_limits};
use crate::model::secret::{EnvString, Secret};

/// Every channel type, in the order the "unknown alert type" message lists
/// them. Adding a channel is one line here (and its file).
pub static CHANNELS: &[ChannelType] = &[
    super::console::TYPE,
    super::email::TYPE,
    super::wecom::TYPE,
    super::sms::TYPE,
    super::dingtalk::TYPE,
    super::feishu::TYPE,
    super::webhook::TYPE,
];

/// One alert channel type, as the registry knows it.
pub struct ChannelType {
    /// The `type` value, e.g. `"wecom"`.
    pub name: &'static str,
    /// The channel's own keys, beside the common ones. A key of another
    /// channel is refused ("does not apply"); a key of none is unknown.
    pub keys: &'static [&'static str],
    /// Read and validate the channel's keys, then [`Section::finish`].
    pub parse: fn(&mut Section) -> Result<Box<dyn ChannelSettings>, KeyError>,
}

/// A channel's validated settings: they make the channel.
pub trait ChannelSettings: fmt::Debug + Send + Sync + Any {
    /// Make the channel named `name`, each try bounded by `timeout`.
    /// Channels that hold credentials named by environment variables (SMS)
    /// read them through `lookup` (the config's settings) here, so this runs
    /// once per pass.
    fn build(
        &self,
        name: &str,
        timeout: Duration,
        clock: &Arc<dyn Clock>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<dyn Notifier>, BuildError>;
}

/// The keys common to every `[[alert]]`, in the order serde lists them.
const COMMON: [&str; 6] = [
    "type",
    "name",
    "min_severity",
    "events",
    "timeout",
    "repeat_every",
];

/// Every key an `[[alert]]` may have: the common ones, then each channel's
/// in registry order (for the "unknown field" message and the order in
/// which a key of another channel is reported).
fn all_keys() -> &'static [&'static str] {
    static KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys: Vec<&'static str> = COMMON.to_vec();
        for k in CHANNELS.iter().flat_map(|c| c.keys) {
            if !keys.contains(k) {
                keys.push(k);
            }
        }
        keys
    })
}

/// Error of one `[[alert]]`: (key, message).
pub type KeyError = (Option<&'static str>, String);

/// The raw `[[alert]]` table as written in the file: the common keys, typed,
/// and the channel's own keys as TOML values, read by the channel. A key
/// that no channel knows is refused while parsing, with its line.
#[derive(Debug, Default)]
pub struct RawAlert {
    pub kind: String,
    /// A label for reports; default: the type.
    pub name: Option<String>,
    pub min_severity: Option<String>,
    pub events: Option<Vec<String>>,
    /// Per-try timeout of this channel; default 5 s.
    pub timeout: Option<HumanDuration>,
    /// Remind about a standing condition (all targets down, ...) this often.
    pub repeat_every: Option<HumanDuration>,
    /// The channel's keys, values as written (`${NAME}` not yet expanded).
    pub section: toml::Table,
}

/// A key of `[[alert]]`: a common one, or one some channel knows.
enum Field {
    Type,
    Name,
    MinSeverity,
    Events,
    Timeout,
    RepeatEvery,
    Channel(&'static str),
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("field identifier")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "type" => Field::Type,
                    "name" => Field::Name,
                    "min_severity" => Field::MinSeverity,
                    "events" => Field::Events,
                    "timeout" => Field::Timeout,
                    "repeat_every" => Field::RepeatEvery,
                    other => match all_keys().iter().find(|k| **k == other) {
                        Some(k) => Field::Channel(k),
                        None => return Err(E::unknown_field(other, all_keys())),
                    },
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de> Deserialize<'de> for RawAlert {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawAlert;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("struct RawAlert")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawAlert, A::Error> {
                let mut raw = RawAlert::default();
                let mut kind = None;
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::Type => kind = Some(map.next_value()?),
                        Field::Name => raw.name = Some(map.next_value()?),
                        Field::MinSeverity => raw.min_severity = Some(map.next_value()?),
                        Field::Events => raw.events = Some(map.next_value()?),
                        Field::Timeout => raw.timeout = Some(map.next_value()?),
                        Field::RepeatEvery => raw.repeat_every = Some(map.next_value()?),
                        Field::Channel(k) => {
                            let v: toml::Value = map.next_value()?;
                            raw.section.insert(k.to_string(), v);
                        }
                    }
                }
                raw.kind = kind.ok_or_else(|| de::Error::missing_field("type"))?;
                Ok(raw)
            }
        }
        d.deserialize_struct("RawAlert", all_keys(), V)
    }
}

/// The keys of one `[[alert]]` that belong to its channel. The channel takes
/// the keys it uses ([`Section::take`]), then [`Section::finish`] refuses
/// the rest.
#[derive(Debug)]
pub struct Section {
    kind: String,
    table: toml::Table,
}

impl Section {
    pub fn new(kind: impl Into<String>, table: toml::Table) -> Section {
        Section {
            kind: kind.into(),
            table,
        }
    }

    /// The channel type, for messages.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Take `key` out, read as `T` (`${NAME}` expanded for [`EnvString`] and
    /// [`Secret`]); a value of the wrong type is an error on the key.
    pub fn take<T: DeserializeOwned>(&mut self, key: &'static str) -> Result<Option<T>, KeyError> {
        match self.table.remove(key) {
            None => Ok(None),
            Some(v) => T::deserialize(v)
                .map(Some)
                .map_err(|e| (Some(key), e.message().trim().to_string())),
        }
    }

    /// Refuse the keys left: they belong to another channel type. The first
    /// in [`all_keys`] order is named.
    pub fn finish(&self) -> Result<(), KeyError> {
        match all_keys().iter().find(|k| self.table.contains_key(**k)) {
            None => Ok(()),
            Some(k) => Err((
                Some(k),
                format!("`{k}` does not apply to an alert of type {:?}", self.kind),
            )),
        }
    }
}

/// A validated alert channel.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// Label in reports, e.g. `console` or `wecom-oncall`.
    pub name: String,
    /// Alerts below this severity are not sent on this channel; default `info`.
    pub min_severity: Severity,
    /// Only these event kinds (default: every alerting kind).
    pub events: Option<Vec<EventKind>>,
    /// Per-try timeout; default 5 s. A retry follows only a failure before
    /// the message reached the service, or a temporary answer.
    pub timeout: Duration,
    /// Reminder period for standing conditions; default none (alert once).
    pub repeat_every: Option<Duration>,
    pub channel: Channel,
}

/// Default per-try timeout of a channel.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A channel's type and validated settings.
#[derive(Debug, Clone)]
pub struct Channel {
    kind: &'static str,
    settings: Arc<dyn ChannelSettings>,
}

impl Channel {
    /// The channel type, e.g. `"wecom"`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The settings when they are a `T` (e.g. `sms::SmsConfig`).
    pub fn settings<T: ChannelSettings>(&self) -> Option<&T> {
        let any: &dyn Any = &*self.settings;
        any.downcast_ref()
    }

    /// Make the channel (see [`ChannelSettings::build`]).
    pub fn build(
        &self,
        name: &str,
        timeout: Duration,
        clock: &Arc<dyn Clock>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<dyn Notifier>, BuildError> {
        self.settings.build(name, timeout, clock, lookup)
    }
}

/// "\"console\", \"email\", ... or \"webhook\"": the registry's types.
fn types() -> String {
    let names: Vec<String> = CHANNELS.iter().map(|c| format!("{:?}", c.name)).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// Validate one `[[alert]]`; on error returns (key, message).
pub fn validate(mut raw: RawAlert) -> Result<AlertConfig, KeyError> {
    check_lengths(&raw)?;
    let min_severity = match raw.min_severity.as_deref() {
        None => Severity::Info,
        Some(s) => Severity::parse(s).ok_or((
            Some("min_severity"),
            format!("unknown severity {s:?}; expected \"info\", \"warning\" or \"critical\""),
        ))?,
    };
    let events = match raw.events.take() {
        None => None,
        Some(list) => {
            let mut out = Vec::new();
            for e in list {
                match EventKind::parse(&e) {
                    Some(k) => out.push(k),
                    None => {
                        let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                        return Err((
                            Some("events"),
                            format!("unknown event {e:?}; expected some of {}", names.join(", ")),
                        ));
                    }
                }
            }
            Some(out)
        }
    };
    let timeout = raw.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
    if timeout.is_zero() || timeout > duration_limits::ALERT_TIMEOUT {
        return Err((
            Some("timeout"),
            "must be between 1ms and 60s (each try; one retry follows)".into(),
        ));
    }
    let repeat_every = raw.repeat_every.map(|d| d.0);
    if repeat_every.is_some_and(|d| d < Duration::from_secs(60)) {
        return Err((
            Some("repeat_every"),
            "must be at least 1m (runs are a minute apart)".into(),
        ));
    }
    if repeat_every.is_some_and(|d| d > duration_limits::REPEAT_EVERY) {
        return Err((
            Some("repeat_every"),
            "must be at most 7days (without it a standing condition pages once)".into(),
        ));
    }
    let Some(ty) = CHANNELS.iter().find(|c| c.name == raw.kind) else {
        return Err((
            Some("type"),
            format!("unknown alert type {:?}; expected {}", raw.kind, types()),
        ));
    };
    let mut section = Section::new(raw.kind.clone(), std::mem::take(&mut raw.section));
    let settings = (ty.parse)(&mut section)?;
    Ok(AlertConfig {
        name: raw.name.unwrap_or_else(|| raw.kind.clone()),
        min_severity,
        events,
        timeout,
        repeat_every,
        channel: Channel {
            kind: ty.name,
            settings: Arc::from(settings),
        },
    })
}

/// The common strings of one `[[alert]]` within their limits
/// ([`string_limits`]), before any check that could echo one. Each channel
/// checks its own keys the same way ([`check_len`], [`check_items`]).
fn check_lengths(raw: &RawAlert) -> Result<(), KeyError> {
    use string_limits::{NAME, WORD};
    check_len("type", Some(raw.kind.as_str()), WORD)?;
    check_len("name", raw.name.as_deref(), NAME)?;
    check_len("min_severity", raw.min_severity.as_deref(), WORD)?;
    check_items(
        "events",
        raw.events.iter().flatten().map(String::as_str),
        WORD,
    )
}

/// `key`'s value, when set, within `max` characters. The message gives the
/// length, never the value (most are secrets).
pub fn check_len(key: &'static str, value: Option<&str>, max: usize) -> Result<(), KeyError> {
    match value {
        Some(v) => string_limits::check(v, max).map_err(|m| (Some(key), m.to_string())),
        None => Ok(()),
    }
}

/// Every item of the list `key` within `max` characters.
pub fn check_items<'a>(
    key: &'static str,
    items: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Result<(), KeyError> {
    for (i, v) in items.into_iter().enumerate() {
        string_limits::check(v, max).map_err(|m| (Some(key), format!("item {} {m}", i + 1)))?;
    }
    Ok(())
}

/// The expanded value of an optional [`EnvString`], for length checks.
pub fn env_str(v: &Option<EnvString>) -> Option<&str> {
    v.as_ref().map(|v| v.0.as_str())
}

/// The value of an optional [`Secret`], for length checks.
pub fn secret_str(v: &Option<Secret>) -> Option<&str> {
    v.as_ref().map(|v| v.expose())
}

/// A required key.
pub fn required<T>(v: Option<T>, key: &'static str, kind: &str) -> Result<T, KeyError> {
    v.ok_or_else(|| (Some(key), format!("required for an alert of type {kind:?}")))
}

/// Check a webhook URL without ever echoing it (the URL holds the key).
pub fn check_url(url: &Secret, key: &'static str) -> Result<(), KeyError> {
    match reqwest::Url::parse(url.expose()) {
        Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host().is_some() => Ok(()),
        Ok(_) => Err((Some(key), "must be an http(s) URL with a host".into())),
        Err(e) => Err((Some(key), format!("not a valid URL ({e}); value not shown"))),
    }
}

/// `alert_timezone` names a zone we cannot render times in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {0:?}; expected an IANA name such as \"Asia/Shanghai\" or \"UTC\"")]
pub struct UnknownTimeZone(pub String);

/// `alert_timezone` must be a zone we can render times in.
pub fn validate_timezone(tz: &str) -> Result<(), UnknownTimeZone> {
    super::timezone_offset(tz)
        .map(|_| ())
        .ok_or_else(|| UnknownTimeZone(tz.to_string()))
}

/// A chat robot's webhook and its optional signing secret: the settings of
/// `type = "dingtalk"` and `type = "feishu"` (they differ in how they sign).
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    /// The robot URL; it holds the access token, so it is a secret.
    pub webhook: Secret,
    /// Signing secret (DingTalk 加签 `SEC...`, Feishu 签名校验), if the robot has one.
    pub secret: Option<Secret>,
}

impl SignedWebhook {
    /// The keys of a signed robot.
    pub const KEYS: &'static [&'static str] = &["webhook", "secret"];

    /// Read `webhook` and `secret` from `section` and validate them.
    pub fn read(section: &mut Section) -> Result<SignedWebhook, KeyError> {
        let webhook: Option<Secret> = section.take("webhook")?;
        let secret: Option<Secret> = section.take("secret")?;
        check_len("webhook", secret_str(&webhook), string_limits::URL)?;
        check_len("secret", secret_str(&secret), string_limits::TEXT)?;
        let kind = section.kind().to_string();
        let webhook = required(webhook, "webhook", &kind)?;
        check_url(&webhook, "webhook")?;
        let secret = secret.filter(|s| !s.is_empty());
        Ok(SignedWebhook { webhook, secret })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RawAlert, String> {
        toml::from_str::<RawAlert>(text).map_err(|e| e.message().to_string())
    }

    #[test]
    fn the_registry_names_each_type_once_and_no_channel_takes_a_common_key() {
        for (i, c) in CHANNELS.iter().enumerate() {
            assert!(
                CHANNELS[..i].iter().all(|o| o.name != c.name),
                "{} twice",
                c.name
            );
            for k in c.keys {
                assert!(!COMMON.contains(k), "{}: {k} is a common key", c.name);
            }
        }
        assert_eq!(
            types(),
            "\"console\", \"email\", \"wecom\", \"sms\", \"dingtalk\", \"feishu\" or \"webhook\""
        );
    }

    #[test]
    fn an_unknown_key_is_refused_while_parsing_and_a_key_of_another_channel_does_not_apply() {
        let e = parse("type = \"console\"\nwebhok = \"x\"\n").unwrap_err();
        assert!(
            e.starts_with("unknown field `webhok`, expected one of `type`, `name`, `min_severity`"),
            "{e}"
        );
        assert!(
            e.contains("`session_token_env`") && e.contains("`headers`"),
            "{e}"
        );
        assert_eq!(parse("name = \"x\"\n").unwrap_err(), "missing field `type`");

        let raw = parse("type = \"console\"\nwebhook = \"https://x.example/y\"\n").unwrap();
        let (k, m) = validate(raw).unwrap_err();
        assert_eq!(k, Some("webhook"));
        assert_eq!(
            m,
            "`webhook` does not apply to an alert of type \"console\""
        );
    }

    #[test]
    fn a_channel_key_of_the_wrong_type_is_an_error_on_that_key() {
        let raw = parse(
            "type = \"wecom\"\nwebhook = \"https://x.example/y\"\nmentioned_mobile_list = \"1\"\n",
        )
        .unwrap();
        let (k, m) = validate(raw).unwrap_err();
        assert_eq!(k, Some("mentioned_mobile_list"));
        assert!(
            m.starts_with("invalid type: string \"1\", expected a sequence"),
            "{m}"
        );
    }
}
