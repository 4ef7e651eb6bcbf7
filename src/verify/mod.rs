//! Asking a zone's authoritative servers what they serve: after a write,
//! poll each one until it serves the new answer ([`watch`]); for `status`,
//! ask once ([`ask_once`]). Each server is asked alone, as an authority:
//! one hickory resolver per question, configured with that server only, no
//! cache, recursion not desired, UDP first and TCP when the answer is
//! truncated or UDP fails. No system resolver config is read; host names of
//! servers are resolved once per pass ([`resolve`], the system's resolver
//! through `tokio::net::lookup_host`).
//!
//! What counts as "the new answer", the poll schedule and the report's
//! shapes are pure and live in [`crate::model::verify`]; when to verify,
//! and what to raise, is the pipeline's (`pipeline/verify.rs`).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::config::{NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType as HRecordType};
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{Name, Resolver};

use crate::model::record::RecordType;
use crate::model::verify::{backoff, ms, same_answer, ServerCheck, ServerSpec};

/// Longest wait for one answer. An authority answers within a round trip;
/// past two seconds the question is lost or the server is down, and the
/// next poll asks again.
pub const QUESTION_TIMEOUT: Duration = Duration::from_secs(2);

/// A server to ask: its label (as configured or as the provider names
/// it) and its address, or why it has none.
#[derive(Debug, Clone)]
pub struct Server {
    pub label: String,
    pub addr: Result<SocketAddr, String>,
}

/// Resolve each spec once: an address as is, a host name with the
/// system's resolver (IPv4 preferred: a prober often has no IPv6 route),
/// each within `timeout`.
pub async fn resolve(specs: &[ServerSpec], timeout: Duration) -> Vec<Server> {
    let one = |spec: &ServerSpec| {
        let spec = spec.clone();
        async move {
            let label = spec.to_string();
            if let Ok(ip) = spec.host.parse::<IpAddr>() {
                return Server {
                    label,
                    addr: Ok(SocketAddr::new(ip, spec.port)),
                };
            }
            let found = tokio::time::timeout(
                timeout,
                tokio::net::lookup_host((spec.host.as_str(), spec.port)),
            )
            .await;
            let addr = match found {
                Err(_) => Err(format!("cannot resolve {}: timed out", spec.host)),
                Ok(Err(e)) => Err(format!("cannot resolve {}: {e}", spec.host)),
                Ok(Ok(addrs)) => {
                    let addrs: Vec<SocketAddr> = addrs.collect();
                    addrs
                        .iter()
                        .find(|a| a.is_ipv4())
                        .or(addrs.first())
                        .copied()
                        .ok_or_else(|| format!("cannot resolve {}: no address", spec.host))
                }
            };
            Server { label, addr }
        }
    };
    futures_util::future::join_all(specs.iter().map(one)).await
}

/// One answer of one server: the values it serves for the name and type
/// (empty: the name or the type does not exist there), or why there is no
/// usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Served(Vec<String>),
    Failed(String),
}

fn hickory_type(t: RecordType) -> HRecordType {
    match t {
        RecordType::A => HRecordType::A,
        RecordType::Aaaa => HRecordType::AAAA,
        RecordType::Cname => HRecordType::CNAME,
    }
}

/// A resolver that asks `addr` only, as an authority: no cache, no hosts
/// file, recursion not desired, one try per transport of at most `timeout`
/// each (our polls retry).
fn resolver_for(addr: SocketAddr, timeout: Duration) -> Resolver<TokioConnectionProvider> {
    let servers = NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
    let config = ResolverConfig::from_parts(None, vec![], servers);
    let mut opts = ResolverOpts::default();
    opts.cache_size = 0;
    opts.recursion_desired = false;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.attempts = 1;
    opts.timeout = timeout;
    opts.try_tcp_on_error = true;
    opts.edns0 = true;
    opts.preserve_intermediates = true;
    Resolver::builder_with_config(config, TokioConnectionProvider::default())
        .with_options(opts)
        .build()
}

/// Ask `addr` once for `name`/`rtype`; the answer (or its absence) comes
/// within `timeout`. UDP gets the first half of it; TCP, when the answer
/// was truncated or UDP failed, the rest.
pub async fn ask(addr: SocketAddr, name: &str, rtype: RecordType, timeout: Duration) -> Answer {
    let qname = match Name::from_ascii(format!("{}.", name.trim_end_matches('.'))) {
        Ok(n) => n,
        Err(e) => return Answer::Failed(format!("{name:?} is not a DNS name: {e}")),
    };
    let want = hickory_type(rtype);
    let resolver = resolver_for(addr, (timeout / 2).max(Duration::from_millis(1)));
    let lookup = match tokio::time::timeout(timeout, resolver.lookup(qname.clone(), want)).await {
        Err(_) => return Answer::Failed(format!("no answer within {} ms", ms(timeout))),
        Ok(r) => r,
    };
    match lookup {
        Ok(found) => {
            let mut values: Vec<String> = found
                .records()
                .iter()
                .filter(|r| r.record_type() == want && r.name() == &qname)
                .filter_map(|r| match r.data() {
                    RData::A(a) => Some(a.0.to_string()),
                    RData::AAAA(a) => Some(a.0.to_string()),
                    RData::CNAME(c) => Some(c.0.to_ascii().trim_end_matches('.').to_string()),
                    _ => None,
                })
                .collect();
            values.sort();
            values.dedup();
            Answer::Served(values)
        }
        Err(e) => match e.proto().map(|p| p.kind()) {
            Some(ProtoErrorKind::NoRecordsFound {
                response_code,
                soa,
                ns,
                ..
            }) => {
                use hickory_resolver::proto::op::ResponseCode;
                match response_code {
                    // A referral elsewhere: this server does not hold the zone.
                    ResponseCode::NoError | ResponseCode::NXDomain
                        if soa.is_none() && ns.is_some() =>
                    {
                        Answer::Failed(format!("referred elsewhere: not authoritative for {name}"))
                    }
                    ResponseCode::NoError | ResponseCode::NXDomain => Answer::Served(vec![]),
                    code => Answer::Failed(format!("answered {}", rcode_name(*code))),
                }
            }
            _ => Answer::Failed(e.to_string()),
        },
    }
}

/// The RCODE as dig and BIND's logs spell it.
fn rcode_name(code: hickory_resolver::proto::op::ResponseCode) -> String {
    use hickory_resolver::proto::op::ResponseCode::*;
    match code {
        FormErr => "FORMERR".into(),
        ServFail => "SERVFAIL".into(),
        NotImp => "NOTIMP".into(),
        Refused => "REFUSED".into(),
        NotAuth => "NOTAUTH".into(),
        NotZone => "NOTZONE".into(),
        other => format!("RCODE {}", u16::from(other)),
    }
}

/// What a poll of one server is about.
#[derive(Debug, Clone)]
pub struct Question {
    /// `api.example.com`
    pub name: String,
    pub rtype: RecordType,
    /// The values it should serve.
    pub expected: Vec<String>,
}

/// Poll `server` until it serves `q.expected` or `stop_at`: first at
/// once, then after [`backoff`] pauses. `confirmed_at` is when the
/// provider confirmed the write (time to visible counts from it);
/// `write_ms` is the time the write took.
pub async fn watch(
    q: &Question,
    server: &Server,
    confirmed_at: Instant,
    write_ms: u64,
    stop_at: Instant,
) -> ServerCheck {
    let started = Instant::now();
    let mut check = ServerCheck {
        server: server.label.clone(),
        address: server.addr.as_ref().ok().map(|a| a.to_string()),
        visible: false,
        write_ms: Some(write_ms),
        visible_ms: None,
        waited_ms: 0,
        queries: 0,
        served: None,
        error: None,
    };
    let addr = match &server.addr {
        Ok(a) => *a,
        Err(e) => {
            check.error = Some(e.clone());
            return check;
        }
    };
    loop {
        let left = stop_at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        check.queries += 1;
        match ask(addr, &q.name, q.rtype, QUESTION_TIMEOUT.min(left)).await {
            Answer::Served(v) => {
                let matched = same_answer(q.rtype, &v, &q.expected);
                check.served = Some(v);
                check.error = None;
                if matched {
                    check.visible = true;
                    check.visible_ms =
                        Some(ms(Instant::now().saturating_duration_since(confirmed_at)));
                    break;
                }
            }
            Answer::Failed(e) => check.error = Some(e),
        }
        let pause = backoff(check.queries).min(stop_at.saturating_duration_since(Instant::now()));
        tokio::time::sleep(pause).await;
    }
    check.waited_ms = ms(started.elapsed());
    check
}

/// Ask `server` once (for `status`): what it serves now, against
/// `q.expected`.
pub async fn ask_once(q: &Question, server: &Server, timeout: Duration) -> ServerCheck {
    let started = Instant::now();
    let mut check = ServerCheck {
        server: server.label.clone(),
        address: server.addr.as_ref().ok().map(|a| a.to_string()),
        visible: false,
        write_ms: None,
        visible_ms: None,
        waited_ms: 0,
        queries: 0,
        served: None,
        error: None,
    };
    match &server.addr {
        Err(e) => check.error = Some(e.clone()),
        Ok(addr) => {
            check.queries = 1;
            match ask(*addr, &q.name, q.rtype, timeout).await {
                Answer::Served(v) => {
                    check.visible = same_answer(q.rtype, &v, &q.expected);
                    check.served = Some(v);
                }
                Answer::Failed(e) => check.error = Some(e),
            }
        }
    }
    check.waited_ms = ms(started.elapsed());
    check
}
