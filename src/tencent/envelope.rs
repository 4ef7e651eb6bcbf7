//! The answer's envelope: `{"Response": {..., "RequestId"}}`, with an
//! `Error` object inside it for every failure the API reports.

use serde_json::Value;

use super::error::Error;

/// Parse `{"Response": {...}}`; `Response.Error` is the only failure signal
/// of the API (business errors come with HTTP 200).
pub fn parse_envelope(status: u16, bytes: &[u8]) -> Result<Value, Error> {
    parse_envelope_redacted(status, bytes, &|s| s.to_string())
}

/// [`parse_envelope`], passing the texts that go into an error through
/// `redact`. A body quoted in an error is redacted whole before it is cut to
/// a snippet, so no part of a secret is left at the cut.
pub(super) fn parse_envelope_redacted(
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
    use crate::model::secret::Secret;
    use crate::tencent::credentials::{mask_id, Credentials};
    use std::time::Duration;

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
}
