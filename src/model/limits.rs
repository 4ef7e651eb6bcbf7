//! Upper bounds of the config's values (docs/configuration.md, "Limits"):
//! every duration and every string has one, checked by the validation in
//! `config.rs`. Issue 10: `api_budget = "300000000000y"` passed validation
//! and overflowed an `Instant`; a 10 MB `prober` was accepted.

use std::time::Duration;

/// Upper bounds of the duration keys (docs/configuration.md, "Limits").
/// Every duration is bounded: a typo such as `"300000000000y"` must fail
/// validation, not overflow an `Instant` (a panic) or wait for ever.
pub mod duration_limits {
    use std::time::Duration;

    /// `[probe].timeout` and a target's `timeout`: one attempt.
    pub const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
    /// `[probe].interval`: the pause between two attempts.
    pub const PROBE_INTERVAL: Duration = Duration::from_secs(60);
    /// A target's `max_latency`.
    pub const MAX_LATENCY: Duration = Duration::from_secs(60);
    /// `[dns].api_timeout`: one API call.
    pub const API_TIMEOUT: Duration = Duration::from_secs(60);
    /// `[dns].api_budget`: one call with its retries. Five minutes is already
    /// far past a useful failover (SCF's longest synchronous run is 15 min).
    pub const API_BUDGET: Duration = Duration::from_secs(300);
    /// A group's `failback_after`: a week. Longer is `failback = "manual"`.
    pub const FAILBACK_AFTER: Duration = Duration::from_secs(7 * 86_400);
    /// An alert's `timeout`: one try.
    pub const ALERT_TIMEOUT: Duration = Duration::from_secs(60);
    /// An alert's `repeat_every`: a week.
    pub const REPEAT_EVERY: Duration = Duration::from_secs(7 * 86_400);
}

/// Longest accepted value of each string key, in characters
/// (docs/configuration.md, "Limits"). Values are checked after `${VAR}`
/// expansion and before any other check, and the message gives the length,
/// never the value: a 10 MB `prober` is an error, not an alert of 10 MB.
pub mod string_limits {
    /// Names people type and read: `prober`, a group's `name`, a target's
    /// `region`, an alert's `name`, `line`, `alert_timezone`, SMS ids.
    pub const NAME: usize = 64;
    /// Keys with a fixed set of values: `provider`, `type`, `mode`,
    /// `failback`, `method`, `tls`, `min_severity`, an item of `events` or
    /// `expect_status`.
    pub const WORD: usize = 32;
    /// Host names and record values: `domain` (a trailing dot allowed),
    /// `subdomain`, a target's `value`, `smtp_host`.
    pub const HOST: usize = 254;
    /// `tcp` (`host:port`).
    pub const HOST_PORT: usize = 260;
    /// A target's `resolve` (an IP address).
    pub const IP: usize = 64;
    /// URLs: `endpoint`, `url`, `webhook`.
    pub const URL: usize = 2048;
    /// File paths: `[dns].path`, `ca_file`.
    pub const PATH: usize = 4096;
    /// Names of environment variables: the `*_env` keys.
    pub const ENV_NAME: usize = 128;
    /// `user_agent`, `username`, an e-mail address (`from`, an item of
    /// `to`), an item of `template_params` or `mentioned_mobile_list`,
    /// a phone number.
    pub const SHORT_TEXT: usize = 320;
    /// `body_contains`, `password`, `secret`.
    pub const TEXT: usize = 1024;
    /// A header's name.
    pub const HEADER_NAME: usize = 128;
    /// A header's value (room for a long bearer token).
    pub const HEADER_VALUE: usize = 8192;

    /// A string past its limit: its length and the limit, never the value.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
    #[error("is {len} characters long; at most {max} (docs/configuration.md, \"Limits\")")]
    pub struct TooLong {
        pub len: usize,
        pub max: usize,
    }

    impl From<TooLong> for String {
        fn from(e: TooLong) -> String {
            e.to_string()
        }
    }

    /// `Err` when `value` is longer than `max` characters.
    pub fn check(value: &str, max: usize) -> Result<(), TooLong> {
        // Bytes bound characters from above: the count is only needed past it.
        if value.len() <= max {
            return Ok(());
        }
        let len = value.chars().count();
        if len <= max {
            return Ok(());
        }
        Err(TooLong { len, max })
    }
}

/// "60s", "5m", "7days": a bound as people write it.
pub fn show_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}
