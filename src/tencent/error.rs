//! What a Tencent Cloud API call or the building of a client can fail with,
//! and which failures are worth a retry.

use std::time::Duration;

/// A client that cannot be built from its options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The endpoint does not parse as a URL. The endpoint may come from
    /// `${NAME}`: messages do not quote it.
    #[error("the API endpoint is not a valid URL ({0})")]
    InvalidEndpoint(String),
    /// The endpoint is a URL of another scheme.
    #[error("the API endpoint is not an http(s) URL")]
    NotHttp,
    /// The endpoint has no host.
    #[error("the API endpoint has no host")]
    NoHost,
    /// The HTTP client could not be built (TLS back end).
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// Why a call failed. Never contains credentials: every text that comes from
/// the server or the transport is passed through
/// [`super::Credentials::redact`]
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

impl super::retry::RetryError for Error {
    fn is_retryable(&self) -> bool {
        Error::is_retryable(self)
    }
    fn timeout(after: Duration) -> Self {
        Error::Timeout(after)
    }
    fn gave_up(attempts: u32, budget: Duration, last: Self) -> Self {
        Error::GaveUp {
            attempts,
            budget,
            last: Box::new(last),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
