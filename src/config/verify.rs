//! `[dns]` `verify`, `verify_servers`, `verify_within`: whether and where a
//! write is checked at the zone's authoritative servers (the asking is
//! `crate::verify`'s; the settings are plain data in `model::verify`).

use std::time::Duration;

use super::{show_duration, HumanDuration, Seg, VResult, Validator};
use crate::model::verify::{ServerSpec, VerifySettings, VerifySource, MAX_SERVERS, MAX_WITHIN};

/// The three keys as read.
#[derive(Debug, Default)]
pub(super) struct RawVerify {
    pub(super) verify: Option<String>,
    pub(super) servers: Option<Vec<String>>,
    pub(super) within: Option<HumanDuration>,
}

/// `verify_within` is at least this: a write reaches no server faster
/// than one question and its answer.
const MIN_WITHIN: Duration = Duration::from_millis(100);

impl Validator<'_> {
    pub(super) fn verify(&mut self, raw: RawVerify) -> VResult<VerifySettings> {
        let key = |k| [Seg::Key("dns"), Seg::Key(k)];
        let mut servers = Vec::new();
        for (i, s) in raw.servers.iter().flatten().enumerate() {
            let path = [Seg::Key("dns"), Seg::Key("verify_servers"), Seg::Index(i)];
            self.len(&path, s, crate::model::limits::string_limits::HOST_PORT)?;
            match ServerSpec::parse(s) {
                Ok(spec) => servers.push(spec),
                Err(m) => return Err(self.err(&path, m)),
            }
        }
        if servers.len() > MAX_SERVERS {
            return Err(self.err(
                &key("verify_servers"),
                format!(
                    "{} servers; at most {MAX_SERVERS} (each is asked for every group after every write)",
                    servers.len()
                ),
            ));
        }
        let listed = raw.servers.is_some();
        let source = match raw.verify.as_deref() {
            None if listed && servers.is_empty() => {
                return Err(self.err(
                    &key("verify_servers"),
                    "is empty; list the servers to ask, e.g. [\"ns1.example.net\"], or remove the key",
                ))
            }
            None | Some("servers") if listed => VerifySource::Servers(servers),
            None | Some("off") if !listed => VerifySource::Off,
            Some("ns") if !listed => VerifySource::Ns,
            Some("servers") => {
                return Err(self.err(
                    &key("verify"),
                    "\"servers\" needs verify_servers, the servers to ask, e.g. [\"ns1.example.net\", \"127.0.0.1:5353\"]",
                ))
            }
            Some(v @ ("off" | "ns")) => {
                return Err(self.err(
                    &key("verify_servers"),
                    format!("is only used with verify = \"servers\" (or without `verify`); remove it for verify = {v:?}"),
                ))
            }
            Some(other) => {
                return Err(self.err(
                    &key("verify"),
                    format!("unknown value {other:?}; expected \"off\", \"ns\" (the provider's name servers) or \"servers\" (verify_servers)"),
                ))
            }
            None => VerifySource::Off,
        };
        let within = match raw.within {
            None => crate::model::verify::DEFAULT_WITHIN,
            Some(_) if source == VerifySource::Off => {
                return Err(self.err(
                    &key("verify_within"),
                    "is only used when writes are verified; set verify = \"ns\" or verify_servers, or remove it",
                ))
            }
            Some(HumanDuration(d)) if d < MIN_WITHIN => {
                return Err(self.err(
                    &key("verify_within"),
                    format!("{} is too short; at least 100ms", show_duration(d)),
                ))
            }
            Some(HumanDuration(d)) => {
                self.at_most(&key("verify_within"), d, MAX_WITHIN)?;
                d
            }
        };
        Ok(VerifySettings { source, within })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::{Config, ConfigError};
    use crate::model::verify::{ServerSpec, VerifySource};

    fn with_dns(extra: &str) -> String {
        format!(
            r#"
[dns]
provider = "file"
domain = "example.com"
path = "zone.json"
{extra}

[[group]]
name = "api"
subdomain = "api"
type = "A"

[[group.target]]
region = "gz"
value = "192.0.2.1"
tcp = "127.0.0.1:1"
"#
        )
    }

    fn parse(extra: &str) -> Result<Config, ConfigError> {
        Config::from_toml(&with_dns(extra), Path::new("/etc/df/dns-failover.toml"))
    }

    fn err(extra: &str) -> ConfigError {
        parse(extra).expect_err("config should be rejected")
    }

    #[test]
    fn off_by_default_and_the_keys_fill_in() {
        let v = parse("").unwrap().dns.verify;
        assert_eq!(
            (v.source, v.within),
            (VerifySource::Off, Duration::from_secs(60))
        );
        let v = parse("verify = \"ns\"").unwrap().dns.verify;
        assert_eq!(v.source, VerifySource::Ns);
        let v = parse(
            "verify_servers = [\"127.0.0.1:5353\", \"ns1.example.net\"]\nverify_within = \"90s\"",
        )
        .unwrap()
        .dns
        .verify;
        assert_eq!(
            v.source,
            VerifySource::Servers(vec![
                ServerSpec {
                    host: "127.0.0.1".into(),
                    port: 5353
                },
                ServerSpec {
                    host: "ns1.example.net".into(),
                    port: 53
                },
            ])
        );
        assert_eq!(v.within, Duration::from_secs(90));
        let v = parse("verify = \"servers\"\nverify_servers = [\"::1\"]")
            .unwrap()
            .dns
            .verify;
        assert!(v.is_on());
        assert!(!parse("verify = \"off\"").unwrap().dns.verify.is_on());
    }

    #[test]
    fn each_bad_value_names_its_key_and_line() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "verify = \"all\"",
                "dns.verify",
                "unknown value \"all\"; expected \"off\", \"ns\"",
            ),
            (
                "verify = \"servers\"",
                "dns.verify",
                "\"servers\" needs verify_servers",
            ),
            (
                "verify = \"ns\"\nverify_servers = [\"127.0.0.1\"]",
                "dns.verify_servers",
                "is only used with verify = \"servers\"",
            ),
            ("verify_servers = []", "dns.verify_servers", "is empty"),
            (
                "verify_servers = [\"127.0.0.1:5353\", \"ns 1\"]",
                "dns.verify_servers[1]",
                "\"ns 1\" is not an address or a host name",
            ),
            (
                "verify_servers = [\"ns1.example.net:0\"]",
                "dns.verify_servers[0]",
                "has no valid port",
            ),
            (
                "verify_servers = \"127.0.0.1\"",
                "dns.verify_servers",
                "invalid type",
            ),
            (
                "verify_within = \"10s\"",
                "dns.verify_within",
                "is only used when writes are verified",
            ),
            (
                "verify = \"ns\"\nverify_within = \"11m\"",
                "dns.verify_within",
                "is too long; at most 10m",
            ),
            (
                "verify = \"ns\"\nverify_within = \"10ms\"",
                "dns.verify_within",
                "is too short; at least 100ms",
            ),
        ];
        for (extra, key, msg) in cases {
            let e = err(extra);
            assert_eq!(e.key, *key, "{extra}: {e}");
            assert!(e.message.contains(msg), "{extra}: {e}");
            assert!(e.line.is_some(), "{extra}: {e}");
        }
        let many: Vec<String> = (1..=17).map(|i| format!("\"192.0.2.{i}\"")).collect();
        let e = err(&format!("verify_servers = [{}]", many.join(", ")));
        assert_eq!(e.key, "dns.verify_servers");
        assert!(e.message.contains("17 servers; at most 16"), "{e}");
    }
}
