//! Unit tests of the DNSPod provider: times and error mapping.

use super::*;
use chrono::{TimeZone, Utc};

#[test]
fn updated_on_is_beijing_time() {
    assert_eq!(
        parse_updated_on("2021-03-28 11:27:09"),
        Some(Utc.with_ymd_and_hms(2021, 3, 28, 3, 27, 9).unwrap())
    );
    // Just after midnight in Beijing is the previous day in UTC.
    assert_eq!(
        parse_updated_on("2021-03-28 00:10:00"),
        Some(Utc.with_ymd_and_hms(2021, 3, 27, 16, 10, 0).unwrap())
    );
    assert_eq!(parse_updated_on("yesterday"), None);
}

fn api(code: &str) -> tencent::Error {
    tencent::Error::Api {
        code: code.into(),
        message: "m".into(),
        request_id: "r".into(),
    }
}

#[test]
fn errors_map_to_what_callers_branch_on() {
    assert!(matches!(
        map_error("A", api("AuthFailure.SignatureFailure"), None),
        Error::Auth(_)
    ));
    assert!(matches!(
        map_error("A", api("UnauthorizedOperation"), None),
        Error::Auth(_)
    ));
    assert!(matches!(
        map_error("A", api("RequestLimitExceeded"), None),
        Error::RateLimited(_)
    ));
    let gave_up = tencent::Error::GaveUp {
        attempts: 4,
        budget: std::time::Duration::from_secs(1),
        last: Box::new(api("FailedOperation.FrequencyLimit")),
    };
    match map_error("A", gave_up, None) {
        Error::RateLimited(m) => assert!(m.contains("4 attempts"), "{m}"),
        e => panic!("{e:?}"),
    }
    assert!(matches!(
        map_error("A", api("LimitExceeded.RecordTtlLimit"), None),
        Error::TtlRefused { .. }
    ));
    assert!(matches!(
        map_error("A", api("InvalidParameter.RecordIdInvalid"), Some("7")),
        Error::NotFound(id) if id == "7"
    ));
    match map_error(
        "ModifyRecord",
        api("InvalidParameter.RecordValueInvalid"),
        Some("7"),
    ) {
        Error::Api {
            code,
            message,
            request_id,
        } => {
            assert_eq!(code, "InvalidParameter.RecordValueInvalid");
            assert!(message.starts_with("ModifyRecord"));
            assert_eq!(request_id.as_deref(), Some("r"));
        }
        e => panic!("{e:?}"),
    }
    assert!(matches!(
        map_error(
            "A",
            tencent::Error::Timeout(std::time::Duration::from_secs(1)),
            None
        ),
        Error::Transport(_)
    ));
}
