//! Unit tests: the reply structs read only what the SDK models define,
//! error bodies map onto the DNS edge's errors, credentials stay hidden.

use serde_json::{json, Value};

use super::client::{parse_answer, ApiError, Credentials};
use super::wire::{DomainInfoReply, IdReply, SubDomainReply, WireRecord};
use super::*;
use crate::model::secret::Secret;

fn models() -> Value {
    serde_json::from_str(include_str!("../../../tests/fixtures/alidns/models.json")).unwrap()
}

/// A value of `shape` (models.json): "string" -> "x", "number" -> 1, ...
fn sample(shape: &Value) -> Value {
    match shape {
        Value::String(k) => match k.as_str() {
            "string" => json!("Enable"),
            "number" => json!(600),
            "bool" => json!(false),
            _ => Value::Null,
        },
        Value::Array(a) => Value::Array(a.iter().map(sample).collect()),
        Value::Object(o) => o.iter().map(|(k, v)| (k.clone(), sample(v))).collect(),
        _ => Value::Null,
    }
}

fn response(action: &str) -> Value {
    models()["actions"][action]["response"].clone()
}

#[test]
fn reply_structs_read_the_sdk_models_field_names() {
    // Built from the models alone: if a struct asked for a field the SDK
    // does not define (or spelled one otherwise), this would not decode.
    let list: SubDomainReply =
        serde_json::from_value(sample(&response("DescribeSubDomainRecords"))).unwrap();
    assert_eq!(list.total_count, 600);
    let r = &list.domain_records.record[0];
    assert_eq!((r.ttl, r.status.as_str()), (600, "Enable"));
    let _: WireRecord =
        serde_json::from_value(sample(&response("DescribeDomainRecordInfo"))).unwrap();
    let info: DomainInfoReply =
        serde_json::from_value(sample(&response("DescribeDomainInfo"))).unwrap();
    assert_eq!(info.min_ttl, Some(600));
    for a in ["AddDomainRecord", "UpdateDomainRecord"] {
        let _: IdReply = serde_json::from_value(sample(&response(a))).unwrap();
    }
    // And a record without its optional fields still decodes.
    let bare = json!({"RecordId": "1", "RR": "www", "Type": "A", "Value": "192.0.2.1",
        "TTL": 600, "Line": "default", "Status": "DISABLE"});
    let r: WireRecord = serde_json::from_value(bare).unwrap();
    assert!(!r.into_record().enabled);
}

#[test]
fn every_parameter_the_provider_sends_is_in_the_request_models() {
    let m = models();
    let sent: &[(&str, &[&str])] = &[
        (
            "DescribeSubDomainRecords",
            &[
                "SubDomain",
                "DomainName",
                "Type",
                "Line",
                "PageNumber",
                "PageSize",
            ],
        ),
        ("DescribeDomainRecordInfo", &["RecordId"]),
        (
            "DescribeDomainInfo",
            &["DomainName", "NeedDetailAttributes"],
        ),
        (
            "AddDomainRecord",
            &["DomainName", "RR", "Type", "Value", "TTL", "Line"],
        ),
        (
            "UpdateDomainRecord",
            &["RecordId", "RR", "Type", "Value", "TTL", "Line"],
        ),
        ("SetDomainRecordStatus", &["RecordId", "Status"]),
        ("UpdateDomainRecordRemark", &["RecordId", "Remark"]),
    ];
    for (action, params) in sent {
        let known = m["actions"][action]["request"].as_array().unwrap();
        for p in *params {
            assert!(known.contains(&json!(p)), "{action} has no parameter {p}");
        }
    }
}

fn api(status: u16, code: &str) -> ApiError {
    ApiError::Api {
        status,
        code: code.into(),
        message: "m".into(),
        request_id: "R".into(),
    }
}

#[test]
fn error_codes_map_onto_dns_errors() {
    for c in [
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "Forbidden.RAM",
        "InvalidTimeStamp.Expired",
        "IncorrectDomainUser",
    ] {
        assert!(
            matches!(map_error("X", api(400, c), None), Error::Auth(_)),
            "{c}"
        );
    }
    let gave_up = ApiError::GaveUp {
        attempts: 4,
        budget: std::time::Duration::from_secs(1),
        last: Box::new(api(400, "Throttling.User")),
    };
    let e = map_error("UpdateDomainRecord", gave_up, None);
    assert!(
        matches!(&e, Error::RateLimited(m) if m.contains("after 4 attempts")),
        "{e}"
    );
    assert!(matches!(
        map_error("X", api(400, "QuotaExceeded.TTL"), None),
        Error::TtlRefused { .. }
    ));
    assert!(matches!(
        map_error("X", api(400, "DomainRecordNotBelongToUser"), Some("7")),
        Error::NotFound(id) if id == "7"
    ));
    assert!(matches!(
        map_error("X", api(400, "DomainRecordLocked"), Some("7")),
        Error::Api { code, .. } if code == "DomainRecordLocked"
    ));
    assert!(matches!(
        map_error(
            "X",
            ApiError::Timeout(std::time::Duration::from_secs(1)),
            None
        ),
        Error::Transport(_)
    ));
}

#[test]
fn retry_classification() {
    for e in [
        api(400, "Throttling.User"),
        api(400, "Throttling"),
        api(503, "ServiceUnavailable"),
        api(500, "InternalError"),
    ] {
        assert!(e.is_retryable(), "{e}");
    }
    for e in [
        api(400, "SignatureDoesNotMatch"),
        api(400, "DomainRecordDuplicate"),
        api(400, "QuotaExceeded.TTL"),
        api(400, "ThrottlingX"),
    ] {
        assert!(!e.is_retryable(), "{e}");
    }
}

#[test]
fn answers_are_read_by_status_and_body() {
    let body = br#"{"RequestId":"R1","HostId":"alidns.aliyuncs.com","Code":"DomainRecordDuplicate","Message":"The DNS record already exists.","Recommend":"https://api.aliyun.com/troubleshoot?q=DomainRecordDuplicate"}"#;
    match parse_answer(400, body) {
        Err(ApiError::Api {
            status: 400,
            code,
            request_id,
            ..
        }) => assert_eq!(
            (code.as_str(), request_id.as_str()),
            ("DomainRecordDuplicate", "R1")
        ),
        other => panic!("{other:?}"),
    }
    // Lower-case keys, as the SDK also accepts.
    assert!(matches!(
        parse_answer(403, br#"{"code":"Forbidden.RAM","message":"no","requestId":"r"}"#),
        Err(ApiError::Api { code, .. }) if code == "Forbidden.RAM"
    ));
    assert!(matches!(
        parse_answer(502, b"<html>bad gateway</html>"),
        Err(ApiError::Http { status: 502, .. })
    ));
    assert!(matches!(parse_answer(200, b"[]"), Err(ApiError::Decode(_))));
    assert!(parse_answer(200, br#"{"RequestId":"x"}"#).is_ok());
}

#[test]
fn credentials_never_show_and_are_redacted_in_any_encoding() {
    let c = Credentials::new(
        "LTAI5tEXAMPLEexampleEXAMPLE",
        Secret::new("very/secret+key"),
        Some(Secret::new("sts+tok/en==")),
    );
    let dbg = format!("{c:?}");
    assert!(
        !dbg.contains("very/secret") && !dbg.contains("sts+tok"),
        "{dbg}"
    );
    assert!(!dbg.contains("LTAI5tEXAMPLEexampleEXAMPLE"), "{dbg}");
    let text = "a very/secret+key b sts%2Btok%2Fen%3D%3D c sts%252Btok%252Fen%253D%253D d LTAI5tEXAMPLEexampleEXAMPLE";
    let r = c.redact(text);
    assert!(!r.contains("secret") && !r.contains("tok"), "{r}");
    assert!(r.contains("LTAI****MPLE"), "{r}");
    let none = |_: &str| None;
    let e = Credentials::from_lookup("I", "S", "T", &none).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Alibaba Cloud credentials: environment variable I (the AccessKey ID) is not set or empty"
    );
}

#[test]
fn a_failure_after_a_landed_call_says_so_and_keeps_its_kind() {
    let e = half_done(
        Error::RateLimited("SetDomainRecordStatus: Throttling.User".into()),
        "9",
        &["UpdateDomainRecordRemark"],
        "enabled",
    );
    assert!(
        matches!(&e, Error::RateLimited(m) if m.starts_with("UpdateDomainRecordRemark landed") && m.contains("record 9 is left enabled")),
        "{e}"
    );
    let e = half_done(Error::Transport("x".into()), "9", &[], "enabled");
    assert!(matches!(&e, Error::Transport(m) if m == "x"));
}
