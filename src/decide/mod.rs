//! Decisions: a pure function from (config, current records, probe outcomes,
//! now) to a plan of record changes and events, each with its reason.
//!
//! No I/O happens here. The function is stateless across runs: what must
//! survive between runs (since when a target is out, whether the tool made a
//! change) is read from the records themselves: status, value, update time
//! and the remark the tool writes (see [`crate::model::record::remark`]).
//!
//! Rules, per group:
//! - every target down: change nothing, raise `all_down` (critical);
//! - `active`: a down target's enabled record is disabled; a target whose
//!   record the tool disabled is enabled again once every attempt of the run
//!   succeeded and it has been out for `failback_after` (`failback = "auto"`),
//!   or reported as waiting (`"manual"`). The last enabled record is never
//!   disabled;
//! - `failover`: one record; when its target is down its value is rewritten to
//!   the highest-priority target that is up; never to a target that is down;
//!   failback to a better target follows the same recovery rule;
//! - a record the plan needs that does not exist is created; nothing is deleted;
//! - TTL: records are written with the group's `ttl`, raised to the DNS
//!   plan's floor when that is higher (then `ttl_refused` says so, once, in
//!   the pass that writes at the floor); a target's record whose TTL is
//!   above that is lowered (`SetTtl`, no traffic moves, outside
//!   `max_changes`), unless this plan already writes it. Only when the
//!   plan's limits are known ([`Options::limits`]);
//! - more than `max_changes` traffic-moving changes: refused unless `force`;
//! - a record a person changed (no tool remark) is left alone and reported.

use std::collections::HashMap;

mod active;
mod cert;
pub mod consensus;
mod failover;
mod rescue;
mod ttl;

pub use rescue::rescue_empty;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::model::event::{Event, EventKind, Severity};

use crate::model::health::{Health, TargetOutcome};
use crate::model::record::{self, Change, ChangeOp, PlanLimits, Record};
use crate::model::target::{Group, Mode, Target};

/// The plan for one group.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct GroupPlan {
    pub group: String,
    /// Changes to apply, in order.
    pub changes: Vec<Change>,
    /// Changes planned but refused by `max_changes`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Change>,
    pub events: Vec<Event>,
}

/// What the operator asked for beyond a normal pass.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Go past `max_changes`.
    pub force: bool,
    /// A manual failback: (group, region). The target must be healthy.
    pub failback: Option<(String, String)>,
    /// Marks remarks and reasons of a drill.
    pub drill: bool,
    /// What the domain's DNS plan allows (lowest TTL, round-robin cap), as
    /// read this pass; `None` when unknown (then no TTL is converged).
    pub limits: Option<PlanLimits>,
}

/// Decide one group. `records` are the current records of the group's key;
/// `outcomes` the probe results of its targets (a target without an outcome
/// counts as [`Health::Unknown`]).
pub fn decide_group(
    group: &Group,
    records: &[Record],
    outcomes: &[TargetOutcome],
    now: DateTime<Utc>,
    opts: &Options,
) -> GroupPlan {
    let ctx = Ctx::new(group, outcomes, now, opts);
    let mut plan = GroupPlan {
        group: group.name.clone(),
        ..Default::default()
    };
    // Warnings only: raised whatever the health, never an input to it.
    plan.events.extend(ctx.cert_events());

    let down: Vec<&Target> = group
        .targets
        .iter()
        .filter(|t| ctx.health_of(t) == Health::Down)
        .collect();
    if !group.targets.is_empty() && down.len() == group.targets.len() {
        plan.events.push(ctx.event(
            EventKind::AllDown,
            Severity::Critical,
            down.iter().map(|t| t.region.clone()).collect(),
            format!(
                "every target of {} is down ({}); nothing changed, since this usually means the prober's own network is cut",
                group.key,
                down.iter().map(|t| format!("{}: {}", t.region, ctx.summary(t))).collect::<Vec<_>>().join("; ")
            ),
        ));
        return plan;
    }

    match group.mode {
        Mode::Active => ctx.active(records, &mut plan),
        Mode::Failover => ctx.failover(records, &mut plan),
    }
    ctx.converge_ttl(records, &mut plan);

    if let Some(region) = ctx.manual {
        if group.target(region).is_none() {
            plan.events.push(ctx.event(
                EventKind::NoHealthyTarget,
                Severity::Warning,
                vec![region.to_string()],
                format!(
                    "failback asked for region {region:?}, which is not a target of group {:?}",
                    group.name
                ),
            ));
        }
    }

    let moving = plan.changes.iter().filter(|c| c.moves_traffic()).count();
    if moving > group.max_changes as usize && !opts.force {
        let (mut keep, mut refused): (Vec<Change>, Vec<Change>) =
            plan.changes.drain(..).partition(|c| !c.moves_traffic());
        // A name with no enabled record keeps its first enable: max_changes
        // guards against moving traffic away, never against serving again.
        let empty = !records.is_empty() && records.iter().all(|r| !r.enabled);
        if let Some(i) = refused
            .iter()
            .position(|c| empty && matches!(c.op, ChangeOp::SetStatus { enabled: true, .. }))
        {
            keep.push(refused.remove(i));
        }
        plan.changes = keep;
        let regions = refused.iter().map(|c| c.region.clone()).collect();
        plan.events.push(ctx.event(
            EventKind::MaxChangesExceeded,
            Severity::Critical,
            regions,
            format!(
                "the plan would change {moving} records of {}, more than max_changes = {}; nothing was changed (rerun with --force to apply: {})",
                group.key,
                group.max_changes,
                refused.iter().map(Change::summary).collect::<Vec<_>>().join("; ")
            ),
        ));
        plan.refused = refused;
    }
    plan
}

struct Ctx<'a> {
    group: &'a Group,
    /// The TTL records are written with: the group's, raised to the
    /// plan's floor when known.
    ttl: u32,
    health: HashMap<&'a str, &'a TargetOutcome>,
    now: DateTime<Utc>,
    opts: &'a Options,
    manual: Option<&'a str>,
}

impl<'a> Ctx<'a> {
    fn new(
        group: &'a Group,
        outcomes: &'a [TargetOutcome],
        now: DateTime<Utc>,
        opts: &'a Options,
    ) -> Self {
        Ctx {
            group,
            ttl: opts
                .limits
                .as_ref()
                .map_or(group.ttl, |l| l.ttl_for(group.ttl)),
            health: outcomes
                .iter()
                .filter(|o| o.group == group.name)
                .map(|o| (o.region.as_str(), o))
                .collect(),
            now,
            opts,
            manual: opts
                .failback
                .as_ref()
                .filter(|(g, _)| *g == group.name)
                .map(|(_, r)| r.as_str()),
        }
    }

    fn health_of(&self, t: &Target) -> Health {
        self.health
            .get(t.region.as_str())
            .map_or(Health::Unknown, |o| o.health)
    }

    fn summary(&self, t: &Target) -> String {
        self.health
            .get(t.region.as_str())
            .map_or_else(|| "not probed".to_string(), |o| o.summary())
    }

    fn event(
        &self,
        kind: EventKind,
        severity: Severity,
        regions: Vec<String>,
        message: String,
    ) -> Event {
        Event {
            kind,
            severity,
            group: self.group.name.clone(),
            regions,
            message: if self.opts.drill {
                format!("[DRILL] {message}")
            } else {
                message
            },
        }
    }

    fn remark(&self, verb: &str, detail: &str) -> String {
        let verb = if self.opts.drill {
            format!("{verb}-drill")
        } else {
            verb.to_string()
        };
        record::remark(&verb, self.now, detail)
    }

    fn change(&self, t: &Target, op: ChangeOp, reason: String) -> Change {
        Change {
            group: self.group.name.clone(),
            key: self.group.key.clone(),
            region: t.region.clone(),
            op,
            reason: if self.opts.drill {
                format!("[DRILL] {reason}")
            } else {
                reason
            },
        }
    }

    /// Has a record been out long enough to be put back? `None` when the
    /// time it went out is unknown (treated as long enough). The tool's own
    /// remark carries the time it took a record out, on every provider;
    /// without it, the provider's update time (none on Alidns or rfc2136).
    fn out_for(&self, r: &Record) -> Option<Duration> {
        r.changed_at()
            .map(|t| (self.now - t).to_std().unwrap_or(Duration::ZERO))
    }

    fn waited_enough(&self, r: &Record) -> (bool, Duration) {
        match self.out_for(r) {
            Some(d) => (d >= self.group.failback_after, d),
            None => (true, Duration::ZERO),
        }
    }
}

/// What an `active` group may need enabled at once on its host and line,
/// against the plan's round-robin cap: every target's record, plus the
/// enabled records that are no target's (a person's). `Some(message)` when
/// that is more than the cap, naming the fix. Warned at `plan`.
pub fn roll_warning(group: &Group, records: &[Record], limits: &PlanLimits) -> Option<Event> {
    let cap = limits.record_roll?;
    if group.mode != Mode::Active {
        return None;
    }
    let foreign = records
        .iter()
        .filter(|r| r.enabled)
        .filter(|r| {
            !group
                .targets
                .iter()
                .any(|t| record::same_value(&t.value, &r.value))
        })
        .count();
    let need = group.targets.len() + foreign;
    (need > cap as usize).then(|| Event {
        kind: EventKind::RollLimit,
        severity: Severity::Warning,
        group: group.name.clone(),
        regions: vec![],
        message: format!(
            "{}: {} allows {cap} enabled records per host and line (round robin), but this active group may need {need} ({} targets{}); once they are all up, enabling one more fails (LimitExceeded.SubdomainRollLimit). Fix: keep at most {cap} targets in the group (put the others in a mode = \"failover\" group or on another line), or move the domain to a plan with a higher limit",
            group.key,
            limits.name(),
            group.targets.len(),
            if foreign > 0 { format!(" and {foreign} enabled records of no target") } else { String::new() }
        ),
    })
}

/// The plan's lowest TTL is above the group's `ttl`: records serve the
/// floor. `None` when it is not.
pub fn ttl_floor_warning(group: &Group, limits: &PlanLimits) -> Option<Event> {
    (limits.min_ttl > group.ttl).then(|| Event {
        kind: EventKind::TtlRefused,
        severity: Severity::Warning,
        group: group.name.clone(),
        regions: vec![],
        message: format!(
            "{}: the lowest TTL {} accepts is {} s, above ttl = {} of group {:?}: records are written with {} s, so clients may take that long to follow a failover; move the domain to a plan with a lower minimum TTL, or set ttl = {} to say so in the config",
            group.key,
            limits.name(),
            limits.min_ttl,
            group.ttl,
            group.name,
            limits.min_ttl,
            limits.min_ttl
        ),
    })
}

fn first_failure(o: Option<&TargetOutcome>) -> String {
    o.and_then(|o| o.attempts.iter().find(|a| !a.ok))
        .and_then(|a| a.failure)
        .map_or_else(|| "unknown".into(), |c| c.as_str().to_string())
}

pub use crate::model::duration::human;

#[cfg(test)]
mod tests;
