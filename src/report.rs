//! The run report: everything one pass saw, decided, changed and sent.
//! Returned as JSON to SCF and by `--json`; rendered as text for people by
//! [`RunReport::render_text`]. The library never prints; the CLI does.
//! The report side also builds the run's [`Alert`] ([`RunReport::alert`]):
//! notify reads alerts, never reports.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::event::{Event, EventKind, Severity};
use crate::model::health::TargetOutcome;
pub use crate::model::record::ChangeStatus;
use crate::model::record::{Change, Record};
use crate::notify::repeat::Pending;
pub use crate::notify::Outcome;
use crate::notify::{self, Alert, AlertEvent, ChangeNote, Delivery, RegionEvidence};

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
    pub mode: crate::model::target::Mode,
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
    /// `[consensus]`: the votes, the verdict and who writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consensus: Option<crate::model::consensus::ConsensusReport>,
    /// The operator's pause that holds this group's writes, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<crate::model::pause::Pause>,
    /// `[dns] verify`: what the zone's authoritative servers served after
    /// this group's writes (`run`), or now (`status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<crate::model::verify::Verification>,
}

/// Milliseconds spent per stage.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub probe_ms: f64,
    pub dns_read_ms: f64,
    pub decide_ms: f64,
    pub apply_ms: f64,
    /// Waiting for the authoritative servers after the writes (`[dns]
    /// verify`), or asking them (`status`).
    pub verify_ms: f64,
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
    /// How the probes were fitted into the invocation's time (under SCF):
    /// `shortened` and `refused` say whether they ran as configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_budget: Option<crate::model::budget::ProbeFit>,
    /// Notes for the reader: a shortened probe plan, a console test event
    /// answered with a plan.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub alerts: Vec<Delivery>,
    /// Transitions that no channel has delivered yet: kept in the groups'
    /// state records and sent again, marked late, on every run until one
    /// channel has them (`run`: after this run's sends; `status`: as kept).
    pub alerts_undelivered: Vec<Pending>,
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

    /// The run's alert: every alerting event ([`notify::alerts_on`]), with
    /// the evidence of its regions and the changes of its group; times shown
    /// in `timezone` beside UTC. `None` when nothing alert-worthy happened.
    pub fn alert(&self, timezone: &str) -> Option<Alert> {
        let report = self;
        let mut events = Vec::new();
        for g in &report.groups {
            for e in g
                .events
                .iter()
                .filter(|e| notify::alerts_on(e.kind, e.severity))
            {
                let evidence = g
                    .targets
                    .iter()
                    .filter(|t| e.regions.contains(&t.region))
                    .map(|t| RegionEvidence {
                        region: t.region.clone(),
                        endpoint: t.endpoint.clone(),
                        health: t.health,
                        attempts: t.attempts.clone(),
                    })
                    .collect();
                let changes: Vec<ChangeNote> = g
                    .changes
                    .iter()
                    .filter(|c| e.regions.contains(&c.change.region))
                    .filter(|c| c.change.moves_traffic())
                    .map(|c| ChangeNote {
                        summary: c.change.summary(),
                        status: c.status,
                        ttl: c.record.as_ref().map(|r| r.ttl),
                        error: c.error.clone(),
                    })
                    .collect();
                let servers = servers_of(g, e, !changes.is_empty());
                events.push(AlertEvent {
                    event: e.clone(),
                    record: g.record.clone(),
                    evidence,
                    changes,
                    standing: None,
                    late: None,
                    servers,
                });
            }
        }
        if events.is_empty() {
            return None;
        }
        let severity = events
            .iter()
            .map(|e| e.event.severity)
            .max()
            .unwrap_or(Severity::Info);
        let drill = report.drill.is_some();
        let title = notify::title_of(&events, drill);
        Some(Alert {
            severity,
            title,
            drill,
            test: false,
            prober: report.prober.clone(),
            at: report.started_at,
            timezone: timezone.to_string(),
            events,
        })
    }

    /// A compact text rendering for people.
    pub fn render_text(&self) -> String {
        self.render_text_with(false)
    }

    /// [`RunReport::render_text`]; with `phases`, each target row is
    /// followed by one line per attempt with where its time went
    /// (`--phases`): `#1 ok 200 in 14ms: resolve 0.2ms, connect 0.3ms, ...`.
    pub fn render_text_with(&self, phases: bool) -> String {
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
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
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
                    if phases {
                        for (i, a) in t.attempts.iter().enumerate() {
                            let p = a.phases.as_ref().map(|p| p.short()).unwrap_or_default();
                            s.push_str(&format!(
                                "    #{} {}{}\n",
                                i + 1,
                                a.short(),
                                if p.is_empty() {
                                    String::new()
                                } else {
                                    format!(": {p}")
                                }
                            ));
                        }
                    }
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
            if let Some(c) = &g.consensus {
                s.push_str(&format!(
                    "  consensus (quorum {}): {}\n",
                    c.quorum,
                    match (&c.writer, c.writes) {
                        (Some(w), true) => format!("this prober ({w}) writes"),
                        (Some(w), false) => format!("{w} writes; this prober confirms"),
                        (None, _) => "no fresh vote: nobody writes".to_string(),
                    }
                ));
                for v in &c.votes {
                    let states: Vec<&str> = v.targets.iter().map(|h| h.as_str()).collect();
                    s.push_str(&format!(
                        "    vote {:<16} {:<9} {}\n",
                        v.prober,
                        if v.counted {
                            "counted"
                        } else if v.targets.is_empty() {
                            "none"
                        } else {
                            "stale"
                        },
                        states.join(" ")
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
            if let Some(v) = &g.verify {
                render_verification(&mut s, v);
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
                match a.delivery {
                    Outcome::Unknown => format!(
                        "sent, delivery unknown: {}",
                        a.error.as_deref().unwrap_or("")
                    ),
                    _ if a.ok => "sent".to_string(),
                    _ => format!("FAILED: {}", a.error.as_deref().unwrap_or("")),
                }
            ));
            for n in &a.notes {
                s.push_str(&format!("  note: {n}\n"));
            }
        }
        for p in &self.alerts_undelivered {
            s.push_str(&format!(
                "alert undelivered: {} {} of {} at {}; sent again on the next run\n",
                p.group,
                p.kind.as_str(),
                p.regions.join(", "),
                p.at.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        for e in &self.errors {
            s.push_str(&format!("error: {e}\n"));
        }
        s
    }
}

/// The servers' answers after the group's writes, for an alert event:
/// with the `not_visible` warning when there is one, else with the events
/// whose changes were checked (a failover's alert then gives each server's
/// time to write and to visible).
fn servers_of(
    g: &GroupReport,
    e: &Event,
    with_changes: bool,
) -> Vec<crate::model::verify::ServerCheck> {
    let Some(v) = g.verify.as_ref().filter(|v| !v.servers.is_empty()) else {
        return vec![];
    };
    let warned = g.events.iter().any(|x| x.kind == EventKind::NotVisible);
    match e.kind {
        EventKind::NotVisible => v.servers.clone(),
        _ if with_changes && !warned => v.servers.clone(),
        _ => vec![],
    }
}

/// A group's check at the authoritative servers, for people: what was
/// asked, then one line per server.
fn render_verification(s: &mut String, v: &crate::model::verify::Verification) {
    let expected = if v.expected.is_empty() {
        "nothing".to_string()
    } else {
        v.expected.join(" ")
    };
    s.push_str(&format!(
        "  authoritative servers, {} (records: {expected}):\n",
        v.question
    ));
    if let Some(n) = &v.note {
        s.push_str(&format!("    note: {n}\n"));
    }
    for c in &v.servers {
        s.push_str(&format!("    {}\n", c.line()));
    }
}
