//! A fake of the three DNSPod actions `validate --online` calls, on
//! 127.0.0.1: `DescribeDomain` (the domain's plan),
//! `DescribeRecordLineList` (the plan's lines) and `DescribePackageDetail`
//! (the plans' limits: the API reference's example, as in
//! `fake_tencent`), with the answer shapes of
//! the official SDK model (tencentcloud-sdk-go `dnspod/v20210323/models.go`:
//! `DomainInfo.Grade`; `LineList[]{Name, LineId}`,
//! `LineGroupList[]{LineId, Name, Type, LineList[]}`). Anything else, or a
//! request for another domain or grade, gets an API error envelope.
//! Signatures are not checked (tests/dnspod.rs covers signing).

use serde_json::{json, Value};

use super::servers::{HttpServer, Reply, Req};

/// The lines of a paid plan in this fake: the built-in ones, two province
/// lines, and a custom line group.
pub const PLUS_LINES: &[(&str, &str)] = &[
    ("默认", "0"),
    ("境内", "7=0"),
    ("境外", "3=0"),
    ("电信", "10=0"),
    ("联通", "10=1"),
    ("教育网", "10=2"),
    ("移动", "10=3"),
    ("搜索引擎", "80=0"),
    ("华北电信", "10=0=1"),
    ("华东电信", "10=0=2"),
];

/// Name of the custom line group the fake lists.
pub const LINE_GROUP: &str = "我的线路组";

/// Start the fake for `domain` on plan `grade`; `error` makes every call
/// answer with that API error code instead.
pub async fn start(
    domain: &'static str,
    grade: &'static str,
    error: Option<&'static str>,
) -> HttpServer {
    HttpServer::start(move |req| Reply::Json(200, answer(req, domain, grade, error))).await
}

fn envelope_error(code: &str, message: &str) -> Value {
    json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "fake-lines-err"}})
}

fn answer(req: &Req, domain: &str, grade: &str, error: Option<&str>) -> Value {
    if let Some(code) = error {
        return envelope_error(code, "refused by the fake");
    }
    let body = req.json();
    if body["Domain"] != domain && req.header("X-TC-Action") != Some("DescribePackageDetail") {
        return envelope_error("InvalidParameterValue.DomainNotExists", "no such domain");
    }
    match req.header("X-TC-Action").unwrap_or("") {
        "DescribeDomain" => json!({"Response": {
            "DomainInfo": {
                "DomainId": 62,
                "Status": "ENABLE",
                "Grade": grade,
                "GroupId": 1,
                "IsMark": "no",
                "TTL": 600,
                "Remark": "",
                "Punycode": domain,
                "DnspodNsList": ["ns1.dnspod.net", "ns2.dnspod.net"],
                "Domain": domain,
                "GradeLevel": 2,
                "UserId": 1,
                "IsVip": "yes",
                "Owner": "fake@example.com",
                "GradeTitle": "专业版"
            },
            "RequestId": "fake-lines-1"
        }}),
        "DescribeRecordLineList" => {
            if body["DomainGrade"] != grade {
                return envelope_error("InvalidParameter.DomainGradeInvalid", "wrong grade");
            }
            let lines: Vec<Value> = PLUS_LINES
                .iter()
                .map(|(n, id)| json!({"Name": n, "LineId": id}))
                .collect();
            json!({"Response": {
                "LineList": lines,
                "LineGroupList": [{
                    "LineId": "1-1",
                    "Name": LINE_GROUP,
                    "Type": "custom",
                    "LineList": ["华北电信", "华东电信"]
                }],
                "RequestId": "fake-lines-2"
            }})
        }
        "DescribePackageDetail" => {
            let mut v = super::fake_tencent::package_detail();
            v["RequestId"] = json!("fake-lines-3");
            json!({ "Response": v })
        }
        other => envelope_error(
            "InvalidAction",
            &format!("no action {other:?} in this fake"),
        ),
    }
}
