//! Bad input that used to get past validation (issue 10, "Bad input"): the
//! library paths it reached, on 127.0.0.1. The config and event checks
//! themselves are unit tests (`src/config_tests.rs`, `src/runtime/event.rs`);
//! the binary's answers are in `tests/cli.rs` and `tests/runtime.rs`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use dns_failover::clock::SystemClock;
use dns_failover::config::Secret;
use dns_failover::dns::dnspod::SERVICE;
use dns_failover::tencent::{Client, ClientOptions, Credentials};
use serde_json::json;
use support::{HttpServer, Reply};

/// A budget too large to add to an `Instant` (what `api_budget =
/// "300000000000y"` became) means no deadline, not a panic.
#[tokio::test]
async fn a_client_budget_past_the_end_of_time_does_not_panic() {
    let server =
        HttpServer::start(|_| Reply::Json(200, json!({"Response": {"RequestId": "r-1"}}))).await;
    let creds = Credentials::new("AKIDtest", Secret::new("key"), None);
    let opts = ClientOptions::new(server.base.clone(), Duration::from_secs(5), Duration::MAX);
    let client = Client::new(&SERVICE, creds, opts, Arc::new(SystemClock)).unwrap();
    let v = client
        .call_value("DescribeDomain", &json!({}))
        .await
        .unwrap();
    assert_eq!(v["RequestId"], "r-1");
}

/// `validate --online`: the plan from DescribeDomain, its lines (and line
/// groups) from DescribeRecordLineList; a group line the domain lacks is
/// an error on that group's `line`.
#[tokio::test]
async fn online_lines_come_from_the_domains_plan() {
    use dns_failover::online;
    use support::fake_lines;
    let fake = fake_lines::start("example.com", "DP_PLUS", None).await;
    let creds = Credentials::new("AKIDtest", Secret::new("key"), None);
    let opts = ClientOptions::new(
        fake.base.clone(),
        Duration::from_secs(5),
        Duration::from_secs(5),
    );
    let client = Client::new(&SERVICE, creds, opts, Arc::new(SystemClock)).unwrap();
    let known = online::domain_lines(&client, "example.com").await.unwrap();
    assert_eq!(known.grade, "DP_PLUS");
    assert_eq!(known.names.len(), fake_lines::PLUS_LINES.len() + 1);
    assert!(known.names.contains(fake_lines::LINE_GROUP));

    let text = |lines: [&str; 2]| {
        let mut s =
            "[dns]\nprovider = \"file\"\ndomain = \"example.com\"\npath = \"z.json\"\n".to_string();
        for (i, l) in lines.iter().enumerate() {
            s.push_str(&format!(
                "[[group]]\nname = \"g{i}\"\nsubdomain = \"g{i}\"\ntype = \"A\"\nline = \"{l}\"\n[[group.target]]\nregion = \"r\"\nvalue = \"192.0.2.1\"\ntcp = \"127.0.0.1:9\"\n"
            ));
        }
        s
    };
    let path = std::path::Path::new("/nonexistent/dns-failover.toml");
    let cfg = dns_failover::Config::from_toml(&text(["华北电信", "默认"]), path).unwrap();
    assert!(online::unknown_lines(&cfg, &known).is_empty());
    let cfg = dns_failover::Config::from_toml(&text(["默认", "Google"]), path).unwrap();
    let errors = online::unknown_lines(&cfg, &known);
    let [e] = &errors[..] else {
        panic!("{errors:?}")
    };
    assert_eq!(e.key, "group[1].line");
    assert_eq!(
        e.message,
        "\"Google\" is not a line of example.com (plan DP_PLUS); it has 11 lines, among them \"默认\", \"境内\", \"境外\", \"电信\", \"联通\", \"移动\", \"教育网\", \"搜索引擎\""
    );
}

/// Issue 11: `validate --online` also reads the plan's limits
/// (`DescribePackageDetail`, the item whose `DomainGrade` is the domain's
/// grade) and warns about an active group with more targets than the
/// round-robin cap and a `ttl` below the plan's floor.
#[tokio::test]
async fn online_warns_about_the_plans_round_robin_cap_and_ttl_floor() {
    use dns_failover::online;
    use support::fake_lines;
    let fake = fake_lines::start("example.com", "DP_FREE", None).await;
    let creds = Credentials::new("AKIDtest", Secret::new("key"), None);
    let opts = ClientOptions::new(
        fake.base.clone(),
        Duration::from_secs(5),
        Duration::from_secs(5),
    );
    let client = Client::new(&SERVICE, creds, opts, Arc::new(SystemClock)).unwrap();
    let known = online::domain_lines(&client, "example.com").await.unwrap();
    let limits = online::plan_limits(&client, &known).await.unwrap();
    assert_eq!(
        (limits.plan.as_deref(), limits.min_ttl, limits.record_roll),
        (Some("DP_Free"), 600, Some(2))
    );
    let text = |targets: usize, ttl: u32| {
        let mut s = format!(
            "[dns]\nprovider = \"file\"\ndomain = \"example.com\"\npath = \"z.json\"\nttl = {ttl}\n[[group]]\nname = \"api\"\nsubdomain = \"api\"\ntype = \"A\"\nmode = \"active\"\n"
        );
        for i in 0..targets {
            s.push_str(&format!(
                "[[group.target]]\nregion = \"r{i}\"\nvalue = \"192.0.2.{}\"\ntcp = \"127.0.0.1:9\"\n",
                i + 1
            ));
        }
        s
    };
    let path = std::path::Path::new("/nonexistent/dns-failover.toml");
    let cfg = dns_failover::Config::from_toml(&text(2, 600), path).unwrap();
    assert!(online::limit_warnings(&cfg, &limits).is_empty());
    let cfg = dns_failover::Config::from_toml(&text(3, 60), path).unwrap();
    let w = online::limit_warnings(&cfg, &limits);
    let [roll, ttl] = &w[..] else { panic!("{w:?}") };
    assert_eq!(roll.key, "group[0].mode");
    assert!(
        roll.message.starts_with("plan DP_Free allows 2 enabled records per host and line (round robin), but active group \"api\" has 3 targets"),
        "{}",
        roll.message
    );
    assert_eq!(ttl.key, "group[0].ttl");
    assert!(
        ttl.message.contains("accepts no TTL below 600 s"),
        "{}",
        ttl.message
    );
}
