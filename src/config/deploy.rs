//! Checks of a config against where it is deployed, for `validate`:
//!
//! - [`check_time`] (`--function-timeout`, or serverless.yml's `timeout`):
//!   the configured probe plan's worst case must fit the part of the
//!   function's timeout that `serve` leaves for probing
//!   ([`crate::model::budget::TimePlan`]), else the run would have to shorten
//!   its probes, or refuse to probe, on every invocation;
//! - [`check_deploy`] (`--deploy`, run by `function/build.sh`): no
//!   placeholder left from the example config (domain, targets), a DNS
//!   provider that works inside SCF, and an alert channel that pages
//!   someone (console alerts only reach the logs under SCF).
//!
//! Both return problems naming the config keys; they read no file and make
//! no call. [`serverless_timeout`] reads `inputs.timeout` from the text of
//! a serverless.yml.

use std::time::Duration;

use crate::model::budget::{waves, worst_case, TimePlan};

use super::Config;

/// One reason a config does not fit its deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path(s), e.g. `probe.timeout, probe.attempts`.
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Time a pass spends before probing (parse the event, build the clients).
const SETUP: Duration = Duration::from_millis(250);

/// The configured probe plan against a function timeout of `limit`.
pub fn check_time(cfg: &Config, limit: Duration) -> Vec<Problem> {
    let plan = TimePlan::new(limit);
    let s = &cfg.probe;
    let mut slowest: Option<(String, Duration)> = None;
    let mut targets = 0usize;
    for (gi, g) in cfg.groups.iter().enumerate() {
        for (ti, t) in g.targets.iter().enumerate() {
            targets += 1;
            if slowest.as_ref().is_none_or(|(_, d)| t.timeout > *d) {
                let key = if t.timeout == s.timeout {
                    "probe.timeout".to_string()
                } else {
                    format!("group[{gi}].target[{ti}].timeout")
                };
                slowest = Some((key, t.timeout));
            }
        }
    }
    let Some((timeout_key, timeout)) = slowest else {
        return vec![];
    };
    let w = waves(targets, s.concurrency);
    let needed = worst_case(s.attempts, timeout, s.interval, w);
    // What a pass has before its first probe (event, config, credentials)
    // comes off the window, so a plan that passes here runs unshortened.
    let window = plan.probe_until.saturating_sub(SETUP);
    if needed <= window {
        return vec![];
    }
    let mut keys = vec![timeout_key.as_str(), "probe.attempts", "probe.interval"];
    if w > 1 {
        keys.push("probe.concurrency");
    }
    vec![Problem {
        key: keys.join(", "),
        message: format!(
            "the probes' worst case ({} round(s) of {} attempt(s) x {} ms + {} pause(s) x {} ms = {} ms) does not fit the {} ms that a function timeout of {} s leaves for probing (the rest is for DNS writes, alerts and the answer; docs/deploy.md \"Timeouts\"); raise the function timeout or lower these keys",
            w,
            s.attempts,
            timeout.as_millis(),
            s.attempts.saturating_sub(1),
            s.interval.as_millis(),
            needed.as_millis(),
            window.as_millis(),
            limit.as_secs_f64(),
        ),
    }]
}

/// Domains reserved for documentation and tests (RFC 2606, RFC 6761).
fn is_placeholder_domain(d: &str) -> bool {
    let d = d.trim_end_matches('.').to_ascii_lowercase();
    ["example.com", "example.net", "example.org"]
        .iter()
        .any(|e| d == *e || d.ends_with(&format!(".{e}")))
        || [".example", ".test", ".invalid", ".localhost"]
            .iter()
            .any(|s| d.ends_with(s))
}

/// The example config's made-up APPID in API-gateway host names.
const EXAMPLE_APPID: &str = "1250000000";

/// Host names in `text` (a URL, `host:port` or a record value) that are
/// placeholders.
fn placeholder_in(text: &str) -> bool {
    let host = text
        .split("://")
        .last()
        .unwrap_or(text)
        .split(['/', ':', '?'])
        .next()
        .unwrap_or("");
    is_placeholder_domain(host) || text.contains(EXAMPLE_APPID)
}

/// What a config deployed to SCF must not hold.
pub fn check_deploy(cfg: &Config) -> Vec<Problem> {
    let mut out = Vec::new();
    if is_placeholder_domain(&cfg.dns.domain) {
        out.push(Problem {
            key: "dns.domain".into(),
            message: format!(
                "{:?} is a placeholder (a domain reserved for examples); put your own domain",
                cfg.dns.domain
            ),
        });
    }
    if cfg.dns.provider.name() == "file" {
        out.push(Problem {
            key: "dns.provider".into(),
            message: "\"file\" keeps the zone in a file of the function's instance, which nobody serves and SCF throws away; use \"dnspod\"".into(),
        });
    }
    for (gi, g) in cfg.groups.iter().enumerate() {
        for (ti, t) in g.targets.iter().enumerate() {
            if placeholder_in(&t.value) {
                out.push(Problem {
                    key: format!("group[{gi}].target[{ti}].value"),
                    message: format!("{:?} is a placeholder from the example config", t.value),
                });
            }
            let endpoint = t.check.endpoint();
            if placeholder_in(&endpoint) {
                out.push(Problem {
                    key: format!("group[{gi}].target[{ti}].url"),
                    message: format!("{endpoint:?} is a placeholder from the example config"),
                });
            }
        }
    }
    if cfg.alerts.iter().all(|a| a.channel.kind() == "console") {
        out.push(Problem {
            key: "alert".into(),
            message: "no channel pages anyone: under SCF a console alert only reaches the logs; add a wecom, dingtalk, feishu, webhook, email or sms [[alert]] (docs/alerts.md)".into(),
        });
    }
    out
}

/// `inputs.timeout` of a serverless.yml (the `scf` component's function
/// timeout, in seconds), read line by line: the first `timeout:` key
/// indented under `inputs:` whose value is a whole number. `None` when
/// there is none (or it is an `${env:...}` reference).
pub fn serverless_timeout(yaml: &str) -> Option<Duration> {
    let mut in_inputs = false;
    for line in yaml.lines() {
        let code = line.split(" #").next().unwrap_or("").trim_end();
        if code.trim().is_empty() || code.trim_start().starts_with('#') {
            continue;
        }
        let indented = code.starts_with(' ') || code.starts_with('\t');
        if !indented {
            in_inputs = code.trim() == "inputs:";
            continue;
        }
        if in_inputs {
            if let Some(v) = code.trim().strip_prefix("timeout:") {
                return v
                    .trim()
                    .trim_matches(['"', '\''])
                    .parse::<u64>()
                    .ok()
                    .map(Duration::from_secs);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Config {
        let text = format!(
            "{extra}\n[dns]\nprovider = \"file\"\ndomain = \"corp.cn\"\npath = \"z.json\"\n\n[[group]]\nname = \"api\"\nsubdomain = \"api\"\ntype = \"A\"\n\n[[group.target]]\nregion = \"gz\"\nvalue = \"192.0.2.1\"\ntcp = \"10.0.0.1:443\"\n\n[[group.target]]\nregion = \"sh\"\nvalue = \"192.0.2.2\"\ntcp = \"10.0.0.2:443\"\ntimeout = \"4s\"\n"
        );
        Config::from_toml_with(
            &text,
            std::path::Path::new("t.toml"),
            &super::super::Settings::from_map([("X", "y")]),
        )
        .unwrap()
    }

    #[test]
    fn a_probe_plan_longer_than_the_function_timeout_allows_is_refused_naming_its_keys() {
        // Defaults: 3 attempts, 1 s apart; the slowest target waits 4 s.
        let c = cfg("");
        assert!(check_time(&c, Duration::from_secs(30)).is_empty());
        let p = check_time(&c, Duration::from_secs(10));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(
            p[0].key,
            "group[0].target[1].timeout, probe.attempts, probe.interval"
        );
        assert!(p[0].message.contains("14000 ms"), "{}", p[0].message);
        assert!(p[0].message.contains("7250 ms"), "{}", p[0].message);
    }

    #[test]
    fn deploy_refuses_placeholders_a_file_zone_and_console_only_alerts() {
        let c = cfg("");
        let keys: Vec<String> = check_deploy(&c).into_iter().map(|p| p.key).collect();
        assert_eq!(keys, vec!["dns.provider", "alert"]);
    }

    #[test]
    fn placeholders_are_reserved_domains_and_the_example_appid() {
        assert!(is_placeholder_domain("example.com"));
        assert!(is_placeholder_domain("api.example.net."));
        assert!(is_placeholder_domain("x.test"));
        assert!(!is_placeholder_domain("example.company.cn"));
        assert!(placeholder_in(
            "https://service-gz-1250000000.gz.apigw.tencentcs.com/release/health"
        ));
        assert!(placeholder_in("http://www.example.org:8080/x"));
        assert!(!placeholder_in("https://gw.corp.cn/health"));
    }

    #[test]
    fn the_timeout_is_read_from_the_inputs_of_serverless_yml() {
        let y = "app: x\ninputs:\n  name: f\n  # timeout: 5\n  initTimeout: 10\n  timeout: 30 # seconds\n  events:\n    - timer:\n        parameters:\n          timeout: 2\n";
        assert_eq!(serverless_timeout(y), Some(Duration::from_secs(30)));
        assert_eq!(serverless_timeout("inputs:\n  timeout: ${env:T}\n"), None);
        assert_eq!(serverless_timeout("timeout: 3\n"), None);
        let repo = include_str!("../../serverless.yml");
        assert!(serverless_timeout(repo).is_some());
    }
}
