//! The `dns-failover` command: a thin layer over the library. It parses the
//! command line, loads the config, runs one pass through
//! `pipeline::run_once`, prints the report and picks the exit code:
//! 0 the pass completed (also when it failed over), 1 it could not complete,
//! 2 bad usage or configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dns_failover::config::{config_path, Config};
use dns_failover::pipeline::{self, Action, Deps, RunOptions};
use dns_failover::telemetry;

#[derive(Parser, Debug)]
#[command(
    name = "dns-failover",
    version,
    about = "Probe regional endpoints, fail DNS over and back, alert the people on call.",
    long_about = "Probe every region's API-gateway endpoint, decide which records should serve, \
apply the change to DNS (DNSPod or a local file zone), alert, and report.\n\n\
Exit codes: 0 the pass completed (also when it failed over); 1 it could not complete \
(e.g. the DNS backend failed); 2 bad usage or configuration.\n\
Logs go to stderr (filter with RUST_LOG, default warn); the report goes to stdout."
)]
struct Cli {
    /// Config file [default: $DNS_FAILOVER_CONFIG, else ./dns-failover.toml]
    #[arg(short = 'c', long = "config", global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the run report as JSON on stdout instead of text
    #[arg(long, global = true)]
    json: bool,
    /// In the text report, a line per probe attempt with its phases
    /// (resolve, connect, tls, ttfb, body); `--json` always has them
    #[arg(long, global = true)]
    phases: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check the config file and exit (no network call unless --online)
    Validate {
        /// Also check what needs the DNS provider's API: every group's line
        /// is one of the domain's lines (DNSPod DescribeDomain +
        /// DescribeRecordLineList; reads the credentials)
        #[arg(long)]
        online: bool,
        /// The function's timeout under SCF (e.g. 30s): refuse a probe plan
        /// whose worst case does not fit what `serve` leaves for probing.
        /// With --deploy and without this flag, serverless.yml's
        /// `inputs.timeout` is used when ./serverless.yml has one
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        function_timeout: Option<std::time::Duration>,
        /// Check the config is fit to deploy: no placeholder domain or
        /// target from the example, a DNS provider that works under SCF,
        /// an alert channel that pages someone (function/build.sh runs this)
        #[arg(long)]
        deploy: bool,
    },
    /// Probe every target and print a table (no DNS access)
    Probe,
    /// Show what a run would change; writes nothing, sends nothing
    Plan {
        /// Plan past max_changes
        #[arg(long)]
        force: bool,
    },
    /// One pass: probe, decide, apply, notify, report
    Run {
        /// Decide and report, but write nothing and send no alert
        #[arg(long)]
        dry_run: bool,
        /// Apply even if the plan changes more than max_changes records
        #[arg(long)]
        force: bool,
    },
    /// Show each group's records and its targets' health
    Status,
    /// Treat regions as down and show the plan; --apply carries it out
    Drill {
        /// Region to treat as down (repeat or comma-separate for several)
        #[arg(long = "fail", value_name = "REGION", required = true, num_args = 1.., value_delimiter = ',')]
        fail: Vec<String>,
        /// Apply the drill's plan to DNS and send its alerts (marked [DRILL])
        #[arg(long)]
        apply: bool,
        /// Apply even if the plan changes more than max_changes records
        #[arg(long)]
        force: bool,
    },
    /// Put a recovered region back into a group (manual failback)
    Failback {
        /// Group name, as in [[group]] name
        #[arg(long, value_name = "GROUP")]
        group: String,
        /// Region to put back
        #[arg(long, value_name = "REGION")]
        region: String,
        /// Show the plan only
        #[arg(long)]
        dry_run: bool,
        /// Put back even if not every probe attempt succeeded
        #[arg(long)]
        force: bool,
    },
    /// Hold a group's writes: still probed and reported, never written by any
    /// prober until `resume` or the end of --for (kept in DNS)
    Pause {
        /// Group name, as in [[group]] name
        #[arg(long, value_name = "GROUP")]
        group: String,
        /// How long, e.g. 2h or 30m (at most 30 days); without it, until `resume`
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_pause)]
        for_: Option<std::time::Duration>,
        /// Why, shown in alerts and reports (at most 80 bytes)
        #[arg(long, default_value = "")]
        reason: String,
        /// Show what would be held only
        #[arg(long)]
        dry_run: bool,
    },
    /// Hand a paused group back to the probers
    Resume {
        /// Group name, as in [[group]] name
        #[arg(long, value_name = "GROUP")]
        group: String,
        /// Show the plan only
        #[arg(long)]
        dry_run: bool,
    },
    /// Run the whole pipeline on this machine: local endpoints, a file zone, console alerts
    Demo,
    /// Send a test alert (marked TEST) to every [[alert]] channel; exit 1 if any failed
    NotifyTest,
    /// Run a pass every [watch] interval until stopped (SIGTERM or Ctrl-C end it after the current pass)
    Watch {
        /// Decide and report, but write nothing and send no alert
        #[arg(long)]
        dry_run: bool,
    },
    /// The SCF custom-runtime loop (started by function/bootstrap; logs JSON lines)
    Serve,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve => telemetry::init(telemetry::Format::Json, "info"),
        _ => telemetry::init(telemetry::Format::Text, "warn"),
    }
    // Each in-flight probe holds a socket; many shells start with a soft
    // limit of 1024 open files and a much higher hard one. Raising the soft
    // limit is harmless; probes cap their concurrency to whatever it is.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::debug!(error = %e, "cannot raise the open-file limit");
    }
    let mut b = tokio::runtime::Builder::new_multi_thread();
    // Poll newly started probes sooner (tokio's default checks the shared
    // queue every 61 polls): with thousands of probes in flight this held
    // peak RSS of a 10,000-target run at 53-88 MB instead of ~160 MB
    // (docs/performance.md).
    b.global_queue_interval(8);
    let rt = match b.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // The command runs as a task on a worker thread, not on this thread's
    // `block_on`: the probes it spawns then start on the worker's own queue
    // instead of the shared one, which saves a cross-thread wake-up per
    // probe (10,000 targets: 0.03 s of wall, 0.05 s of system time and
    // 4-6 MB of peak RSS; docs/performance.md).
    // A panic in the task: the panic hook has printed it; exit as a panic
    // does.
    let code = rt.block_on(async { tokio::spawn(real_main(cli)).await.unwrap_or(101) });
    ExitCode::from(code)
}

async fn real_main(cli: Cli) -> u8 {
    if let Command::Serve = cli.command {
        return dns_failover::runtime::serve_main(cli.config.as_deref()).await;
    }
    if let Command::Demo = cli.command {
        return match dns_failover::demo::run(cli.json).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: demo failed: {e:#}");
                1
            }
        };
    }
    let path = config_path(cli.config.as_deref());
    let cfg = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    for w in &cfg.warnings {
        match cli.command {
            // The online check decides about lines itself, where the
            // provider lists them.
            Command::Validate { online: true, .. }
                if w.key.ends_with(".line")
                    && matches!(cfg.dns.provider.name(), "dnspod" | "alidns") => {}
            Command::Validate { .. } => eprintln!("warning: {w}"),
            _ => tracing::warn!(warning = %w, "config warning"),
        }
    }
    let action = match cli.command {
        Command::Validate {
            online,
            function_timeout,
            deploy,
        } => {
            if let Err(code) = validate_deployment(&cfg, function_timeout, deploy) {
                return code;
            }
            if online {
                if let Err(code) = validate_online(&cfg).await {
                    return code;
                }
            }
            let targets: usize = cfg.groups.iter().map(|g| g.targets.len()).sum();
            println!(
                "{}: OK ({} group(s), {} target(s), provider {}, {} alert channel(s))",
                path.display(),
                cfg.groups.len(),
                targets,
                cfg.dns.provider.name(),
                cfg.alerts.len()
            );
            return 0;
        }
        Command::Demo | Command::Serve => unreachable!("handled above"),
        Command::NotifyTest => return notify_test(&cfg, cli.json).await,
        Command::Watch { dry_run } => return watch(&cfg, cli.json, dry_run).await,
        Command::Probe => RunOptions::new(Action::Probe),
        Command::Status => RunOptions::new(Action::Status),
        Command::Plan { force } => RunOptions {
            force,
            ..RunOptions::new(Action::Plan)
        },
        Command::Run { dry_run, force } => RunOptions {
            dry_run,
            force,
            ..RunOptions::new(Action::Run)
        },
        Command::Drill { fail, apply, force } => RunOptions {
            force,
            ..RunOptions::new(Action::Drill { fail, apply })
        },
        Command::Failback {
            group,
            region,
            dry_run,
            force,
        } => RunOptions {
            dry_run,
            force,
            ..RunOptions::new(Action::Failback { group, region })
        },
        Command::Pause {
            group,
            for_,
            reason,
            dry_run,
        } => RunOptions {
            dry_run,
            ..RunOptions::new(Action::Pause {
                group,
                until_after: for_,
                reason,
            })
        },
        Command::Resume { group, dry_run } => RunOptions {
            dry_run,
            ..RunOptions::new(Action::Resume { group })
        },
    };
    if let Err(e) = pipeline::check_options(&cfg, &action) {
        eprintln!("error: {e}");
        return 2;
    }
    let deps = match Deps::from_config(&cfg) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return 2;
        }
    };
    let report = pipeline::run_once(&deps, &cfg, &action).await;
    if cli.json {
        // Streamed: a 10,000-target report is megabytes; no need to hold
        // it twice.
        if let Err(e) = write_json(&report) {
            eprintln!("error: cannot write the report: {e}");
            return 1;
        }
    } else {
        print!("{}", report.render_text_with(cli.phases));
    }
    report.exit_code() as u8
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("{e}; expected e.g. 30s"))
}

/// `validate --function-timeout` and `--deploy` (exit 2 when the config
/// does not fit where it is deployed).
fn validate_deployment(
    cfg: &Config,
    function_timeout: Option<std::time::Duration>,
    deploy: bool,
) -> Result<(), u8> {
    use dns_failover::config::deploy as check;
    let mut problems = Vec::new();
    let timeout = match function_timeout {
        Some(t) => Some((t, "--function-timeout".to_string())),
        None if deploy => std::fs::read_to_string("serverless.yml")
            .ok()
            .and_then(|y| check::serverless_timeout(&y))
            .map(|t| (t, "serverless.yml inputs.timeout".to_string())),
        None => None,
    };
    if let Some((t, from)) = &timeout {
        for p in check::check_time(cfg, *t) {
            problems.push(format!("{p} (function timeout from {from})"));
        }
    }
    if deploy {
        problems.extend(check::check_deploy(cfg).iter().map(|p| p.to_string()));
    }
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        eprintln!("error: {}: {p}", cfg.path.display());
    }
    if deploy {
        eprintln!("(function/build.sh --allow-placeholders packages it anyway, e.g. for a trial)");
    }
    Err(2)
}

/// `validate --online`: on DNSPod, the group lines against the domain's
/// (exit 2 for an unknown line, 1 when the API cannot be asked); on the
/// other providers, every group's name read as a run reads it.
async fn validate_online(cfg: &Config) -> Result<(), u8> {
    use dns_failover::online;
    let client = match online::dnspod_client(cfg) {
        None => return validate_reads(cfg).await,
        Some(Err(e)) => {
            eprintln!("error: {}: {e}", cfg.path.display());
            return Err(2);
        }
        Some(Ok(c)) => c,
    };
    let known = match online::domain_lines(&client, &cfg.dns.domain).await {
        Ok(k) => k,
        Err(e) => {
            eprintln!(
                "error: cannot read the lines of {} from DNSPod: {e}",
                cfg.dns.domain
            );
            return Err(1);
        }
    };
    let errors = online::unknown_lines(cfg, &known);
    for e in &errors {
        eprintln!("error: {e}");
    }
    if !errors.is_empty() {
        return Err(2);
    }
    // The plan's limits: warnings only, and a plan that cannot be read
    // does not fail the check the lines passed.
    match online::plan_limits(&client, &known).await {
        Ok(limits) => {
            for w in online::limit_warnings(cfg, &limits) {
                eprintln!("warning: {w}");
            }
        }
        Err(e) => eprintln!(
            "warning: cannot read the limits of plan {} (DescribePackageDetail): {e}",
            known.grade
        ),
    }
    println!(
        "{}: every group's line is a line of {} (plan {}, {} lines)",
        cfg.path.display(),
        known.domain,
        known.grade,
        known.names.len()
    );
    Ok(())
}

/// `validate --online` for a provider without DNSPod's line and plan API
/// (alidns, rfc2136, file): the groups' lines against the ones the provider
/// lists (Alidns), then every group's name read through the provider, as a
/// run does first. Exit 2 when the provider cannot be built (a credential
/// variable missing) or a line is not offered, 1 when a read fails.
async fn validate_reads(cfg: &Config) -> Result<(), u8> {
    use dns_failover::clock::{Clock, SystemClock};
    use dns_failover::online;
    let provider = cfg.dns.provider.name();
    let clock: std::sync::Arc<dyn Clock> = std::sync::Arc::new(SystemClock);
    let dns = match pipeline::dns_provider(cfg, &clock, None) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {}: {e}", cfg.path.display());
            return Err(2);
        }
    };
    match dns.lines(&cfg.dns.domain).await {
        Ok(Some(offered)) => {
            let errors = online::lines_not_offered(cfg, provider, &offered);
            for e in &errors {
                eprintln!("error: {e}");
            }
            if !errors.is_empty() {
                return Err(2);
            }
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!(
                "error: cannot read the lines of {} from {provider}: {e}",
                cfg.dns.domain
            );
            return Err(1);
        }
    }
    let reads = online::read_groups(dns.as_ref(), &cfg.groups).await;
    let mut failed = 0;
    for r in &reads {
        if r.records.is_err() {
            failed += 1;
            eprintln!("error: {}", r.line());
        } else {
            println!("{}", r.line());
        }
    }
    if failed > 0 {
        eprintln!(
            "error: {}: {failed} of {} group name(s) could not be read through {provider}",
            cfg.path.display(),
            reads.len()
        );
        return Err(1);
    }
    println!(
        "{}: every group's records were read through {provider} ({} name(s))",
        cfg.path.display(),
        reads.len()
    );
    Ok(())
}

/// `--for 2h`: a duration as the config writes them.
fn parse_pause(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("{e}; expected e.g. \"2h\", \"30m\""))
}

/// Pretty JSON and a newline on stdout, through one buffer.
fn write_json<T: serde::Serialize>(value: &T) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// `watch`: passes every `[watch] interval` until SIGTERM or Ctrl-C, one
/// line per pass (one JSON report per line with `--json`). Exit 0 when
/// stopped, 1 when a pass could not complete, 2 when the edges cannot be
/// built.
async fn watch(cfg: &Config, json: bool, dry_run: bool) -> u8 {
    use std::io::Write;
    let opts = RunOptions {
        dry_run,
        ..RunOptions::new(Action::Run)
    };
    let stop = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("stop asked; ending after the current pass");
    };
    let on_pass = |r: &dns_failover::RunReport| {
        let mut out = std::io::stdout().lock();
        let _ = if json {
            serde_json::to_writer(&mut out, r)
                .map_err(std::io::Error::other)
                .and_then(|()| out.write_all(b"\n"))
        } else {
            let applied: Vec<String> = r
                .groups
                .iter()
                .flat_map(|g| g.changes.iter())
                .filter(|c| c.status == dns_failover::report::ChangeStatus::Applied)
                .map(|c| c.change.summary())
                .collect();
            let events: Vec<String> = r
                .groups
                .iter()
                .flat_map(|g| {
                    g.events
                        .iter()
                        .map(|e| format!("{} {}", g.name, e.kind.as_str()))
                })
                .collect();
            writeln!(
                out,
                "{} {} {} ms; applied: {}; events: {}",
                r.started_at.format("%H:%M:%S%.3f"),
                if r.ok { "ok" } else { "FAILED" },
                r.timings.total_ms,
                if applied.is_empty() {
                    "none".into()
                } else {
                    applied.join("; ")
                },
                if events.is_empty() {
                    "none".into()
                } else {
                    events.join(", ")
                },
            )
        };
        let _ = out.flush();
    };
    match pipeline::watch::watch(cfg, &opts, None, stop, Deps::from_config, on_pass).await {
        Ok(w) if w.report.as_ref().is_none_or(|r| r.ok) => 0,
        Ok(_) => 1,
        Err(e) => {
            eprintln!("error: {}: {e}", cfg.path.display());
            2
        }
    }
}

/// `notify-test`: one test alert per channel, ignoring their filters.
async fn notify_test(cfg: &Config, json: bool) -> u8 {
    if cfg.alerts.is_empty() {
        eprintln!("error: no [[alert]] channel is configured");
        return 2;
    }
    let deliveries = match pipeline::notify_test(cfg).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if json {
        if let Err(e) = write_json(&deliveries) {
            eprintln!("error: cannot write the results: {e}");
        }
    } else {
        for d in &deliveries {
            match (&d.error, d.delivery) {
                (None, _) => println!("{} ({}): ok in {} ms", d.name, d.channel, d.elapsed_ms),
                (Some(e), dns_failover::report::Outcome::Unknown) => println!(
                    "{} ({}): sent, delivery unknown after {} ms: {e}",
                    d.name, d.channel, d.elapsed_ms
                ),
                (Some(e), _) => println!(
                    "{} ({}): FAILED after {} attempt(s), {} ms: {e}",
                    d.name, d.channel, d.attempts, d.elapsed_ms
                ),
            }
            for n in &d.notes {
                println!("  note: {n}");
            }
        }
    }
    if deliveries.iter().all(|d| d.ok) {
        0
    } else {
        1
    }
}
