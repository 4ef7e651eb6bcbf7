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
