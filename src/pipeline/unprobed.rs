//! A target that was never probed is never a success: each group with such
//! targets gets a critical `unprobed` event (so the run alerts), and the
//! run gets an error (so it is not `ok`: exit code 1, an error answer
//! under SCF).

use crate::model::event::{Event, EventKind, Severity};
use crate::model::health::Health;
use crate::probe::ProbeFit;
use crate::report::GroupReport;

/// Flag the targets of `groups` that have no attempt (and were not
/// declared down by a drill).
pub(super) fn flag(groups: &mut [GroupReport], fit: Option<&ProbeFit>, errors: &mut Vec<String>) {
    let why = match fit {
        Some(f) if f.refused => f.note.clone(),
        _ => "the time left for probing ran out before their first attempt; raise the function timeout or lower probe.timeout/attempts/interval".to_string(),
    };
    for g in groups {
        let regions: Vec<String> = g
            .targets
            .iter()
            .filter(|t| !t.drill && t.health == Health::Unknown && t.attempts.is_empty())
            .map(|t| t.region.clone())
            .collect();
        if regions.is_empty() {
            continue;
        }
        let message = format!(
            "{} of {} target(s) not probed ({}): their health is unknown; {why}",
            regions.len(),
            g.targets.len(),
            regions.join(", ")
        );
        tracing::error!(group = %g.name, regions = %regions.join(","), "targets not probed");
        errors.push(format!("{}: {message}", g.name));
        g.events.push(Event {
            kind: EventKind::Unprobed,
            severity: Severity::Critical,
            group: g.name.clone(),
            regions,
            message,
        });
    }
}
