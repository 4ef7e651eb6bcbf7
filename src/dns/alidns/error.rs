//! What a call can fail with, which failures are worth a retry, and how an
//! answer is read: a 2xx JSON object, or an error body with a real HTTP
//! 4xx/5xx.

use std::time::Duration;

use serde_json::Value;

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
    match parsed
        .as_ref()
        .and_then(|v| Some((v, field(v, "Code", "code")?)))
    {
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

impl crate::tencent::retry::RetryError for ApiError {
    fn is_retryable(&self) -> bool {
        ApiError::is_retryable(self)
    }
    fn timeout(after: Duration) -> Self {
        ApiError::Timeout(after)
    }
    fn gave_up(attempts: u32, budget: Duration, last: Self) -> Self {
        ApiError::GaveUp {
            attempts,
            budget,
            last: Box::new(last),
        }
    }
}
