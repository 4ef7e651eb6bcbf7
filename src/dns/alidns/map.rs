//! Alidns's errors in the DNS edge's vocabulary, and the error of a write
//! that stopped half-way.

use super::client::ApiError;
use crate::dns::Error;

/// Map a client error onto the DNS edge's vocabulary.
pub(super) fn map_error(action: &str, e: ApiError, record_id: Option<&str>) -> Error {
    let attempts = match &e {
        ApiError::GaveUp { attempts, .. } => format!(" after {attempts} attempts"),
        _ => String::new(),
    };
    if e.is_rate_limited() {
        return Error::RateLimited(format!("{action}{attempts}: {e}"));
    }
    match e.last() {
        ApiError::Api {
            code,
            message,
            request_id,
            ..
        } => {
            let code = code.as_str();
            if let Some(hint) = auth_hint(code) {
                Error::Auth(format!("{action}: {}{hint}", e.last()))
            } else if code == "QuotaExceeded.TTL" {
                Error::TtlRefused {
                    requested: 0,
                    min: None,
                }
            } else if let (Some(id), "DomainRecordNotBelongToUser" | "InvalidRR.NoExist") =
                (record_id, code)
            {
                Error::NotFound(id.to_string())
            } else {
                Error::Api {
                    code: code.to_string(),
                    message: format!("{action}: {message}"),
                    request_id: Some(request_id.clone()),
                }
            }
        }
        ApiError::Decode(d) => Error::Api {
            code: "UnexpectedAnswer".into(),
            message: format!("{action}: {d}"),
            request_id: None,
        },
        _ => Error::Transport(format!("{action}{attempts}: {e}")),
    }
}

/// The codes that mean the credentials (or the clock signing with them)
/// are wrong or not allowed, with a next step.
fn auth_hint(code: &str) -> Option<&'static str> {
    Some(match code {
        c if c.starts_with("InvalidAccessKeyId") => {
            " - check the AccessKey ID (a deleted or disabled key gives this too)"
        }
        "SignatureDoesNotMatch" => " - the signature does not match; check the AccessKey secret",
        c if c.starts_with("InvalidSecurityToken") => {
            " - the STS token is wrong or expired; STS credentials need their token"
        }
        c if c.starts_with("InvalidTimeStamp") || c == "IllegalTimestamp" => {
            " - this machine's clock differs from Alibaba Cloud's by more than 15 minutes (NTP)"
        }
        c if c.starts_with("Forbidden") || c.starts_with("NoPermission") => {
            " - the credentials are valid but RAM does not allow this action (docs/providers.md)"
        }
        "IncorrectDomainUser" => " - the domain belongs to another account",
        _ => return None,
    })
}

/// An error of the second or third call of one write, after earlier calls
/// landed: the same kind, saying what landed and how the record is left.
pub(super) fn half_done(e: Error, record_id: &str, landed: &[&str], left: &str) -> Error {
    if landed.is_empty() {
        return e;
    }
    let what = format!(
        "{} landed, then the next call failed; record {record_id} is left {left}",
        landed.join(" and ")
    );
    match e {
        Error::Auth(m) => Error::Auth(format!("{what}: {m}")),
        Error::RateLimited(m) => Error::RateLimited(format!("{what}: {m}")),
        Error::Transport(m) => Error::Transport(format!("{what}: {m}")),
        Error::NotFound(id) => Error::NotFound(id),
        e => Error::NotConfirmed {
            record_id: record_id.to_string(),
            detail: format!("{what}: {e}"),
        },
    }
}
