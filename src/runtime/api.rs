//! The SCF custom-runtime API client: one value per call.
//!
//! The platform serves a plain-HTTP API at
//! `http://$SCF_RUNTIME_API:$SCF_RUNTIME_API_PORT` (Tencent SCF docs, product
//! 583/38130 "Custom Runtime"):
//!
//! | call | request |
//! |---|---|
//! | [`Call::InitReady`] | `POST /runtime/init/ready`, once, before the loop |
//! | [`Call::Next`] | `GET /runtime/invocation/next`, a long poll: body = event |
//! | [`Call::Response`] | `POST /runtime/invocation/response`, body = result |
//! | [`Call::Error`] | `POST /runtime/invocation/error`, body = error |
//!
//! The answer to `next` carries `request_id` and `time_limit_in_ms` headers
//! (header names are case-insensitive; the docs spell it `Request_Id`). There
//! is no absolute deadline header: the deadline is the time of receipt plus
//! the limit. Response and error posts refer to the invocation last handed
//! out, so they carry no id.
//!
//! This module knows HTTP, not events: parsing is in `event.rs`, the loop in
//! `mod.rs`. The address is read from the environment here rather than in
//! `config.rs` because it belongs to the platform, not to the user's config.

use std::time::{Duration, Instant};

/// Environment variable holding the runtime API host.
pub const HOST_ENV: &str = "SCF_RUNTIME_API";
/// Environment variable holding the runtime API port.
pub const PORT_ENV: &str = "SCF_RUNTIME_API_PORT";

/// What can go wrong talking to the runtime API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `SCF_RUNTIME_API` / `SCF_RUNTIME_API_PORT` missing or invalid.
    #[error("{0}")]
    Env(String),
    /// Could not connect, or the connection broke.
    #[error("{call}: {message}")]
    Transport { call: &'static str, message: String },
    /// The API answered with a non-2xx status.
    #[error("{call}: HTTP {status}: {body}")]
    Status {
        call: &'static str,
        status: u16,
        body: String,
    },
}

/// One call of the runtime API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    InitReady,
    Next,
    Response(String),
    Error(String),
}

impl Call {
    pub fn path(&self) -> &'static str {
        match self {
            Call::InitReady => "/runtime/init/ready",
            Call::Next => "/runtime/invocation/next",
            Call::Response(_) => "/runtime/invocation/response",
            Call::Error(_) => "/runtime/invocation/error",
        }
    }

    /// Short name for messages and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Call::InitReady => "init/ready",
            Call::Next => "invocation/next",
            Call::Response(_) => "invocation/response",
            Call::Error(_) => "invocation/error",
        }
    }

    fn request(self, client: &reqwest::Client, base: &str) -> reqwest::RequestBuilder {
        let url = format!("{base}{}", self.path());
        match self {
            // `next` is a long poll: it returns when an event arrives, which
            // may be minutes later (or after the instance is thawed), so it
            // gets no overall timeout.
            Call::Next => client.get(url),
            // The docs' examples send a single space.
            Call::InitReady => client.post(url).body(" ").timeout(POST_TIMEOUT),
            Call::Response(body) | Call::Error(body) => client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .timeout(POST_TIMEOUT),
        }
    }
}

/// Bound on one post to the local runtime API; it answers at once normally.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// An event handed out by `next`.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// From the `request_id` header; `-` when absent.
    pub request_id: String,
    /// From the `time_limit_in_ms` header, when present and numeric.
    pub time_limit: Option<Duration>,
    /// When the answer to `next` arrived: the limit counts from here.
    pub received: Instant,
    pub body: Vec<u8>,
}

/// The runtime API client.
#[derive(Debug, Clone)]
pub struct RuntimeApi {
    base: String,
    client: reqwest::Client,
}

impl RuntimeApi {
    /// A client for `base_url` (e.g. `http://127.0.0.1:9001`).
    pub fn new(base_url: &str) -> Result<RuntimeApi, Error> {
        let client = reqwest::Client::builder()
            // The API is local; a proxy from the environment must not apply.
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| Error::Env(format!("cannot build the HTTP client: {e}")))?;
        Ok(RuntimeApi {
            base: base_url.trim_end_matches('/').to_string(),
            client,
        })
    }

    /// The endpoint from `SCF_RUNTIME_API` and `SCF_RUNTIME_API_PORT`.
    pub fn from_settings(settings: &crate::config::Settings) -> Result<RuntimeApi, Error> {
        Self::new(&base_url_from(&settings.lookup())?)
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Report that initialisation is done. Call once, before [`Self::next`].
    pub async fn init_ready(&self) -> Result<(), Error> {
        self.send(Call::InitReady).await.map(|_| ())
    }

    /// Wait for the next event.
    pub async fn next(&self) -> Result<Invocation, Error> {
        let call = Call::Next;
        let name = call.name();
        let resp = call
            .request(&self.client, &self.base)
            .send()
            .await
            .map_err(|e| transport(name, &e))?;
        let received = Instant::now();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| transport(name, &e))?;
        if !status.is_success() {
            return Err(Error::Status {
                call: name,
                status: status.as_u16(),
                body: snippet(&body),
            });
        }
        // HeaderMap lookups are case-insensitive.
        let header = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
        };
        Ok(Invocation {
            request_id: header("request_id")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "-".into()),
            time_limit: header("time_limit_in_ms")
                .and_then(|s| s.parse::<u64>().ok())
                .map(Duration::from_millis),
            received,
            body: body.to_vec(),
        })
    }

    /// Report the current invocation's result.
    pub async fn respond(&self, body: String) -> Result<(), Error> {
        self.send(Call::Response(body)).await.map(|_| ())
    }

    /// Report the current invocation's failure.
    pub async fn error(&self, body: String) -> Result<(), Error> {
        self.send(Call::Error(body)).await.map(|_| ())
    }

    async fn send(&self, call: Call) -> Result<Vec<u8>, Error> {
        let name = call.name();
        let resp = call
            .request(&self.client, &self.base)
            .send()
            .await
            .map_err(|e| transport(name, &e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| transport(name, &e))?;
        if !status.is_success() {
            return Err(Error::Status {
                call: name,
                status: status.as_u16(),
                body: snippet(&body),
            });
        }
        Ok(body.to_vec())
    }
}

/// `http://HOST:PORT` from the two variables, with a clear message when one
/// is missing (the `tencent_scf` crate panics there).
pub fn base_url_from(lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, Error> {
    let get = |k: &str| {
        lookup(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let missing = |k: &str| {
        Error::Env(format!(
            "{k} is not set: `dns-failover serve` runs inside SCF's custom runtime, which sets \
             {HOST_ENV} and {PORT_ENV}; on a workstation use `dns-failover run` (or set both to a \
             local runtime API)"
        ))
    };
    let host = get(HOST_ENV).ok_or_else(|| missing(HOST_ENV))?;
    let port = get(PORT_ENV).ok_or_else(|| missing(PORT_ENV))?;
    let port: u16 = port
        .parse()
        .map_err(|_| Error::Env(format!("{PORT_ENV}={port:?} is not a port number")))?;
    // The host may come with a scheme or a port of its own in hand-made set-ups.
    let host = host.trim_start_matches("http://").trim_end_matches('/');
    if host.contains(':') && !host.starts_with('[') {
        return Err(Error::Env(format!(
            "{HOST_ENV}={host:?} must be a host name or address without a port (the port is in {PORT_ENV})"
        )));
    }
    Ok(format!("http://{host}:{port}"))
}

fn transport(call: &'static str, e: &reqwest::Error) -> Error {
    // reqwest's Display omits the cause ("error sending request"); add it.
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    Error::Transport { call, message }
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    if s.len() > 200 {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn base_url_comes_from_the_two_variables() {
        let l = lookup(&[(HOST_ENV, "127.0.0.1"), (PORT_ENV, "9001")]);
        assert_eq!(base_url_from(&l).unwrap(), "http://127.0.0.1:9001");
    }

    #[test]
    fn a_missing_variable_is_a_clear_error_not_a_panic() {
        let e = base_url_from(&lookup(&[(PORT_ENV, "9001")])).unwrap_err();
        assert!(
            e.to_string().starts_with("SCF_RUNTIME_API is not set"),
            "{e}"
        );
        let e = base_url_from(&lookup(&[(HOST_ENV, "127.0.0.1")])).unwrap_err();
        assert!(
            e.to_string().starts_with("SCF_RUNTIME_API_PORT is not set"),
            "{e}"
        );
        let e = base_url_from(&lookup(&[(HOST_ENV, "127.0.0.1"), (PORT_ENV, "x")])).unwrap_err();
        assert!(e.to_string().contains("is not a port number"), "{e}");
        let e = base_url_from(&lookup(&[(HOST_ENV, "127.0.0.1:9001"), (PORT_ENV, "9001")]))
            .unwrap_err();
        assert!(e.to_string().contains("without a port"), "{e}");
    }

    #[test]
    fn each_call_has_its_documented_path() {
        assert_eq!(Call::InitReady.path(), "/runtime/init/ready");
        assert_eq!(Call::Next.path(), "/runtime/invocation/next");
        assert_eq!(
            Call::Response(String::new()).path(),
            "/runtime/invocation/response"
        );
        assert_eq!(
            Call::Error(String::new()).path(),
            "/runtime/invocation/error"
        );
    }
}
