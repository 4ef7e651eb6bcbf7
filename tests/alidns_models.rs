//! The fake Alidns (tests/support/alidns_fake.rs) is pinned two ways:
//! - its signature check, [`acs3_signature`], reproduces every V3 vector
//!   the official SDK computed (tests/fixtures/alidns/vectors.txt), so the
//!   fake verifies requests the way the service does, independently of the
//!   crate's signer;
//! - every answer it gives fits the official SDK's response models
//!   (tests/fixtures/alidns/models.json, made by models.py from
//!   alibabacloud-alidns20150109 4.6.1), and every error answer the error
//!   body the reference documents (errors.json). The parameters it accepts
//!   are the SDK's request models' (it refuses any other).

#[path = "support/alidns_fake.rs"]
mod alidns_fake;
mod support;

use std::sync::Arc;
use std::time::Duration;

use alidns_fake::{acs3_signature, parse_query, AliFault, AliKey, FakeAlidns};
use dns_failover::clock::SystemClock;
use dns_failover::config::Secret;
use dns_failover::dns::alidns::{AlidnsProvider, Client, ClientOptions, Credentials};
use dns_failover::dns::{DnsProvider, NewRecord, RecordKey, RecordType};
use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/alidns/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_fakes_signature_check_reproduces_every_v3_vector_of_the_sdk() {
    let text = fixture("vectors.txt");
    let mut n = 0;
    for block in text.split("\n## ").skip(1) {
        let id = block.split_whitespace().next().unwrap();
        let fields: Vec<(&str, &str)> = block
            .lines()
            .skip(1)
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| l.split_once(": "))
            .collect();
        let one = |k: &str| fields.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        if one("algorithm") != Some("ACS3-HMAC-SHA256") {
            continue;
        }
        n += 1;
        let query: Vec<(String, String)> = fields
            .iter()
            .filter(|(k, _)| *k == "query")
            .map(|(_, v)| {
                let (a, b) = v.split_once('=').unwrap();
                (a.to_string(), b.to_string())
            })
            .collect();
        let headers: Vec<(String, String)> = fields
            .iter()
            .filter(|(k, _)| *k == "header")
            .map(|(_, v)| {
                let (a, b) = v.split_once(':').unwrap();
                (a.to_string(), b.to_string())
            })
            .collect();
        let body = headers
            .iter()
            .find(|(k, _)| k == "x-acs-content-sha256")
            .unwrap()
            .1
            .clone();
        let got = acs3_signature(
            one("method").unwrap(),
            "/",
            &query,
            &headers,
            &body,
            one("access_key_secret").unwrap(),
        );
        assert_eq!(got, one("signature").unwrap(), "{id}");
        // The URL as the SDK sent it (form encoding: space as '+') decodes
        // to the same parameters the fake signs over.
        if let Some(url) = one("url") {
            let q = parse_query(url.split_once('?').unwrap().1);
            let q: Vec<_> = q
                .into_iter()
                .filter(|(k, _)| query.iter().any(|(n, _)| n == k))
                .collect();
            assert_eq!(q, query, "{id}");
        }
    }
    assert_eq!(n, 8, "C1-C4 and their -min twins");
}

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

/// Every key the fake answers is in the model, of the model's kind.
fn assert_within(path: &str, fake: &Value, model: &Value) {
    match (fake, model) {
        (Value::Object(f), Value::Object(m)) => {
            for (k, v) in f {
                let mv = m.get(k).unwrap_or_else(|| {
                    panic!(
                        "{path}: the fake answers {k:?}, which the SDK model has not ({:?})",
                        m.keys().collect::<Vec<_>>()
                    )
                });
                assert_within(&format!("{path}.{k}"), v, mv);
            }
        }
        (Value::Array(f), Value::Array(m)) => {
            for (i, v) in f.iter().enumerate() {
                assert_within(&format!("{path}[{i}]"), v, &m[0]);
            }
        }
        (f, Value::String(k)) => assert_eq!(kind(f), k.as_str(), "{path}: {f}"),
        (f, m) => panic!("{path}: the fake answers {f}, the model says {m}"),
    }
}

#[tokio::test]
async fn every_answer_of_the_fake_fits_the_sdk_models_and_the_documented_error_body() {
    let fake = FakeAlidns::start(
        "example.com",
        vec![AliKey {
            id: "LTAI5tMODELS".into(),
            secret: "models-secret".into(),
            token: None,
        }],
        Arc::new(SystemClock),
    )
    .await;
    let p = AlidnsProvider::new(
        Client::new(
            Credentials::new("LTAI5tMODELS", Secret::new("models-secret"), None),
            ClientOptions::new(
                fake.base.clone(),
                Duration::from_secs(1),
                Duration::from_secs(3),
            ),
            Arc::new(SystemClock),
        )
        .unwrap(),
    );
    let key = RecordKey {
        domain: "example.com".into(),
        subdomain: "api".into(),
        rtype: RecordType::A,
        line: "default".into(),
    };
    fake.with(|s| s.add_record("api", "A", "default", "192.0.2.2", 600, true, ""));
    let id = p
        .create(
            &key,
            &NewRecord {
                value: "192.0.2.1".into(),
                ttl: 60,
                enabled: false,
                remark: "dns-failover created x".into(),
            },
        )
        .await
        .unwrap();
    let cur = p.get(&key, &id).await.unwrap();
    p.set_value(&key, &cur, "192.0.2.3", 600, true, "dns-failover enabled y")
        .await
        .unwrap();
    p.list(&key).await.unwrap();
    // A pass's reads: the whole domain (`DescribeDomainRecords`).
    let votes = RecordKey {
        subdomain: "_dns-failover-vote-a.api".into(),
        ..key.clone()
    };
    for r in p.list_many(&[key.clone(), votes]).await {
        r.unwrap();
    }
    // An error of each kind the fake makes up, and one queued.
    let _ = p.get(&key, "1").await;
    fake.inject(
        None,
        AliFault::Api(
            400,
            "Throttling.User",
            "Request was denied due to user flow control.",
        ),
    );
    p.list(&key).await.unwrap();

    let models: Value = serde_json::from_str(&fixture("models.json")).unwrap();
    let error_model: Value = serde_json::from_str(&fixture("errors.json")).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for c in fake.calls() {
        if c.status >= 400 {
            assert_within(
                &format!("{} error", c.action),
                &c.answer,
                &error_model["shape"],
            );
            continue;
        }
        let model = &models["actions"][c.action.as_str()]["response"];
        assert!(model.is_object(), "{} has no model", c.action);
        assert_within(&c.action, &c.answer, model);
        seen.insert(c.action.clone());
    }
    let all: std::collections::BTreeSet<String> = models["actions"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(seen, all, "every action the provider uses was answered");
}

#[test]
fn the_documented_error_example_fits_the_error_shape() {
    let e: Value = serde_json::from_str(&fixture("errors.json")).unwrap();
    for ex in e["examples"].as_array().unwrap() {
        assert_within("example", &ex["body"], &e["shape"]);
    }
}
