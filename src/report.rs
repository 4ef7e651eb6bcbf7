//! The run report: everything one pass saw, decided, changed and sent.
//! Returned as JSON to SCF and by `--json`; rendered as text for people by
//! [`RunReport::render_text`]. The library never prints; the CLI does.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::decide::{Event, Severity};
use crate::dns::{Change, Record};
pub use crate::model::record::ChangeStatus;
use crate::notify::Delivery;
use crate::probe::TargetOutcome;

/// A change and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeResult {
    #[serde(flatten)]
    pub change: Change,
    pub status: ChangeStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The record as read back after the write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
    pub elapsed_ms: u64,
}

/// One group's part of the run.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    pub name: String,
    /// `api.example.com A [默认]`
    pub record: String,
    pub mode: crate::config::Mode,
    pub ttl: u32,
    pub targets: Vec<TargetOutcome>,
    /// Records as read before deciding (absent for `probe`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<Vec<Record>>,
    pub events: Vec<Event>,
    pub changes: Vec<ChangeResult>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Change>,
    /// Why this group could not be handled (DNS read failed, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The operator's pause that holds this group's writes, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<crate::model::pause::Pause>,
}

/// Milliseconds spent per stage.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub probe_ms: f64,
    pub dns_read_ms: f64,
    pub decide_ms: f64,
    pub apply_ms: f64,
    pub notify_ms: f64,
    pub total_ms: f64,
}

/// The whole pass.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub version: &'static str,
    /// `run`, `plan`, `probe`, `status`, `drill`, `failback`.
    pub action: String,
    /// True when nothing was written (plan, dry run, drill without apply).
    pub dry_run: bool,
    /// Regions declared down, on drills.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drill: Option<Vec<String>>,
    pub prober: String,
    pub provider: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// The pass completed (also when it failed over). False: exit code 1.
    pub ok: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Highest severity of any event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    pub groups: Vec<GroupReport>,
    pub alerts: Vec<Delivery>,
    pub timings: Timings,
}

impl RunReport {
    /// Process exit code: 0 completed, 1 could not complete.
    pub fn exit_code(&self) -> i32 {
        if self.ok {
            0
        } else {
            1
        }
    }

    /// Changes that were written in this run.
    pub fn applied(&self) -> impl Iterator<Item = &ChangeResult> {
        self.groups
            .iter()
            .flat_map(|g| g.changes.iter())
            .filter(|c| c.status == ChangeStatus::Applied)
    }

    /// A compact text rendering for people.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let what = match (&self.drill, self.dry_run) {
            (Some(r), true) => format!("drill (plan only) with {} declared down", r.join(", ")),
            (Some(r), false) => format!("drill (applied) with {} declared down", r.join(", ")),
            (None, true) if self.action == "run" => "run (dry run)".to_string(),
            _ => self.action.clone(),
        };
        s.push_str(&format!(
            "dns-failover {what}: prober {}, provider {}, {:.0} ms\n",
            self.prober, self.provider, self.timings.total_ms
        ));
        for g in &self.groups {
            s.push_str(&format!(
                "\ngroup {} — {} ({:?}, ttl {})\n",
                g.name, g.record, g.mode, g.ttl
            ));
            if let Some(p) = &g.paused {
                s.push_str(&format!(
                    "  PAUSED since {} by {}{}{}: probed and reported, never written\n",
                    p.since.format("%Y-%m-%d %H:%M:%SZ"),
                    p.by,
                    p.until
                        .map(|u| format!(" until {}", u.format("%Y-%m-%d %H:%M:%SZ")))
                        .unwrap_or_default(),
                    if p.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", p.reason)
                    }
                ));
            }
            if !g.targets.is_empty() {
                s.push_str(&format!(
                    "  {:<16} {:<9} {:<40} {}\n",
                    "REGION", "HEALTH", "VALUE", "EVIDENCE"
                ));
                for t in &g.targets {
                    s.push_str(&format!(
                        "  {:<16} {:<9} {:<40} {}\n",
                        t.region,
                        t.health.as_str(),
                        t.value,
                        t.summary()
                    ));
                }
            }
            if let Some(recs) = &g.records {
                if recs.is_empty() {
                    s.push_str("  records: none yet\n");
                }
                for r in recs {
                    s.push_str(&format!(
                        "  record {:<10} {:<40} {:<8} ttl {:<6} {}{}\n",
                        r.id,
                        r.value,
                        if r.enabled { "ENABLE" } else { "DISABLE" },
                        r.ttl,
                        r.updated_on
                            .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
                            .unwrap_or_default(),
                        if r.remark.is_empty() {
                            String::new()
                        } else {
                            format!("  \"{}\"", r.remark)
                        }
                    ));
                }
            }
            for e in &g.events {
                s.push_str(&format!(
                    "  {:<8} {}: {}\n",
                    e.severity.as_str().to_uppercase(),
                    e.kind.as_str(),
                    e.message
                ));
            }
            for c in &g.changes {
                s.push_str(&format!(
                    "  change [{}] {}",
                    c.status.as_str(),
                    c.change.summary()
                ));
                if let Some(e) = &c.error {
                    s.push_str(&format!(": {e}"));
                }
                s.push('\n');
            }
            for c in &g.refused {
                s.push_str(&format!("  change [refused] {}\n", c.summary()));
            }
            if g.changes.is_empty()
                && g.refused.is_empty()
                && g.records.is_some()
                && g.error.is_none()
            {
                s.push_str("  no change\n");
            }
            if let Some(e) = &g.error {
                s.push_str(&format!("  ERROR {e}\n"));
            }
        }
        for a in &self.alerts {
            if a.filtered {
                continue;
            }
            s.push_str(&format!(
                "alert {} ({}): {}\n",
                a.name,
                a.channel,
                if a.ok {
                    "sent".to_string()
                } else {
                    format!("FAILED: {}", a.error.as_deref().unwrap_or(""))
                }
            ));
        }
        for e in &self.errors {
            s.push_str(&format!("error: {e}\n"));
        }
        s
    }
}
