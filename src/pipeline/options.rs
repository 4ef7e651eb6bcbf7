//! What a pass is asked to do: the action, its options, and the checks of
//! what a drill or a failback names.

use std::time::{Duration, Instant};

use crate::config::Config;

/// What a pass does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Probe, decide, apply, notify.
    Run,
    /// Probe and decide; write nothing, send nothing.
    Plan,
    /// Probe only.
    Probe,
    /// Probe and read the records.
    Status,
    /// Treat `fail` as down; plan, or apply with `apply`.
    Drill { fail: Vec<String>, apply: bool },
    /// Put `region` of `group` back (manual failback).
    Failback { group: String, region: String },
    /// Hold `group`'s writes, for `until_after` (else until `Resume`),
    /// saying why.
    Pause {
        group: String,
        until_after: Option<Duration>,
        reason: String,
    },
    /// Hand a paused `group` back; its plan is applied in the same pass.
    Resume { group: String },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Run => "run",
            Action::Plan => "plan",
            Action::Probe => "probe",
            Action::Status => "status",
            Action::Drill { .. } => "drill",
            Action::Failback { .. } => "failback",
            Action::Pause { .. } => "pause",
            Action::Resume { .. } => "resume",
        }
    }
    /// Whether the pass writes DNS and sends alerts.
    pub fn writes(&self, dry_run: bool) -> bool {
        match self {
            // Pause and resume write their pause record, never a group's.
            Action::Run
            | Action::Failback { .. }
            | Action::Pause { .. }
            | Action::Resume { .. } => !dry_run,
            Action::Drill { apply, .. } => *apply && !dry_run,
            Action::Plan | Action::Probe | Action::Status => false,
        }
    }
}

/// Options of one pass.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub action: Action,
    /// Decide but write nothing and send nothing.
    pub dry_run: bool,
    /// Go past `max_changes` (and failback of a degraded target).
    pub force: bool,
    /// Stop starting probes so the pass can finish before this instant.
    pub deadline: Option<Instant>,
    /// Every DNS call ends by this instant (under SCF: the part of the
    /// invocation left for DNS); the check at the authoritative servers
    /// (`[dns] verify`) stops waiting then too.
    pub dns_deadline: Option<Instant>,
    /// Upper bound on every alert channel's own timeout (per try).
    pub alert_timeout: Option<Duration>,
    /// The answer is due at this instant: alerts are sent so that both
    /// tries of every channel end before it.
    pub answer_by: Option<Instant>,
    /// Said in the report (e.g. why a console test event became a plan).
    pub notes: Vec<String>,
}

impl RunOptions {
    pub fn new(action: Action) -> Self {
        RunOptions {
            action,
            dry_run: false,
            force: false,
            deadline: None,
            dns_deadline: None,
            alert_timeout: None,
            answer_by: None,
            notes: vec![],
        }
    }
}

/// A usage error found before anything runs (exit code 2): an unknown
/// region or group named by a drill or a failback.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Check what a drill or a failback names against the config.
pub fn check_options(cfg: &Config, opts: &RunOptions) -> Result<(), UsageError> {
    usage(cfg, opts).map_err(UsageError)
}

fn usage(cfg: &Config, opts: &RunOptions) -> Result<(), String> {
    match &opts.action {
        Action::Drill { fail, .. } => {
            if fail.is_empty() {
                return Err("drill needs at least one --fail REGION".into());
            }
            for r in fail {
                if !cfg.groups.iter().any(|g| g.target(r).is_some()) {
                    return Err(format!(
                        "--fail {r:?}: no group has a target in that region (known: {})",
                        regions(cfg).join(", ")
                    ));
                }
            }
        }
        Action::Pause {
            group,
            until_after,
            reason,
        } => {
            find_group(cfg, group)?;
            if until_after.is_some_and(|d| d.is_zero() || d > MAX_PAUSE) {
                return Err(
                    "--for: a pause lasts more than 0 s and at most 30 days (without --for it lasts until `resume`)".into(),
                );
            }
            if reason.len() > MAX_REASON || reason.chars().any(char::is_control) {
                return Err(format!(
                    "--reason: at most {MAX_REASON} bytes on one line (it is kept in a DNS remark)"
                ));
            }
        }
        Action::Resume { group } => {
            find_group(cfg, group)?;
        }
        Action::Failback { group, region } => {
            let g = find_group(cfg, group)?;
            if g.target(region).is_none() {
                let rs: Vec<&str> = g.targets.iter().map(|t| t.region.as_str()).collect();
                return Err(format!(
                    "--region {region:?}: not a target of group {group:?} (its regions: {})",
                    rs.join(", ")
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Longest pause `--for` takes: 30 days.
pub const MAX_PAUSE: Duration = Duration::from_secs(30 * 86_400);

/// Longest `--reason`, in bytes (the pause record's remark holds it).
pub const MAX_REASON: usize = 80;

fn find_group<'a>(cfg: &'a Config, group: &str) -> Result<&'a crate::config::Group, String> {
    cfg.groups.iter().find(|g| g.name == group).ok_or_else(|| {
        let names: Vec<&str> = cfg.groups.iter().map(|g| g.name.as_str()).collect();
        format!(
            "--group {group:?}: no such group (known: {})",
            names.join(", ")
        )
    })
}

fn regions(cfg: &Config) -> Vec<String> {
    let mut v: Vec<String> = cfg
        .groups
        .iter()
        .flat_map(|g| g.targets.iter().map(|t| t.region.clone()))
        .collect();
    v.sort();
    v.dedup();
    v
}
