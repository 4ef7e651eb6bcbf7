//! The check after a pass wrote a group: a name left with no enabled
//! record gets one back at once.

use chrono::{DateTime, Utc};

use super::{Ctx, GroupPlan, Options};
use crate::model::event::{EventKind, Severity};
use crate::model::health::TargetOutcome;
use crate::model::record::{self, ChangeOp, Record};
use crate::model::target::{Group, Mode, Target};

/// The check after a pass wrote a group: `records` are read back after
/// the writes. If the name has no enabled record left (probers racing each
/// other, or a person disabling records while the tool disabled another),
/// put a record back at once, whatever `failback_after` says:
/// 1. the best up target (healthy first, then degraded, each by priority)
///    whose record the tool took out;
/// 2. else the record this pass itself disabled (`disabled_now`, ids),
///    highest priority first: undoing our own write restores the state we
///    found, and a name that serves a struggling region beats one that
///    serves nothing;
/// 3. else nothing is written (only records a person disabled are left).
///
/// Every case raises `empty_name` (critical). An active group only: a
/// failover group's one record is never disabled by the tool.
pub fn rescue_empty(
    group: &Group,
    records: &[Record],
    outcomes: &[TargetOutcome],
    disabled_now: &[String],
    now: DateTime<Utc>,
    opts: &Options,
) -> GroupPlan {
    let ctx = Ctx::new(group, outcomes, now, opts);
    let mut plan = GroupPlan {
        group: group.name.clone(),
        ..Default::default()
    };
    if group.mode != Mode::Active || records.is_empty() || records.iter().any(|r| r.enabled) {
        return plan;
    }
    let rec_of = |t: &Target| {
        records
            .iter()
            .find(|r| record::same_value(&r.value, &t.value))
    };
    let pick = ctx
        .best_taken_out(&rec_of)
        .map(|t| (t, "is up"))
        .or_else(|| {
            group
                .targets
                .iter()
                .find(|t| rec_of(t).is_some_and(|r| disabled_now.contains(&r.id)))
                .map(|t| (t, "was disabled by this run; undoing that write"))
        });
    let Some((t, r, why)) = pick.and_then(|(t, why)| Some((t, rec_of(t)?, why))) else {
        let event = ctx.empty_name(records, &[], 0, &rec_of);
        plan.events.push(event);
        return plan;
    };
    let message = format!(
        "{} was left with no enabled record after this run's writes (another prober or a person disabled the others at the same time); {} {} ({}): put back at once, whatever failback_after says",
        group.key,
        t.region,
        why,
        ctx.summary(t)
    );
    plan.events.push(ctx.event(
        EventKind::EmptyName,
        Severity::Critical,
        vec![t.region.clone()],
        format!("{message}; enabling record {} ({})", r.id, r.value),
    ));
    plan.changes.push(ctx.change(
        t,
        ChangeOp::SetStatus {
            record_id: r.id.clone(),
            expect_value: r.value.clone(),
            expect_enabled: false,
            expect_updated_on: r.updated_on,
            enabled: true,
            remark: ctx.remark("enabled", &format!("{} name was empty", t.region)),
        },
        message,
    ));
    plan
}
