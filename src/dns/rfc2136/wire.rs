//! Messages to the primary server and what its replies mean.
//!
//! Every message (queries too) is signed with the TSIG key and sent on a
//! TCP connection of its own, opened for it and closed after its reply:
//! no connection outlives a call, so a server that drops idle connections
//! (BIND after about 30 s) never breaks a later pass, and a record set too
//! large for a UDP reply still comes whole. Each reply is checked against
//! the request's signature before it is believed; a reply that fails the
//! check is read only to say why (BADKEY, BADSIG, an unsigned refusal) and
//! is never taken for success.
//!
//! hickory-proto builds, signs and checks the messages (`Message`,
//! `TSigner`); the exchange itself is the few lines of [`roundtrip`]
//! rather than hickory-client's multiplexed client, which keeps its TCP
//! connection (and does not reconnect once the server closed it) and hands
//! back no bytes of a reply that fails the TSIG check.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::dnssec::rdata::{DNSSECRData, TSIG};
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::rrset::{Plan, Snapshot, CONTROL_TTL};
use crate::clock::Clock;

/// TSIG `fudge`: how far apart the two clocks may be (seconds), the usual
/// 300 (RFC 8945 §10).
pub const FUDGE: u16 = 300;

/// TSIG error codes (RFC 8945 §5.3, IANA "DNS RCODEs").
const BADSIG: u16 = 16;
const BADKEY: u16 = 17;
const BADTIME: u16 = 18;

/// Where and how messages go.
pub struct Link {
    /// `host:port`, resolved on each call.
    pub server: String,
    pub signer: TSigner,
    /// The key's name as configured, for messages.
    pub key_name: String,
    pub algorithm: &'static str,
    pub timeout: Duration,
    pub deadline: Option<Instant>,
    /// The clock TSIG's "time signed" comes from: the real one, except in
    /// tests of a skewed clock.
    pub tsig_clock: Arc<dyn Clock>,
}

/// A reply, or why there is none to believe.
#[derive(Debug)]
pub enum Failure {
    /// Not sent: no address, no connection, no time left.
    Unsent(String),
    /// Sent, and no reply: timeout, closed connection. For an update, its
    /// outcome is unknown.
    Transport(String),
    /// A reply that did not pass the TSIG check: its code, the TSIG error
    /// it carries if any, and whether it carried a TSIG record at all.
    Unverified {
        rcode: ResponseCode,
        /// The TSIG error, and the server's time with BADTIME.
        tsig_error: Option<(u16, Option<u64>)>,
        signed: bool,
    },
    /// Bytes that are no DNS message.
    Garbled(String),
}

/// An RCODE as RFC 2136 and nsupdate spell it: `NXRRSET`, `NOTAUTH`.
pub fn rcode_name(code: ResponseCode) -> String {
    let name = match code {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::YXDomain => "YXDOMAIN",
        ResponseCode::YXRRSet => "YXRRSET",
        ResponseCode::NXRRSet => "NXRRSET",
        ResponseCode::NotAuth => "NOTAUTH",
        ResponseCode::NotZone => "NOTZONE",
        other => return format!("RCODE {}", u16::from(other)),
    };
    name.to_string()
}

/// The TSIG error of a reply and, for BADTIME, the server's time (Unix
/// seconds) from its "other data".
pub fn tsig_error(msg: &Message) -> Option<(u16, Option<u64>)> {
    let rec = msg
        .signature()
        .iter()
        .find(|r| r.record_type() == RecordType::TSIG)?;
    let RData::DNSSEC(DNSSECRData::TSIG(t)) = rec.data() else {
        return None;
    };
    tsig_fields(t)
}

/// hickory 0.25 has no accessor for the error field: read it from the
/// RDATA's wire form (algorithm name, time 6, fudge 2, MAC size 2, MAC,
/// original id 2, then error 2, other length 2, other data).
fn tsig_fields(t: &TSIG) -> Option<(u16, Option<u64>)> {
    let bytes = t.to_bytes().ok()?;
    let name_len = t.algorithm().to_name().to_bytes().ok()?.len();
    let at = name_len + 6 + 2 + 2 + t.mac().len() + 2;
    let word = |i: usize| Some(u16::from_be_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]));
    let error = word(at)?;
    let other_len = word(at + 2)? as usize;
    let server_time = (other_len == 6).then(|| {
        bytes
            .get(at + 4..at + 10)
            .map(|b| b.iter().fold(0u64, |n, x| (n << 8) | u64::from(*x)))
    });
    Some((error, server_time.flatten()))
}

impl Link {
    /// The time left for one message.
    fn budget(&self) -> Result<Duration, Failure> {
        let Some(d) = self.deadline else {
            return Ok(self.timeout);
        };
        let left = d.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::Unsent(
                "the time for DNS calls in this invocation is used up".into(),
            ));
        }
        Ok(left.min(self.timeout))
    }

    /// Sign `msg`, send it, and return the reply once its signature checks.
    pub async fn exchange(&self, mut msg: Message) -> Result<Message, Failure> {
        let now = self.tsig_clock.now().timestamp().max(0) as u32;
        let mut verify = msg
            .finalize(&self.signer, now)
            .map_err(|e| Failure::Garbled(format!("cannot sign the message: {e}")))?
            .ok_or_else(|| Failure::Garbled("the TSIG signer gave no verifier".into()))?;
        let bytes = msg
            .to_vec()
            .map_err(|e| Failure::Garbled(format!("cannot encode the message: {e}")))?;
        let budget = self.budget()?;
        let reply = tokio::time::timeout(budget, roundtrip(&self.server, &bytes, msg.id()))
            .await
            .map_err(|_| {
                Failure::Transport(format!(
                    "no reply from {} within {}",
                    self.server,
                    humantime::format_duration(budget)
                ))
            })??;
        match verify(&reply) {
            Ok(resp) => Ok(resp.into_message()),
            Err(_) => {
                let m = Message::from_vec(&reply)
                    .map_err(|e| Failure::Garbled(format!("undecodable reply: {e}")))?;
                let signed = m
                    .signature()
                    .iter()
                    .any(|r| r.record_type() == RecordType::TSIG);
                Err(Failure::Unverified {
                    rcode: m.response_code(),
                    tsig_error: tsig_error(&m),
                    signed,
                })
            }
        }
    }

    /// `what` failed with `f`: the error to give, naming the key (never
    /// the secret) or the clock when they are the cause.
    pub fn failure_error(&self, what: &str, f: Failure) -> crate::dns::Error {
        use crate::dns::Error;
        match f {
            Failure::Unsent(m) | Failure::Transport(m) => {
                Error::Transport(format!("{what}: {m}"))
            }
            Failure::Garbled(m) => Error::Api {
                code: "FORMERR".into(),
                message: format!("{what}: {m}"),
                request_id: None,
            },
            Failure::Unverified {
                tsig_error: Some((e @ (BADKEY | BADSIG), _)),
                ..
            } => Error::Auth(self.key_rejected(what, if e == BADKEY { "BADKEY" } else { "BADSIG" })),
            Failure::Unverified {
                rcode: ResponseCode::NotAuth,
                tsig_error: Some((BADTIME, t)),
                ..
            } => Error::Auth(self.clock_off(what, t)),
            Failure::Unverified {
                rcode,
                signed: false,
                ..
            } if matches!(rcode, ResponseCode::NotAuth | ResponseCode::Refused) => {
                Error::Auth(format!(
                    "{what}: the server answered {} without signing the reply: it does not accept TSIG key {:?} ({}); check the key's name, secret and algorithm against the server's (named.conf `key`)",
                    rcode_name(rcode), self.key_name, self.algorithm
                ))
            }
            Failure::Unverified { rcode, .. } => Error::Api {
                code: rcode_name(rcode),
                message: format!(
                    "{what}: a reply that is not signed with TSIG key {:?}; not believed",
                    self.key_name
                ),
                request_id: None,
            },
        }
    }

    fn key_rejected(&self, what: &str, code: &str) -> String {
        format!(
            "{what}: the server rejected TSIG key {:?} ({}) with {code}: its name, secret or algorithm differ from the server's key (named.conf `key`, tsig-keygen)",
            self.key_name, self.algorithm
        )
    }

    fn clock_off(&self, what: &str, server_time: Option<u64>) -> String {
        let now = self.tsig_clock.now().timestamp();
        let skew = server_time
            .map(|t| now - t as i64)
            .map(|d| {
                let way = if d >= 0 { "ahead of" } else { "behind" };
                format!("; this machine's clock is {} s {way} the server's", d.abs())
            })
            .unwrap_or_default();
        format!(
            "{what}: the server refused the TSIG signature's time (BADTIME): this machine's clock and the server's differ by more than {FUDGE} s{skew}; fix the clock (NTP)"
        )
    }

    /// A verified reply's code, for `what`: `Ok` for NOERROR (and NXDOMAIN
    /// when `nxdomain_ok`), else the error.
    pub fn rcode_error(
        &self,
        what: &str,
        reply: &Message,
        zone: &Name,
    ) -> Option<crate::dns::Error> {
        use crate::dns::Error;
        let code = reply.response_code();
        let zone = zone.to_ascii();
        let zone = zone.trim_end_matches('.');
        let api = |message: String| Error::Api {
            code: rcode_name(code),
            message,
            request_id: None,
        };
        Some(match code {
            ResponseCode::NoError | ResponseCode::NXDomain => return None,
            ResponseCode::NotAuth => match tsig_error(reply) {
                Some((BADTIME, t)) => Error::Auth(self.clock_off(what, t)),
                Some((e @ (BADKEY | BADSIG), _)) => {
                    Error::Auth(self.key_rejected(what, if e == BADKEY { "BADKEY" } else { "BADSIG" }))
                }
                _ => api(format!(
                    "{what}: the server is not authoritative for zone {zone} (is it the zone's primary, and is the zone loaded? see dns.zone)"
                )),
            },
            ResponseCode::Refused => Error::Auth(format!(
                "{what}: refused by the server: TSIG key {:?} is not allowed to do this in zone {zone} (named.conf `update-policy` or `allow-update`, `allow-query`)",
                self.key_name
            )),
            ResponseCode::NotZone => api(format!("{what}: the name is outside zone {zone} (see dns.zone)")),
            _ => api(format!("{what}: the server answered {}", rcode_name(code))),
        })
    }
}

/// One DNS message over TCP (RFC 1035 §4.2.2: a two-byte length first),
/// and the reply with the same id.
async fn roundtrip(server: &str, request: &[u8], id: u16) -> Result<Vec<u8>, Failure> {
    let io = |step: &str, e: std::io::Error| Failure::Transport(format!("{step} {server}: {e}"));
    let unsent = |step: &str, e: std::io::Error| Failure::Unsent(format!("{step} {server}: {e}"));
    let addr = tokio::net::lookup_host(server)
        .await
        .map_err(|e| unsent("cannot resolve", e))?
        .next()
        .ok_or_else(|| Failure::Unsent(format!("{server} resolves to no address")))?;
    let mut tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| unsent("cannot connect to", e))?;
    let len = u16::try_from(request.len())
        .map_err(|_| Failure::Garbled("message longer than 65535 bytes".into()))?;
    let mut out = Vec::with_capacity(request.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(request);
    tcp.write_all(&out)
        .await
        .map_err(|e| io("cannot send to", e))?;
    loop {
        let n = tcp.read_u16().await.map_err(|e| io("no reply from", e))? as usize;
        let mut buf = vec![0; n];
        tcp.read_exact(&mut buf)
            .await
            .map_err(|e| io("reply cut short by", e))?;
        if buf.len() >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            return Ok(buf);
        }
    }
}

fn new_message(op: OpCode) -> Message {
    let mut m = Message::new();
    m.set_id(fastrand::u16(..))
        .set_message_type(MessageType::Query)
        .set_op_code(op)
        .set_recursion_desired(false);
    m
}

/// A query for `name`/`rtype`.
pub fn query(name: &Name, rtype: RecordType) -> Message {
    let mut m = new_message(OpCode::Query);
    m.add_query(Query::query(name.clone(), rtype));
    m
}

/// The RRs of a reply's answer at `name` of `rtype`, class IN.
pub fn answers(reply: &Message, name: &Name, rtype: RecordType) -> Vec<Record> {
    reply
        .answers()
        .iter()
        .filter(|r| r.name() == name && r.record_type() == rtype && r.dns_class() == DNSClass::IN)
        .cloned()
        .collect()
}

/// Names one update is about.
pub struct Names<'a> {
    pub zone: &'a Name,
    pub owner: &'a Name,
    pub rtype: RecordType,
    pub meta: &'a Name,
}

/// The update message of `plan`: its prerequisite is the served RRset
/// exactly as `snap` read it (RFC 2136 §2.4.2 "RRset exists (value
/// dependent)", or §2.4.3 "RRset does not exist" for an empty one), so the
/// server applies it only if that did not change since: compare-and-swap
/// done by the server. Then the deletes (§2.5.4, one RR each: the served
/// value taken out, this record's control entries as read) and the adds
/// (§2.5.1). The control RRset is no prerequisite ([`Plan`] says why).
pub fn update(n: &Names, snap: &Snapshot, plan: &Plan) -> Message {
    let mut m = new_message(OpCode::Update);
    let mut zone = Query::new();
    zone.set_name(n.zone.clone())
        .set_query_class(DNSClass::IN)
        .set_query_type(RecordType::SOA);
    m.add_query(zone);
    let absent = |name: &Name, t: RecordType| {
        let mut r = Record::update0(name.clone(), 0, t);
        r.set_dns_class(DNSClass::NONE);
        r
    };
    let gone = |name: &Name, data: RData| {
        let mut r = Record::from_rdata(name.clone(), 0, data);
        r.set_dns_class(DNSClass::NONE);
        r
    };
    if snap.served.is_empty() {
        m.add_answer(absent(n.owner, n.rtype));
    }
    for d in &snap.served {
        m.add_answer(Record::from_rdata(n.owner.clone(), 0, d.clone()));
    }
    for d in &plan.served_del {
        m.add_name_server(gone(n.owner, d.clone()));
    }
    for t in &plan.meta_del {
        m.add_name_server(gone(n.meta, RData::TXT(t.clone())));
    }
    for d in &plan.served_add {
        m.add_name_server(Record::from_rdata(
            n.owner.clone(),
            plan.served_ttl,
            d.clone(),
        ));
    }
    m.add_name_server(Record::from_rdata(
        n.meta.clone(),
        CONTROL_TTL,
        RData::TXT(plan.meta_add.to_txt()),
    ));
    m
}
