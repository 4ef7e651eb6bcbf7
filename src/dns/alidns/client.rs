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

use reqwest::header::{AUTHORIZATION, HOST};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use super::credentials::{Credentials, CredentialsError};
pub use super::error::{is_throttle_code, parse_answer, ApiError};
use super::sign;
use crate::clock::Clock;
use crate::tencent::client::{chain, sensitive, Endpoint};
use crate::tencent::retry::{with_retries, Pacer, Patience};

/// API version of every action.
pub const VERSION: &str = "2015-01-09";

/// Requests per second allowed per action and account (reference §5,
/// D-Quota); pacing keeps one run under them.
pub const RATE_LIMITS: &[(&str, u32)] = &[
    ("DescribeSubDomainRecords", 300),
    ("DescribeDomainRecords", 100),
    ("DescribeDomainRecordInfo", 200),
    ("AddDomainRecord", 60),
    ("UpdateDomainRecord", 60),
    // Not on the quota page; paced like the other writes.
    ("SetDomainRecordStatus", 60),
    ("UpdateDomainRecordRemark", 60),
    ("DescribeDomainInfo", 20),
];

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
        let Endpoint {
            http,
            url,
            host,
            uri,
        } = Endpoint::new(&opts.endpoint, opts.timeout)?;
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
        let p = Patience {
            budget: self.opts.budget,
            timeout: self.opts.timeout,
            backoff_base: self.opts.backoff_base,
            backoff_max: self.opts.backoff_max,
            deadline: self.opts.deadline,
        };
        with_retries(
            "Alibaba Cloud DNS",
            &p,
            || self.pacer.pace(RATE_LIMITS, action),
            || async {
                self.once(action, params)
                    .await
                    .map_err(|e| self.redact_error(e))
            },
        )
        .await
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
                sensitive(&signed.authorization, "Authorization").map_err(ApiError::Transport)?,
            );
        for (k, v) in &headers[1..] {
            req = req.header(*k, sensitive(v, k).map_err(ApiError::Transport)?);
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
