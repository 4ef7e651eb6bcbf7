//! A fake Tencent Cloud API 3.0 server on 127.0.0.1 that speaks DNSPod
//! (2021-03-23) and SMS SendSms (2021-01-11) well enough for our client.
//!
//! It recomputes the TC3-HMAC-SHA256 signature of every request with its own
//! implementation (not the crate's) from the bytes and headers it received,
//! and answers with the real envelope and error shapes: a wrong key gives
//! `AuthFailure.SignatureFailure`, a timestamp more than 5 minutes from its
//! clock `AuthFailure.SignatureExpire`, a temporary credential without its
//! token `AuthFailure.TokenFailure`. Records live in memory. Faults can be
//! queued: API errors, HTTP status codes, a dropped connection, a hang, and a
//! mutation run right after a `DescribeRecordList` answer (a conflict).
//!
//! DNSPod's answers use the field names of the official models
//! (tencentcloud-sdk-go `dnspod/v20210323/models.go`: `RecordListItem`,
//! `RecordInfo`, `DomainInfo`, `PackageDetailItem`); `tests/dnspod_models.rs`
//! checks every answer against the API reference's examples in
//! `tests/fixtures/dnspod/`, and `DescribePackageDetail` is that example
//! with this domain's plan patched in. DNSPod's rules that the tool meets:
//! the round-robin cap (`record_roll` enabled records per host and line on
//! ENABLE writes: `LimitExceeded.SubdomainRollLimit`; DISABLE writes are not
//! checked), a host's first record on a line other than `默认` needs one on
//! `默认` (`FailedOperation.MustAddDefaultLineFirst`), a new record is
//! missing from `DescribeRecordList` for `index_delay` (`DescribeRecord`
//! finds it at once), and CNAME values compare without their trailing dot.
//! The defaults are lenient (TTL from 1 s, 10 records per line, no index
//! delay) so a test opts into the plan's limits.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use dns_failover::clock::Clock;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A credential the server knows; `token` set = temporary credential.
#[derive(Clone, Debug)]
pub struct Key {
    pub id: String,
    pub key: String,
    pub token: Option<String>,
}

/// One record as DNSPod keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeRecord {
    pub id: u64,
    pub domain: String,
    pub name: String,
    pub rtype: String,
    pub line: String,
    pub value: String,
    pub ttl: u32,
    pub enabled: bool,
    pub weight: Option<u32>,
    pub mx: u32,
    pub remark: String,
    pub updated_on: String,
    /// When it was created (the fake's clock): the list index lags behind.
    pub created: DateTime<Utc>,
}

/// What to do to a request instead of answering it normally.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer `{"Response":{"Error":{Code,Message}}}` with HTTP 200.
    Api(&'static str, &'static str),
    /// Answer this HTTP status with an HTML body.
    Http(u16),
    /// Close the connection without answering.
    Drop,
    /// Never answer (the connection stays open for a minute).
    Hang,
}

struct Queued {
    action: Option<String>,
    /// Matching requests to let through before this fault fires.
    skip: usize,
    fault: Fault,
}

type Mutation = Box<dyn FnOnce(&mut State) + Send>;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Call {
    pub action: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    /// The error code we answered with, if any.
    pub error: Option<String>,
}

/// SMS per-number outcome override: number -> (Code, Message).
pub type SmsRejects = HashMap<String, (String, String)>;

pub struct State {
    pub keys: Vec<Key>,
    pub clock: Arc<dyn Clock>,
    pub domain: String,
    pub records: Vec<FakeRecord>,
    pub next_id: u64,
    /// `DescribeDomain` grade, e.g. `DP_FREE`.
    pub grade: String,
    /// Lowest TTL this domain's plan accepts.
    pub min_ttl: u32,
    /// When false, `DescribePackageDetail` fails (InternalError) so the
    /// provider has to fall back.
    pub package_detail_works: bool,
    /// Enabled records one host may have on one line (`RecordRoll`).
    pub record_roll: u32,
    /// How long a new record is missing from `DescribeRecordList`.
    pub index_delay: Duration,
    /// A host's first record on another line than `默认` needs a `默认` one.
    pub require_default_line: bool,
    /// `DescribeDomain`'s `DnspodNsList` (the API reference's example by
    /// default); tests point it at local servers.
    pub ns_list: Vec<String>,
    pub calls: Vec<Call>,
    pub sms_rejects: SmsRejects,
    pub sms_sent: Vec<Value>,
    faults: VecDeque<Queued>,
    after_list: Option<Mutation>,
    /// (action, run before the request is handled?, mutation), first match wins.
    hooks: Vec<(String, bool, Mutation)>,
    request_seq: u64,
}

impl State {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Beijing wall-clock time, as DNSPod writes `UpdatedOn`.
    pub fn beijing_now(&self) -> String {
        (self.now() + chrono::Duration::hours(8))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    pub fn add_record(
        &mut self,
        name: &str,
        rtype: &str,
        line: &str,
        value: &str,
        ttl: u32,
        enabled: bool,
    ) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let updated_on = self.beijing_now();
        let created = self.now();
        self.records.push(FakeRecord {
            id,
            domain: self.domain.clone(),
            name: name.into(),
            rtype: rtype.into(),
            line: line.into(),
            value: value.into(),
            ttl,
            enabled,
            weight: None,
            mx: 0,
            remark: String::new(),
            updated_on,
            created,
        });
        id
    }

    pub fn record(&self, id: u64) -> Option<&FakeRecord> {
        self.records.iter().find(|r| r.id == id)
    }

    pub fn record_mut(&mut self, id: u64) -> Option<&mut FakeRecord> {
        self.records.iter_mut().find(|r| r.id == id)
    }

    pub fn by_value(&self, value: &str) -> Option<&FakeRecord> {
        self.records.iter().find(|r| r.value == value)
    }

    pub fn calls_of(&self, action: &str) -> Vec<&Call> {
        self.calls.iter().filter(|c| c.action == action).collect()
    }
}

#[derive(Clone)]
pub struct FakeTencent {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
}

impl FakeTencent {
    /// Start on an ephemeral port, serving `domain`, knowing `keys`, judging
    /// timestamps by `clock`. The server lives as long as the runtime.
    pub async fn start(domain: &str, keys: Vec<Key>, clock: Arc<dyn Clock>) -> FakeTencent {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            keys,
            clock,
            domain: domain.into(),
            records: vec![],
            next_id: 1000,
            grade: "DP_FREE".into(),
            min_ttl: 1,
            package_detail_works: true,
            record_roll: 10,
            index_delay: Duration::ZERO,
            require_default_line: true,
            ns_list: vec!["temporary.dnspod.net".into(), "barman.dnspod.net".into()],
            calls: vec![],
            sms_rejects: HashMap::new(),
            sms_sent: vec![],
            faults: VecDeque::new(),
            hooks: Vec::new(),
            after_list: None,
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
        FakeTencent { addr, state }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// Queue a fault for the next request of `action` (any action if None).
    pub fn inject(&self, action: Option<&str>, fault: Fault) {
        self.inject_nth(action, 0, fault)
    }

    /// Queue a fault for the request of `action` after `skip` matching ones.
    pub fn inject_nth(&self, action: Option<&str>, skip: usize, fault: Fault) {
        self.with(|s| {
            s.faults.push_back(Queued {
                action: action.map(String::from),
                skip,
                fault,
            })
        });
    }

    /// Run `f` on the state right after the next `DescribeRecordList` answer
    /// is built: someone else changes a record between our read and our write.
    pub fn after_next_list(&self, f: impl FnOnce(&mut State) + Send + 'static) {
        self.with(|s| s.after_list = Some(Box::new(f)));
    }

    /// Run `f` on the state just before the next `action` request is
    /// handled: someone else writes between our re-read and our write.
    pub fn before_next(&self, action: &str, f: impl FnOnce(&mut State) + Send + 'static) {
        self.with(|s| s.hooks.push((action.into(), true, Box::new(f))));
    }

    /// Run `f` on the state right after the next `action` request is handled:
    /// someone else writes between our write and our read-back.
    pub fn after_next(&self, action: &str, f: impl FnOnce(&mut State) + Send + 'static) {
        self.with(|s| s.hooks.push((action.into(), false, Box::new(f))));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.with(|s| s.calls.clone())
    }

    pub fn actions(&self) -> Vec<String> {
        self.with(|s| s.calls.iter().map(|c| c.action.clone()).collect())
    }
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

async fn serve(mut sock: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
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
    let mut headers = HashMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let method = request_line.split(' ').next().unwrap_or("").to_string();
    let reply = handle(&state, &method, &headers, &body);
    match reply {
        Reply::Drop => Ok(()),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        }
        Reply::Status(code, text) => {
            let resp = format!(
                "HTTP/1.1 {code} Fault\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
            sock.write_all(resp.as_bytes()).await?;
            sock.shutdown().await
        }
        Reply::Json(v) => {
            let body = serde_json::to_vec(&v).unwrap();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            sock.write_all(head.as_bytes()).await?;
            sock.write_all(&body).await?;
            sock.shutdown().await
        }
    }
}

enum Reply {
    Json(Value),
    Status(u16, String),
    Drop,
    Hang,
}

fn handle(
    state: &Arc<Mutex<State>>,
    method: &str,
    headers: &HashMap<String, String>,
    body: &[u8],
) -> Reply {
    let mut s = state.lock().unwrap();
    s.request_seq += 1;
    let request_id = format!("fake-{:08}-0000-4000-8000-000000000000", s.request_seq);
    let action = headers.get("x-tc-action").cloned().unwrap_or_default();
    let params: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut call = Call {
        action: action.clone(),
        headers: headers.clone(),
        body: params.clone(),
        error: None,
    };

    // Faults first: the network or the service's front end fails before any check.
    let idx = s
        .faults
        .iter()
        .position(|q| q.action.as_deref().is_none_or(|a| a == action));
    if let Some(i) = idx {
        if s.faults[i].skip > 0 {
            s.faults[i].skip -= 1;
        } else {
            let q = s.faults.remove(i).unwrap();
            match q.fault {
                Fault::Api(code, msg) => {
                    call.error = Some(code.into());
                    s.calls.push(call);
                    return Reply::Json(error(code, msg, &request_id));
                }
                Fault::Http(code) => {
                    call.error = Some(format!("HTTP {code}"));
                    s.calls.push(call);
                    return Reply::Status(
                        code,
                        format!("<html><body>{code} injected</body></html>"),
                    );
                }
                Fault::Drop => {
                    call.error = Some("dropped".into());
                    s.calls.push(call);
                    return Reply::Drop;
                }
                Fault::Hang => {
                    call.error = Some("hang".into());
                    s.calls.push(call);
                    return Reply::Hang;
                }
            }
        }
    }

    if let Some(i) = s.hooks.iter().position(|h| h.0 == action && h.1) {
        let (_, _, f) = s.hooks.remove(i);
        f(&mut s);
    }
    let result =
        verify(&s, method, headers, body, &action).and_then(|_| dispatch(&mut s, &action, &params));
    let reply = match result {
        Ok(mut v) => {
            v["RequestId"] = json!(request_id);
            json!({ "Response": v })
        }
        Err((code, msg)) => {
            call.error = Some(code.clone());
            error(&code, &msg, &request_id)
        }
    };
    s.calls.push(call);
    if let Some(i) = s.hooks.iter().position(|h| h.0 == action && !h.1) {
        let (_, _, f) = s.hooks.remove(i);
        f(&mut s);
    }
    if action == "DescribeRecordList" {
        if let Some(f) = s.after_list.take() {
            f(&mut s);
        }
    }
    Reply::Json(reply)
}

fn error(code: &str, msg: &str, request_id: &str) -> Value {
    json!({ "Response": { "Error": { "Code": code, "Message": msg }, "RequestId": request_id } })
}

type ApiResult = Result<Value, (String, String)>;

fn err(code: &str, msg: &str) -> (String, String) {
    (code.to_string(), msg.to_string())
}

// ---------------------------------------------------------------------------
// Signature check (an implementation independent of the crate's)
// ---------------------------------------------------------------------------

fn hex_sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn hmac(key: &[u8], msg: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn service_of(action: &str) -> (&'static str, &'static str) {
    if action == "SendSms" {
        ("sms", "2021-01-11")
    } else {
        ("dnspod", "2021-03-23")
    }
}

fn verify(
    s: &State,
    method: &str,
    h: &HashMap<String, String>,
    body: &[u8],
    action: &str,
) -> Result<(), (String, String)> {
    let auth = h.get("authorization").ok_or_else(|| {
        err(
            "AuthFailure.InvalidAuthorization",
            "Authorization header is missing.",
        )
    })?;
    let rest = auth.strip_prefix("TC3-HMAC-SHA256 ").ok_or_else(|| {
        err(
            "AuthFailure.InvalidAuthorization",
            "Unknown signature algorithm.",
        )
    })?;
    let mut credential = "";
    let mut signed_headers = "";
    let mut signature = "";
    for part in rest.split(", ") {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = v;
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = v;
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = v;
        }
    }
    let cred: Vec<&str> = credential.split('/').collect();
    if cred.len() != 4 || cred[3] != "tc3_request" {
        return Err(err(
            "AuthFailure.InvalidAuthorization",
            "Credential is malformed.",
        ));
    }
    let key = s.keys.iter().find(|k| k.id == cred[0]).ok_or_else(|| {
        err(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.",
        )
    })?;
    let ts: i64 = h
        .get("x-tc-timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            err(
                "MissingParameter",
                "The request is missing a required parameter `Timestamp`.",
            )
        })?;
    let now = s.now().timestamp();
    if (now - ts).abs() > 300 {
        return Err(err(
            "AuthFailure.SignatureExpire",
            &format!("Signature expired. Timestamp date: {ts}, current date: {now}."),
        ));
    }
    let (service, version) = service_of(action);
    let date = DateTime::<Utc>::from_timestamp(ts, 0)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    if cred[1] != date || cred[2] != service {
        return Err(err(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated because of the credential scope.",
        ));
    }
    if h.get("x-tc-version").map(String::as_str) != Some(version) {
        return Err(err(
            "NoSuchVersion",
            "The requested version does not exist.",
        ));
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    if !names.contains(&"content-type") || !names.contains(&"host") {
        return Err(err(
            "AuthFailure.SignatureFailure",
            "content-type and host must be signed.",
        ));
    }
    let mut canonical_headers = String::new();
    for n in &names {
        let v = h.get(*n).map(String::as_str).unwrap_or("");
        canonical_headers.push_str(&format!("{n}:{}\n", v.trim().to_ascii_lowercase()));
    }
    let canonical_request = format!(
        "{method}\n/\n\n{canonical_headers}\n{signed_headers}\n{}",
        hex_sha256(body)
    );
    let string_to_sign = format!(
        "TC3-HMAC-SHA256\n{ts}\n{date}/{service}/tc3_request\n{}",
        hex_sha256(canonical_request.as_bytes())
    );
    let k = hmac(format!("TC3{}", key.key).as_bytes(), &date);
    let k = hmac(&k, service);
    let k = hmac(&k, "tc3_request");
    let expected = hex::encode(hmac(&k, &string_to_sign));
    if expected != signature {
        return Err(err(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        ));
    }
    if let Some(token) = &key.token {
        if h.get("x-tc-token") != Some(token) {
            return Err(err(
                "AuthFailure.TokenFailure",
                "Token verification failed.",
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------

fn str_param<'a>(p: &'a Value, k: &str) -> Option<&'a str> {
    p.get(k).and_then(Value::as_str)
}

fn dispatch(s: &mut State, action: &str, p: &Value) -> ApiResult {
    if action != "SendSms" && action != "DescribePackageDetail" {
        let d =
            str_param(p, "Domain").ok_or_else(|| err("MissingParameter", "缺少参数 Domain。"))?;
        if d != s.domain {
            return Err(err(
                "InvalidParameterValue.DomainNotExists",
                "当前域名有误，请返回重新操作。",
            ));
        }
    }
    match action {
        "DescribeRecordList" => describe_record_list(s, p),
        "DescribeRecord" => {
            let id = record_id(s, p)?;
            Ok(json!({ "RecordInfo": record_info(s.record(id).unwrap()) }))
        }
        "CreateRecord" => create_record(s, p),
        "ModifyRecord" => modify_record(s, p),
        "ModifyRecordStatus" => {
            let id = record_id(s, p)?;
            let enabled = match str_param(p, "Status") {
                Some("ENABLE") => true,
                Some("DISABLE") => false,
                _ => {
                    return Err(err(
                        "InvalidParameter.RecordStatusInvalid",
                        "记录状态错误。",
                    ))
                }
            };
            let r = s.record(id).unwrap().clone();
            check_roll(s, &r.name, &r.rtype, &r.line, Some(id), enabled)?;
            let now = s.beijing_now();
            let r = s.record_mut(id).unwrap();
            r.enabled = enabled;
            r.updated_on = now;
            Ok(json!({ "RecordId": id }))
        }
        "ModifyRecordRemark" => {
            let id = record_id(s, p)?;
            let remark = str_param(p, "Remark").unwrap_or("").to_string();
            s.record_mut(id).unwrap().remark = remark;
            Ok(json!({}))
        }
        "DescribeDomain" => {
            let level = package_detail()["Info"]
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .find(|i| grade_is(i, &s.grade))
                        .map(|i| i["GradeLevel"].clone())
                })
                .unwrap_or(json!(2));
            Ok(json!({ "DomainInfo": {
                "Domain": s.domain, "DomainId": 12620688, "Grade": s.grade, "GradeLevel": level,
                "GradeTitle": "免费版", "Status": "enable", "TTL": 600, "Remark": "",
                "Punycode": s.domain, "DnsStatus": "", "CnameSpeedup": "disable",
                "DnspodNsList": s.ns_list, "ActualNsList": [],
                "GroupId": 1, "IsMark": "no", "IsVip": "no", "IsSubDomain": false,
                "CreatedOn": "2023-03-21 17:27:40", "UpdatedOn": "2024-12-30 10:16:57",
                "RecordCount": s.records.len(), "TagList": []
            }}))
        }
        "DescribePackageDetail" => {
            if !s.package_detail_works {
                return Err(err("InternalError", "Internal error."));
            }
            // The reference's example, with this domain's plan as set.
            let mut v = package_detail();
            for item in v["Info"].as_array_mut().into_iter().flatten() {
                if grade_is(item, &s.grade) {
                    item["MinTtl"] = json!(s.min_ttl);
                    item["RecordRoll"] = json!(s.record_roll);
                }
            }
            Ok(v)
        }
        "SendSms" => send_sms(s, p),
        _ => Err(err("InvalidAction", "The requested action does not exist.")),
    }
}

fn record_id(s: &State, p: &Value) -> Result<u64, (String, String)> {
    let id = p
        .get("RecordId")
        .and_then(Value::as_u64)
        .ok_or_else(|| err("MissingParameter", "缺少参数 RecordId。"))?;
    if s.record(id).is_none() {
        return Err(err("InvalidParameter.RecordIdInvalid", "记录编号错误。"));
    }
    Ok(id)
}

/// The `DescribePackageDetail` example of the API reference (without its
/// RequestId).
pub fn package_detail() -> Value {
    let v: Value = serde_json::from_str(include_str!(
        "../fixtures/dnspod/DescribePackageDetail.json"
    ))
    .expect("fixture parses");
    let mut r = v["Response"].clone();
    r.as_object_mut().unwrap().remove("RequestId");
    r
}

/// Is this `PackageDetailItem` the plan `grade` (`DomainInfo.Grade`
/// spelling: `DP_FREE` is `DP_Free`)?
fn grade_is(item: &Value, grade: &str) -> bool {
    item["DomainGrade"]
        .as_str()
        .is_some_and(|g| g.eq_ignore_ascii_case(grade))
}

/// `DescribeRecord`'s `RecordInfo`: other names than the list's, `Enabled`
/// as 0/1 and `MonitorStatus` in another case.
fn record_info(r: &FakeRecord) -> Value {
    json!({
        "Id": r.id, "SubDomain": r.name, "RecordType": r.rtype, "RecordLine": r.line,
        "RecordLineId": if r.line == "默认" { "0" } else { "7=0" }, "Value": r.value,
        "Weight": r.weight, "MX": r.mx, "TTL": r.ttl, "Enabled": u8::from(r.enabled),
        "MonitorStatus": "", "Remark": r.remark, "UpdatedOn": r.updated_on, "DomainId": 12620688
    })
}

/// DNSPod keeps CNAME values with a trailing dot and compares them without.
fn same(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// Would `enabled` on a record of (name, type, line), other than `except`,
/// go past the plan's round-robin cap? DISABLE is never checked.
fn check_roll(
    s: &State,
    name: &str,
    rtype: &str,
    line: &str,
    except: Option<u64>,
    enabled: bool,
) -> Result<(), (String, String)> {
    if !enabled {
        return Ok(());
    }
    let others = s
        .records
        .iter()
        .filter(|r| Some(r.id) != except && r.enabled)
        .filter(|r| r.name == name && r.rtype == rtype && r.line == line)
        .count();
    if others >= s.record_roll as usize {
        return Err(err(
            "LimitExceeded.SubdomainRollLimit",
            "子域名负载均衡数量超出限制。",
        ));
    }
    Ok(())
}

fn item(r: &FakeRecord) -> Value {
    json!({
        "RecordId": r.id, "Value": r.value, "Status": if r.enabled { "ENABLE" } else { "DISABLE" },
        "UpdatedOn": r.updated_on, "Name": r.name, "Line": r.line, "LineId": "0", "Type": r.rtype,
        "Weight": r.weight, "MonitorStatus": "", "Remark": r.remark, "TTL": r.ttl, "MX": r.mx,
        "DefaultNS": false
    })
}

fn describe_record_list(s: &mut State, p: &Value) -> ApiResult {
    let limit = p.get("Limit").and_then(Value::as_u64).unwrap_or(100);
    if limit > 3000 {
        return Err(err(
            "InvalidParameterValue.LimitInvalid",
            "分页长度数量错误。",
        ));
    }
    let offset = p.get("Offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    // "同时传递SubDomain和Subdomain参数时，后端优先使用SubDomain参数"
    let sub = str_param(p, "SubDomain").or_else(|| str_param(p, "Subdomain"));
    let now = s.now();
    let delay = chrono::Duration::from_std(s.index_delay).unwrap();
    let rtype = str_param(p, "RecordType");
    let line = str_param(p, "RecordLine");
    let matching: Vec<&FakeRecord> = s
        .records
        .iter()
        .filter(|r| sub.is_none_or(|x| r.name == x))
        .filter(|r| rtype.is_none_or(|x| r.rtype == x))
        .filter(|r| line.is_none_or(|x| r.line == x))
        .filter(|r| now - r.created >= delay)
        .collect();
    if matching.is_empty() && str_param(p, "ErrorOnEmpty") != Some("no") {
        return Err(err("ResourceNotFound.NoDataOfRecord", "记录列表为空。"));
    }
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit as usize)
        .map(|r| item(r))
        .collect();
    Ok(json!({
        "RecordCountInfo": { "SubdomainCount": matching.len(), "ListCount": page.len(), "TotalCount": matching.len() },
        "RecordList": page
    }))
}

fn check_ttl(s: &State, p: &Value) -> Result<u32, (String, String)> {
    let ttl = p.get("TTL").and_then(Value::as_u64).unwrap_or(600) as u32;
    if ttl < s.min_ttl {
        return Err(err(
            "LimitExceeded.RecordTtlLimit",
            "记录的TTL值超出了限制。",
        ));
    }
    Ok(ttl)
}

fn status_param(p: &Value) -> Result<bool, (String, String)> {
    // DNSPod: "Status ... 默认为 ENABLE".
    match str_param(p, "Status") {
        None | Some("ENABLE") => Ok(true),
        Some("DISABLE") => Ok(false),
        _ => Err(err(
            "InvalidParameter.RecordStatusInvalid",
            "记录状态错误。",
        )),
    }
}

fn create_record(s: &mut State, p: &Value) -> ApiResult {
    let (Some(rtype), Some(line), Some(value)) = (
        str_param(p, "RecordType"),
        str_param(p, "RecordLine"),
        str_param(p, "Value"),
    ) else {
        return Err(err("MissingParameter", "缺少参数。"));
    };
    let name = str_param(p, "SubDomain").unwrap_or("@");
    let ttl = check_ttl(s, p)?;
    let enabled = status_param(p)?;
    if s.records
        .iter()
        .any(|r| r.name == name && r.rtype == rtype && r.line == line && same(&r.value, value))
    {
        return Err(err(
            "InvalidParameter.DomainRecordExist",
            "记录已经存在，无需再次添加。",
        ));
    }
    if s.require_default_line
        && line != "默认"
        && !s.records.iter().any(|r| r.name == name && r.line == "默认")
    {
        return Err(err(
            "FailedOperation.MustAddDefaultLineFirst",
            "请先添加默认线路的解析记录。",
        ));
    }
    check_roll(s, name, rtype, line, None, enabled)?;
    let id = s.add_record(name, rtype, line, value, ttl, enabled);
    let remark = str_param(p, "Remark").unwrap_or("").to_string();
    let weight = p.get("Weight").and_then(Value::as_u64).map(|w| w as u32);
    let r = s.record_mut(id).unwrap();
    r.remark = remark;
    r.weight = weight;
    Ok(json!({ "RecordId": id }))
}

fn modify_record(s: &mut State, p: &Value) -> ApiResult {
    let id = record_id(s, p)?;
    let (Some(rtype), Some(line), Some(value)) = (
        str_param(p, "RecordType"),
        str_param(p, "RecordLine"),
        str_param(p, "Value"),
    ) else {
        return Err(err("MissingParameter", "缺少参数。"));
    };
    let ttl = check_ttl(s, p)?;
    let enabled = status_param(p)?;
    let now = s.beijing_now();
    let name = str_param(p, "SubDomain").unwrap_or("@").to_string();
    check_roll(s, &name, rtype, line, Some(id), enabled)?;
    let remark = str_param(p, "Remark").map(String::from);
    // Like a full replace: a weight not sent is no weight.
    let weight = p.get("Weight").and_then(Value::as_u64).map(|w| w as u32);
    let r = s.record_mut(id).unwrap();
    r.name = name;
    r.rtype = rtype.into();
    r.line = line.into();
    r.value = value.into();
    r.ttl = ttl;
    r.enabled = enabled;
    r.weight = weight;
    if let Some(remark) = remark {
        r.remark = remark;
    }
    r.updated_on = now;
    Ok(json!({ "RecordId": id }))
}

fn send_sms(s: &mut State, p: &Value) -> ApiResult {
    let numbers: Vec<String> = p
        .get("PhoneNumberSet")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if numbers.is_empty() {
        return Err(err("MissingParameter", "PhoneNumberSet is required."));
    }
    for k in ["SmsSdkAppId", "TemplateId"] {
        if str_param(p, k).is_none() {
            return Err(err("MissingParameter", &format!("{k} is required.")));
        }
    }
    s.sms_sent.push(p.clone());
    let set: Vec<Value> = numbers
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let (code, msg) = s
                .sms_rejects
                .get(n)
                .cloned()
                .unwrap_or_else(|| ("Ok".into(), "send success".into()));
            json!({
                "SerialNo": format!("2433:{i}"), "PhoneNumber": n, "Fee": if code == "Ok" { 1 } else { 0 },
                "SessionContext": "", "Code": code, "Message": msg, "IsoCode": "CN"
            })
        })
        .collect();
    Ok(json!({ "SendStatusSet": set }))
}
