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

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::credentials::Credentials;
use super::envelope::parse_envelope_redacted;
use super::error::{BuildError, Error};
use super::retry::{with_retries, Pacer, Patience};
use super::sign;
use crate::clock::Clock;

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
    /// No call runs past this instant, whatever `budget` says (the SCF
    /// runtime sets it from the invocation's time limit, minus what the
    /// alerts after the DNS writes need). Default none.
    pub deadline: Option<std::time::Instant>,
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
            deadline: None,
        }
    }
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
    pacer: Pacer,
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

/// What an API client needs of its endpoint URL: the URL, the `Host` it
/// signs and sends, the path, and an HTTP client for it. The Tencent Cloud
/// client and the Alidns client build theirs here.
pub struct Endpoint {
    pub http: reqwest::Client,
    pub url: reqwest::Url,
    /// `host` or `host:port` (a port only when not the scheme's default).
    pub host: String,
    pub uri: String,
}

impl Endpoint {
    pub fn new(endpoint: &str, connect_timeout: Duration) -> Result<Endpoint, BuildError> {
        // The endpoint may come from `${NAME}`: messages do not quote it
        // (the config validated it already; these guard hand-built options).
        let url = reqwest::Url::parse(endpoint)
            .map_err(|e| BuildError::InvalidEndpoint(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BuildError::NotHttp);
        }
        let host = url.host_str().ok_or(BuildError::NoHost)?;
        // `Url::port` is None for the scheme's default port, which is exactly
        // when `Host` carries no port.
        let host = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let uri = url.path().to_string();
        // No redirects: the APIs never send one, and reqwest would carry the
        // session token header (not one it strips) to whatever host it names.
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dns-failover/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BuildError::Http(e.to_string()))?;
        Ok(Endpoint {
            http,
            url,
            host,
            uri,
        })
    }
}

impl Client {
    pub fn new(
        service: &'static Service,
        creds: Credentials,
        opts: ClientOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Client, BuildError> {
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
            service,
            creds,
            clock,
            opts,
            pacer: Pacer::default(),
        })
    }

    /// This client with every call ending by `deadline` (see
    /// [`ClientOptions::deadline`]).
    pub fn until(mut self, deadline: Option<std::time::Instant>) -> Client {
        self.opts.deadline = deadline;
        self
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
        let p = Patience {
            budget: self.opts.budget,
            timeout: self.opts.timeout,
            backoff_base: self.opts.backoff_base,
            backoff_max: self.opts.backoff_max,
            deadline: self.opts.deadline,
        };
        with_retries(
            "Tencent Cloud API",
            &p,
            || self.pace(action),
            // The one place where the server's words and the transport's
            // enter our errors: scrub them here, before they are logged or
            // returned.
            || async {
                self.once(action, &body)
                    .await
                    .map_err(|e| self.creds.redact_error(e))
            },
        )
        .await
    }

    /// Wait for this action's next slot under the service's documented
    /// rate limit.
    async fn pace(&self, action: &str) {
        self.pacer.pace(self.service.rate_limits, action).await;
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
                sensitive(&signed.authorization, "Authorization").map_err(Error::Transport)?,
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
                sensitive(token.expose(), "the session token").map_err(Error::Transport)?,
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

/// A header value hyper will not print in its debug output; the error
/// names `what`, never the value (shared with the Alidns client).
pub(crate) fn sensitive(v: &str, what: &str) -> Result<HeaderValue, String> {
    let mut h = HeaderValue::from_str(v)
        .map_err(|_| format!("{what} contains characters not allowed in an HTTP header"))?;
    h.set_sensitive(true);
    Ok(h)
}

/// An error with its causes, `a: b: c` (reqwest's own text is terse;
/// shared with the Alidns client).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::secret::Secret;
    use tokio::time::Instant;

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
