//! Validation of the top level, `[probe]` and `[dns]`, and the limits of
//! every string and duration.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use super::*;

pub(super) type VResult<T> = Result<T, ConfigError>;

pub(super) const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "OPTIONS", "PATCH", "DELETE"];

impl Validator<'_> {
    pub(super) fn config(&mut self, mut raw: RawConfig) -> VResult<Config> {
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
        let watch = self.watch(raw.watch)?;
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
            watch,
        })
    }

    pub(super) fn probe(&mut self, raw: RawProbe) -> VResult<ProbeSettings> {
        let d = ProbeSettings::default();
        let key = |k| [Seg::Key("probe"), Seg::Key(k)];
        let tls = probe_tls::RawTls {
            ca_file: raw.ca_file,
            cert_expiry_warning: raw.cert_expiry_warning,
        };
        let tls = self.tls_options(tls, &key, &d.tls)?;
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
            tls,
        })
    }

    pub(super) fn dns(&mut self, raw: RawDns) -> VResult<DnsSettings> {
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
        let verify = self.verify(raw.verify)?;
        Ok(DnsSettings {
            domain,
            ttl,
            provider,
            verify,
        })
    }

    /// One string within `max` characters.
    pub(super) fn len(&mut self, path: &[Seg], value: &str, max: usize) -> VResult<()> {
        string_limits::check(value, max).map_err(|m| self.err(path, m))
    }

    /// Every string of the file (but the alerts, checked with their channel)
    /// within its limit, before any check that could echo one.
    pub(super) fn lengths(&mut self, raw: &RawConfig) -> VResult<()> {
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
        if let Some(v) = &d.verify.verify {
            self.len(&[Seg::Key("dns"), Seg::Key("verify")], v, WORD)?;
        }
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
    pub(super) fn at_most(&mut self, path: &[Seg], d: Duration, max: Duration) -> VResult<()> {
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

    pub(super) fn ttl(&mut self, ttl: Option<i64>, path: &[Seg]) -> VResult<Option<u32>> {
        match ttl {
            None => Ok(None),
            Some(t) if TTL_RANGE.contains(&t) => Ok(Some(t as u32)),
            Some(t) => Err(self.err(
                path,
                format!("TTL {t} is out of range; expected 1 to 604800 seconds (DNSPod free plans accept 600 and up)"),
            )),
        }
    }
}
