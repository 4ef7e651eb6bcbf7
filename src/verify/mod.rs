//! Asking a zone's authoritative servers what they serve: after a write,
//! poll each one until it serves the new answer ([`watch`]); for `status`,
//! ask once ([`ask_once`]). Each server is asked alone, as an authority:
//! one query message per question (hickory-proto builds and reads it, as
//! for the `rfc2136` provider), recursion not desired, EDNS with a
//! 1232-byte UDP payload, sent over UDP first and over TCP when the answer
//! is truncated or UDP fails; nothing is cached and no system resolver
//! config is read. Host names of servers are resolved once per pass
//! ([`resolve`], the system's resolver through `tokio::net::lookup_host`).
//!
//! What counts as "the new answer", the poll schedule and the report's
//! shapes are pure and live in [`crate::model::verify`]; when to verify,
//! and what to raise, is the pipeline's (`pipeline/verify.rs`).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType as HRecordType};
use hickory_proto::serialize::binary::BinDecodable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// The EDNS UDP payload offered: the size DNS flag day 2020 settled on,
/// which needs no fragmentation; larger answers come over TCP.
const UDP_PAYLOAD: u16 = 1232;

/// Ask `addr` once for `name`/`rtype`; the answer (or its absence) comes
/// within `timeout`. UDP gets the first half of it; TCP, when the answer
/// was truncated or UDP failed, the rest.
pub async fn ask(addr: SocketAddr, name: &str, rtype: RecordType, timeout: Duration) -> Answer {
    let qname = match Name::from_ascii(format!("{}.", name.trim_end_matches('.'))) {
        Ok(n) => n,
        Err(e) => return Answer::Failed(format!("{name:?} is not a DNS name: {e}")),
    };
    let want = hickory_type(rtype);
    let mut q = Message::new();
    q.set_id(fastrand::u16(..))
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(false)
        .add_query(Query::query(qname.clone(), want));
    let mut edns = Edns::new();
    edns.set_max_payload(UDP_PAYLOAD);
    q.set_edns(edns);
    let bytes = match q.to_vec() {
        Ok(b) => b,
        Err(e) => return Answer::Failed(format!("cannot encode the question: {e}")),
    };
    let half = (timeout / 2).max(Duration::from_millis(1));
    let udp = tokio::time::timeout(half, over_udp(addr, &bytes, q.id())).await;
    let reply = match udp {
        Ok(Ok(r)) if !r.truncated() => Ok(r),
        // Truncated, lost or refused over UDP: TCP, with the time left.
        _ => match tokio::time::timeout(timeout - half, over_tcp(addr, &bytes, q.id())).await {
            Err(_) => return Answer::Failed(format!("no answer within {} ms", ms(timeout))),
            Ok(r) => r,
        },
    };
    match reply {
        Ok(reply) => read_answer(&reply, &qname, want, name),
        Err(e) => Answer::Failed(e),
    }
}

/// What a reply says about `qname`/`want`.
fn read_answer(reply: &Message, qname: &Name, want: HRecordType, name: &str) -> Answer {
    match reply.response_code() {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        code => return Answer::Failed(format!("answered {}", rcode_name(code))),
    }
    let mut values: Vec<String> = reply
        .answers()
        .iter()
        .filter(|r| r.record_type() == want && r.name() == qname)
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(a.0.to_string()),
            RData::AAAA(a) => Some(a.0.to_string()),
            RData::CNAME(c) => Some(c.0.to_ascii().trim_end_matches('.').to_string()),
            _ => None,
        })
        .collect();
    if values.is_empty() {
        let has = |t: HRecordType| reply.name_servers().iter().any(|r| r.record_type() == t);
        // No answer, no SOA but NS records: a referral elsewhere, so this
        // server does not hold the zone.
        if !has(HRecordType::SOA) && has(HRecordType::NS) {
            return Answer::Failed(format!("referred elsewhere: not authoritative for {name}"));
        }
    }
    values.sort();
    values.dedup();
    Answer::Served(values)
}

/// One question over UDP from a socket of its own; a datagram that is not
/// the reply (another id, another sender) is ignored.
async fn over_udp(addr: SocketAddr, question: &[u8], id: u16) -> Result<Message, String> {
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = tokio::net::UdpSocket::bind(local)
        .await
        .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    sock.connect(addr)
        .await
        .map_err(|e| format!("cannot reach {addr}: {e}"))?;
    sock.send(question)
        .await
        .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    let mut buf = vec![0u8; usize::from(UDP_PAYLOAD).max(512)];
    loop {
        let n = sock
            .recv(&mut buf)
            .await
            .map_err(|e| format!("no answer from {addr}: {e}"))?;
        match Message::from_bytes(&buf[..n]) {
            Ok(m) if m.id() == id && m.message_type() == MessageType::Response => return Ok(m),
            _ => continue,
        }
    }
}

/// One question over a TCP connection of its own (two-byte length prefix).
async fn over_tcp(addr: SocketAddr, question: &[u8], id: u16) -> Result<Message, String> {
    let mut tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let len = u16::try_from(question.len()).map_err(|_| "question too long".to_string())?;
    let mut out = Vec::with_capacity(question.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(question);
    tcp.write_all(&out)
        .await
        .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    loop {
        let n = tcp
            .read_u16()
            .await
            .map_err(|e| format!("no answer from {addr}: {e}"))?;
        let mut buf = vec![0; usize::from(n)];
        tcp.read_exact(&mut buf)
            .await
            .map_err(|e| format!("answer cut short by {addr}: {e}"))?;
        match Message::from_bytes(&buf) {
            Ok(m) if m.id() == id => return Ok(m),
            Ok(_) => continue,
            Err(e) => return Err(format!("undecodable answer from {addr}: {e}")),
        }
    }
}

/// The RCODE as dig and BIND's logs spell it.
fn rcode_name(code: ResponseCode) -> String {
    use ResponseCode::*;
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
