//! A signed-POST client for Tencent Cloud API 3.0, one per service.
//!
//! Every call: JSON body, `Content-Type: application/json` exactly (the value
//! signed is the value sent), `X-TC-Action`, `X-TC-Version`,
//! `X-TC-Timestamp` (from the [`Clock`]), `X-TC-Region` when the service
//! needs one, `X-TC-Token` with temporary credentials, and the TC3
//! `Authorization` header over `content-type;host`. The signed host is the
//! endpoint's host with its port when the port is not the scheme's default,
//! and the `Host` header is set to that same string.
//!
//! The answer is the envelope `{"Response": {..., "RequestId"}}`; an `Error`
//! object inside it becomes [`Error::Api`] with code, message and RequestId.
//!
//! Retries: throttling (`RequestLimitExceeded*`,
//! `FailedOperation.FrequencyLimit`), `InternalError*`, HTTP 5xx/429,
//! timeouts and dropped connections are retried with jittered exponential
//! backoff until the per-call budget runs out; everything else (notably
//! `AuthFailure.*` and `InvalidParameter*`) fails at once. Calls are also
//! paced per action under the documented rate limit of the service, so one
//! run cannot trip it by itself. Sleeps use `tokio::time`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use super::sign;
use crate::clock::Clock;
use crate::config::Secret;

/// The only content type we send; signed byte for byte.
pub const JSON: &str = "application/json";

/// A Tencent Cloud product as the API sees it.
#[derive(Debug)]
pub struct Service {
    /// Short name, the host prefix and the signature's service: `dnspod`, `sms`.
    pub name: &'static str,
    /// API version, e.g. `2021-03-23`.
    pub version: &'static str,
    /// Requests per second allowed per action (documented defaults); actions
    /// not listed are not paced.
    pub rate_limits: &'static [(&'static str, u32)],
}

/// A SecretId/SecretKey pair, with the session token of temporary (role)
/// credentials. `Debug` never shows the key or the token, and shows the
/// SecretId masked ([`mask_id`]).
#[derive(Clone)]
pub struct Credentials {
    secret_id: String,
    secret_key: Secret,
    token: Option<Secret>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &mask_id(&self.secret_id))
            .field("secret_key", &self.secret_key)
            .field("token", &self.token)
            .finish()
    }
}

impl Credentials {
    pub fn new(secret_id: impl Into<String>, secret_key: Secret, token: Option<Secret>) -> Self {
        Credentials {
            secret_id: secret_id.into(),
            secret_key,
            token: token.filter(|t| !t.is_empty()),
        }
    }

    /// Read the credentials from the named environment variables. SecretId
    /// and SecretKey are required; the token is optional (present = temporary
    /// credentials, sent as `X-TC-Token`). Call this once per run: an SCF
    /// execution role's credentials rotate.
    pub fn from_env(id_var: &str, key_var: &str, token_var: &str) -> Result<Self, String> {
        Self::from_lookup(id_var, key_var, token_var, &|n| std::env::var(n).ok())
    }

    /// [`Credentials::from_env`] with an injectable lookup (tests).
    pub fn from_lookup(
        id_var: &str,
        key_var: &str,
        token_var: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let id = get(id_var).ok_or_else(|| {
            format!("Tencent Cloud credentials: environment variable {id_var} (the SecretId) is not set or empty")
        })?;
        let key = get(key_var).ok_or_else(|| {
            format!("Tencent Cloud credentials: environment variable {key_var} (the SecretKey) is not set or empty")
        })?;
        Ok(Credentials::new(
            id,
            Secret::new(key),
            get(token_var).map(Secret::new),
        ))
    }

    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// Temporary credentials carry a session token.
    pub fn is_temporary(&self) -> bool {
        self.token.is_some()
    }

    /// `text` without these credentials: the SecretKey and the session token
    /// become `[redacted]`, the SecretId its masked form. The SecretId is an
    /// identifier rather than a secret in Tencent Cloud's model, but the
    /// masked form is enough to tell which key is meant.
    pub fn redact(&self, text: &str) -> String {
        let masked = mask_id(&self.secret_id);
        let mut pairs = vec![
            (self.secret_key.expose(), "[redacted]"),
            (self.secret_id.as_str(), masked.as_str()),
        ];
        if let Some(t) = &self.token {
            pairs.push((t.expose(), "[redacted]"));
        }
        crate::config::replace_all(text, &pairs)
    }

    /// `e` with [`Credentials::redact`] applied to every text it carries.
    fn redact_error(&self, e: Error) -> Error {
        let r = |s: String| self.redact(&s);
        match e {
            Error::Api {
                code,
                message,
                request_id,
            } => Error::Api {
                code: r(code),
                message: r(message),
                request_id: r(request_id),
            },
            Error::Http { status, detail } => Error::Http {
                status,
                detail: r(detail),
            },
            Error::Timeout(d) => Error::Timeout(d),
            Error::Transport(m) => Error::Transport(r(m)),
            Error::Decode(m) => Error::Decode(r(m)),
            Error::GaveUp {
                attempts,
                budget,
                last,
            } => Error::GaveUp {
                attempts,
                budget,
                last: Box::new(self.redact_error(*last)),
            },
        }
    }
}

/// `AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE` -> `AKID****MPLE`: enough to tell
/// keys apart in a message, not the whole identifier.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 12 {
        return "****".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// Where and how patiently to call.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Base URL, e.g. `https://dnspod.tencentcloudapi.com` or
    /// `http://127.0.0.1:8080` in tests.
    pub endpoint: String,
    /// Sent as `X-TC-Region` when set (SMS needs it; DNSPod does not).
    pub region: Option<String>,
    /// Per attempt.
    pub timeout: Duration,
    /// Total time for one call, retries included.
    pub budget: Duration,
    /// First retry pause before jitter; default 200 ms.
    pub backoff_base: Duration,
    /// Longest pause between retries; default 2 s.
    pub backoff_max: Duration,
}

impl ClientOptions {
    pub fn new(endpoint: impl Into<String>, timeout: Duration, budget: Duration) -> Self {
        ClientOptions {
            endpoint: endpoint.into(),
            region: None,
            timeout,
            budget,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(2),
        }
    }
}

/// Why a call failed. Never contains credentials: every text that comes from
/// the server or the transport is passed through [`Credentials::redact`]
/// where it enters (`Client::once`, `Client::call`), and transport errors
/// leave out the endpoint URL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with `Response.Error`.
    #[error("{code}: {message}{} (RequestId {request_id})", hint(code))]
    Api {
        code: String,
        message: String,
        request_id: String,
    },
    /// A non-200 answer that is not an API error envelope (a proxy, a 5xx).
    #[error("HTTP {status}: {detail}")]
    Http { status: u16, detail: String },
    /// No complete answer within the per-attempt timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Connection refused, reset, dropped, TLS failure.
    #[error("{0}")]
    Transport(String),
    /// A 200 answer that is not a Tencent Cloud API envelope, or one whose
    /// fields do not have the documented shape.
    #[error("unexpected answer: {0}")]
    Decode(String),
    /// Retryable failures until the budget ran out; `last` is the last one.
    #[error("{last} (gave up after {attempts} attempts within {budget:?})")]
    GaveUp {
        attempts: u32,
        budget: Duration,
        last: Box<Error>,
    },
}

/// A plain next step for the errors people can fix.
fn hint(code: &str) -> &'static str {
    match code {
        "AuthFailure.SignatureExpire" => {
            " - the request time and Tencent Cloud's clock differ by more than 5 minutes; check this machine's clock (NTP)"
        }
        "AuthFailure.SignatureFailure" => " - the signature does not match; check the SecretKey",
        "AuthFailure.SecretIdNotFound" | "AuthFailure.InvalidSecretId" => {
            " - check the SecretId (deleted or disabled keys give this too)"
        }
        "AuthFailure.TokenFailure" => {
            " - the session token is missing, wrong or expired; temporary credentials need their token, and role credentials rotate"
        }
        "AuthFailure.UnauthorizedOperation" | "UnauthorizedOperation" => {
            " - the credentials are valid but CAM does not allow this action"
        }
        _ => "",
    }
}

impl Error {
    /// The error that ended the call (the last one when retries gave up).
    pub fn last(&self) -> &Error {
        match self {
            Error::GaveUp { last, .. } => last.last(),
            e => e,
        }
    }

    /// The API error code, if the API answered with one.
    pub fn code(&self) -> Option<&str> {
        match self.last() {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { code, .. } => is_retryable_code(code),
            Error::Http { status, .. } => *status >= 500 || *status == 429,
            Error::Timeout(_) | Error::Transport(_) => true,
            Error::Decode(_) | Error::GaveUp { .. } => false,
        }
    }

    /// Throttled by the API (possibly after retries).
    pub fn is_rate_limited(&self) -> bool {
        self.code().is_some_and(is_throttle_code)
            || matches!(self.last(), Error::Http { status: 429, .. })
    }
}

fn is_throttle_code(code: &str) -> bool {
    code.starts_with("RequestLimitExceeded") || code == "FailedOperation.FrequencyLimit"
}

/// Codes worth a retry within the budget (reference §2).
pub fn is_retryable_code(code: &str) -> bool {
    is_throttle_code(code) || code.starts_with("InternalError")
}

/// One service's client. Cheap to share behind an `Arc`; not `Clone` so the
/// per-action pacing state stays in one place.
pub struct Client {
    http: reqwest::Client,
    url: reqwest::Url,
    /// What is signed and sent as `Host`.
    host: String,
    /// Canonical URI: the endpoint's path, `/` normally.
    uri: String,
    service: &'static Service,
    creds: Credentials,
    clock: Arc<dyn Clock>,
    opts: ClientOptions,
    next_slot: tokio::sync::Mutex<HashMap<String, Instant>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("service", &self.service.name)
            .field("host", &self.host)
            .field("creds", &self.creds)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(
        service: &'static Service,
        creds: Credentials,
        opts: ClientOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Client, String> {
        // The endpoint may come from `${NAME}`: messages do not quote it
        // (the config validated it already; these guard hand-built options).
        let url = reqwest::Url::parse(&opts.endpoint)
            .map_err(|e| format!("the API endpoint is not a valid URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("the API endpoint is not an http(s) URL".into());
        }
        let host = url.host_str().ok_or("the API endpoint has no host")?;
        // `Url::port` is None for the scheme's default port, which is exactly
        // when `Host` carries no port.
        let host = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let uri = url.path().to_string();
        // No redirects: the API never sends one, and reqwest would carry the
        // X-TC-Token header (not one it strips) to whatever host it names.
        let http = reqwest::Client::builder()
            .connect_timeout(opts.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dns-failover/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Client {
            http,
            url,
            host,
            uri,
            service,
            creds,
            clock,
            opts,
            next_slot: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    pub fn service(&self) -> &'static Service {
        self.service
    }

    /// The host that is signed and sent.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `text` without this client's credentials (see [`Credentials::redact`]),
    /// for callers that quote other parts of an answer.
    pub fn redact(&self, text: &str) -> String {
        self.creds.redact(text)
    }

    /// Call `action` and decode `Response` (minus nothing: `RequestId` is in
    /// it too) into `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        action: &str,
        params: &Value,
    ) -> Result<T, Error> {
        let v = self.call_value(action, params).await?;
        serde_json::from_value(v)
            .map_err(|e| Error::Decode(self.creds.redact(&format!("{action}: {e}"))))
    }

    /// Call `action` with retries inside the budget; returns the `Response`
    /// object.
    #[tracing::instrument(name = "tencent_api", skip_all, fields(service = self.service.name, action = action))]
    pub async fn call_value(&self, action: &str, params: &Value) -> Result<Value, Error> {
        // Serialising a `Value` cannot fail (keys are strings).
        let body = serde_json::to_vec(params).map_err(|e| Error::Decode(e.to_string()))?;
        let start = Instant::now();
        let deadline = start
            .checked_add(self.opts.budget)
            .unwrap_or(start + Duration::from_secs(365 * 86_400)); // a budget too big for an Instant: no deadline
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.pace(action).await;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let per_try = self.opts.timeout.min(remaining);
            let t = Instant::now();
            let result = if per_try.is_zero() {
                Err(Error::Timeout(per_try))
            } else {
                match tokio::time::timeout(per_try, self.once(action, &body)).await {
                    // The one place where the server's words and the
                    // transport's enter our errors: scrub them here, before
                    // they are logged or returned.
                    Ok(r) => r.map_err(|e| self.creds.redact_error(e)),
                    Err(_) => Err(Error::Timeout(per_try)),
                }
            };
            let elapsed_ms = t.elapsed().as_millis() as u64;
            match result {
                Ok(v) => {
                    let request_id = v.get("RequestId").and_then(Value::as_str).unwrap_or("");
                    tracing::debug!(attempt, elapsed_ms, request_id, "ok");
                    return Ok(v);
                }
                Err(e) if e.is_retryable() => {
                    let pause = self.backoff(attempt);
                    if Instant::now() + pause >= deadline {
                        tracing::debug!(attempt, elapsed_ms, error = %e, "giving up: budget spent");
                        return Err(Error::GaveUp {
                            attempts: attempt,
                            budget: self.opts.budget,
                            last: Box::new(e),
                        });
                    }
                    tracing::warn!(attempt, elapsed_ms, error = %e, retry_in_ms = pause.as_millis() as u64, "Tencent Cloud API call failed; retrying");
                    tokio::time::sleep(pause).await;
                }
                Err(e) => {
                    tracing::debug!(attempt, elapsed_ms, error = %e, "failed (not retryable)");
                    return Err(e);
                }
            }
        }
    }

    /// Equal-jitter exponential backoff: half the exponential step plus a
    /// random half, so parallel probers do not retry in lockstep.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .opts
            .backoff_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.opts.backoff_max);
        let half = exp / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// Wait for this action's next slot under its documented rate limit.
    async fn pace(&self, action: &str) {
        let Some(rate) = self
            .service
            .rate_limits
            .iter()
            .find(|(a, _)| *a == action)
            .map(|(_, r)| *r)
            .filter(|r| *r > 0)
        else {
            return;
        };
        let gap = Duration::from_secs(1) / rate;
        let at = {
            let mut slots = self.next_slot.lock().await;
            let now = Instant::now();
            let at = slots
                .get(action)
                .copied()
                .filter(|t| *t > now)
                .unwrap_or(now);
            slots.insert(action.to_string(), at + gap);
            at
        };
        tokio::time::sleep_until(at).await;
    }

    /// One signed POST, no retry.
    async fn once(&self, action: &str, body: &[u8]) -> Result<Value, Error> {
        let timestamp = self.clock.now().timestamp();
        let signed = sign::sign(
            &sign::Request {
                method: "POST",
                uri: &self.uri,
                query: "",
                headers: &[("content-type", JSON), ("host", &self.host)],
                payload: body,
            },
            self.service.name,
            &self.creds.secret_id,
            self.creds.secret_key.expose(),
            timestamp,
        );
        let mut req = self
            .http
            .post(self.url.clone())
            .header(HOST, &self.host)
            .header(CONTENT_TYPE, JSON)
            .header(
                AUTHORIZATION,
                sensitive(&signed.authorization, "Authorization")?,
            )
            .header("X-TC-Action", action)
            .header("X-TC-Version", self.service.version)
            .header("X-TC-Timestamp", timestamp.to_string());
        if let Some(region) = &self.opts.region {
            req = req.header("X-TC-Region", region);
        }
        if let Some(token) = &self.creds.token {
            req = req.header(
                "X-TC-Token",
                sensitive(token.expose(), "the session token")?,
            );
        }
        // `without_url`: the endpoint may come from `${NAME}`.
        let resp = req
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| Error::Transport(chain(&e.without_url())))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Error::Transport(chain(&e.without_url())))?;
        parse_envelope_redacted(status, &bytes, &|s| self.creds.redact(s))
    }
}

/// A header value hyper will not print in its debug output.
fn sensitive(v: &str, what: &str) -> Result<HeaderValue, Error> {
    let mut h = HeaderValue::from_str(v).map_err(|_| {
        Error::Transport(format!(
            "{what} contains characters not allowed in an HTTP header"
        ))
    })?;
    h.set_sensitive(true);
    Ok(h)
}

/// An error with its causes, `a: b: c` (reqwest's own text is terse).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Parse `{"Response": {...}}`; `Response.Error` is the only failure signal
/// of the API (business errors come with HTTP 200).
pub fn parse_envelope(status: u16, bytes: &[u8]) -> Result<Value, Error> {
    parse_envelope_redacted(status, bytes, &|s| s.to_string())
}

/// [`parse_envelope`], passing the texts that go into an error through
/// `redact`. A body quoted in an error is redacted whole before it is cut to
/// a snippet, so no part of a secret is left at the cut.
fn parse_envelope_redacted(
    status: u16,
    bytes: &[u8],
    redact: &dyn Fn(&str) -> String,
) -> Result<Value, Error> {
    let body_snippet = |b: &[u8]| snippet(redact(&String::from_utf8_lossy(b)).as_bytes());
    let parsed: Option<Value> = serde_json::from_slice(bytes).ok();
    let response = parsed.and_then(|mut v| v.get_mut("Response").map(Value::take));
    match response {
        Some(Value::Object(resp)) => {
            let request_id = resp
                .get("RequestId")
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_string();
            if let Some(err) = resp.get("Error") {
                let field = |k: &str| redact(err.get(k).and_then(Value::as_str).unwrap_or(""));
                return Err(Error::Api {
                    code: field("Code"),
                    message: field("Message"),
                    request_id: redact(&request_id),
                });
            }
            if status != 200 {
                return Err(Error::Http {
                    status,
                    detail: format!("success envelope with HTTP {status} (RequestId {request_id})"),
                });
            }
            Ok(Value::Object(resp))
        }
        _ if status != 200 => Err(Error::Http {
            status,
            detail: body_snippet(bytes),
        }),
        _ => Err(Error::Decode(format!(
            "not a Tencent Cloud API response: {}",
            body_snippet(bytes)
        ))),
    }
}

/// The start of a body, on one line, for messages.
fn snippet(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(160)
        .collect();
    if s.trim().is_empty() {
        "(empty body)".into()
    } else {
        s.trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_credentials_name_the_variable() {
        let none = |_: &str| None;
        let e = Credentials::from_lookup("MY_ID", "MY_KEY", "MY_TOKEN", &none).unwrap_err();
        assert!(e.contains("MY_ID"), "{e}");
        let only_id = |n: &str| (n == "MY_ID").then(|| "AKIDx".to_string());
        let e = Credentials::from_lookup("MY_ID", "MY_KEY", "MY_TOKEN", &only_id).unwrap_err();
        assert!(e.contains("MY_KEY"), "{e}");
        let empty_key = |n: &str| Some(if n == "MY_KEY" { "  " } else { "x" }.to_string());
        assert!(Credentials::from_lookup("MY_ID", "MY_KEY", "MY_TOKEN", &empty_key).is_err());
    }

    #[test]
    fn token_makes_credentials_temporary_and_debug_hides_secrets() {
        let all = |n: &str| {
            Some(
                match n {
                    "I" => "AKIDabc",
                    "K" => "very-secret-key",
                    _ => "very-secret-token",
                }
                .to_string(),
            )
        };
        let c = Credentials::from_lookup("I", "K", "T", &all).unwrap();
        assert!(c.is_temporary());
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("very-secret"), "{dbg}");
        let no_token = |n: &str| (n != "T").then(|| "x".to_string());
        assert!(!Credentials::from_lookup("I", "K", "T", &no_token)
            .unwrap()
            .is_temporary());
    }

    #[test]
    fn server_texts_lose_the_credentials_where_they_enter() {
        let c = Credentials::new(
            "AKIDabcdefghijklmnop1234",
            Secret::new("the-secret-key"),
            Some(Secret::new("the-session-token")),
        );
        let body = br#"{"Response":{"Error":{"Code":"AuthFailure.TokenFailure","Message":"token the-session-token for AKIDabcdefghijklmnop1234 (key the-secret-key)"},"RequestId":"r-3"}}"#;
        let e = parse_envelope_redacted(200, body, &|s| c.redact(s)).unwrap_err();
        let text = c.redact_error(e).to_string();
        assert!(
            text.contains("token [redacted] for AKID****1234 (key [redacted])"),
            "{text}"
        );
        // A non-envelope body quoting the token past the snippet's cut: it is
        // redacted before the cut, so no part of it is left.
        let long = format!("{} the-session-token", "x".repeat(150));
        let e = parse_envelope_redacted(502, long.as_bytes(), &|s| c.redact(s)).unwrap_err();
        assert!(!e.to_string().contains("the-se"), "{e}");
        let nested = Error::GaveUp {
            attempts: 2,
            budget: Duration::from_secs(1),
            last: Box::new(Error::Transport("reset by the-secret-key".into())),
        };
        let text = c.redact_error(nested).to_string();
        assert!(!text.contains("the-secret-key"), "{text}");
        assert_eq!(mask_id("AKIDabcdefghijklmnop1234"), "AKID****1234");
        assert_eq!(mask_id("short"), "****");
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("AKIDabcdefghijklmnop1234") && dbg.contains("AKID****1234"),
            "{dbg}"
        );
    }

    #[test]
    fn envelope_success_and_error_shapes() {
        let ok = parse_envelope(200, br#"{"Response":{"RecordId":1,"RequestId":"r-1"}}"#).unwrap();
        assert_eq!(ok["RecordId"], 1);
        let e = parse_envelope(
            200,
            br#"{"Response":{"Error":{"Code":"AuthFailure.SignatureExpire","Message":"expired"},"RequestId":"r-2"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.code(), Some("AuthFailure.SignatureExpire"));
        assert!(!e.is_retryable());
        let text = e.to_string();
        assert!(
            text.contains("check this machine's clock") && text.contains("r-2"),
            "{text}"
        );
        let e = parse_envelope(502, b"<html>Bad Gateway</html>").unwrap_err();
        assert!(matches!(e, Error::Http { status: 502, .. }) && e.is_retryable());
        let e = parse_envelope(200, b"hello").unwrap_err();
        assert!(matches!(e, Error::Decode(_)) && !e.is_retryable());
    }

    #[test]
    fn retry_classification_follows_the_reference() {
        for c in [
            "RequestLimitExceeded",
            "RequestLimitExceeded.UinLimitExceeded",
            "InternalError",
            "InternalError.DbError",
            "FailedOperation.FrequencyLimit",
        ] {
            assert!(is_retryable_code(c), "{c}");
        }
        for c in [
            "AuthFailure.SignatureFailure",
            "InvalidParameter.RecordIdInvalid",
            "InvalidParameterValue.DomainNotExists",
            "LimitExceeded.RecordTtlLimit",
            "FailedOperation",
        ] {
            assert!(!is_retryable_code(c), "{c}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pacing_spaces_calls_of_one_action() {
        static SVC: Service = Service {
            name: "dnspod",
            version: "2021-03-23",
            rate_limits: &[("ModifyRecordStatus", 20)],
        };
        let c = Client::new(
            &SVC,
            Credentials::new("id", Secret::new("k"), None),
            ClientOptions::new(
                "http://127.0.0.1:9",
                Duration::from_secs(1),
                Duration::from_secs(1),
            ),
            Arc::new(crate::clock::SystemClock),
        )
        .unwrap();
        let t = Instant::now();
        for _ in 0..21 {
            c.pace("ModifyRecordStatus").await;
        }
        // 21 calls at 20/s: the last one starts one second after the first.
        assert_eq!(t.elapsed(), Duration::from_secs(1));
        let t = Instant::now();
        c.pace("SomethingElse").await;
        assert_eq!(t.elapsed(), Duration::ZERO);
    }

    #[test]
    fn signed_host_keeps_a_non_default_port_only() {
        static SVC: Service = Service {
            name: "dnspod",
            version: "2021-03-23",
            rate_limits: &[],
        };
        let mk = |ep: &str| {
            Client::new(
                &SVC,
                Credentials::new("id", Secret::new("k"), None),
                ClientOptions::new(ep, Duration::from_secs(1), Duration::from_secs(1)),
                Arc::new(crate::clock::SystemClock),
            )
            .unwrap()
        };
        assert_eq!(
            mk("https://dnspod.tencentcloudapi.com").host(),
            "dnspod.tencentcloudapi.com"
        );
        assert_eq!(
            mk("https://dnspod.tencentcloudapi.com:443/").host(),
            "dnspod.tencentcloudapi.com"
        );
        assert_eq!(mk("http://127.0.0.1:8080").host(), "127.0.0.1:8080");
    }
}
