//! TTL convergence: the records of a group's targets serve the group's
//! `ttl` (or the DNS plan's floor, when that is higher). A record found
//! with a higher TTL is lowered; nothing else of it changes, so no traffic
//! moves and `max_changes` does not count it.

use super::{ttl_floor_warning, Ctx, GroupPlan};
use crate::model::record::{self, ChangeOp, Record};

impl<'a> Ctx<'a> {
    /// Plan a `SetTtl` for every target's record above the TTL, except a
    /// record this plan already writes (its next write would see our own
    /// and refuse it as someone else's: it converges on the next pass).
    /// Only when the plan's limits are known: lowering below an unknown
    /// floor would be refused and rewritten at the floor on every pass.
    /// Raises `ttl_refused` once, in the pass that writes at a floor above
    /// the group's `ttl`.
    pub(super) fn converge_ttl(&self, records: &[Record], plan: &mut GroupPlan) {
        let Some(limits) = &self.opts.limits else {
            return;
        };
        let touched = |r: &Record| {
            plan.changes.iter().any(|c| match &c.op {
                ChangeOp::SetStatus { record_id, .. }
                | ChangeOp::SetValue { record_id, .. }
                | ChangeOp::SetTtl { record_id, .. } => *record_id == r.id,
                ChangeOp::Create { .. } => false,
            })
        };
        let mut lower = Vec::new();
        for r in records.iter().filter(|r| r.ttl > self.ttl) {
            let Some(t) = self
                .group
                .targets
                .iter()
                .find(|t| record::same_value(&t.value, &r.value))
            else {
                continue; // no target's record: not the tool's to tune
            };
            if touched(r) {
                continue;
            }
            let why = format!(
                "record {} ({}) of {} has TTL {}, above the group's {}: lowered, so clients follow a failover sooner",
                r.id, r.value, self.group.key, r.ttl, self.ttl
            );
            lower.push(self.change(
                t,
                ChangeOp::SetTtl {
                    record_id: r.id.clone(),
                    expect_value: r.value.clone(),
                    expect_enabled: r.enabled,
                    expect_updated_on: r.updated_on,
                    from_ttl: r.ttl,
                    ttl: self.ttl,
                },
                why,
            ));
        }
        plan.changes.extend(lower);
        let writes_ttl = plan.changes.iter().any(|c| {
            matches!(
                c.op,
                ChangeOp::Create { .. } | ChangeOp::SetValue { .. } | ChangeOp::SetTtl { .. }
            )
        });
        if writes_ttl && limits.min_ttl > self.group.ttl {
            if let Some(mut e) = ttl_floor_warning(self.group, limits) {
                if self.opts.drill {
                    e.message = format!("[DRILL] {}", e.message);
                }
                plan.events.push(e);
            }
        }
    }
}
