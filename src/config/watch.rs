//! `[watch]`: passes every few seconds inside one invocation (`serve`) or
//! in a long-lived process (`dns-failover watch`).

use std::time::Duration;

use serde::Deserialize;

use super::{HumanDuration, Seg, VResult, Validator};

/// `[watch]`, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSettings {
    /// Time from one pass's start to the next's; default 2 s.
    pub interval: Duration,
    /// How long one SCF invocation keeps watching; default 0 (one pass per
    /// invocation). `dns-failover watch` runs until stopped.
    pub for_: Duration,
    /// Consecutive down passes before a target counts as down; default 1.
    pub fall: u32,
    /// Consecutive healthy passes before a target counts as healthy again;
    /// default 1.
    pub rise: u32,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            interval: Duration::from_secs(2),
            for_: Duration::ZERO,
            fall: 1,
            rise: 1,
        }
    }
}

/// Shortest `interval`: a pass is a probe sweep and a DNS read.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);
/// Longest `for`: SCF's longest event-function timeout (15 min).
pub const MAX_FOR: Duration = Duration::from_secs(900);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWatch {
    interval: Option<HumanDuration>,
    #[serde(rename = "for")]
    for_: Option<HumanDuration>,
    fall: Option<i64>,
    rise: Option<i64>,
}

impl Validator<'_> {
    pub(super) fn watch(&mut self, raw: Option<RawWatch>) -> VResult<WatchSettings> {
        let d = WatchSettings::default();
        let Some(raw) = raw else { return Ok(d) };
        let key = |k| [Seg::Key("watch"), Seg::Key(k)];
        let interval = raw.interval.map_or(d.interval, |x| x.0);
        if interval < MIN_INTERVAL {
            return Err(self.err(&key("interval"), "is too short; at least 200ms"));
        }
        self.at_most(&key("interval"), interval, Duration::from_secs(60))?;
        let for_ = raw.for_.map_or(d.for_, |x| x.0);
        self.at_most(&key("for"), for_, MAX_FOR)?;
        let mut count = |k: &'static str, v: Option<i64>| match v {
            None => Ok(1),
            Some(n) if (1..=10).contains(&n) => Ok(n as u32),
            Some(n) => Err(self.err(&key(k), format!("{n} is not between 1 and 10 passes"))),
        };
        let fall = count("fall", raw.fall)?;
        let rise = count("rise", raw.rise)?;
        Ok(WatchSettings {
            interval,
            for_,
            fall,
            rise,
        })
    }
}
