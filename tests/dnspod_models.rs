//! The fake DNSPod (tests/support/fake_tencent.rs) speaks as the real one:
//! each answer it gives is checked against the API reference's example
//! answer of that action (tests/fixtures/dnspod/<Action>.json), whose field
//! names are checked against the official SDK models (models.json); and
//! every parameter the provider sends is one the API documents
//! (requests.json). Sources: tests/fixtures/README.md. The other half,
//! every field the client reads is in the examples, is a unit test in
//! src/dns/dnspod/tests.rs.
//!
//! Before issue 11 the fake answered `DescribePackageDetail` with `Grade`
//! (the real field is `DomainGrade`), and the provider agreed with it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use dns_failover::clock::{Clock, SystemClock};
use dns_failover::config::Secret;
use dns_failover::dns::dnspod::{DnspodProvider, SERVICE};
use dns_failover::dns::{self, DnsProvider, RecordKey, RecordType};
use dns_failover::tencent::{Client, ClientOptions, Credentials};
use serde_json::{json, Value};
use support::fake_tencent::{FakeTencent, Key};
use support::*;

const DOMAIN: &str = "example.com";

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/dnspod/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The kind of a JSON value, for comparing shapes.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every key of every object in `fake` is a key of the object at the same
/// place in `example` (a list's elements against the example's first
/// element), and where both hold a value it is of the same kind (`null`
/// matches anything: the models' nullable fields).
fn assert_within(path: &str, fake: &Value, example: &Value) {
    match (fake, example) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(f), Value::Object(e)) => {
            for (k, v) in f {
                let Some(ev) = e.get(k) else {
                    panic!(
                        "{path}: the fake answers {k:?}, which the API's example has not (it has {:?})",
                        e.keys().collect::<Vec<_>>()
                    );
                };
                assert_within(&format!("{path}.{k}"), v, ev);
            }
        }
        (Value::Array(f), Value::Array(e)) => {
            if let Some(first) = e.first() {
                for (i, v) in f.iter().enumerate() {
                    assert_within(&format!("{path}[{i}]"), v, first);
                }
            }
        }
        (f, e) => assert_eq!(
            kind(f),
            kind(e),
            "{path}: the fake answers {f}, the API's example {e}"
        ),
    }
}

/// The keys of an object (of a list's elements) are fields of the model
/// struct `name`.
fn assert_model(path: &str, v: &Value, name: &str) {
    let models = fixture("models");
    let fields: Vec<&str> = models["structs"][name]
        .as_array()
        .unwrap_or_else(|| panic!("models.json has no {name}"))
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    let objs: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    for o in objs {
        for k in o.as_object().unwrap().keys() {
            assert!(
                fields.contains(&k.as_str()),
                "{path}: {k:?} is not a field of the SDK's {name} ({fields:?})"
            );
        }
    }
}

/// The example answers are the SDK's models: (action, [(path, struct)]).
fn model_map() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            "DescribeRecordList",
            vec![
                ("", "DescribeRecordListResponseParams"),
                ("RecordCountInfo", "RecordCountInfo"),
                ("RecordList", "RecordListItem"),
            ],
        ),
        (
            "DescribeRecord",
            vec![
                ("", "DescribeRecordResponseParams"),
                ("RecordInfo", "RecordInfo"),
            ],
        ),
        (
            "DescribeDomain",
            vec![
                ("", "DescribeDomainResponseParams"),
                ("DomainInfo", "DomainInfo"),
            ],
        ),
        (
            "DescribePackageDetail",
            vec![
                ("", "DescribePackageDetailResponseParams"),
                ("Info", "PackageDetailItem"),
            ],
        ),
        ("CreateRecord", vec![("", "CreateRecordResponseParams")]),
        ("ModifyRecord", vec![("", "ModifyRecordResponseParams")]),
    ]
}

#[test]
fn the_apis_example_answers_use_the_sdk_models_field_names() {
    for (action, parts) in model_map() {
        let example = &fixture(action)["Response"];
        for (path, model) in parts {
            let v = if path.is_empty() {
                example
            } else {
                &example[path]
            };
            assert_model(&format!("{action}.{path}"), v, model);
        }
    }
}

async fn fake_and_client() -> (FakeTencent, Client) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = vec![Key {
        id: SECRET_ID.into(),
        key: SECRET_KEY.into(),
        token: None,
    }];
    let fake = FakeTencent::start(DOMAIN, keys, clock.clone()).await;
    let creds = Credentials::new(SECRET_ID, Secret::new(SECRET_KEY.to_string()), None);
    let opts = ClientOptions::new(
        fake.endpoint(),
        Duration::from_secs(2),
        Duration::from_secs(4),
    );
    let client = Client::new(&SERVICE, creds, opts, clock).unwrap();
    (fake, client)
}

#[tokio::test]
async fn every_answer_of_the_fake_has_the_field_names_of_the_apis_example() {
    let (fake, client) = fake_and_client().await;
    // A record of each kind the answers vary on: weighted or not, enabled
    // or not, with and without a remark.
    let id = fake.with(|s| {
        let a = s.add_record("api", "CNAME", "默认", "a.example.net.", 600, true);
        s.record_mut(a).unwrap().weight = Some(10);
        s.record_mut(a).unwrap().remark = "dns-failover created".into();
        s.add_record("api", "CNAME", "默认", "b.example.net.", 600, false)
    });
    let calls: Vec<(&str, Value)> = vec![
        (
            "DescribeRecordList",
            json!({"Domain": DOMAIN, "SubDomain": "api", "RecordType": "CNAME", "RecordLine": "默认", "Offset": 0, "Limit": 3000}),
        ),
        ("DescribeRecord", json!({"Domain": DOMAIN, "RecordId": id})),
        ("DescribeDomain", json!({"Domain": DOMAIN})),
        ("DescribePackageDetail", json!({})),
        (
            "CreateRecord",
            json!({"Domain": DOMAIN, "SubDomain": "api", "RecordType": "CNAME", "RecordLine": "默认", "Value": "c.example.net", "TTL": 600, "Status": "DISABLE", "Remark": "r"}),
        ),
        (
            "ModifyRecord",
            json!({"Domain": DOMAIN, "RecordId": id, "SubDomain": "api", "RecordType": "CNAME", "RecordLine": "默认", "Value": "b.example.net", "TTL": 600, "Status": "DISABLE", "Remark": "r"}),
        ),
    ];
    for (action, params) in calls {
        let answer = client
            .call_value(action, &params)
            .await
            .unwrap_or_else(|e| panic!("{action}: {e}"));
        let example = &fixture(action)["Response"];
        assert_within(action, &answer, example);
        // And the fake leaves out nothing the example has at the top.
        for k in example.as_object().unwrap().keys() {
            assert!(
                answer.get(k).is_some(),
                "{action}: the fake's answer lacks {k:?}: {answer}"
            );
        }
    }
}

/// Every parameter the provider sends, in a pass over all it does, is one
/// the API documents for that action (the legacy `Subdomain` included:
/// the test of SubDomain is in tests/dnspod.rs).
#[tokio::test]
async fn every_parameter_the_provider_sends_is_documented() {
    let (fake, _) = fake_and_client().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let envs = cred_env("models_params", SECRET_ID, SECRET_KEY, None);
    let lookup = |n: &str| std::env::var(n).ok();
    let settings = dns_failover::config::DnspodSettings {
        endpoint: fake.endpoint(),
        secret_id_env: envs.0.clone(),
        secret_key_env: envs.1.clone(),
        session_token_env: envs.2.clone(),
        api_timeout: Duration::from_secs(2),
        api_budget: Duration::from_secs(4),
    };
    let p = DnspodProvider::from_settings(&settings, clock, &lookup).unwrap();
    let key = RecordKey {
        domain: DOMAIN.into(),
        subdomain: "api".into(),
        rtype: RecordType::Cname,
        line: "默认".into(),
    };
    fake.with(|s| s.record_roll = 1);
    let rec = |v: &str, enabled| dns::NewRecord {
        value: v.into(),
        ttl: 60,
        enabled,
        remark: "dns-failover created".into(),
    };
    let a = p.create(&key, &rec("a.example.net", true)).await.unwrap();
    let current = p.get(&key, &a).await.unwrap();
    p.set_status(&key, &current, false, "dns-failover disabled")
        .await
        .unwrap();
    let current = p.get(&key, &a).await.unwrap();
    p.set_value(&key, &current, "b.example.net", 60, false, "")
        .await
        .unwrap();
    p.create(&key, &rec("c.example.net", true)).await.unwrap();
    // Past the cap: refused, and the plan is read for the message.
    let e = p
        .create(&key, &rec("d.example.net", true))
        .await
        .unwrap_err();
    assert!(
        matches!(e, dns::Error::RollLimit { limits: Some(_) }),
        "{e:?}"
    );
    p.list(&key).await.unwrap();
    p.limits(DOMAIN).await.unwrap();

    let documented = fixture("requests");
    let mut seen = std::collections::BTreeSet::new();
    for c in fake.calls() {
        let allowed: Vec<&str> = documented[&c.action]
            .as_array()
            .unwrap_or_else(|| panic!("{} is not in requests.json", c.action))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for k in c.body.as_object().unwrap().keys() {
            assert!(
                allowed.contains(&k.as_str()),
                "{} sends {k:?}, which the API does not document ({allowed:?})",
                c.action
            );
        }
        seen.insert(c.action.clone());
    }
    let known: std::collections::BTreeSet<String> = SERVICE
        .rate_limits
        .iter()
        .map(|(a, _)| a.to_string())
        .collect();
    assert_eq!(
        seen, known,
        "the pass above calls every action the provider knows"
    );
}

/// The shipped example runs on DNSPod's free plan: no active group has
/// more targets than the free plan's `RecordRoll` (from the API's example
/// answer, 2), so no enable is refused once every region is up.
#[test]
fn the_shipped_example_fits_the_free_plans_round_robin_cap() {
    let pkg = fixture("DescribePackageDetail");
    let cap = pkg["Response"]["Info"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["DomainGrade"] == "DP_Free")
        .and_then(|i| i["RecordRoll"].as_u64())
        .unwrap() as usize;
    assert_eq!(cap, 2);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/dns-failover.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let cfg = dns_failover::Config::from_toml(&text, &path).unwrap_or_else(|e| panic!("{e}"));
    let regions: std::collections::BTreeSet<&str> = cfg
        .groups
        .iter()
        .flat_map(|g| g.targets.iter().map(|t| t.region.as_str()))
        .collect();
    assert_eq!(regions.len(), 3, "the example still shows three regions");
    for g in &cfg.groups {
        if g.mode == dns_failover::config::Mode::Active {
            assert!(
                g.targets.len() <= cap,
                "group {} has {} targets, more than the free plan's {cap}",
                g.name,
                g.targets.len()
            );
        }
    }
}
