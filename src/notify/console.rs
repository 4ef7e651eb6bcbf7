//! The `console` channel: the alert as text on standard error. It has no
//! keys of its own. When the logs are JSON lines (`serve`), the alert is
//! one log event (one JSON object, in the invocation's span, so with its
//! request id) instead of a block of text lines.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::config::{ChannelSettings, ChannelType, KeyError, Section};
use super::{Alert, BuildError, Error, Notifier, Sent};
use crate::clock::Clock;

/// `type = "console"`: no keys besides the common ones.
pub const TYPE: ChannelType = ChannelType {
    name: "console",
    keys: &[],
    parse,
};

/// `type = "console"` settings: none.
#[derive(Debug, Clone)]
pub struct Config;

fn parse(section: &mut Section) -> Result<Box<dyn ChannelSettings>, KeyError> {
    section.finish()?;
    Ok(Box::new(Config))
}

impl ChannelSettings for Config {
    fn build(
        &self,
        name: &str,
        _timeout: Duration,
        _clock: &Arc<dyn Clock>,
        _lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<dyn Notifier>, BuildError> {
        Ok(Arc::new(Console {
            name: name.to_string(),
        }))
    }
}

/// Prints alerts to standard error.
pub struct Console {
    name: String,
}

#[async_trait]
impl Notifier for Console {
    fn channel(&self) -> &'static str {
        "console"
    }
    fn name(&self) -> &str {
        &self.name
    }
    async fn send(&self, alert: &Alert) -> Result<Sent, Error> {
        use std::io::Write;
        let text = alert.render_text();
        if crate::telemetry::json_lines() {
            tracing::warn!(channel = "console", name = %self.name, severity = alert.severity.as_str(), title = %alert.title, drill = alert.drill, text = %text, "alert");
            return Ok(Sent::default());
        }
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "---- alert ({}) ----\n{text}-------------------",
            self.name
        )
        .map(|_| Sent::default())
        .map_err(|e| Error::Transport(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::config::{validate, RawAlert};

    #[test]
    fn a_console_section_has_no_keys_of_its_own_and_builds_the_console() {
        let raw: RawAlert = toml::from_str("type = \"console\"\nname = \"stderr\"\n").unwrap();
        let cfg = validate(raw).unwrap();
        assert_eq!(cfg.channel.kind(), "console");
        assert!(cfg.channel.settings::<Config>().is_some());
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        let n = cfg
            .channel
            .build(&cfg.name, cfg.timeout, &clock, &|_| None)
            .unwrap();
        assert_eq!((n.channel(), n.name()), ("console", "stderr"));

        let raw: RawAlert =
            toml::from_str("type = \"console\"\nurl = \"https://x.example/\"\n").unwrap();
        assert_eq!(validate(raw).unwrap_err().0, Some("url"));
    }
}
