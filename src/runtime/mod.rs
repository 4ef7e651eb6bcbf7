//! `dns-failover serve`: the SCF custom-runtime loop.
//!
//! Start-up: find the runtime API ([`api::RuntimeApi::from_settings`]), load the
//! config, report `init/ready` once. Then, forever: take the next event,
//! handle it in its own task, post the result to `invocation/response` or
//! `invocation/error`.
//!
//! - Handling an event = parse it ([`event::parse`]), check it against the
//!   config (`pipeline::check_options`), build the edges
//!   (`Deps::from_config`, which re-reads credentials from the environment:
//!   the execution role's temporary keys change between invocations), and run
//!   one pass with `pipeline::run_once`. The answer is the `RunReport` JSON.
//! - A pass that completed (`report.ok`, also when it failed over) is a
//!   **response**. A pass that could not complete (`report.ok == false`, e.g.
//!   the DNS backend failed) is an **error** whose body carries the report, so
//!   SCF counts the invocation as failed and the operator sees why. Bad
//!   events, config errors, panics and overruns are errors too; see
//!   [`ErrorBody`].
//! - A bad config at start-up does not end the process (SCF would restart it
//!   in a loop, with the reason buried in the logs): `serve` still reports
//!   ready and answers every invocation with the config error.
//! - Time: each invocation's limit counts from the receipt of the event; see
//!   [`Budget`] for how it is split between probing and the rest.
//! - Logs are JSON lines on stderr (for CLS); everything logged while an
//!   invocation runs is inside an `invocation` span carrying `request_id`.
//!
//! The loop does not use the `tencent_scf` crate: it panics when the runtime
//! variables are missing and hides the loop we need to own (per-invocation
//! tasks, the error policy above).

pub mod api;
pub mod event;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::Instrument;

use crate::config::{Config, Context, Settings};
use crate::model::budget::TimePlan;
use crate::pipeline::{self, Deps};
use crate::report::RunReport;
pub use api::{Invocation, RuntimeApi};

pub use crate::config::DEFAULT_CODE_ROOT;

/// What start-up produced: a config, or the reason there is none.
#[derive(Debug, Clone)]
pub enum Loaded {
    Ready(Arc<Config>),
    /// The config error, as shown to the operator.
    Broken(Arc<str>),
}

/// The answer to one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Posted to `invocation/response`: the `RunReport` JSON.
    Response(String),
    /// Posted to `invocation/error`: an [`ErrorBody`] JSON.
    Error(String),
}

/// The body of every error answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody<'a> {
    /// `BadEvent` (malformed event, unknown action, names not in the
    /// config), `ConfigError` (the config could not be loaded, or its edges
    /// could not be built), `RunFailed` (the pass could not complete; see
    /// `report`), `Panic`, `Timeout` (the pass overran the time limit).
    pub error_type: &'static str,
    pub error_message: String,
    /// The run report, for `RunFailed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<&'a RunReport>,
}

impl Reply {
    fn error(error_type: &'static str, error_message: impl Into<String>) -> Reply {
        Reply::Error(error_json(&ErrorBody {
            error_type,
            error_message: error_message.into(),
            report: None,
        }))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

fn error_json(body: &ErrorBody<'_>) -> String {
    serde_json::to_string(body).unwrap_or_else(|e| {
        format!(
            r#"{{"errorType":"{}","errorMessage":"cannot encode the error: {e}"}}"#,
            body.error_type
        )
    })
}

/// How an invocation's time limit is spent, as instants: see
/// [`TimePlan`] for the split. The probes are fitted before `probe_deadline`
/// (shortened, or refused loudly: see `model::budget::fit_probes`); every
/// DNS call ends by `dns_deadline`; the alerts get `alert_timeout` per try
/// and end before `answer_deadline`, when an unfinished pass is abandoned
/// and answered with a `Timeout` error rather than killed by SCF silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub probe_deadline: Instant,
    pub dns_deadline: Instant,
    pub answer_deadline: Instant,
    pub alert_timeout: Duration,
}

impl Budget {
    pub fn new(received: Instant, limit: Duration) -> Budget {
        let p = TimePlan::new(limit);
        Budget {
            probe_deadline: received + p.probe_until,
            dns_deadline: received + p.dns_until,
            answer_deadline: received + p.answer_by,
            alert_timeout: p.alert_try,
        }
    }
}

/// Load the config for `serve`; any failure becomes [`Loaded::Broken`].
pub fn load(flag: Option<&Path>) -> Loaded {
    load_with(flag, &Settings::process())
}

/// [`load`] from given settings (tests).
pub fn load_with(flag: Option<&Path>, settings: &Settings) -> Loaded {
    let path = match settings.config_path(flag, Context::Scf, &|p| p.exists()) {
        Ok(p) => p,
        Err(e) => return Loaded::Broken(e.into()),
    };
    match Config::load_with(&path, settings) {
        Ok(cfg) => Loaded::Ready(Arc::new(cfg)),
        Err(e) => Loaded::Broken(format!("bad config: {e}").into()),
    }
}

/// Handle one event: parse, check, run the pass, shape the answer.
/// `budget` is `None` when the platform sent no time limit.
pub async fn handle(loaded: Loaded, body: Vec<u8>, budget: Option<Budget>) -> Reply {
    let cfg = match loaded {
        Loaded::Ready(cfg) => cfg,
        Loaded::Broken(msg) => {
            tracing::error!(error.message = %msg, "no usable config; answering with the config error");
            return Reply::error("ConfigError", msg.to_string());
        }
    };
    let request = match event::parse(&body) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error.message = %e, "bad event");
            return Reply::error("BadEvent", e.0);
        }
    };
    let mut opts = request.options;
    match &request.source {
        event::Source::Timer { trigger, time } => {
            tracing::info!(source = "timer", trigger = %trigger, time = %time, action = opts.action.name(), dry_run = opts.dry_run, force = opts.force, "event")
        }
        event::Source::Manual => {
            tracing::info!(
                source = "manual",
                action = opts.action.name(),
                dry_run = opts.dry_run,
                force = opts.force,
                "event"
            )
        }
    }
    if let Err(e) = pipeline::check_options(&cfg, &opts) {
        tracing::warn!(error.message = %e, "event does not fit the config");
        return Reply::error("BadEvent", e.0);
    }
    // Built per invocation: this re-reads the credentials from the
    // environment. Every DNS call of the pass ends by the budget's DNS
    // deadline, so that the alerts after it still have their time.
    let deps = match Deps::from_config_until(&cfg, budget.map(|b| b.dns_deadline)) {
        Ok(d) => d,
        Err(e) => {
            let msg = format!("{}: {e}", cfg.path.display());
            tracing::error!(error.message = %msg, "cannot set up");
            return Reply::error("ConfigError", msg);
        }
    };
    if let Some(b) = budget {
        opts.deadline = Some(b.probe_deadline);
        opts.dns_deadline = Some(b.dns_deadline);
        opts.alert_timeout = Some(b.alert_timeout);
        opts.answer_by = Some(b.answer_deadline);
    }
    let report = if !cfg.watch.for_.is_zero() && matches!(opts.action, pipeline::Action::Run) {
        watch_invocation(&deps, &cfg, &opts, budget.as_ref()).await
    } else {
        pipeline::run_once(&deps, &cfg, &opts).await
    };
    let json = match serde_json::to_string(&report) {
        Ok(s) => s,
        Err(e) => return Reply::error("RunFailed", format!("cannot encode the report: {e}")),
    };
    if report.ok {
        Reply::Response(json)
    } else {
        Reply::Error(error_json(&ErrorBody {
            error_type: "RunFailed",
            error_message: format!("the pass could not complete: {}", report.errors.join("; ")),
            report: Some(&report),
        }))
    }
}

/// `[watch] for`: passes every `[watch] interval` inside this invocation,
/// ending before its deadline; the answer is the last pass's report (or the
/// last that failed, when one did).
async fn watch_invocation(
    deps: &Deps,
    cfg: &Config,
    opts: &pipeline::RunOptions,
    budget: Option<&Budget>,
) -> crate::report::RunReport {
    let mut until = Instant::now() + cfg.watch.for_;
    if let Some(b) = budget {
        until = until.min(b.probe_deadline);
    }
    let watched = pipeline::watch::watch(
        cfg,
        opts,
        Some(until),
        std::future::pending(),
        |_| Ok(deps.clone()),
        |r| tracing::info!(ok = r.ok, total_ms = r.timings.total_ms, "watch pass"),
    )
    .await;
    match watched {
        Ok(w) => {
            tracing::info!(passes = w.passes, "watch done");
            match w.report {
                Some(r) => r,
                None => pipeline::run_once(deps, cfg, opts).await,
            }
        }
        // Edges are reused within the invocation: building cannot fail here.
        Err(_) => pipeline::run_once(deps, cfg, opts).await,
    }
}

/// Run `work` in its own task, so that a panic becomes an error answer, and
/// abandon it at `answer_by` with a `Timeout` error.
pub async fn supervise<F>(work: F, answer_by: Option<Instant>) -> Reply
where
    F: Future<Output = Reply> + Send + 'static,
{
    let mut task = tokio::spawn(work.in_current_span());
    let joined = match answer_by {
        None => (&mut task).await,
        Some(at) => {
            match tokio::time::timeout_at(tokio::time::Instant::from_std(at), &mut task).await {
                Ok(j) => j,
                Err(_) => {
                    task.abort();
                    let msg = "the pass did not finish within the function's time limit and was abandoned \
                               (every probe, DNS call and alert is bounded by it, so this is a bug or a stalled \
                               process); see the logs of this request id, and docs/deploy.md \"Timeouts\"";
                    tracing::error!(error.message = msg, "timeout");
                    return Reply::error("Timeout", msg);
                }
            }
        }
    };
    match joined {
        Ok(reply) => reply,
        Err(e) if e.is_panic() => {
            let p = e.into_panic();
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            let msg = format!("the invocation panicked: {what}");
            tracing::error!(error.message = %msg, "panic");
            Reply::error("Panic", msg)
        }
        Err(e) => Reply::error("Panic", format!("the invocation task failed: {e}")),
    }
}

/// Consecutive failures of `next` before `serve` gives up (the platform then
/// restarts the instance); between them it waits 100 ms, doubling to 2 s.
const NEXT_ATTEMPTS: u32 = 8;

/// Report ready, then serve events until the runtime API goes away.
pub async fn serve(api: &RuntimeApi, loaded: Loaded) -> Result<(), api::Error> {
    if let Loaded::Broken(msg) = &loaded {
        tracing::error!(error.message = %msg, "no usable config: every invocation will answer with this error until the config is fixed and redeployed");
    }
    api.init_ready().await?;
    tracing::info!(runtime_api = api.base_url(), "init ready");
    let mut failures = 0;
    loop {
        let inv = match api.next().await {
            Ok(inv) => {
                failures = 0;
                inv
            }
            Err(e) => {
                failures += 1;
                tracing::error!(error.message = %e, failures, "cannot get the next event");
                if failures >= NEXT_ATTEMPTS {
                    return Err(e);
                }
                let backoff =
                    Duration::from_millis(100 << (failures - 1).min(4)).min(Duration::from_secs(2));
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        let span = tracing::info_span!("invocation", request_id = %inv.request_id);
        invoke(api, &loaded, inv).instrument(span).await;
    }
}

async fn invoke(api: &RuntimeApi, loaded: &Loaded, inv: Invocation) {
    let budget = inv.time_limit.map(|l| Budget::new(inv.received, l));
    match inv.time_limit {
        Some(l) => tracing::info!(
            time_limit_ms = l.as_millis() as u64,
            bytes = inv.body.len(),
            "invocation received"
        ),
        None => tracing::warn!(
            bytes = inv.body.len(),
            "invocation received without a time_limit_in_ms header; running without a deadline"
        ),
    }
    let reply = supervise(
        handle(loaded.clone(), inv.body, budget),
        budget.map(|b| b.answer_deadline),
    )
    .await;
    let elapsed_ms = inv.received.elapsed().as_millis() as u64;
    let (kind, posted) = match reply {
        Reply::Response(body) => ("response", api.respond(body).await),
        Reply::Error(body) => ("error", api.error(body).await),
    };
    match posted {
        Ok(()) => tracing::info!(answer = kind, elapsed_ms, "invocation done"),
        Err(e) => tracing::error!(answer = kind, error.message = %e, "cannot post the answer"),
    }
}

/// The `serve` subcommand: returns the process exit code (2 when the runtime
/// API is not configured, 1 when it went away). It only returns on those.
pub async fn serve_main(config_flag: Option<&Path>) -> u8 {
    // Panics are logged as JSON lines (inside the invocation's span) rather
    // than as the default hook's plain text; `supervise` answers them.
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(panic = %info, "panicked");
    }));
    let settings = Settings::process();
    let api = match RuntimeApi::from_settings(&settings) {
        Ok(a) => a,
        Err(e) => {
            // One JSON line, like every other line of `serve`.
            tracing::error!(error.message = %e, "cannot start");
            return 2;
        }
    };
    let loaded = load_with(config_flag, &settings);
    if let Loaded::Ready(cfg) = &loaded {
        let targets: usize = cfg.groups.iter().map(|g| g.targets.len()).sum();
        tracing::info!(config = %cfg.path.display(), groups = cfg.groups.len(), targets, provider = cfg.dns.provider.name(), prober = %cfg.prober, "config loaded");
        for w in &cfg.warnings {
            tracing::warn!(warning = %w, "config warning");
        }
    }
    match serve(&api, loaded).await {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error.message = %e, "runtime API unavailable; exiting");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_leaves_room_after_probing() {
        let t0 = Instant::now();
        let b = Budget::new(t0, Duration::from_secs(30));
        assert_eq!(b.probe_deadline - t0, Duration::from_millis(22_500));
        assert_eq!(b.dns_deadline - t0, Duration::from_millis(25_750));
        assert_eq!(b.answer_deadline - t0, Duration::from_millis(29_500));
        assert_eq!(b.alert_timeout, Duration::from_millis(1_775));
        // Long limits: the reserve stops at 15 s.
        let b = Budget::new(t0, Duration::from_secs(300));
        assert_eq!(b.probe_deadline - t0, Duration::from_secs(285));
        assert_eq!(b.alert_timeout, Duration::from_millis(3_650));
        // Short limits: at least 1 s of reserve, but never more than half.
        let b = Budget::new(t0, Duration::from_secs(3));
        assert_eq!(b.probe_deadline - t0, Duration::from_secs(2));
        let b = Budget::new(t0, Duration::from_secs(1));
        assert_eq!(b.probe_deadline - t0, Duration::from_millis(500));
        assert_eq!(b.answer_deadline - t0, Duration::from_millis(950));
    }

    #[test]
    fn config_is_looked_for_in_the_documented_order() {
        use crate::config::{CONFIG_ENV, DEFAULT_CONFIG_FILE};
        let config_path =
            |flag: Option<&Path>, env: &[(&str, &str)], exists: &dyn Fn(&Path) -> bool| {
                Settings::from_map(env.iter().copied()).config_path(flag, Context::Scf, exists)
            };
        let all = |_: &Path| true;
        let none = |_: &Path| false;
        let flag = Path::new("/etc/x.toml");
        assert_eq!(
            config_path(Some(flag), &[(CONFIG_ENV, "/y.toml")], &all).unwrap(),
            flag
        );
        assert_eq!(
            config_path(None, &[(CONFIG_ENV, "/y.toml")], &none).unwrap(),
            Path::new("/y.toml")
        );
        assert_eq!(
            config_path(None, &[], &all).unwrap(),
            Path::new("/var/user/dns-failover.toml")
        );
        assert_eq!(
            config_path(None, &[("USER_CODE_ROOT", "/code")], &all).unwrap(),
            Path::new("/code/dns-failover.toml")
        );
        let only_local = |p: &Path| p == Path::new(DEFAULT_CONFIG_FILE);
        assert_eq!(
            config_path(None, &[], &only_local).unwrap(),
            Path::new(DEFAULT_CONFIG_FILE)
        );
        let e = config_path(None, &[], &none).unwrap_err();
        assert!(
            e.contains("/var/user/dns-failover.toml") && e.contains(CONFIG_ENV),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_panic_becomes_an_error_answer() {
        let reply = supervise(async { panic!("boom {}", 42) }, None).await;
        let Reply::Error(body) = reply else {
            panic!("expected an error")
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["errorType"], "Panic");
        assert_eq!(v["errorMessage"], "the invocation panicked: boom 42");
        // And the next one is served normally.
        let reply = supervise(async { Reply::Response("{}".into()) }, None).await;
        assert_eq!(reply, Reply::Response("{}".into()));
    }

    #[tokio::test]
    async fn an_overrun_is_abandoned_and_answered_as_a_timeout() {
        let t0 = Instant::now();
        let reply = supervise(
            async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Reply::Response("late".into())
            },
            Some(Instant::now() + Duration::from_millis(100)),
        )
        .await;
        assert!(t0.elapsed() < Duration::from_secs(5));
        let Reply::Error(body) = reply else {
            panic!("expected an error")
        };
        assert!(body.contains(r#""errorType":"Timeout""#), "{body}");
    }

    #[tokio::test]
    async fn a_broken_config_answers_every_event_with_its_error() {
        let loaded =
            Loaded::Broken("bad config: x.toml:3: probe.timeout: expected a duration".into());
        for body in [&b"{\"action\":\"run\"}"[..], b"not json"] {
            let Reply::Error(e) = handle(loaded.clone(), body.to_vec(), None).await else {
                panic!("expected an error")
            };
            let v: serde_json::Value = serde_json::from_str(&e).unwrap();
            assert_eq!(v["errorType"], "ConfigError");
            assert_eq!(
                v["errorMessage"],
                "bad config: x.toml:3: probe.timeout: expected a duration"
            );
        }
    }
}
