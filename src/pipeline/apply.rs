//! Apply: the planned changes of each group, in order, each a checked
//! write (see [`crate::dns::apply_change`]); then the group read once more
//! so that a name left with no enabled record gets one back at once; with
//! `[dns] verify`, the group's check at the authoritative servers starts
//! as soon as its writes are confirmed (`pipeline/verify.rs`).

use std::time::Instant;

use crate::config::{Group, Mode};
use crate::decide;
use crate::dns::{self, ChangeOp, Record};
use crate::model::event::{Event, EventKind, Severity};
use crate::report::{ChangeResult, ChangeStatus, GroupReport};

use super::verify::Verifier;
use super::Deps;

/// Apply every group's changes. The first failure in a group stops that
/// group's remaining changes: the plan's safety (never empty a group)
/// assumed all of them; the next run re-plans from what is there. Then the
/// group is read once more: if its name was left with no enabled record
/// (probers or people acting at the same moment), a record goes back at
/// once (see [`decide::rescue_empty`]).
pub(super) async fn apply_all(
    deps: &Deps,
    groups: &[Group],
    plans: &mut [GroupReport],
    now: chrono::DateTime<chrono::Utc>,
    dopts: &decide::Options,
    errors: &mut Vec<String>,
    verifier: Option<&std::sync::Mutex<Verifier>>,
) {
    for report in plans {
        // Under consensus only the writer applies; the others confirm.
        if report.consensus.as_ref().is_some_and(|c| !c.writes) {
            continue;
        }
        let started = Instant::now();
        let mut failed = false;
        let mut extra_events = Vec::new();
        for c in &mut report.changes {
            if failed {
                c.status = ChangeStatus::Skipped;
                c.error = Some("not attempted: an earlier change of this group failed".into());
                continue;
            }
            failed = !apply_one(deps, c, &mut extra_events, errors).await;
        }
        report.events.extend(extra_events);
        let Some(g) = groups.iter().find(|g| g.name == report.name) else {
            continue;
        };
        // The last write's read-back: the time to write ends here, unless
        // the check below puts a record back.
        let mut confirmed = Instant::now();
        let planned = report.changes.len();
        check_not_empty(deps, g, report, now, dopts, errors).await;
        if report.changes.len() > planned {
            confirmed = Instant::now();
        }
        if let Some(v) = verifier {
            // Starts a task; the lock is held for no await.
            let mut v = v.lock().unwrap_or_else(|e| e.into_inner());
            v.written(g, report, started, confirmed);
        }
    }
}

/// Apply one planned change and record its outcome; false when it failed
/// (a conflict included), which stops the group's later changes.
async fn apply_one(
    deps: &Deps,
    c: &mut ChangeResult,
    events: &mut Vec<Event>,
    errors: &mut Vec<String>,
) -> bool {
    let t = Instant::now();
    let result = dns::apply_change(deps.dns.as_ref(), &c.change).await;
    c.elapsed_ms = t.elapsed().as_millis() as u64;
    match result {
        Ok(dns::Applied::Done { record }) => {
            tracing::info!(group = %c.change.group, change = %c.change.summary(), "applied");
            c.status = ChangeStatus::Applied;
            if let Some(ev) = ttl_event(&c.change, &record) {
                events.push(ev);
            }
            c.record = Some(record);
            true
        }
        Ok(dns::Applied::AlreadyApplied { record }) => {
            c.status = ChangeStatus::AlreadyApplied;
            c.record = Some(record);
            true
        }
        Err(e) => {
            let (status, kind) = match e {
                dns::Error::Conflict { .. } => (ChangeStatus::Conflict, EventKind::Conflict),
                dns::Error::RollLimit { .. } => (ChangeStatus::Failed, EventKind::RollLimit),
                _ => (ChangeStatus::Failed, EventKind::ApplyFailed),
            };
            tracing::error!(group = %c.change.group, change = %c.change.summary(), error = %e, "apply failed");
            c.status = status;
            c.error = Some(e.to_string());
            events.push(Event {
                kind,
                severity: Severity::Critical,
                group: c.change.group.clone(),
                regions: vec![c.change.region.clone()],
                message: match e {
                    dns::Error::RollLimit { .. } => format!(
                        "could not {}: {e}. Fix: keep at most that many targets enabled in group {:?} on this host and line (move the others to a mode = \"failover\" group or another line), or move the domain to a plan with a higher limit; `dns-failover plan` warns about it",
                        c.change.summary(),
                        c.change.group
                    ),
                    _ => format!("could not {}: {e}", c.change.summary()),
                },
            });
            if status == ChangeStatus::Failed {
                errors.push(format!(
                    "group {}: could not {}: {e}",
                    c.change.group,
                    c.change.summary()
                ));
            }
            false
        }
    }
}

/// After a group's writes, read it back once: a name with no enabled record
/// gets one back at once, and a critical `empty_name` event either way.
async fn check_not_empty(
    deps: &Deps,
    g: &Group,
    report: &mut GroupReport,
    now: chrono::DateTime<chrono::Utc>,
    dopts: &decide::Options,
    errors: &mut Vec<String>,
) {
    if g.mode != Mode::Active || report.changes.is_empty() {
        return;
    }
    let disabled_now: Vec<String> = report
        .changes
        .iter()
        .filter(|c| c.status == ChangeStatus::Applied)
        .filter_map(|c| match &c.change.op {
            ChangeOp::SetStatus {
                record_id,
                enabled: false,
                ..
            } => Some(record_id.clone()),
            _ => None,
        })
        .collect();
    let records = match deps.dns.list(&g.key).await {
        Ok(r) => r,
        Err(e) => {
            // The next run's decide sees an empty name too; say why we
            // could not look now.
            tracing::warn!(group = %g.name, error = %e, "cannot read the records back after the writes; an empty name would be caught by the next run");
            return;
        }
    };
    let rescue = decide::rescue_empty(g, &records, &report.targets, &disabled_now, now, dopts);
    let mut events = rescue.events;
    for ev in &events {
        tracing::error!(group = %ev.group, kind = ev.kind.as_str(), message = %ev.message, "event");
    }
    for change in rescue.changes {
        let mut c = ChangeResult {
            change,
            status: ChangeStatus::Planned,
            error: None,
            record: None,
            elapsed_ms: 0,
        };
        apply_one(deps, &mut c, &mut events, errors).await;
        report.changes.push(c);
    }
    report.events.extend(events);
}

/// The provider accepted the write with another TTL than planned (a plan
/// minimum): say so plainly.
fn ttl_event(change: &dns::Change, after: &Record) -> Option<Event> {
    let planned = match &change.op {
        ChangeOp::SetValue { ttl, .. } | ChangeOp::SetTtl { ttl, .. } => *ttl,
        ChangeOp::Create { record } => record.ttl,
        ChangeOp::SetStatus { .. } => return None,
    };
    (after.ttl != planned).then(|| Event {
        kind: EventKind::TtlRefused,
        severity: Severity::Warning,
        group: change.group.clone(),
        regions: vec![change.region.clone()],
        message: format!(
            "TTL {planned} was refused by the domain's DNS plan; record {} was written with TTL {} (the lowest it accepts), so clients may take up to {} s to move",
            after.id, after.ttl, after.ttl
        ),
    })
}
