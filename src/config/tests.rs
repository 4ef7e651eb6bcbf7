//! Configuration errors: each gets its own message with file, key and line.

use super::*;
use std::time::Duration;

const GOOD: &str = r#"
prober = "gz-prober"

[probe]
timeout = "1500ms"
attempts = 3
interval = "200ms"
fail_threshold = 2
concurrency = 16

[dns]
provider = "file"
domain = "Example.COM."
ttl = 60
path = "zone.json"

[[group]]
name = "api"
subdomain = "api"
type = "CNAME"
mode = "active"
failback = "manual"
failback_after = "10m"
max_changes = 1

[[group.target]]
region = "ap-guangzhou"
value = "gz.apigw.example.com"
url = "https://gz.apigw.example.com/health"
expect_status = ["2xx", 301, "400-404"]
body_contains = "ok"
max_latency = "800ms"
method = "head"
headers = { Authorization = "Bearer abc" }
resolve = "127.0.0.1"

[[group.target]]
region = "ap-shanghai"
value = "sh.apigw.example.com"
tcp = "sh.apigw.example.com:443"
priority = -1
timeout = "3s"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, Path::new("/etc/df/dns-failover.toml"))
}

fn err(text: &str) -> ConfigError {
    parse(text).expect_err("config should be rejected")
}

/// Replace the first occurrence of `from` in GOOD.
fn good_with(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "fixture lacks {from:?}");
    GOOD.replacen(from, to, 1)
}

fn line_of_text(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in text")
        + 1
}

#[test]
fn a_full_config_loads_with_its_values_and_defaults() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.prober, "gz-prober");
    assert_eq!(c.probe.timeout, Duration::from_millis(1500));
    assert_eq!(c.probe.concurrency, 16);
    assert_eq!(c.dns.domain, "example.com");
    assert_eq!(c.alert_timezone, "Asia/Shanghai");
    match &c.dns.provider {
        ProviderSettings::File(FileSettings { path }) => {
            assert_eq!(path, Path::new("/etc/df/zone.json"))
        }
        other => panic!("{other:?}"),
    }
    let g = &c.groups[0];
    assert_eq!(g.key.fqdn(), "api.example.com");
    assert_eq!(g.key.line, "默认");
    assert_eq!(g.mode, Mode::Active);
    assert_eq!(g.failback, Failback::Manual);
    assert_eq!(g.failback_after, Duration::from_secs(600));
    assert_eq!(g.ttl, 60);
    // Sorted by priority: ap-shanghai (-1) first.
    assert_eq!(g.targets[0].region, "ap-shanghai");
    assert_eq!(g.targets[0].timeout, Duration::from_secs(3));
    assert!(
        matches!(&g.targets[0].check, Check::Tcp { addr } if addr == "sh.apigw.example.com:443")
    );
    let Check::Http(h) = &g.targets[1].check else {
        panic!("http")
    };
    assert_eq!(h.method, "HEAD");
    assert!(
        h.expect_status.matches(204)
            && h.expect_status.matches(301)
            && h.expect_status.matches(404)
    );
    assert!(!h.expect_status.matches(300) && !h.expect_status.matches(500));
    assert_eq!(h.resolve, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(h.max_latency, Some(Duration::from_millis(800)));
    assert_eq!(g.targets[1].timeout, Duration::from_millis(1500));
}

#[test]
fn defaults_fill_a_minimal_config() {
    let c = parse(
        r#"
[dns]
provider = "file"
domain = "example.com"
path = "/tmp/z.json"
[[group]]
name = "www"
subdomain = "@"
type = "A"
[[group.target]]
region = "a"
value = "192.0.2.1"
url = "http://192.0.2.1/"
"#,
    )
    .unwrap();
    assert_eq!(c.probe, ProbeSettings::default());
    assert_eq!(c.dns.ttl, 60);
    let g = &c.groups[0];
    assert_eq!(
        (g.mode, g.failback, g.max_changes),
        (Mode::Failover, Failback::Auto, 2)
    );
    assert_eq!(g.failback_after, Duration::from_secs(300));
    assert_eq!(g.key.fqdn(), "example.com");
    let Check::Http(h) = &g.targets[0].check else {
        panic!()
    };
    assert_eq!(h.expect_status.to_string(), "2xx");
    assert!(!h.follow_redirects);
}

#[test]
fn unknown_key_names_the_key_and_its_line() {
    let text = good_with("concurrency = 16", "concurency = 16");
    let e = err(&text);
    assert_eq!(e.line, Some(line_of_text(&text, "concurency")));
    assert!(e.message.contains("unknown field `concurency`"), "{e}");
    assert_eq!(e.key, "probe.concurency");
    let shown = e.to_string();
    assert!(shown.starts_with("/etc/df/dns-failover.toml:"), "{shown}");
}

#[test]
fn unknown_key_in_a_target_is_rejected() {
    let text = good_with("body_contains = \"ok\"", "body_contain = \"ok\"");
    let e = err(&text);
    assert_eq!(e.line, Some(line_of_text(&text, "body_contain =")));
    assert!(e.message.contains("body_contain"), "{e}");
    assert!(
        e.key.starts_with("group[0].target[") && e.key.ends_with("].body_contain"),
        "{e}"
    );
}

#[test]
fn wrong_type_is_reported_with_its_line() {
    let text = good_with("attempts = 3", "attempts = \"three\"");
    let e = err(&text);
    assert_eq!(e.line, Some(line_of_text(&text, "attempts")));
    assert!(e.message.contains("invalid type"), "{e}");
    assert_eq!(e.key, "probe.attempts");
}

#[test]
fn bad_duration_says_what_is_expected() {
    let text = good_with(
        "failback_after = \"10m\"",
        "failback_after = \"ten minutes\"",
    );
    let e = err(&text);
    assert_eq!(e.line, Some(line_of_text(&text, "failback_after")));
    assert!(e.message.contains("expected e.g. \"2s\""), "{e}");
}

#[test]
fn duplicate_region_in_a_group() {
    let text = good_with("region = \"ap-shanghai\"", "region = \"ap-guangzhou\"");
    let e = err(&text);
    assert_eq!(e.key, "group[0].target[1].region");
    let second = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("region = \"ap-guangzhou\""))
        .nth(1)
        .map(|(i, _)| i + 1);
    assert_eq!(e.line, second);
    assert!(
        e.message.contains("duplicate region \"ap-guangzhou\""),
        "{e}"
    );
}

#[test]
fn group_without_targets() {
    let text = r#"
[dns]
provider = "file"
domain = "example.com"
path = "z.json"

[[group]]
name = "api"
subdomain = "api"
type = "A"
"#;
    let e = err(text);
    assert_eq!(e.key, "group[0].name");
    assert_eq!(e.line, Some(8));
    assert!(e.message.contains("has no [[group.target]]"), "{e}");
}

#[test]
fn no_group_at_all() {
    let e = err("[dns]\nprovider = \"file\"\ndomain = \"example.com\"\npath = \"z.json\"\n");
    assert!(e.message.contains("no [[group]] defined"), "{e}");
}

#[test]
fn ttl_out_of_range() {
    for bad in ["0", "604801", "-5"] {
        let text = good_with("ttl = 60", &format!("ttl = {bad}"));
        let e = err(&text);
        assert_eq!(e.key, "dns.ttl");
        assert_eq!(e.line, Some(line_of_text(&text, "ttl =")));
        assert!(e.message.contains("out of range"), "{e}");
    }
}

#[test]
fn bad_url_and_unsupported_scheme() {
    let text = good_with(
        "url = \"https://gz.apigw.example.com/health\"",
        "url = \"not a url\"",
    );
    let e = err(&text);
    assert_eq!(e.key, "group[0].target[0].url");
    assert_eq!(e.line, Some(line_of_text(&text, "not a url")));
    assert!(e.message.contains("not a valid URL"), "{e}");

    let text = good_with(
        "url = \"https://gz.apigw.example.com/health\"",
        "url = \"ftp://gz.example.com/\"",
    );
    assert!(err(&text).message.contains("scheme \"ftp\""));
}

#[test]
fn fail_threshold_larger_than_attempts() {
    let text = good_with("fail_threshold = 2", "fail_threshold = 4");
    let e = err(&text);
    assert_eq!(e.key, "probe.fail_threshold");
    assert_eq!(e.line, Some(line_of_text(&text, "fail_threshold")));
    assert!(e.message.contains("between 1 and attempts (3)"), "{e}");
}

#[test]
fn value_must_match_the_record_type() {
    let text = good_with("type = \"CNAME\"", "type = \"A\"");
    let e = err(&text);
    assert_eq!(e.key, "group[0].target[0].value");
    assert!(e.message.contains("not an IPv4 address"), "{e}");
}

#[test]
fn url_and_tcp_are_exclusive_and_one_is_required() {
    let text = good_with("tcp = \"sh.apigw.example.com:443\"", "");
    let e = err(&text);
    assert!(e.message.contains("needs `url`"), "{e}");
    let text = good_with(
        "tcp = \"sh.apigw.example.com:443\"",
        "tcp = \"sh.apigw.example.com\"",
    );
    assert!(err(&text).message.contains("is not \"host:port\""));
    let text = good_with(
        "tcp = \"sh.apigw.example.com:443\"",
        "tcp = \"sh.apigw.example.com:443\"\nurl = \"https://sh.apigw.example.com/\"",
    );
    let e = err(&text);
    assert_eq!(e.key, "group[0].target[1].tcp");
    assert!(e.message.contains("not both"), "{e}");
}

#[test]
fn http_only_keys_on_a_tcp_target_are_rejected() {
    let text = good_with(
        "timeout = \"3s\"",
        "timeout = \"3s\"\nbody_contains = \"x\"",
    );
    let e = err(&text);
    assert_eq!(e.key, "group[0].target[1].body_contains");
    assert!(e.message.contains("only applies to HTTP probes"), "{e}");
}

#[test]
fn bad_status_mode_failback_and_provider() {
    let e = err(&good_with("\"400-404\"", "\"4zz\""));
    assert!(e.message.contains("\"4zz\" is not a status"), "{e}");
    let e = err(&good_with("mode = \"active\"", "mode = \"weighted\""));
    assert_eq!(e.key, "group[0].mode");
    let e = err(&good_with("failback = \"manual\"", "failback = \"never\""));
    assert_eq!(e.key, "group[0].failback");
    let e = err(&good_with("provider = \"file\"", "provider = \"route53\""));
    // Every provider is listed (registry::names); the list grows.
    assert!(e.message.contains("expected \"file\", \"dnspod\""), "{e}");
    let e = err(&good_with("path = \"zone.json\"", ""));
    assert!(e.message.contains("needs `path`"), "{e}");
    let e = err(&good_with(
        "path = \"zone.json\"",
        "path = \"zone.json\"\nendpoint = \"http://127.0.0.1:1\"",
    ));
    assert_eq!(e.key, "dns.endpoint");
}

#[test]
fn duplicate_group_names_and_keys() {
    let extra = "\n[[group]]\nname = \"api\"\nsubdomain = \"www\"\ntype = \"CNAME\"\n[[group.target]]\nregion = \"x\"\nvalue = \"x.example.com\"\ntcp = \"x.example.com:80\"\n";
    let e = err(&format!("{GOOD}{extra}"));
    assert_eq!(e.key, "group[1].name");
    let extra = extra
        .replace("name = \"api\"", "name = \"api2\"")
        .replace("\"www\"", "\"api\"");
    let e = err(&format!("{GOOD}{extra}"));
    assert!(
        e.message
            .contains("two groups must not manage the same records"),
        "{e}"
    );
}

#[test]
fn missing_env_var_is_named_and_the_line_given() {
    let text = good_with("Bearer abc", "Bearer ${DF_TEST_UNSET_VAR_91}");
    let e = err(&text);
    assert!(
        e.message.contains("`DF_TEST_UNSET_VAR_91` is not set"),
        "{e}"
    );
    assert_eq!(e.line, Some(line_of_text(&text, "DF_TEST_UNSET_VAR_91")));
    assert!(e.key.ends_with(".headers.Authorization"), "{e}");
}

#[test]
fn env_values_are_expanded_and_secrets_stay_hidden() {
    std::env::set_var("DF_TEST_TOKEN_77", "s3cr3t-token-value");
    std::env::set_var("DF_TEST_HOST_77", "gz.apigw.example.com");
    let text = good_with("Bearer abc", "Bearer ${DF_TEST_TOKEN_77}").replace(
        "https://gz.apigw.example.com/health",
        "https://${DF_TEST_HOST_77}/health",
    );
    let c = parse(&text).unwrap();
    let Check::Http(h) = &c.groups[0].targets[1].check else {
        panic!()
    };
    assert_eq!(h.url, "https://gz.apigw.example.com/health");
    assert_eq!(h.headers[0].1.expose(), "Bearer s3cr3t-token-value");
    let dbg = format!("{c:?}");
    assert!(
        !dbg.contains("s3cr3t-token-value"),
        "secret leaked in Debug"
    );
    assert!(dbg.contains("[redacted]"));
}

#[test]
fn a_type_error_never_shows_an_expanded_secret() {
    std::env::set_var("DF_TEST_SECRET_78", "very-secret-78");
    // A wrong type on the line that references the secret.
    let text = good_with(
        "headers = { Authorization = \"Bearer abc\" }",
        "headers = { Authorization = \"${DF_TEST_SECRET_78}\", X = 5 }",
    );
    let e = err(&text);
    assert!(e.message.contains("invalid type"), "{e}");
    assert!(e.key.ends_with(".headers.X"), "{e}");
    assert!(!e.to_string().contains("very-secret-78"), "{e}");
    // An error about the secret's own value names the header, not the value.
    std::env::set_var("DF_TEST_SECRET_79", "very-secret-79\r\nX-Injected: 1");
    let text = good_with(
        "headers = { Authorization = \"Bearer abc\" }",
        "headers = { Authorization = \"${DF_TEST_SECRET_79}\" }",
    );
    let e = err(&text);
    assert!(e.message.contains("line break"), "{e}");
    assert!(!e.to_string().contains("very-secret-79"), "{e}");
}

#[test]
fn env_expansion_rules() {
    let env = |n: &str| (n == "A").then(|| "1".to_string());
    assert_eq!(expand_env("x${A}y", &env).unwrap(), "x1y");
    assert_eq!(expand_env("$${A} costs $5", &env).unwrap(), "${A} costs $5");
    assert!(expand_env("${B}", &env)
        .unwrap_err()
        .to_string()
        .contains("`B` is not set"));
    assert!(expand_env("${A", &env)
        .unwrap_err()
        .to_string()
        .contains("unclosed"));
    assert!(expand_env("${A-B}", &env)
        .unwrap_err()
        .to_string()
        .contains("not a valid"));
}

#[test]
fn status_matcher_items() {
    assert_eq!(StatusMatcher::parse_item("2xx"), Some((200, 299)));
    assert_eq!(StatusMatcher::parse_item("204"), Some((204, 204)));
    assert_eq!(StatusMatcher::parse_item("200-399"), Some((200, 399)));
    assert_eq!(StatusMatcher::parse_item("399-200"), None);
    assert_eq!(StatusMatcher::parse_item("6xx"), None);
    assert_eq!(StatusMatcher::parse_item("99"), None);
}

#[test]
fn missing_file_says_how_to_point_at_one() {
    let e = Config::load(Path::new("/nonexistent/dir/dns-failover.toml")).unwrap_err();
    assert!(e.message.contains("DNS_FAILOVER_CONFIG"), "{e}");
    assert_eq!(e.line, None);
}

#[test]
fn toml_syntax_error_has_a_line() {
    let text = good_with("attempts = 3", "attempts = = 3");
    let e = err(&text);
    assert_eq!(e.line, Some(line_of_text(&text, "attempts")));
}

const ALERT_BASE: &str = r#"
[dns]
provider = "file"
domain = "example.com"
path = "z.json"
[[group]]
name = "api"
subdomain = "api"
type = "A"
[[group.target]]
region = "gz"
value = "192.0.2.1"
tcp = "127.0.0.1:9"
"#;

#[test]
fn an_sms_alert_is_validated_through_the_config_file() {
    let ok = format!(
        "{ALERT_BASE}\n[[alert]]\ntype = \"sms\"\nsdk_app_id = \"1400006666\"\nsign_name = \"腾讯云\"\ntemplate_id = \"1110\"\nphone_numbers = [\"+8613711112222\"]\ntemplate_params = [\"{{name}}\", \"{{event}}\"]\n"
    );
    let c = parse(&ok).unwrap();
    match c.alerts[0]
        .channel
        .settings::<crate::notify::sms::SmsConfig>()
    {
        Some(s) => {
            assert_eq!(s.region, "ap-guangzhou");
            assert_eq!(s.param_max_len, 6);
            assert_eq!(s.secret_key_env, "TENCENTCLOUD_SECRETKEY");
        }
        None => panic!("{:?}", c.alerts[0].channel),
    }
    let e = err(&ok.replace("template_id = \"1110\"\n", ""));
    assert_eq!(e.key, "alert[0].template_id");
    assert!(e.message.contains("required"), "{e}");
    let e = err(&ok.replace("+8613711112222", "13711112222"));
    assert_eq!(e.key, "alert[0].phone_numbers");
    let text = ok.replace(
        "template_id = \"1110\"",
        "template_id = \"1110\"\nsmtp_host = \"x\"",
    );
    let e = err(&text);
    assert_eq!(e.key, "alert[0].smtp_host");
    assert_eq!(e.line, Some(line_of_text(&text, "smtp_host")));
}

#[test]
fn unknown_alert_type_lists_the_known_ones() {
    let e = err(&format!("{ALERT_BASE}\n[[alert]]\ntype = \"pager\"\n"));
    assert_eq!(e.key, "alert[0].type");
    assert!(e.message.contains("\"sms\""), "{e}");
}

#[test]
fn env_strings_show_as_written_and_redact_their_values() {
    let env = |n: &str| match n {
        "HOST" => Some("gz.example.com".to_string()),
        "TOKEN" => Some("tok-12345".to_string()),
        "N" => Some("7".to_string()),
        _ => None,
    };
    let s = EnvString::expand("https://${HOST}/h?token=${TOKEN}&n=${N}", &env).unwrap();
    assert_eq!(s.0, "https://gz.example.com/h?token=tok-12345&n=7");
    assert_eq!(s.shown(), "https://${HOST}/h?token=${TOKEN}&n=${N}");
    assert_eq!(s.quoted(), "\"https://${HOST}/h?token=${TOKEN}&n=${N}\"");
    assert_eq!(
        format!("{s:?}"),
        "EnvString(\"https://${HOST}/h?token=${TOKEN}&n=${N}\")"
    );
    // The whole value, then each part: a short one ("7") is left alone.
    assert_eq!(
        s.redact("GET https://gz.example.com/h?token=tok-12345&n=7 failed; host gz.example.com, token tok-12345; 7 tries"),
        "GET https://${HOST}/h?token=${TOKEN}&n=${N} failed; host ${HOST}, token ${TOKEN}; 7 tries"
    );
    // Nothing expanded: shown as the value, nothing to redact.
    let lit = EnvString::expand("a $${B} c", &env).unwrap();
    assert!(!lit.is_expanded());
    assert_eq!(lit.shown(), "a ${B} c");
    assert_eq!(lit.redact("a ${B} c"), "a ${B} c");
    assert_eq!(EnvString::from("x"), "x");
}

#[test]
fn errors_about_values_from_the_environment_quote_the_reference() {
    std::env::set_var("DF_TEST_BAD_82", "secret-82 not valid");
    for (from, to, key) in [
        (
            "value = \"gz.apigw.example.com\"",
            "value = \"${DF_TEST_BAD_82}\"",
            "value",
        ),
        (
            "url = \"https://gz.apigw.example.com/health\"",
            "url = \"${DF_TEST_BAD_82}\"",
            "url",
        ),
        (
            "tcp = \"sh.apigw.example.com:443\"",
            "tcp = \"${DF_TEST_BAD_82}\"",
            "tcp",
        ),
        (
            "domain = \"Example.COM.\"",
            "domain = \"${DF_TEST_BAD_82}\"",
            "domain",
        ),
        (
            "subdomain = \"api\"",
            "subdomain = \"${DF_TEST_BAD_82}\"",
            "subdomain",
        ),
    ] {
        let e = err(&good_with(from, to));
        assert!(e.key.ends_with(key), "{e}");
        assert!(e.message.contains("\"${DF_TEST_BAD_82}\""), "{e}");
        assert!(!e.to_string().contains("secret-82"), "{e}");
    }
    // A URL from the environment with another scheme: the scheme is part
    // of the value, so it is not named either.
    std::env::set_var("DF_TEST_BAD_83", "secret83://host/health");
    let e = err(&good_with(
        "url = \"https://gz.apigw.example.com/health\"",
        "url = \"${DF_TEST_BAD_83}\"",
    ));
    assert!(!e.to_string().contains("secret83"), "{e}");
}

/// ALERT_BASE on DNSPod, with `extra` keys in `[dns]`.
fn dnspod_with(extra: &str) -> String {
    ALERT_BASE
        .replace("provider = \"file\"", "provider = \"dnspod\"")
        .replace("path = \"z.json\"\n", &format!("{extra}\n"))
}

#[test]
fn every_duration_has_an_upper_bound() {
    // Issue 10: `api_budget = "300000000000y"` passed validation, then `run`
    // panicked adding it to an Instant; "1000000y" never finished.
    let cases = [
        (
            good_with("timeout = \"1500ms\"", "timeout = \"61s\""),
            "probe.timeout",
        ),
        (
            good_with("interval = \"200ms\"", "interval = \"2m\""),
            "probe.interval",
        ),
        (
            good_with("failback_after = \"10m\"", "failback_after = \"8days\""),
            "group[0].failback_after",
        ),
        (
            good_with("max_latency = \"800ms\"", "max_latency = \"1000000y\""),
            "group[0].target[0].max_latency",
        ),
        (
            good_with("timeout = \"3s\"", "timeout = \"300000000000y\""),
            "group[0].target[1].timeout",
        ),
        (
            dnspod_with("api_budget = \"300000000000y\""),
            "dns.api_budget",
        ),
        (dnspod_with("api_budget = \"1000000y\""), "dns.api_budget"),
        (
            dnspod_with("api_timeout = \"2m\"\napi_budget = \"3m\""),
            "dns.api_timeout",
        ),
        (
            format!("{ALERT_BASE}\n[[alert]]\ntype = \"console\"\nrepeat_every = \"8days\"\n"),
            "alert[0].repeat_every",
        ),
        (
            format!("{ALERT_BASE}\n[[alert]]\ntype = \"console\"\ntimeout = \"1000000y\"\n"),
            "alert[0].timeout",
        ),
    ];
    for (text, key) in cases {
        let e = err(&text);
        assert_eq!(e.key, key, "{e}");
        // The line shown is the key's own.
        let k = key.rsplit('.').next().unwrap();
        let shown = e.line.and_then(|l| text.lines().nth(l - 1)).unwrap_or("");
        assert!(shown.starts_with(&format!("{k} =")), "{e}");
        let m = &e.message;
        assert!(
            m.contains("at most") || m.contains("between 1ms and"),
            "{e}"
        );
    }
    // The bounds themselves are accepted.
    parse(&good_with(
        "failback_after = \"10m\"",
        "failback_after = \"7days\"",
    ))
    .unwrap();
    parse(&dnspod_with("api_timeout = \"60s\"\napi_budget = \"5m\"")).unwrap();
    parse(&format!(
        "{ALERT_BASE}\n[[alert]]\ntype = \"console\"\nrepeat_every = \"7days\"\n"
    ))
    .unwrap();
}

#[test]
fn every_string_has_a_length_limit() {
    // Issue 10: a 10 MB `prober` was accepted (and shown in every alert).
    let huge = "x".repeat(10 << 20);
    let long = |n: usize| "a".repeat(n);
    let cases = [
        (
            good_with("prober = \"gz-prober\"", &format!("prober = \"{huge}\"")),
            "prober",
        ),
        (
            good_with("name = \"api\"", &format!("name = \"{}\"", long(65))),
            "group[0].name",
        ),
        (
            good_with("type = \"CNAME\"", &format!("type = \"{}\"\nline = \"{}\"", "CNAME", long(65))),
            "group[0].line",
        ),
        (
            good_with("region = \"ap-guangzhou\"", &format!("region = \"{}\"", long(65))),
            "group[0].target[0].region",
        ),
        (
            good_with("value = \"gz.apigw.example.com\"", &format!("value = \"{}.com\"", long(300))),
            "group[0].target[0].value",
        ),
        (
            good_with("https://gz.apigw.example.com/health", &format!("https://gz.example.com/{}", long(3000))),
            "group[0].target[0].url",
        ),
        (
            good_with("body_contains = \"ok\"", &format!("body_contains = \"{}\"", long(1025))),
            "group[0].target[0].body_contains",
        ),
        (
            good_with("Bearer abc", &long(9000)),
            "group[0].target[0].headers.Authorization",
        ),
        (
            good_with("domain = \"Example.COM.\"", &format!("domain = \"{}.com\"", long(5000))),
            "dns.domain",
        ),
        (
            good_with("concurrency = 16", &format!("concurrency = 16\nuser_agent = \"{}\"", long(321))),
            "probe.user_agent",
        ),
        (
            format!("{ALERT_BASE}\n[[alert]]\ntype = \"wecom\"\nwebhook = \"https://qyapi.weixin.qq.com/{}\"\n", long(5000)),
            "alert[0].webhook",
        ),
        (
            format!("{ALERT_BASE}\n[[alert]]\ntype = \"email\"\nsmtp_host = \"smtp.example.com\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\", \"{}\"]\n", long(400)),
            "alert[0].to",
        ),
    ];
    for (text, key) in cases {
        let e = err(&text);
        assert_eq!(
            e.key,
            key,
            "{}",
            &e.to_string()[..e.to_string().len().min(300)]
        );
        assert!(e.message.contains("characters long; at most"), "{e}");
        // The value is never echoed: the message stays short.
        assert!(e.to_string().len() < 300, "{}", &e.to_string()[..300]);
        assert!(e.line.is_some(), "{e}");
    }
    // At the limit is fine.
    parse(&good_with(
        "name = \"api\"",
        &format!("name = \"{}\"", long(64)),
    ))
    .unwrap();
    // Characters, not bytes: 64 Chinese characters are 192 bytes.
    parse(&good_with(
        "name = \"api\"",
        &format!("name = \"{}\"", "组".repeat(64)),
    ))
    .unwrap();
}

#[test]
fn a_target_before_any_group_says_so() {
    // Issue 10: this was reported as "duplicate key" on the [[group]] line.
    let text = format!(
        "{}\n[[group.target]]\nregion = \"x\"\nvalue = \"192.0.2.9\"\ntcp = \"127.0.0.1:9\"\n{}",
        &ALERT_BASE[..ALERT_BASE.find("[[group]]").unwrap()],
        &ALERT_BASE[ALERT_BASE.find("[[group]]").unwrap()..]
    );
    let e = err(&text);
    assert_eq!(e.key, "group.target", "{e}");
    assert_eq!(e.line, Some(line_of_text(&text, "[[group.target]]")), "{e}");
    assert!(
        e.message.contains(
            "[[group.target]] must follow a [[group]]: it comes before the first [[group]] (line"
        ),
        "{e}"
    );
    // [group.target] for [[group.target]].
    let text = ALERT_BASE.replace("[[group.target]]", "[group.target]");
    let e = err(&text);
    assert_eq!(e.key, "group[0].target", "{e}");
    assert_eq!(e.line, Some(line_of_text(&text, "[group.target]")), "{e}");
    assert_eq!(
        e.message,
        "[group.target] is one table; write [[group.target]], one per item"
    );
    // [group] for [[group]].
    let text = ALERT_BASE.replace("[[group]]", "[group]");
    let e = err(&text);
    assert_eq!(e.key, "group", "{e}");
    assert_eq!(e.line, Some(line_of_text(&text, "[group]")), "{e}");
    assert_eq!(
        e.message,
        "[group] is one table; write [[group]], one per item"
    );
    // With no [[group]] at all.
    let text = ALERT_BASE.replace(
        "[[group]]\nname = \"api\"\nsubdomain = \"api\"\ntype = \"A\"\n",
        "",
    );
    let e = err(&text);
    assert_eq!(e.key, "group.target", "{e}");
    assert_eq!(e.line, Some(line_of_text(&text, "[[group.target]]")), "{e}");
    assert!(
        e.message
            .contains("[[group.target]] must follow a [[group]]: there is no [[group]] before it"),
        "{e}"
    );
}

#[test]
fn duplicate_keys_and_tables_are_named() {
    // Issue 10: "duplicate key" named the line but not the key.
    let cases = [
        // A key twice in one target.
        (
            good_with("region = \"ap-shanghai\"", "region = \"ap-shanghai\"\nregion = \"ap-beijing\""),
            "region = \"ap-beijing\"",
            "group[0].target[1].region",
            "duplicate key `region`: already set on line",
        ),
        // ... in the second group.
        (
            format!("{GOOD}\n[[group]]\nname = \"b\"\nsubdomain = \"b\"\ntype = \"A\"\ntype = \"AAAA\"\n"),
            "type = \"AAAA\"",
            "group[1].type",
            "duplicate key `type`: already set on line",
        ),
        // ... in the second target of the second group, and in an alert.
        (
            format!("{GOOD}\n[[group]]\nname = \"b\"\n[[group.target]]\nregion = \"a\"\n[[group.target]]\nregion = \"b\"\nregion = \"c\"\n[[alert]]\ntype = \"console\"\n"),
            "region = \"c\"",
            "group[1].target[1].region",
            "duplicate key `region`: already set on line",
        ),
        (
            format!("{GOOD}\n[[alert]]\ntype = \"console\"\n[[alert]]\ntype = \"console\"\nname = \"a\"\nname = \"b\"\n"),
            "name = \"b\"",
            "alert[1].name",
            "duplicate key `name`: already set on line",
        ),
        // ... in an inline table.
        (
            good_with("Bearer abc\" }", "Bearer abc\", Authorization = \"x\" }"),
            "Authorization = \"Bearer",
            "group[0].target[0].headers.Authorization",
            "duplicate key `Authorization`",
        ),
        // ... at the top.
        (
            good_with("prober = \"gz-prober\"", "prober = \"a\"\nprober = \"b\""),
            "prober = \"b\"",
            "prober",
            "duplicate key `prober`",
        ),
        // A table twice.
        (
            format!("{GOOD}\n[probe]\nattempts = 1\n"),
            "[probe]\nattempts = 1",
            "probe",
            "table [probe] is defined twice (first on line 4); merge them",
        ),
        // [group] after [[group]].
        (
            format!("{GOOD}\n[group]\nname = \"b\"\n"),
            "[group]\nname = \"b\"",
            "group",
            "`group` is a list of [[group]] (line 17); write [[group]] to add another",
        ),
        // A header on a key's name.
        (
            good_with("path = \"zone.json\"", "path = \"zone.json\"\n[dns.provider]\nx = 1"),
            "[dns.provider]",
            "dns.provider",
            "`dns.provider` is already set on line 12; it cannot also be a table",
        ),
    ];
    for (text, at, key, msg) in cases {
        let e = err(&text);
        assert_eq!(e.key, key, "{e}");
        let want = text[..text.find(at).unwrap()].matches('\n').count() + 1;
        assert_eq!(e.line, Some(want), "{e}");
        assert!(e.message.contains(msg), "{e}");
    }
}

#[test]
fn lines_are_taken_as_written_and_checked() {
    // Issue 10: "默认 " passed validation, then DNSPod refused it
    // (RecordLineInvalid) when the run tried to create the records.
    for (line, msg) in [
        ("默认 ", "\"默认 \" has white space at its start or end; DNSPod line names have none (write \"默认\")"),
        (" 电信", "has white space at its start or end"),
        ("", "must not be empty"),
        ("  ", "must not be empty"),
        ("电\\u0000信", "contains a control character"),
    ] {
        let text = good_with("type = \"CNAME\"", &format!("type = \"CNAME\"\nline = \"{line}\""));
        let e = err(&text);
        assert_eq!(e.key, "group[0].line", "{e}");
        assert_eq!(e.line, Some(line_of_text(&text, "line = ")), "{e}");
        assert!(e.message.contains(msg), "{e}");
    }
    // Built-in lines: no warning.
    for line in lines::BUILTIN {
        let c = parse(&good_with(
            "type = \"CNAME\"",
            &format!("type = \"CNAME\"\nline = \"{line}\""),
        ))
        .unwrap();
        assert_eq!(&c.groups[0].key.line, line);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }
    // Another name may be a paid plan's or a custom line: a warning that
    // names the key and line and says how to check it.
    let text = good_with("type = \"CNAME\"", "type = \"CNAME\"\nline = \"华北电信\"");
    let c = parse(&text).unwrap();
    assert_eq!(c.groups[0].key.line, "华北电信");
    let [w] = &c.warnings[..] else {
        panic!("{:?}", c.warnings)
    };
    assert_eq!(w.key, "group[0].line");
    assert_eq!(w.line, Some(line_of_text(&text, "line = ")));
    assert!(
        w.message
            .contains("\"华北电信\" is not one of DNSPod's built-in lines"),
        "{w}"
    );
    assert!(w.message.contains("close built-in names: \"电信\""), "{w}");
    assert!(w.message.contains("validate --online"), "{w}");
    // The old names.
    let c = parse(&good_with(
        "type = \"CNAME\"",
        "type = \"CNAME\"\nline = \"国内\"",
    ))
    .unwrap();
    assert!(
        c.warnings[0]
            .message
            .contains("old DNSPod name of \"境内\""),
        "{:?}",
        c.warnings
    );
}

#[test]
fn close_line_names() {
    let known = [
        "默认",
        "境内",
        "境外",
        "电信",
        "联通",
        "华北电信",
        "华东电信",
        "北京联通",
    ];
    let close = |n| lines::close_names(n, known.iter().copied());
    assert_eq!(close("默认 "), vec!["默认"]);
    assert_eq!(close("华南电信"), vec!["华东电信", "华北电信", "电信"]);
    assert_eq!(close("北京联通 "), vec!["北京联通", "联通"]);
    assert!(close("Google").is_empty());
}
