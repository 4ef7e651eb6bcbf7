//! Helpers shared by the HTTP channels: one client per channel, POST JSON,
//! and scrubbing secrets out of every error.

use std::time::Duration;

use super::{render, BuildError, Error};
use crate::model::secret::Secret;

/// One HTTP client per channel, with the channel's timeout. No redirects: a
/// robot endpoint that redirects is misconfigured, and following it could
/// carry the key elsewhere.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, BuildError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("dns-failover/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| BuildError::Setup(format!("cannot build an HTTP client: {e}")))
}

/// Replace every secret value in `msg` with `[redacted]`. A secret that is a
/// URL also hides its parts, since a server may echo just the path or the
/// query: every query value, the user-info, and the last path segment
/// (Feishu's token) when it is long enough to be a token.
pub(crate) fn scrub(msg: &str, secrets: &[&Secret]) -> String {
    let mut words: Vec<String> = Vec::new();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        words.push(s.expose().to_string());
        if let Ok(u) = reqwest::Url::parse(s.expose()) {
            words.extend(
                u.query_pairs()
                    .map(|(_, v)| v.into_owned())
                    .filter(|v| v.len() >= 4),
            );
            words.extend(u.password().map(str::to_string));
            if !u.username().is_empty() {
                words.push(u.username().to_string());
            }
            if let Some(last) = u.path_segments().and_then(|mut p| p.next_back()) {
                if last.len() >= 8 {
                    words.push(last.to_string());
                }
            }
        }
    }
    // Longest first, so a URL goes before the key inside it.
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    let mut out = msg.to_string();
    for w in words {
        out = out.replace(&w, "[redacted]");
    }
    out
}

/// A transport error without the URL (which holds the key) and scrubbed.
pub(crate) fn transport_error(e: reqwest::Error, secrets: &[&Secret]) -> Error {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut msg = what.to_string();
    let e = e.without_url();
    let mut src = std::error::Error::source(&e);
    let mut seen = 0;
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
        seen += 1;
        if seen > 4 {
            break;
        }
    }
    Error::Transport(scrub(&msg, secrets))
}

/// POST JSON, require a 2xx, return the body parsed as JSON (or `Null` when
/// it is not JSON). Errors never carry the URL or a secret.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: reqwest::Url,
    headers: &[(String, Secret)],
    body: &serde_json::Value,
    secrets: &[&Secret],
) -> Result<serde_json::Value, Error> {
    let mut req = client.post(url).json(body);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.expose());
    }
    let resp = req.send().await.map_err(|e| transport_error(e, secrets))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| transport_error(e, secrets))?;
    if !status.is_success() {
        let snippet = render::truncate_bytes(text.trim(), 200);
        return Err(Error::Rejected(scrub(
            &format!("HTTP {}: {snippet}", status.as_u16()),
            secrets,
        )));
    }
    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_hides_a_url_secret_and_its_parts() {
        let u = Secret::new(
            "https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef?key=wk-123&x=1",
        );
        let m = scrub(
            "GET /open-apis/bot/v2/hook/0123456789abcdef failed; key wk-123; https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef?key=wk-123&x=1",
            &[&u],
        );
        assert!(
            !m.contains("0123456789abcdef") && !m.contains("wk-123"),
            "{m}"
        );
        assert!(m.contains("/open-apis/bot/v2/hook/[redacted]"), "{m}");
    }
}
