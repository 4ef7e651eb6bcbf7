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

// ---------------------------------------------------------------------------
// What the client reads, against the API reference's example answers
// (tests/fixtures/dnspod/, see its README): every field a reply struct
// asks for exists there, and each example parses.
// ---------------------------------------------------------------------------

mod fields {
    //! A deserializer that answers nothing and records the field names a
    //! derived `Deserialize` asks for (serde hands them to
    //! `deserialize_struct`): the names the client reads, taken from the
    //! structs themselves so this list cannot drift from the code.
    use serde::de::{self, Visitor};

    #[derive(Debug)]
    pub struct Stop(pub Vec<&'static str>);
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Stop(vec![])
        }
    }

    pub struct Names;
    impl<'de> de::Deserializer<'de> for Names {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop(vec![]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            Err(Stop(fields.to_vec()))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    /// The JSON field names `T` reads.
    pub fn of<'de, T: serde::Deserialize<'de>>() -> Vec<&'static str> {
        match T::deserialize(Names) {
            Err(Stop(f)) => f,
            Ok(_) => vec![],
        }
    }
}

fn fixture(action: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/dnspod/{action}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["Response"].clone()
}

/// Every name `names` is a key of the object `v` (of the first element,
/// for a list).
fn assert_read_fields_exist(what: &str, names: &[&str], v: &Value) {
    let obj = match v {
        Value::Array(a) => &a[0],
        v => v,
    };
    let obj = obj.as_object().unwrap_or_else(|| panic!("{what}: {v}"));
    assert!(!names.is_empty(), "{what}: no field names captured");
    for n in names {
        assert!(
            obj.contains_key(*n),
            "{what}: the client reads {n:?}, which the API's example answer does not have (keys: {:?})",
            obj.keys().collect::<Vec<_>>()
        );
    }
}

#[test]
fn every_field_the_client_reads_is_in_the_apis_example_answers() {
    use wire::*;
    let list = fixture("DescribeRecordList");
    assert_read_fields_exist("DescribeRecordList", &fields::of::<ListReply>(), &list);
    assert_read_fields_exist(
        "RecordCountInfo",
        &fields::of::<CountInfo>(),
        &list["RecordCountInfo"],
    );
    assert_read_fields_exist(
        "RecordListItem",
        &fields::of::<ListItem>(),
        &list["RecordList"],
    );
    let rec = fixture("DescribeRecord");
    assert_read_fields_exist("DescribeRecord", &fields::of::<RecordReply>(), &rec);
    assert_read_fields_exist(
        "RecordInfo",
        &fields::of::<RecordInfo>(),
        &rec["RecordInfo"],
    );
    let dom = fixture("DescribeDomain");
    assert_read_fields_exist("DescribeDomain", &fields::of::<DomainReply>(), &dom);
    assert_read_fields_exist(
        "DomainInfo",
        &fields::of::<DomainInfo>(),
        &dom["DomainInfo"],
    );
    let pkg = fixture("DescribePackageDetail");
    assert_read_fields_exist("DescribePackageDetail", &fields::of::<PackageReply>(), &pkg);
    assert_read_fields_exist(
        "PackageDetailItem",
        &fields::of::<PackageInfo>(),
        &pkg["Info"],
    );
    for action in ["CreateRecord", "ModifyRecord"] {
        assert_read_fields_exist(action, &fields::of::<IdReply>(), &fixture(action));
    }
}

/// The regression: `PackageDetailItem` has `DomainGrade`, not `Grade`;
/// parsing failed and every plan was taken for the free plan's 600 s.
#[test]
fn the_apis_example_answers_parse_and_give_the_free_plans_limits() {
    use wire::*;
    let d: DomainReply = serde_json::from_value(fixture("DescribeDomain")).unwrap();
    assert_eq!(
        (d.domain_info.grade.as_str(), d.domain_info.grade_level),
        ("DP_FREE", Some(2))
    );
    // `[dns] verify = "ns"` asks these.
    assert_eq!(
        d.domain_info.dnspod_ns_list,
        ["temporary.dnspod.net", "barman.dnspod.net"]
    );
    let p: PackageReply = serde_json::from_value(fixture("DescribePackageDetail")).unwrap();
    let free = p
        .of(&d.domain_info.grade, d.domain_info.grade_level)
        .unwrap();
    assert_eq!(
        (free.domain_grade.as_str(), free.min_ttl, free.record_roll),
        ("DP_Free", Some(600), Some(2))
    );
    // By level when the name matches none.
    let plus = p.of("DP_PLUS_NEW", Some(3)).unwrap();
    assert_eq!(plus.domain_grade, "DP_Plus");
    let l: ListReply = serde_json::from_value(fixture("DescribeRecordList")).unwrap();
    assert_eq!(l.record_count_info.total_count, 2);
    let r = l.record_list.into_iter().next().unwrap().into_record();
    assert_eq!(
        (r.id.as_str(), r.ttl, r.enabled),
        ("556507778", 86400, true)
    );
    let i: RecordReply = serde_json::from_value(fixture("DescribeRecord")).unwrap();
    let r = i.record_info.into_record();
    assert_eq!(
        (
            r.id.as_str(),
            r.value.as_str(),
            r.ttl,
            r.enabled,
            r.remark.as_str()
        ),
        ("162", "129.23.32.32", 10, true, "备注")
    );
    for action in ["CreateRecord", "ModifyRecord"] {
        let id: IdReply = serde_json::from_value(fixture(action)).unwrap();
        assert_eq!(id.record_id, 162);
    }
}

#[test]
fn a_refused_round_robin_write_is_its_own_error() {
    assert!(matches!(
        map_error(
            "CreateRecord",
            api("LimitExceeded.SubdomainRollLimit"),
            None
        ),
        Error::RollLimit { limits: None }
    ));
}
