//! `dns-failover validate --online`: the config checks that need the DNS
//! provider's API, run only when asked (plain `validate` makes no network
//! call). Two checks: every group's `line` is a line of the domain (an
//! error), and every `active` group fits the plan's round-robin cap and
//! `ttl` its lowest TTL (warnings).
//!
//! DNSPod's lines depend on the domain's plan (paid plans add province and
//! ISP lines; custom lines and line groups are per account), so the plan is
//! read first with `DescribeDomain` (`DomainInfo.Grade`, e.g. `DP_FREE`),
//! then `DescribeRecordLineList` (`Domain`, `DomainGrade`) gives the names:
//! `LineList[].Name` and `LineGroupList[].Name`. Shapes from the official
//! SDK model (tencentcloud-sdk-go `dnspod/v20210323/models.go`). Without
//! this check a wrong line only shows at the first failover, as DNSPod's
//! `InvalidParameter.RecordLineInvalid`. The plan's limits come from
//! `DescribePackageDetail` (`MinTtl`, `RecordRoll` of the item whose
//! `DomainGrade` is the domain's grade): an active group with more targets
//! than `RecordRoll` fails to enable the last ones
//! (`LimitExceeded.SubdomainRollLimit`) once they are all up.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use crate::clock::SystemClock;
use crate::config::{self, lines, Config, ConfigError, ProviderSettings};
use crate::dns::dnspod::{self, SERVICE};
use crate::dns::{DnsProvider, PlanLimits, Record, RecordKey};
use crate::model::target::Mode;
use crate::tencent::{self, Client, ClientOptions, Credentials};

/// The lines a domain's records may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainLines {
    pub domain: String,
    /// `DomainInfo.Grade`, e.g. `DP_FREE`.
    pub grade: String,
    /// `DomainInfo.GradeLevel`, e.g. 2.
    pub grade_level: Option<u64>,
    /// Line and line-group names.
    pub names: BTreeSet<String>,
}

#[derive(Debug, Deserialize)]
struct DomainReply {
    #[serde(rename = "DomainInfo")]
    info: DomainInfo,
}

#[derive(Debug, Deserialize)]
struct DomainInfo {
    #[serde(rename = "Grade")]
    grade: String,
    #[serde(rename = "GradeLevel", default)]
    grade_level: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct LineListReply {
    #[serde(rename = "LineList", default)]
    lines: Option<Vec<Named>>,
    #[serde(rename = "LineGroupList", default)]
    groups: Option<Vec<Named>>,
}

/// `LineInfo` and `LineGroupInfo`: only the name matters here.
#[derive(Debug, Deserialize)]
struct Named {
    #[serde(rename = "Name")]
    name: String,
}

/// The DNSPod client of a `provider = "dnspod"` config, with its
/// credentials read from the config's settings now. `None` for other providers.
pub fn dnspod_client(cfg: &Config) -> Option<Result<Client, crate::dns::BuildError>> {
    let ProviderSettings::Dnspod(s) = &cfg.dns.provider else {
        return None;
    };
    Some(
        Credentials::from_lookup(
            &s.secret_id_env,
            &s.secret_key_env,
            &s.session_token_env,
            &cfg.settings.lookup(),
        )
        .map_err(crate::dns::BuildError::from)
        .and_then(|creds| {
            let opts = ClientOptions::new(s.endpoint.clone(), s.api_timeout, s.api_budget);
            Ok(Client::new(&SERVICE, creds, opts, Arc::new(SystemClock))?)
        }),
    )
}

/// One group's name as [`read_groups`] found it.
#[derive(Debug)]
pub struct GroupRead {
    pub group: String,
    pub key: RecordKey,
    pub records: Result<Vec<Record>, crate::dns::Error>,
}

impl GroupRead {
    /// `group api: api.example.com A [default]: 2 record(s), 1 enabled`, or
    /// the error. Provider errors carry no secret (the clients redact).
    pub fn line(&self) -> String {
        match &self.records {
            Ok(r) => format!(
                "group {}: {}: {} record(s), {} enabled",
                self.group,
                self.key,
                r.len(),
                r.iter().filter(|r| r.enabled).count()
            ),
            Err(e) => format!("group {}: cannot read {}: {e}", self.group, self.key),
        }
    }
}

/// One error per group whose `line` is not among the lines `provider`
/// offers for the domain (`offered`, e.g. Alidns's `RecordLines`), naming
/// the key and listing close names.
pub fn lines_not_offered(cfg: &Config, provider: &str, offered: &[String]) -> Vec<ConfigError> {
    cfg.groups
        .iter()
        .enumerate()
        .filter(|(_, g)| !offered.contains(&g.key.line))
        .map(|(gi, g)| {
            let line = &g.key.line;
            let close = lines::close_names(line, offered.iter().map(String::as_str));
            let hint = if close.is_empty() {
                format!("it offers {} lines", offered.len())
            } else {
                format!("close names: {}", lines::quoted(&close))
            };
            config::group_key_error(
                cfg,
                gi,
                "line",
                format!(
                    "{line:?} is not a line {provider} offers for {}; {hint}",
                    cfg.dns.domain
                ),
            )
        })
        .collect()
}

/// Read every group's records through `dns`: the reads a run makes at its
/// start ([`DnsProvider::list_many`]), one result per group, in config
/// order. Writes nothing.
pub async fn read_groups(
    dns: &dyn DnsProvider,
    groups: &[crate::model::target::Group],
) -> Vec<GroupRead> {
    let keys: Vec<RecordKey> = groups.iter().map(|g| g.key.clone()).collect();
    let results = dns.list_many(&keys).await;
    groups
        .iter()
        .zip(keys)
        .zip(results)
        .map(|((g, key), records)| GroupRead {
            group: g.name.clone(),
            key,
            records,
        })
        .collect()
}

/// Read the plan of `domain`, then the lines of that plan.
pub async fn domain_lines(client: &Client, domain: &str) -> Result<DomainLines, tencent::Error> {
    let d: DomainReply = client
        .call("DescribeDomain", &json!({ "Domain": domain }))
        .await?;
    let l: LineListReply = client
        .call(
            "DescribeRecordLineList",
            &json!({ "Domain": domain, "DomainGrade": d.info.grade }),
        )
        .await?;
    let names = l
        .lines
        .into_iter()
        .flatten()
        .chain(l.groups.into_iter().flatten())
        .map(|n| n.name)
        .collect();
    Ok(DomainLines {
        domain: domain.to_string(),
        grade: d.info.grade,
        grade_level: d.info.grade_level,
        names,
    })
}

/// The limits of the domain's plan (`DescribePackageDetail`).
pub async fn plan_limits(
    client: &Client,
    known: &DomainLines,
) -> Result<PlanLimits, crate::dns::Error> {
    dnspod::package_limits(client, &known.grade, known.grade_level).await
}

/// Warnings (not errors: the config is valid, the plan is what limits it):
/// an `active` group with more targets than the plan's round-robin cap,
/// whose last ones cannot be enabled once all are up; a group `ttl` below
/// the plan's lowest TTL, so records serve the floor.
pub fn limit_warnings(cfg: &Config, limits: &PlanLimits) -> Vec<ConfigError> {
    let mut out = Vec::new();
    for (gi, g) in cfg.groups.iter().enumerate() {
        if let Some(cap) = limits.record_roll {
            if g.mode == Mode::Active && g.targets.len() > cap as usize {
                out.push(config::group_key_error(
                    cfg,
                    gi,
                    "mode",
                    format!(
                        "{} allows {cap} enabled records per host and line (round robin), but active group {:?} has {} targets: once they are all up, enabling one more fails (LimitExceeded.SubdomainRollLimit). Keep at most {cap} targets in it (put the others in a mode = \"failover\" group or on another line), or move the domain to a plan with a higher limit",
                        limits.name(),
                        g.name,
                        g.targets.len()
                    ),
                ));
            }
        }
        if limits.min_ttl > g.ttl {
            out.push(config::group_key_error(
                cfg,
                gi,
                "ttl",
                format!(
                    "{} accepts no TTL below {} s; group {:?} asks for {}, so its records serve {} s",
                    limits.name(),
                    limits.min_ttl,
                    g.name,
                    g.ttl,
                    limits.min_ttl
                ),
            ));
        }
    }
    out
}

/// One error per group whose `line` the domain does not have, naming the
/// key and listing close names.
pub fn unknown_lines(cfg: &Config, known: &DomainLines) -> Vec<ConfigError> {
    cfg.groups
        .iter()
        .enumerate()
        .filter(|(_, g)| !known.names.contains(&g.key.line))
        .map(|(gi, g)| {
            let line = &g.key.line;
            let close = lines::close_names(line, known.names.iter().map(String::as_str));
            let hint = if close.is_empty() {
                let builtin: Vec<&str> = lines::BUILTIN
                    .iter()
                    .copied()
                    .filter(|b| known.names.contains(*b))
                    .collect();
                format!(
                    "it has {} lines, among them {}",
                    known.names.len(),
                    lines::quoted(&builtin)
                )
            } else {
                format!("close names: {}", lines::quoted(&close))
            };
            config::group_key_error(
                cfg,
                gi,
                "line",
                format!(
                    "{line:?} is not a line of {} (plan {}); {hint}",
                    known.domain, known.grade
                ),
            )
        })
        .collect()
}
