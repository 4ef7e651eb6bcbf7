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
/// (Feishu's token) when it is long enough to be a token. A secret of
/// several words (`Bearer <token>`) also hides each long word, since a
/// server that refuses a token echoes the token alone; and every word is
/// also hidden in base64 (`Basic` credentials, an echoed AUTH line), and
/// base64 words are hidden decoded.
pub(crate) fn scrub(msg: &str, secrets: &[&Secret]) -> String {
    use base64::Engine;
    let mut words: Vec<String> = Vec::new();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        words.push(s.expose().to_string());
        words.extend(
            s.expose()
                .split_whitespace()
                .filter(|w| w.len() >= 8)
                .map(str::to_string),
        );
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
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut more = Vec::new();
    for w in &words {
        more.push(b64.encode(w).trim_end_matches('=').to_string());
        if let Some(plain) = b64
            .decode(w)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|p| p.len() >= 8)
        {
            more.push(plain);
        }
    }
    words.extend(more);
    // Longest first, so a URL goes before the key inside it.
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    let mut out = msg.to_string();
    for w in words.iter().filter(|w| !w.is_empty()) {
        out = out.replace(w.as_str(), "[redacted]");
    }
    out
}

/// The start of an unexpected answer, for error texts: at most 200 bytes.
pub(crate) fn body_start(reply: &serde_json::Value) -> String {
    let text = match reply {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".into()
    } else {
        render::truncate_bytes(text, 200)
    }
}

/// `e` and its sources, each said once: libraries often repeat their
/// source's text in their own (`error sending request: connection error:
/// connection error: ...`), and a reader needs it once.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    let mut seen = 0;
    while let Some(s) = src {
        let t = s.to_string();
        if !msg.contains(&t) {
            msg.push_str(&format!(": {t}"));
        }
        src = s.source();
        seen += 1;
        if seen > 6 {
            break;
        }
    }
    msg
}

/// A transport error without the URL (which holds the key), scrubbed, and
/// classified: a failed connection delivered nothing and may be retried; a
/// timeout or a broken answer after the request went out may have been
/// delivered (`Unknown`), so it is not resent.
pub(crate) fn transport_error(e: reqwest::Error, waited: Duration, secrets: &[&Secret]) -> Error {
    let e = e.without_url();
    let detail = || {
        let mut src = std::error::Error::source(&e);
        let mut parts = Vec::new();
        while let Some(s) = src {
            let t = s.to_string();
            if !parts.iter().any(|p: &String| p.contains(&t)) {
                parts.push(t);
            }
            src = s.source();
        }
        parts.join(": ")
    };
    let waited = humantime::format_duration(Duration::from_millis(waited.as_millis() as u64));
    if e.is_connect() {
        Error::Transport(scrub(&format!("cannot connect: {}", detail()), secrets))
    } else if e.is_timeout() {
        Error::Unknown(format!(
            "no answer within {waited} after the request was sent"
        ))
    } else if e.is_body() || e.is_decode() {
        Error::Unknown(scrub(
            &format!(
                "the answer broke off after the request was sent: {}",
                detail()
            ),
            secrets,
        ))
    } else {
        Error::Transport(scrub(&format!("request failed: {}", detail()), secrets))
    }
}

/// POST JSON, require a 2xx, return the body parsed as JSON (or the text as
/// a JSON string when it is not JSON, for [`body_start`]). Errors never
/// carry the URL or a secret. A 429 or 5xx is temporary, any other non-2xx
/// is permanent; both show the status and the start of the body.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: reqwest::Url,
    headers: &[(String, Secret)],
    body: &serde_json::Value,
    secrets: &[&Secret],
) -> Result<serde_json::Value, Error> {
    let start = std::time::Instant::now();
    let mut req = client.post(url).json(body);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.expose());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| transport_error(e, start.elapsed(), secrets))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| transport_error(e, start.elapsed(), secrets))?;
    if !status.is_success() {
        let snippet = render::truncate_bytes(text.trim(), 200);
        let msg = scrub(&format!("HTTP {}: {snippet}", status.as_u16()), secrets);
        return Err(
            if status.as_u16() == 429 || status.as_u16() == 408 || status.is_server_error() {
                Error::Temporary(msg)
            } else {
                Error::Rejected(msg)
            },
        );
    }
    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
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
