//! A signed-POST client for Alibaba Cloud DNS (API `2015-01-09`), V3
//! signature (`ACS3-HMAC-SHA256`, [`super::sign`]).
//!
//! Every call is what the official SDK sends: `POST /`, the business
//! parameters in the query string (encoded exactly as signed), an empty
//! body, `x-acs-action`, `x-acs-version`, `x-acs-date` (from the
//! [`Clock`]), a fresh 32-hex `x-acs-signature-nonce` per attempt (a reused
//! one is `SignatureNonceUsed`), `x-acs-content-sha256` of the empty body,
//! `x-acs-security-token` with STS credentials, and `Authorization` over
//! `host` and those `x-acs-*` headers (the reference's "-min" set). The
//! signed host is the endpoint's host with its port when it is not the
//! scheme's default, and `Host` is sent as that same string.
//!
//! Errors come with a real HTTP 4xx/5xx and a JSON body `{RequestId,
//! HostId, Code, Message, Recommend}` ([`ApiError::Api`]); a 2xx is a
//! success. Retries: `Throttling*` (Alidns's "intelligent throttling"
//! answers `Throttling.User` or `Throttling`), `ServiceUnavailable*`,
//! `InternalError*`, any 5xx or 429, timeouts and dropped connections,
//! with jittered exponential backoff until the per-call budget or the
//! invocation's deadline runs out; everything else fails at once. Calls are
//! also paced per action under the documented per-account quotas.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION, HOST};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use super::sign;
use crate::clock::Clock;
use crate::model::secret::{replace_all, Secret};
use crate::tencent::mask_id;
use crate::tencent::retry::{backoff, Pacer};

/// API version of every action.
pub const VERSION: &str = "2015-01-09";

/// Requests per second allowed per action and account (reference §5,
/// D-Quota); pacing keeps one run under them.
pub const RATE_LIMITS: &[(&str, u32)] = &[
    ("DescribeSubDomainRecords", 300),
    ("DescribeDomainRecordInfo", 200),
    ("AddDomainRecord", 60),
    ("UpdateDomainRecord", 60),
    // Not on the quota page; paced like the other writes.
    ("SetDomainRecordStatus", 60),
    ("UpdateDomainRecordRemark", 60),
    ("DescribeDomainInfo", 20),
];

/// Credentials that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("Alibaba Cloud credentials: environment variable {var} (the {what}) is not set or empty")]
    Missing { var: String, what: &'static str },
}

/// An AccessKey pair, with the security token of STS credentials. `Debug`
/// never shows the secret or the token, and shows the id masked.
#[derive(Clone)]
pub struct Credentials {
    id: String,
    secret: Secret,
    token: Option<Secret>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &mask_id(&self.id))
            .field("access_key_secret", &self.secret)
            .field("security_token", &self.token)
            .finish()
    }
}

impl Credentials {
    pub fn new(id: impl Into<String>, secret: Secret, token: Option<Secret>) -> Self {
        Credentials {
            id: id.into(),
            secret,
            token: token.filter(|t| !t.is_empty()),
        }
    }

    /// Read the credentials through `lookup` (config's settings: the
    /// environment, a map in tests) by the names of their variables. The id
    /// and the secret are required (empty counts as missing, as in the
    /// official credentials library); the token is optional.
    pub fn from_lookup(
        id_var: &str,
        secret_var: &str,
        token_var: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, CredentialsError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let missing = |var: &str, what| CredentialsError::Missing {
            var: var.to_string(),
            what,
        };
        let id = get(id_var).ok_or_else(|| missing(id_var, "AccessKey ID"))?;
        let secret = get(secret_var).ok_or_else(|| missing(secret_var, "AccessKey secret"))?;
        Ok(Credentials::new(
            id,
            Secret::new(secret),
            get(token_var).map(Secret::new),
        ))
    }

    /// `text` without these credentials: the secret and the token (as
    /// written and percent-encoded: the service quotes its string to sign)
    /// become `[redacted]`, the id its masked form.
    pub fn redact(&self, text: &str) -> String {
        let masked = mask_id(&self.id);
        let mut pairs: Vec<(String, String)> = vec![(self.id.clone(), masked)];
        for s in std::iter::once(&self.secret).chain(self.token.as_ref()) {
            let raw = s.expose().to_string();
            let once = sign::percent_encode(&raw);
            let twice = sign::percent_encode(&once);
            for form in [raw, once, twice] {
                pairs.push((form, "[redacted]".into()));
            }
        }
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        replace_all(text, &refs)
    }
}

/// Why a call failed. Texts from the server or the transport are redacted
/// where they enter ([`Client::call`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The service answered an error body.
    #[error("{code}: {message} (HTTP {status}, RequestId {request_id})")]
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: String,
    },
    /// An error status without an error body (a proxy, a gateway).
    #[error("HTTP {status}: {detail}")]
    Http { status: u16, detail: String },
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Transport(String),
    /// A success whose body is not what the SDK models describe.
    #[error("unexpected answer: {0}")]
    Decode(String),
    /// Retryable failures until the budget ran out; `last` is the last one.
    #[error("{last} (gave up after {attempts} attempts within {budget:?})")]
    GaveUp {
        attempts: u32,
        budget: Duration,
        last: Box<ApiError>,
    },
}

impl ApiError {
    /// The error that ended the call.
    pub fn last(&self) -> &ApiError {
        match self {
            ApiError::GaveUp { last, .. } => last.last(),
            e => e,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self.last() {
            ApiError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Api { code, status, .. } => {
                is_throttle_code(code)
                    || code.starts_with("ServiceUnavailable")
                    || code.starts_with("InternalError")
                    || *status >= 500
            }
            ApiError::Http { status, .. } => *status >= 500 || *status == 429,
            ApiError::Timeout(_) | ApiError::Transport(_) => true,
            ApiError::Decode(_) | ApiError::GaveUp { .. } => false,
        }
    }

    /// Throttled (possibly after retries).
    pub fn is_rate_limited(&self) -> bool {
        self.code().is_some_and(is_throttle_code)
            || matches!(self.last(), ApiError::Http { status: 429, .. })
    }
}

/// `Throttling`, `Throttling.User`, `Throttling.Api`, ...
pub fn is_throttle_code(code: &str) -> bool {
    code == "Throttling" || code.starts_with("Throttling.")
}

/// Where and how patiently to call.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Base URL, e.g. `https://alidns.aliyuncs.com` or `http://127.0.0.1:8080`.
    pub endpoint: String,
    /// Per attempt.
    pub timeout: Duration,
    /// Total time for one call, retries included.
    pub budget: Duration,
    /// First retry pause before jitter; default 200 ms.
    pub backoff_base: Duration,
    /// Longest pause between retries; default 2 s.
    pub backoff_max: Duration,
    /// No call runs past this instant (the part of the invocation left for DNS).
    pub deadline: Option<std::time::Instant>,
}

impl ClientOptions {
    pub fn new(endpoint: impl Into<String>, timeout: Duration, budget: Duration) -> Self {
        ClientOptions {
            endpoint: endpoint.into(),
            timeout,
            budget,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(2),
            deadline: None,
        }
    }
}

/// The Alidns client: one per run.
pub struct Client {
    http: reqwest::Client,
    url: reqwest::Url,
    host: String,
    uri: String,
    creds: Credentials,
    clock: Arc<dyn Clock>,
    opts: ClientOptions,
    pacer: Pacer,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlidnsClient")
            .field("host", &self.host)
            .field("creds", &self.creds)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(
        creds: Credentials,
        opts: ClientOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Client, crate::tencent::BuildError> {
        use crate::tencent::BuildError;
        // The endpoint may come from `${NAME}`: messages do not quote it.
        let url = reqwest::Url::parse(&opts.endpoint)
            .map_err(|e| BuildError::InvalidEndpoint(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BuildError::NotHttp);
        }
        let host = url.host_str().ok_or(BuildError::NoHost)?;
        let host = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let uri = url.path().to_string();
        // No redirects: the API never sends one, and reqwest would carry the
        // security token header to whatever host it names.
        let http = reqwest::Client::builder()
            .connect_timeout(opts.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dns-failover/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BuildError::Http(e.to_string()))?;
        Ok(Client {
            http,
            url,
            host,
            uri,
            creds,
            clock,
            opts,
            pacer: Pacer::default(),
        })
    }

    /// This client with every call ending by `deadline`.
    pub fn until(mut self, deadline: Option<std::time::Instant>) -> Client {
        self.opts.deadline = deadline;
        self
    }

    /// The host that is signed and sent.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Call `action` with `params` and decode the answer into `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        action: &str,
        params: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let v = self.call_value(action, params).await?;
        serde_json::from_value(v)
            .map_err(|e| ApiError::Decode(self.creds.redact(&format!("{action}: {e}"))))
    }

    /// Call `action` with retries inside the budget and the deadline.
    #[tracing::instrument(name = "alidns_api", skip_all, fields(action = action))]
    pub async fn call_value(
        &self,
        action: &str,
        params: &[(&str, String)],
    ) -> Result<Value, ApiError> {
        let start = Instant::now();
        let own = start
            .checked_add(self.opts.budget)
            .unwrap_or(start + Duration::from_secs(365 * 86_400));
        let deadline = match self.opts.deadline {
            Some(d) => own.min(Instant::from_std(d)),
            None => own,
        };
        let budget = deadline.saturating_duration_since(start);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.pacer.pace(RATE_LIMITS, action).await;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let per_try = self.opts.timeout.min(remaining);
            let t = Instant::now();
            let result = if per_try.is_zero() {
                Err(ApiError::Timeout(per_try))
            } else {
                match tokio::time::timeout(per_try, self.once(action, params)).await {
                    Ok(r) => r.map_err(|e| self.redact_error(e)),
                    Err(_) => Err(ApiError::Timeout(per_try)),
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
                    let pause = backoff(self.opts.backoff_base, self.opts.backoff_max, attempt);
                    if Instant::now() + pause >= deadline {
                        tracing::debug!(attempt, elapsed_ms, error = %e, "giving up: budget spent");
                        return Err(ApiError::GaveUp {
                            attempts: attempt,
                            budget,
                            last: Box::new(e),
                        });
                    }
                    tracing::warn!(attempt, elapsed_ms, error = %e, retry_in_ms = pause.as_millis() as u64, "Alibaba Cloud DNS call failed; retrying");
                    tokio::time::sleep(pause).await;
                }
                Err(e) => {
                    tracing::debug!(attempt, elapsed_ms, error = %e, "failed (not retryable)");
                    return Err(e);
                }
            }
        }
    }

    fn redact_error(&self, e: ApiError) -> ApiError {
        let r = |s: String| self.creds.redact(&s);
        match e {
            ApiError::Api {
                status,
                code,
                message,
                request_id,
            } => ApiError::Api {
                status,
                code: r(code),
                message: r(message),
                request_id: r(request_id),
            },
            ApiError::Http { status, detail } => ApiError::Http {
                status,
                detail: r(detail),
            },
            ApiError::Transport(m) => ApiError::Transport(r(m)),
            ApiError::Decode(m) => ApiError::Decode(r(m)),
            e => e,
        }
    }

    /// One signed POST, no retry.
    async fn once(&self, action: &str, params: &[(&str, String)]) -> Result<Value, ApiError> {
        let date = self.clock.now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let nonce = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let mut headers: Vec<(&str, &str)> = vec![
            ("host", &self.host),
            ("x-acs-action", action),
            ("x-acs-content-sha256", sign::EMPTY_SHA256),
            ("x-acs-date", &date),
            ("x-acs-signature-nonce", &nonce),
            ("x-acs-version", VERSION),
        ];
        if let Some(t) = &self.creds.token {
            headers.push(("x-acs-security-token", t.expose()));
        }
        let query: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let signed = sign::sign(
            &sign::Request {
                method: "POST",
                uri: &self.uri,
                query: &query,
                headers: &headers,
                payload_hash: sign::EMPTY_SHA256,
            },
            &self.creds.id,
            self.creds.secret.expose(),
        );
        let mut url = self.url.clone();
        let q = sign::canonical_query(&query);
        url.set_query((!q.is_empty()).then_some(q.as_str()));
        let mut req = self
            .http
            .post(url)
            .header(HOST, &self.host)
            .header("accept", "application/json")
            .header(
                AUTHORIZATION,
                sensitive(&signed.authorization, "Authorization")?,
            );
        for (k, v) in &headers[1..] {
            req = req.header(*k, sensitive(v, k)?);
        }
        // `without_url`: the query carries values, the endpoint may come from `${NAME}`.
        let resp = req
            .send()
            .await
            .map_err(|e| ApiError::Transport(chain(&e.without_url())))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ApiError::Transport(chain(&e.without_url())))?;
        parse_answer(status, &bytes)
    }
}

/// A 2xx JSON object is the answer; otherwise the error body's
/// `Code`/`Message`/`RequestId` (the SDK also accepts them lower-case).
pub fn parse_answer(status: u16, bytes: &[u8]) -> Result<Value, ApiError> {
    let parsed: Option<Value> = serde_json::from_slice(bytes).ok();
    if (200..300).contains(&status) {
        return match parsed {
            Some(v @ Value::Object(_)) => Ok(v),
            _ => Err(ApiError::Decode(format!(
                "not a JSON object: {}",
                snippet(bytes)
            ))),
        };
    }
    let field = |v: &Value, a: &str, b: &str| {
        v.get(a)
            .or_else(|| v.get(b))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    match parsed.as_ref().and_then(|v| Some((v, field(v, "Code", "code")?))) {
        Some((v, code)) => Err(ApiError::Api {
            status,
            code,
            message: field(v, "Message", "message").unwrap_or_default(),
            request_id: field(v, "RequestId", "requestId").unwrap_or_else(|| "-".into()),
        }),
        None => Err(ApiError::Http {
            status,
            detail: snippet(bytes),
        }),
    }
}

/// A header value hyper will not print in its debug output.
fn sensitive(v: &str, what: &str) -> Result<HeaderValue, ApiError> {
    let mut h = HeaderValue::from_str(v).map_err(|_| {
        ApiError::Transport(format!(
            "{what} contains characters not allowed in an HTTP header"
        ))
    })?;
    h.set_sensitive(true);
    Ok(h)
}

fn snippet(bytes: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(bytes)
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
