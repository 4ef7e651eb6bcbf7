//! Verification at the authoritative servers, as plain data: the `[dns]`
//! settings (`verify`, `verify_servers`, `verify_within`), what each server
//! was seen to serve ([`ServerCheck`]) and one group's whole check
//! ([`Verification`]); plus the pure parts: how a server spec is read, when
//! an answer counts as the new one, the poll schedule and the timing words.
//! The asking itself is `crate::verify`'s; the pipeline decides when.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::duration::human;
use super::record::{Record, RecordType};

/// Default of `verify_within`: how long a write may take to reach every
/// server before a warning, and the longest a pass waits for it.
pub const DEFAULT_WITHIN: Duration = Duration::from_secs(60);

/// Upper bound of `verify_within`. Past 10 minutes a pass would outlive
/// its timer (the next one starts); SCF invocations end far sooner.
pub const MAX_WITHIN: Duration = Duration::from_secs(600);

/// At most this many `verify_servers`: every one is asked for every group.
pub const MAX_SERVERS: usize = 16;

/// Where the written answer is checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum VerifySource {
    /// Not checked (the default).
    #[default]
    Off,
    /// The servers the provider says serve the domain (`verify = "ns"`;
    /// DNSPod: `DescribeDomain`'s `DnspodNsList`).
    Ns,
    /// The servers listed in `verify_servers`.
    Servers(Vec<ServerSpec>),
}

/// `[dns]` `verify`, `verify_servers`, `verify_within`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySettings {
    pub source: VerifySource,
    /// A server that does not serve the new answer this long after the
    /// write raises `not_visible` (a warning); also the longest a pass
    /// waits. Default 60 s.
    pub within: Duration,
}

impl Default for VerifySettings {
    fn default() -> Self {
        VerifySettings {
            source: VerifySource::Off,
            within: DEFAULT_WITHIN,
        }
    }
}

impl VerifySettings {
    pub fn is_on(&self) -> bool {
        self.source != VerifySource::Off
    }
}

/// One server to ask: an address or a host name (resolved once per pass
/// with the system resolver), and a port (53 unless given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerSpec {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for ServerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => write!(f, "[{}]:{}", self.host, self.port),
            _ if self.port == 53 => f.write_str(&self.host),
            _ => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

impl ServerSpec {
    /// `192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353`,
    /// `ns1.example.net`, `ns1.example.net:5353`.
    pub fn parse(s: &str) -> Result<ServerSpec, String> {
        let s = s.trim();
        let bad = |why: &str| {
            Err(format!(
                "{s:?} {why}; expected an address or a host name, with an optional port: \"192.0.2.53\", \"127.0.0.1:5353\", \"[2001:db8::53]:53\", \"ns1.example.net\""
            ))
        };
        if s.is_empty() {
            return bad("is empty");
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(ServerSpec {
                host: ip.to_string(),
                port: 53,
            });
        }
        if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
            if sa.port() == 0 {
                return bad("has port 0");
            }
            return Ok(ServerSpec {
                host: sa.ip().to_string(),
                port: sa.port(),
            });
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => match p.parse::<u16>() {
                Ok(p) if p > 0 => (h, p),
                _ => return bad("has no valid port after ':'"),
            },
            None => (s, 53),
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if host.len() > 253 || !host.split('.').all(label_ok) {
            return bad("is not an address or a host name");
        }
        Ok(ServerSpec { host, port })
    }
}

/// A group's name answers everyone alike only on the default line (DNSPod
/// `默认`, Alibaba `default`); on another line what a server answers
/// depends on the asker's network, so it is not compared.
pub fn answers_everyone(line: &str) -> bool {
    line == "默认" || line.eq_ignore_ascii_case("default")
}

/// The values a name should serve: its enabled records, as the provider
/// has them.
pub fn expected_values(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .filter(|r| r.enabled)
        .map(|r| r.value.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// One value as DNS compares it: an address in its canonical form (so
/// `2001:db8:0::1` equals `2001:db8::1`), a host name lower-case without
/// its final dot.
fn canonical(rtype: RecordType, v: &str) -> String {
    match rtype {
        RecordType::A | RecordType::Aaaa => match v.trim().parse::<IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => v.trim().to_string(),
        },
        RecordType::Cname => v.trim().trim_end_matches('.').to_ascii_lowercase(),
    }
}

/// The served set is the expected one: same values, order and repeats
/// aside. An RRset is a set; a server serving one more or one fewer value
/// than the records say has not caught up.
pub fn same_answer(rtype: RecordType, served: &[String], expected: &[String]) -> bool {
    let set =
        |v: &[String]| -> BTreeSet<String> { v.iter().map(|x| canonical(rtype, x)).collect() };
    set(served) == set(expected)
}

/// The pause before the `n`th poll of a server (`n` from 1): 50 ms,
/// doubling, at most 1 s. Short at first because a provider usually
/// pushes to its servers within a second; then once a second, a load on
/// the servers no heavier than a resolver's.
pub fn backoff(n: u32) -> Duration {
    let ms = 50u64.saturating_mul(1u64 << n.saturating_sub(1).min(10));
    Duration::from_millis(ms.min(1000))
}

/// Milliseconds, rounded down.
pub fn ms(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

/// `1.5s` under a minute, else as [`human`] says it (`1m 30s`).
fn waited(ms: u64) -> String {
    if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        human(Duration::from_millis(ms))
    }
}

/// What one authoritative server was seen to serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerCheck {
    /// As configured (`verify_servers`) or as the provider names it.
    pub server: String,
    /// The address asked, once resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// It served the expected answer.
    pub visible: bool,
    /// Time to write: from the start of the group's first write to the
    /// provider's confirmation (read-back) of its last, in milliseconds.
    /// Absent for `status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_ms: Option<u64>,
    /// Time to visible: from that confirmation to the first answer of this
    /// server that matched, in milliseconds (0: it served the new answer
    /// as soon as the write was confirmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible_ms: Option<u64>,
    /// How long this server was asked, in milliseconds.
    pub waited_ms: u64,
    /// Questions sent (polls).
    pub queries: u32,
    /// Its last answer's values (sorted); absent when it never answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served: Option<Vec<String>>,
    /// Why the last question got no usable answer (timeout, REFUSED, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ServerCheck {
    /// One line for people: `ns1 (127.0.0.1:5353): written in 12 ms,
    /// visible 340 ms later` or `... not visible after 60s (serves
    /// 192.0.2.1)`.
    pub fn line(&self) -> String {
        let who = match &self.address {
            Some(a) if *a != self.server => format!("{} ({a})", self.server),
            _ => self.server.clone(),
        };
        let mut s = format!("server {who}: ");
        if let Some(w) = self.write_ms {
            s.push_str(&format!("written in {w} ms, "));
        }
        let served = match &self.served {
            Some(v) if v.is_empty() => "serves nothing".to_string(),
            Some(v) => format!("serves {}", v.join(" ")),
            None => "no answer".to_string(),
        };
        match (self.visible, self.visible_ms, self.write_ms) {
            (true, Some(v), Some(_)) => s.push_str(&format!("visible {v} ms later")),
            (true, _, _) => s.push_str(&format!("{served} (as the records say)")),
            (false, _, Some(_)) => s.push_str(&format!(
                "not visible after {} ({served})",
                waited(self.waited_ms)
            )),
            (false, _, None) if self.served.is_none() => s.push_str(&served),
            (false, _, None) => s.push_str(&format!("{served}, not the records")),
        }
        if let Some(e) = &self.error {
            s.push_str(&format!("; last error: {e}"));
        }
        s
    }
}

/// One group's check at the authoritative servers (the report's
/// `verify`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// The name and type asked, e.g. `api.example.com A`.
    pub question: String,
    /// The enabled values the records hold (sorted).
    pub expected: Vec<String>,
    /// `verify_within`, in milliseconds.
    pub within_ms: u64,
    /// A server was still not visible when the wait ended before
    /// `verify_within` because the invocation's time ran out (then it is
    /// information, not a warning).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cut_short: bool,
    pub servers: Vec<ServerCheck>,
    /// Why there is nothing to check, or what limits the check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Verification {
    /// Servers that did not serve the expected answer.
    pub fn not_visible(&self) -> impl Iterator<Item = &ServerCheck> {
        self.servers.iter().filter(|s| !s.visible)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn server_specs_read_addresses_names_and_ports() {
        let p = |s| ServerSpec::parse(s).map(|x| (x.host, x.port));
        assert_eq!(p("127.0.0.1:5353"), Ok(("127.0.0.1".into(), 5353)));
        assert_eq!(p("192.0.2.53"), Ok(("192.0.2.53".into(), 53)));
        assert_eq!(p("2001:db8::53"), Ok(("2001:db8::53".into(), 53)));
        assert_eq!(p("[2001:db8::53]:5300"), Ok(("2001:db8::53".into(), 5300)));
        assert_eq!(p("NS1.Example.net."), Ok(("ns1.example.net".into(), 53)));
        assert_eq!(p("ns1.example.net:54"), Ok(("ns1.example.net".into(), 54)));
        for bad in [
            "",
            "ns1.example.net:0",
            "ns1.example.net:x",
            "a b",
            "-x.net",
            "127.0.0.1:0",
        ] {
            let e = ServerSpec::parse(bad).unwrap_err();
            assert!(
                e.contains("expected an address or a host name"),
                "{bad}: {e}"
            );
        }
        let shown: Vec<String> = ["127.0.0.1:5353", "ns1.example.net", "[::1]:53"]
            .iter()
            .map(|s| ServerSpec::parse(s).unwrap().to_string())
            .collect();
        assert_eq!(shown, ["127.0.0.1:5353", "ns1.example.net", "[::1]:53"]);
    }

    #[test]
    fn answers_compare_as_sets_of_canonical_values() {
        use RecordType::*;
        assert!(same_answer(
            A,
            &v(&["192.0.2.2", "192.0.2.1"]),
            &v(&["192.0.2.1", "192.0.2.2"])
        ));
        assert!(same_answer(
            A,
            &v(&["192.0.2.1", "192.0.2.1"]),
            &v(&["192.0.2.1"])
        ));
        // One more or one fewer is not caught up.
        assert!(!same_answer(
            A,
            &v(&["192.0.2.1", "192.0.2.2"]),
            &v(&["192.0.2.1"])
        ));
        assert!(!same_answer(
            A,
            &v(&["192.0.2.1"]),
            &v(&["192.0.2.1", "192.0.2.2"])
        ));
        assert!(!same_answer(A, &v(&[]), &v(&["192.0.2.1"])));
        assert!(same_answer(
            Aaaa,
            &v(&["2001:db8:0:0::1"]),
            &v(&["2001:db8::1"])
        ));
        assert!(same_answer(
            Cname,
            &v(&["GZ.example.net."]),
            &v(&["gz.example.net"])
        ));
        assert!(!same_answer(
            Cname,
            &v(&["bj.example.net."]),
            &v(&["gz.example.net"])
        ));
    }

    #[test]
    fn expected_values_are_the_enabled_records() {
        let r = |value: &str, enabled| Record {
            id: value.into(),
            value: value.into(),
            ttl: 60,
            enabled,
            updated_on: None,
            remark: String::new(),
            weight: None,
        };
        let recs = [
            r("192.0.2.2", true),
            r("192.0.2.1", false),
            r("192.0.2.3", true),
        ];
        assert_eq!(expected_values(&recs), ["192.0.2.2", "192.0.2.3"]);
    }

    #[test]
    fn polls_back_off_from_50_ms_to_one_second() {
        let ms: Vec<u128> = (1..=7).map(|n| backoff(n).as_millis()).collect();
        assert_eq!(ms, [50, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn lines_give_time_to_write_and_to_visible() {
        let mut c = ServerCheck {
            server: "ns1".into(),
            address: Some("127.0.0.1:5353".into()),
            visible: true,
            write_ms: Some(12),
            visible_ms: Some(340),
            waited_ms: 340,
            queries: 4,
            served: Some(v(&["192.0.2.2"])),
            error: None,
        };
        assert_eq!(
            c.line(),
            "server ns1 (127.0.0.1:5353): written in 12 ms, visible 340 ms later"
        );
        c.visible = false;
        c.visible_ms = None;
        c.waited_ms = 60_000;
        c.served = Some(v(&["192.0.2.1"]));
        assert_eq!(
            c.line(),
            "server ns1 (127.0.0.1:5353): written in 12 ms, not visible after 1m (serves 192.0.2.1)"
        );
        c.served = None;
        c.error = Some("timed out".into());
        c.waited_ms = 2_050;
        assert!(
            c.line()
                .ends_with("not visible after 2.0s (no answer); last error: timed out"),
            "{}",
            c.line()
        );
        // `status`: no write.
        c.write_ms = None;
        c.served = Some(v(&["192.0.2.1"]));
        c.error = None;
        assert_eq!(
            c.line(),
            "server ns1 (127.0.0.1:5353): serves 192.0.2.1, not the records"
        );
    }

    #[test]
    fn only_the_default_line_is_compared() {
        assert!(answers_everyone("默认"));
        assert!(answers_everyone("default"));
        assert!(!answers_everyone("电信"));
    }
}
