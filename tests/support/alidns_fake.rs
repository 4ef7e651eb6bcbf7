//! A fake Alibaba Cloud DNS (API 2015-01-09) on 127.0.0.1, speaking the V3
//! (`ACS3-HMAC-SHA256`) request style the official SDK uses: `POST /`,
//! business parameters in the query string, empty body.
//!
//! It verifies every request the way the service does, from the raw HTTP
//! request it received and with its own code (not the crate's):
//! [`acs3_signature`] recomputes the signature over the headers the
//! `Authorization` header names, and is pinned to the official SDK's
//! vectors by `tests/alidns_models.rs`. A wrong secret is HTTP 400
//! `SignatureDoesNotMatch`, an unknown AccessKey ID 404
//! `InvalidAccessKeyId.NotFound`, an `x-acs-date` more than 15 minutes off
//! 400 `InvalidTimeStamp.Expired`, a reused nonce 400 `SignatureNonceUsed`,
//! an STS key without its token 400 `InvalidSecurityToken.Mismatch`
//! (that code is not confirmed by the reference), an `x-acs-*` header left
//! unsigned, or a body that does not match `x-acs-content-sha256`,
//! `SignatureDoesNotMatch` too. A parameter the SDK's request model of the
//! action does not have is refused (`tests/fixtures/alidns/models.json`).
//!
//! Alidns's rules the tool meets (reference §2, §4):
//! `UpdateDomainRecord` has no Status (a disabled record stays disabled)
//! and answers 400 `DomainRecordDuplicate` when it changes nothing or when
//! another record of the host, type and line has the value;
//! `AddDomainRecord` makes an enabled record without a remark;
//! `SetDomainRecordStatus` (`Enable`/`Disable`) and
//! `UpdateDomainRecordRemark` are the only ways to change those; a TTL
//! below the edition's floor is 400 `QuotaExceeded.TTL`; an unknown record
//! 400 `DomainRecordNotBelongToUser`. Errors carry real HTTP statuses and
//! the `{RequestId, HostId, Code, Message, Recommend}` body. Faults can be
//! queued (an API error with its status, e.g. 400 `Throttling.User`; an
//! HTTP status; a dropped connection; a hang) and a mutation run before or
//! after a given action (someone else writing).
#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use dns_failover::clock::Clock;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A key the fake knows; `token` set = STS credentials.
#[derive(Clone, Debug)]
pub struct AliKey {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AliRecord {
    pub id: String,
    pub domain: String,
    pub rr: String,
    pub rtype: String,
    pub line: String,
    pub value: String,
    pub ttl: u32,
    pub enabled: bool,
    pub remark: String,
    pub weight: Option<u32>,
}

#[derive(Clone, Debug)]
pub enum AliFault {
    /// An error body with this HTTP status, code and message.
    Api(u16, &'static str, &'static str),
    /// This status with an HTML body.
    Http(u16),
    Drop,
    Hang,
}

struct Queued {
    action: Option<String>,
    skip: usize,
    fault: AliFault,
}

type Mutation = Box<dyn FnOnce(&mut AliState) + Send>;

/// One request as received and answered.
#[derive(Clone, Debug)]
pub struct AliCall {
    pub action: String,
    /// Query parameters, decoded.
    pub params: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub status: u16,
    pub answer: Value,
}

impl AliCall {
    pub fn param(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
    pub fn code(&self) -> Option<&str> {
        (self.status >= 400)
            .then(|| self.answer.get("Code").and_then(Value::as_str))
            .flatten()
    }
}

pub struct AliState {
    pub keys: Vec<AliKey>,
    pub clock: Arc<dyn Clock>,
    pub domain: String,
    pub records: Vec<AliRecord>,
    pub next_id: u64,
    /// `DescribeDomainInfo` `VersionCode`: `mianfei` is the free edition.
    pub version_code: String,
    /// The edition's lowest TTL (`MinTtl`; 600 on free and personal).
    pub min_ttl: u32,
    /// Answer `ENABLE`/`DISABLE` instead of the documented `Enable`/`Disable`.
    pub status_upper: bool,
    pub calls: Vec<AliCall>,
    nonces: HashSet<String>,
    faults: VecDeque<Queued>,
    hooks: Vec<(String, bool, Mutation)>,
    request_seq: u64,
}

impl AliState {
    #[allow(clippy::too_many_arguments)]
    pub fn add_record(
        &mut self,
        rr: &str,
        rtype: &str,
        line: &str,
        value: &str,
        ttl: u32,
        enabled: bool,
        remark: &str,
    ) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.records.push(AliRecord {
            id: id.clone(),
            domain: self.domain.clone(),
            rr: rr.into(),
            rtype: rtype.into(),
            line: line.into(),
            value: value.into(),
            ttl,
            enabled,
            remark: remark.into(),
            weight: None,
        });
        id
    }

    pub fn record(&self, id: &str) -> Option<&AliRecord> {
        self.records.iter().find(|r| r.id == id)
    }

    pub fn record_mut(&mut self, id: &str) -> Option<&mut AliRecord> {
        self.records.iter_mut().find(|r| r.id == id)
    }

    fn status_word(&self, enabled: bool) -> &'static str {
        match (enabled, self.status_upper) {
            (true, false) => "Enable",
            (false, false) => "Disable",
            (true, true) => "ENABLE",
            (false, true) => "DISABLE",
        }
    }

    fn wire(&self, r: &AliRecord) -> Value {
        let mut v = json!({
            "DomainName": r.domain,
            "RecordId": r.id,
            "RR": r.rr,
            "Type": r.rtype,
            "Value": r.value,
            "TTL": r.ttl,
            "Line": r.line,
            "Status": self.status_word(r.enabled),
            "Locked": false,
        });
        if !r.remark.is_empty() {
            v["Remark"] = json!(r.remark);
        }
        if let Some(w) = r.weight {
            v["Weight"] = json!(w);
        }
        v
    }
}

#[derive(Clone)]
pub struct FakeAlidns {
    pub base: String,
    pub state: Arc<Mutex<AliState>>,
}

impl FakeAlidns {
    pub async fn start(domain: &str, keys: Vec<AliKey>, clock: Arc<dyn Clock>) -> FakeAlidns {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(AliState {
            keys,
            clock,
            domain: domain.into(),
            records: vec![],
            next_id: 1_830_000_000_000_000_000,
            version_code: "mianfei".into(),
            min_ttl: 600,
            status_upper: false,
            calls: vec![],
            nonces: HashSet::new(),
            faults: VecDeque::new(),
            hooks: vec![],
            request_seq: 0,
        }));
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, st).await;
                });
            }
        });
        FakeAlidns {
            base: format!("http://{addr}"),
            state,
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut AliState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub fn inject(&self, action: Option<&str>, fault: AliFault) {
        self.inject_nth(action, 0, fault)
    }

    pub fn inject_nth(&self, action: Option<&str>, skip: usize, fault: AliFault) {
        self.with(|s| {
            s.faults.push_back(Queued {
                action: action.map(String::from),
                skip,
                fault,
            })
        });
    }

    /// Run `f` just before the next `action` is handled.
    pub fn before_next(&self, action: &str, f: impl FnOnce(&mut AliState) + Send + 'static) {
        self.with(|s| s.hooks.push((action.into(), true, Box::new(f))));
    }

    /// Run `f` right after the next `action` is handled.
    pub fn after_next(&self, action: &str, f: impl FnOnce(&mut AliState) + Send + 'static) {
        self.with(|s| s.hooks.push((action.into(), false, Box::new(f))));
    }

    pub fn calls(&self) -> Vec<AliCall> {
        self.with(|s| s.calls.clone())
    }

    pub fn actions(&self) -> Vec<String> {
        self.with(|s| s.calls.iter().map(|c| c.action.clone()).collect())
    }

    /// The calls that changed something (answered 2xx, not a Describe*).
    pub fn writes(&self) -> Vec<String> {
        self.with(|s| {
            s.calls
                .iter()
                .filter(|c| c.status < 300 && !c.action.starts_with("Describe"))
                .map(|c| c.action.clone())
                .collect()
        })
    }
}

// ---------------------------------------------------------------------------
// The signature, as the service computes it
// ---------------------------------------------------------------------------

/// RFC 3986: unreserved characters as they are, every other byte `%XY`.
fn rfc3986(s: &str) -> String {
    const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
    s.bytes()
        .map(|b| {
            if UNRESERVED.contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The ACS3-HMAC-SHA256 signature of a request, from its parts as the
/// server sees them: `query` decoded, `signed` the headers `SignedHeaders`
/// names with their values as received.
pub fn acs3_signature(
    method: &str,
    path: &str,
    query: &[(String, String)],
    signed: &[(String, String)],
    body_sha256: &str,
    secret: &str,
) -> String {
    let mut q: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", rfc3986(k), rfc3986(v)))
        .collect();
    q.sort();
    let mut h: Vec<(String, String)> = signed
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.trim().to_string()))
        .collect();
    h.sort();
    let mut canonical = format!("{method}\n{path}\n{}\n", q.join("&"));
    for (k, v) in &h {
        canonical += &format!("{k}:{v}\n");
    }
    let names: Vec<&str> = h.iter().map(|(k, _)| k.as_str()).collect();
    canonical += &format!("\n{}\n{body_sha256}", names.join(";"));
    let to_sign = format!(
        "ACS3-HMAC-SHA256\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Form decoding, as the service decodes a query: `%XY` and `+` as space.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

enum Out {
    Json(u16, Value),
    Html(u16),
    Drop,
    Hang,
}

async fn serve(mut sock: TcpStream, state: Arc<Mutex<AliState>>) -> std::io::Result<()> {
    loop {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default().to_string();
        let mut headers: Vec<(String, String)> = Vec::new();
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = buf[head_end + 4..].to_vec();
        while body.len() < len {
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            body.extend_from_slice(&chunk[..n]);
        }
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("/").to_string();
        let out = handle(&state, &method, &target, &headers, &body);
        let (status, body, ctype) = match out {
            Out::Drop => return Ok(()),
            Out::Hang => {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                return Ok(());
            }
            Out::Json(s, v) => (s, v.to_string(), "application/json;charset=utf-8"),
            Out::Html(s) => (
                s,
                "<html><body>gateway error</body></html>".to_string(),
                "text/html",
            ),
        };
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        sock.write_all(resp.as_bytes()).await?;
    }
}

fn error_body(seq: u64, code: &str, message: &str) -> Value {
    let rid = format!("6C6B99E6-0000-4000-8000-{seq:012}");
    json!({
        "RequestId": rid,
        "HostId": "alidns.aliyuncs.com",
        "Code": code,
        "Message": message,
        "Recommend": format!("https://api.aliyun.com/troubleshoot?q={code}&product=Alidns&requestId={rid}"),
    })
}

fn models() -> Value {
    let path = format!(
        "{}/tests/fixtures/alidns/models.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn handle(
    state: &Arc<Mutex<AliState>>,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Out {
    let mut s = state.lock().unwrap();
    s.request_seq += 1;
    let seq = s.request_seq;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params = parse_query(query);
    let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let action = header("x-acs-action").unwrap_or_default();
    let record = |s: &mut AliState, status: u16, answer: Value| {
        s.calls.push(AliCall {
            action: action.clone(),
            params: params.clone(),
            headers: headers.to_vec(),
            status,
            answer: answer.clone(),
        });
        Out::Json(status, answer)
    };

    // Queued faults first (they stand for the network or the service).
    let pos = s
        .faults
        .iter()
        .position(|q| q.action.as_deref().is_none_or(|a| a == action));
    if let Some(p) = pos {
        if s.faults[p].skip > 0 {
            s.faults[p].skip -= 1;
        } else {
            let q = s.faults.remove(p).unwrap();
            return match q.fault {
                AliFault::Api(status, code, msg) => {
                    let b = error_body(seq, code, msg);
                    record(&mut s, status, b)
                }
                AliFault::Http(status) => {
                    record(&mut s, status, Value::Null);
                    Out::Html(status)
                }
                AliFault::Drop => Out::Drop,
                AliFault::Hang => Out::Hang,
            };
        }
    }

    if let Err((status, code, msg)) = verify(&mut s, method, path, &params, headers, body) {
        let b = error_body(seq, code, &msg);
        return record(&mut s, status, b);
    }

    let known = models()["actions"][action.as_str()]["request"].clone();
    let Some(known) = known.as_array() else {
        let b = error_body(
            seq,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        );
        return record(&mut s, 404, b);
    };
    if let Some((k, _)) = params.iter().find(|(k, _)| !known.contains(&json!(k))) {
        let b = error_body(
            seq,
            "InvalidParameter",
            &format!("The parameter {k} is not recognized."),
        );
        return record(&mut s, 400, b);
    }

    if let Some(i) = s
        .hooks
        .iter()
        .position(|(a, before, _)| *a == action && *before)
    {
        let (_, _, f) = s.hooks.remove(i);
        f(&mut s);
    }
    let p = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let result = act(&mut s, &action, &p, seq);
    if let Some(i) = s
        .hooks
        .iter()
        .position(|(a, before, _)| *a == action && !*before)
    {
        let (_, _, f) = s.hooks.remove(i);
        f(&mut s);
    }
    match result {
        Ok(v) => record(&mut s, 200, v),
        Err((status, code, msg)) => {
            let b = error_body(seq, code, &msg);
            record(&mut s, status, b)
        }
    }
}

type Refusal = (u16, &'static str, String);

/// The service's checks of a V3 request, in its order.
fn verify(
    s: &mut AliState,
    method: &str,
    path: &str,
    params: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(), Refusal> {
    let header = |k: &str| {
        headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let mismatch = |why: &str| {
        (
            400,
            "SignatureDoesNotMatch",
            format!("Specified signature does not match our calculation. ({why})"),
        )
    };
    let auth = header("authorization").unwrap_or("");
    let rest = auth
        .strip_prefix("ACS3-HMAC-SHA256 ")
        .ok_or_else(|| mismatch("not ACS3-HMAC-SHA256"))?;
    let mut credential = "";
    let mut signed_names = "";
    let mut signature = "";
    for part in rest.split(',') {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = v,
            Some(("SignedHeaders", v)) => signed_names = v,
            Some(("Signature", v)) => signature = v,
            _ => return Err(mismatch("malformed Authorization")),
        }
    }
    let Some(key) = s.keys.iter().find(|k| k.id == credential).cloned() else {
        return Err((
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.".into(),
        ));
    };
    let names: Vec<&str> = signed_names.split(';').collect();
    // Every x-acs-* header sent, and host, must be signed.
    for (k, _) in headers {
        if (k.starts_with("x-acs-") || k == "host") && !names.contains(&k.as_str()) {
            return Err(mismatch(&format!("{k} is not signed")));
        }
    }
    let body_hash = hex::encode(Sha256::digest(body));
    if header("x-acs-content-sha256") != Some(body_hash.as_str()) {
        return Err(mismatch("x-acs-content-sha256 is not the body's"));
    }
    let mut signed = Vec::new();
    for n in &names {
        let v = header(n).ok_or_else(|| mismatch(&format!("signed header {n} not sent")))?;
        signed.push((n.to_string(), v.to_string()));
    }
    let expected = acs3_signature(method, path, params, &signed, &body_hash, &key.secret);
    if expected != signature {
        // As the service does, quote what it signed: the signed headers,
        // the security token among them.
        let quoted: Vec<String> = signed.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        return Err((
            400,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature does not match our calculation. server CanonicalRequest is [{}]",
                quoted.join("\n")
            ),
        ));
    }
    let date = header("x-acs-date").unwrap_or("");
    let when = DateTime::parse_from_rfc3339(date).map_err(|_| {
        (
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.".to_string(),
        )
    })?;
    if (s.clock.now() - when.with_timezone(&Utc))
        .num_seconds()
        .abs()
        > 15 * 60
    {
        return Err((
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.".into(),
        ));
    }
    let nonce = header("x-acs-signature-nonce").unwrap_or("").to_string();
    if nonce.is_empty() || !s.nonces.insert(nonce) {
        return Err((
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.".into(),
        ));
    }
    if let Some(t) = &key.token {
        if header("x-acs-security-token") != Some(t.as_str()) {
            return Err((
                400,
                "InvalidSecurityToken.Mismatch",
                "The security token does not match the access key.".into(),
            ));
        }
    }
    if header("x-acs-version") != Some("2015-01-09") {
        return Err((
            400,
            "InvalidVersion",
            "Specified parameter Version is not valid.".into(),
        ));
    }
    Ok(())
}

fn act(
    s: &mut AliState,
    action: &str,
    p: &dyn Fn(&str) -> Option<String>,
    seq: u64,
) -> Result<Value, Refusal> {
    let rid = format!("536E9CAD-DB30-4647-AC87-{seq:012}");
    let need = |k: &str| {
        p(k).ok_or((
            400,
            "MissingParameter",
            format!("The input parameter \"{k}\" that is mandatory for processing this request is not supplied."),
        ))
    };
    // The domain a call names must be this fake's.
    let fake_domain = s.domain.clone();
    let own_domain = |domain: &str| {
        if domain.eq_ignore_ascii_case(&fake_domain) {
            Ok(())
        } else {
            Err((
                400,
                "InvalidDomainName.NoExist",
                "The specified domain name does not exist. Refresh the page and try again."
                    .to_string(),
            ))
        }
    };
    // One page of `all` as the list actions answer it, `PageSize` at most
    // `max` (the documented maxima; past them the service's behaviour is not
    // documented, so the fake refuses: the provider must not ask).
    let page_of = |all: Vec<Value>, max: usize| -> Result<Value, Refusal> {
        let page: usize = p("PageNumber").and_then(|v| v.parse().ok()).unwrap_or(1);
        let size: usize = p("PageSize").and_then(|v| v.parse().ok()).unwrap_or(20);
        if size > max {
            return Err((
                400,
                "InvalidPageSize",
                format!("PageSize must be at most {max}."),
            ));
        }
        let total = all.len();
        let items: Vec<Value> = all.into_iter().skip((page - 1) * size).take(size).collect();
        Ok(json!({
            "RequestId": rid,
            "TotalCount": total,
            "PageNumber": page,
            "PageSize": items.len(),
            "DomainRecords": {"Record": items},
        }))
    };
    let not_mine = || {
        (
            400,
            "DomainRecordNotBelongToUser",
            "The DNS record does not exist in your account.".to_string(),
        )
    };
    let ttl_check = |s: &AliState, ttl: &Option<String>| -> Result<u32, Refusal> {
        let ttl: u32 = ttl
            .as_deref()
            .unwrap_or("600")
            .parse()
            .map_err(|_| (400, "InvalidParameter", "TTL is not a number".to_string()))?;
        if ttl < s.min_ttl || ttl > 86_400 {
            return Err((
                400,
                "QuotaExceeded.TTL",
                format!(
                    "The specified TTL is invalid. A valid TTL must be in the range of {} to 86400.",
                    s.min_ttl
                ),
            ));
        }
        Ok(ttl)
    };
    match action {
        "DescribeSubDomainRecords" => {
            let sub = need("SubDomain")?.to_ascii_lowercase();
            let domain = p("DomainName").unwrap_or_else(|| s.domain.clone());
            own_domain(&domain)?;
            let rr = if sub == domain {
                "@".to_string()
            } else {
                sub.strip_suffix(&format!(".{domain}"))
                    .unwrap_or(&sub)
                    .to_string()
            };
            let all: Vec<Value> = s
                .records
                .iter()
                .filter(|r| r.rr.eq_ignore_ascii_case(&rr))
                .filter(|r| p("Type").is_none_or(|t| t.eq_ignore_ascii_case(&r.rtype)))
                .filter(|r| p("Line").is_none_or(|l| l == r.line))
                .map(|r| s.wire(r))
                .collect();
            page_of(all, 100)
        }
        // Reference §4.2 and the SDK 4.6.1 model: the domain's records,
        // newest first, up to 500 a page; `Type`, `Line` and `Status`
        // filter (the search keys are not used by the provider). The
        // items' timestamps and `LbaStatus` are left out (optional fields
        // the provider does not read).
        "DescribeDomainRecords" => {
            let domain = need("DomainName")?;
            own_domain(&domain)?;
            let all: Vec<Value> = s
                .records
                .iter()
                .rev()
                .filter(|r| p("Type").is_none_or(|t| t.eq_ignore_ascii_case(&r.rtype)))
                .filter(|r| p("Line").is_none_or(|l| l == r.line))
                .filter(|r| {
                    p("Status").is_none_or(|st| st.eq_ignore_ascii_case(s.status_word(r.enabled)))
                })
                .map(|r| s.wire(r))
                .collect();
            page_of(all, 500)
        }
        "DescribeDomainRecordInfo" => {
            let id = need("RecordId")?;
            let r = s.record(&id).ok_or_else(not_mine)?;
            let mut v = s.wire(r);
            v["RequestId"] = json!(rid);
            v["DomainId"] = json!("00000000-0000-0000-0000-000000000001");
            v["PunyCode"] = json!(r.domain);
            Ok(v)
        }
        "DescribeDomainInfo" => {
            let domain = need("DomainName")?;
            own_domain(&domain)?;
            let mut v = json!({
                "RequestId": rid,
                "DomainName": s.domain,
                "DomainId": "00000000-0000-0000-0000-000000000001",
                "VersionCode": s.version_code,
                "VersionName": "Alibaba Cloud DNS Free Edition",
                "DnsServers": {"DnsServer": ["dns1.hichina.com", "dns2.hichina.com"]},
                "AvailableTtls": {"AvailableTtl": ["600", "1800", "3600", "43200", "86400"]},
            });
            if p("NeedDetailAttributes").as_deref() == Some("true") {
                v["MinTtl"] = json!(s.min_ttl);
                v["LineType"] = json!("FREE");
                v["RecordLines"] = json!({"RecordLine": [
                    {"LineCode": "default", "LineName": "默认", "LineDisplayName": "默认", "FatherCode": ""},
                    {"LineCode": "telecom", "LineName": "中国电信", "LineDisplayName": "中国电信", "FatherCode": ""},
                ]});
                v["RegionLines"] = json!(false);
                v["SlaveDns"] = json!(false);
            }
            Ok(v)
        }
        "AddDomainRecord" => {
            let domain = need("DomainName")?;
            own_domain(&domain)?;
            let (rr, rtype, value) = (need("RR")?, need("Type")?, need("Value")?);
            let line = p("Line").unwrap_or_else(|| "default".into());
            let ttl = ttl_check(s, &p("TTL"))?;
            if s.records.iter().any(|r| {
                r.rr.eq_ignore_ascii_case(&rr)
                    && r.rtype.eq_ignore_ascii_case(&rtype)
                    && r.line == line
                    && r.value == value
            }) {
                return Err((
                    400,
                    "DomainRecordDuplicate",
                    "The DNS record already exists.".into(),
                ));
            }
            let id = s.add_record(
                &rr,
                &rtype.to_ascii_uppercase(),
                &line,
                &value,
                ttl,
                true,
                "",
            );
            Ok(json!({"RequestId": rid, "RecordId": id}))
        }
        "UpdateDomainRecord" => {
            let id = need("RecordId")?;
            let (rr, rtype, value) = (need("RR")?, need("Type")?, need("Value")?);
            let line = p("Line").unwrap_or_else(|| "default".into());
            let ttl = ttl_check(s, &p("TTL"))?;
            let cur = s.record(&id).ok_or_else(not_mine)?.clone();
            let unchanged = cur.rr.eq_ignore_ascii_case(&rr)
                && cur.rtype.eq_ignore_ascii_case(&rtype)
                && cur.line == line
                && cur.value == value
                && cur.ttl == ttl;
            let clash = s.records.iter().any(|r| {
                r.id != id
                    && r.rr.eq_ignore_ascii_case(&rr)
                    && r.rtype.eq_ignore_ascii_case(&rtype)
                    && r.line == line
                    && r.value == value
            });
            if unchanged || clash {
                return Err((
                    400,
                    "DomainRecordDuplicate",
                    "The DNS record already exists.".into(),
                ));
            }
            let r = s.record_mut(&id).unwrap();
            // No Status parameter: the status stays as it is.
            r.rr = rr;
            r.rtype = rtype.to_ascii_uppercase();
            r.line = line;
            r.value = value;
            r.ttl = ttl;
            Ok(json!({"RequestId": rid, "RecordId": id}))
        }
        "SetDomainRecordStatus" => {
            let id = need("RecordId")?;
            let status = need("Status")?;
            let enabled = match status.as_str() {
                "Enable" => true,
                "Disable" => false,
                _ => {
                    return Err((
                        400,
                        "InvalidStatus",
                        "The specified status is invalid.".into(),
                    ))
                }
            };
            let r = s.record_mut(&id).ok_or_else(not_mine)?;
            r.enabled = enabled;
            Ok(json!({"RequestId": rid, "RecordId": id, "Status": status}))
        }
        "UpdateDomainRecordRemark" => {
            let id = need("RecordId")?;
            let remark = p("Remark").unwrap_or_default();
            let r = s.record_mut(&id).ok_or_else(not_mine)?;
            r.remark = remark;
            Ok(json!({"RequestId": rid}))
        }
        _ => Err((
            404,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.".into(),
        )),
    }
}
