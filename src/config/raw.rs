//! The file's raw shape: what serde reads, validated into [`super::Config`]
//! by the rest of this module.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer};

use super::*;

// ---------------------------------------------------------------------------
// Raw file shape (what serde reads; validated into the types further down)
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) prober: Option<EnvString>,
    pub(super) alert_timezone: Option<String>,
    #[serde(default)]
    pub(super) probe: RawProbe,
    pub(super) dns: RawDns,
    #[serde(default, rename = "group")]
    pub(super) groups: Vec<RawGroup>,
    #[serde(default, rename = "alert")]
    pub(super) alerts: Vec<RawAlert>,
    pub(super) consensus: Option<consensus::RawConsensus>,
    pub(super) watch: Option<watch::RawWatch>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProbe {
    pub(super) timeout: Option<HumanDuration>,
    pub(super) attempts: Option<u32>,
    pub(super) interval: Option<HumanDuration>,
    pub(super) fail_threshold: Option<u32>,
    pub(super) concurrency: Option<usize>,
    pub(super) follow_redirects: Option<bool>,
    pub(super) user_agent: Option<String>,
    #[serde(default)]
    pub(super) witnesses: Vec<EnvString>,
    pub(super) ca_file: Option<String>,
    pub(super) cert_expiry_warning: Option<HumanDuration>,
}

/// `[dns]`: the common keys, and the provider's keys for the DNS registry
/// (`dns::registry`), which owns them.
#[derive(Debug)]
pub(super) struct RawDns {
    pub(super) provider: String,
    pub(super) domain: EnvString,
    pub(super) ttl: Option<i64>,
    /// `verify`, `verify_servers`, `verify_within`.
    pub(super) verify: super::verify::RawVerify,
    /// Every other key, each value checked by the provider owning it.
    pub(super) keys: ProviderKeys,
}

/// The keys of `[dns]` that config reads itself.
pub(super) const DNS_KEYS: &[&str] = &[
    "provider",
    "domain",
    "ttl",
    "verify",
    "verify_servers",
    "verify_within",
];

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
                let mut verify = super::verify::RawVerify::default();
                while let Some(key) = map.next_key_seed(registry::KeySeed(DNS_KEYS))? {
                    match key.as_str() {
                        "provider" => provider = Some(map.next_value()?),
                        "domain" => domain = Some(map.next_value()?),
                        "ttl" => ttl = map.next_value()?,
                        "verify" => verify.verify = map.next_value()?,
                        "verify_servers" => verify.servers = map.next_value()?,
                        "verify_within" => verify.within = map.next_value()?,
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
                    verify,
                    keys,
                })
            }
        }
        d.deserialize_struct("RawDns", DNS_KEYS, Visitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGroup {
    pub(super) name: String,
    pub(super) subdomain: EnvString,
    #[serde(rename = "type")]
    pub(super) rtype: String,
    pub(super) line: Option<String>,
    pub(super) mode: Option<String>,
    pub(super) failback: Option<String>,
    pub(super) failback_after: Option<HumanDuration>,
    pub(super) max_changes: Option<u32>,
    pub(super) ttl: Option<i64>,
    #[serde(default, rename = "target")]
    pub(super) targets: Vec<RawTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    pub(super) region: String,
    pub(super) value: EnvString,
    pub(super) url: Option<EnvString>,
    pub(super) tcp: Option<EnvString>,
    pub(super) priority: Option<i64>,
    pub(super) expect_status: Option<StatusList>,
    pub(super) body_contains: Option<EnvString>,
    pub(super) max_latency: Option<HumanDuration>,
    pub(super) method: Option<String>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, Secret>,
    pub(super) resolve: Option<String>,
    pub(super) timeout: Option<HumanDuration>,
    pub(super) follow_redirects: Option<bool>,
    pub(super) ca_file: Option<String>,
    pub(super) cert_expiry_warning: Option<HumanDuration>,
}

/// `expect_status` may be one item or a list; items are codes or ranges.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum StatusList {
    One(StatusItem),
    Many(Vec<StatusItem>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum StatusItem {
    Code(i64),
    Text(String),
}
