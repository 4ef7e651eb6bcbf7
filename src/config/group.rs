//! Validation of `[[group]]` and `[[group.target]]`.

use std::collections::HashSet;
use std::time::Duration;

use super::*;

impl Validator<'_> {
    pub(super) fn group(
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
        // The provider's default line: DNSPod's `默认`, Alidns's `default`.
        let line = g.line.unwrap_or_else(|| dns.provider.default_line().into());
        if let Err(m) = lines::check(&line) {
            return Err(self.err(&gk("line"), m.0));
        }
        if let Err(m) = dns.provider.check_line(&line) {
            return Err(self.err(&gk("line"), m));
        }
        let warning = match dns.provider.lines() {
            Some(own) => lines::warning_among(&line, own, dns.provider.name()),
            None => lines::warning(&line),
        };
        if let Some(m) = warning {
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

    pub(super) fn target(
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
        let tls = super::probe_tls::RawTls {
            ca_file: t.ca_file,
            cert_expiry_warning: t.cert_expiry_warning,
        };
        let tcp_tls = (tls.ca_file.is_some(), tls.cert_expiry_warning.is_some());
        let tls = self.tls_options(tls, tk, &probe.tls)?;
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
                    ("ca_file", tcp_tls.0),
                    ("cert_expiry_warning", tcp_tls.1),
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
            tls,
        })
    }
}

/// An optional expanded string as `&str`.
pub(crate) fn env_str(v: &Option<EnvString>) -> Option<&str> {
    v.as_ref().map(|v| v.0.as_str())
}

pub(super) fn default_prober() -> String {
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

pub(super) fn is_hostname(s: &str) -> bool {
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

pub(super) fn is_wildcard(s: &str) -> bool {
    s == "*" || s.strip_prefix("*.").is_some_and(is_hostname)
}

/// `v` must suit the record type; messages quote `shown`, never `v`.
pub(super) fn check_value(rtype: RecordType, v: &str, shown: &str) -> Result<(), String> {
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
pub(super) fn shown_or(s: &EnvString, normalised: &str) -> String {
    if s.is_expanded() {
        s.quoted()
    } else {
        format!("{normalised:?}")
    }
}
