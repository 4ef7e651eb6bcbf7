//! Decisions: a pure function from (config, current records, probe outcomes,
//! now) to a plan of record changes and events, each with its reason.
//!
//! No I/O happens here. The function is stateless across runs: what must
//! survive between runs (since when a target is out, whether the tool made a
//! change) is read from the records themselves: status, value, update time
//! and the remark the tool writes (see [`crate::dns::remark`]).
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
//! - more than `max_changes` traffic-moving changes: refused unless `force`;
//! - a record a person changed (no tool remark) is left alone and reported.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{Failback, Group, Mode, Target};
use crate::dns::{self, Change, ChangeOp, NewRecord, Record};
use crate::probe::{Health, TargetOutcome};

/// How bad an event is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// What happened, as alert filters and scripts name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Traffic moved away from a down target.
    Failover,
    /// Traffic moved back to a recovered target.
    Failback,
    /// A recovered target waits for an operator (`failback = "manual"`).
    RecoveredPending,
    /// A target is healthy again but has not been out for `failback_after` yet.
    Recovering,
    /// Every target of the group is down; nothing was changed.
    AllDown,
    /// A down target's record stays enabled because it is the last one.
    LastRecordKept,
    /// No up target to move to.
    NoHealthyTarget,
    /// The plan was larger than `max_changes` and was refused.
    MaxChangesExceeded,
    /// A missing record was created.
    Created,
    /// A record is in a state the tool did not make; left alone.
    LeftAlone,
    /// A DNS write failed (set by the pipeline).
    ApplyFailed,
    /// A record changed under us between read and write (set by the pipeline).
    Conflict,
    /// The domain's plan refused the TTL (set by the pipeline).
    TtlRefused,
    /// The name has no enabled record at all (whoever emptied it). Raised by
    /// `decide` on the records it reads and by the pipeline's check after
    /// its writes; critical, always.
    EmptyName,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Failover => "failover",
            EventKind::Failback => "failback",
            EventKind::RecoveredPending => "recovered_pending",
            EventKind::Recovering => "recovering",
            EventKind::AllDown => "all_down",
            EventKind::LastRecordKept => "last_record_kept",
            EventKind::NoHealthyTarget => "no_healthy_target",
            EventKind::MaxChangesExceeded => "max_changes_exceeded",
            EventKind::Created => "created",
            EventKind::LeftAlone => "left_alone",
            EventKind::ApplyFailed => "apply_failed",
            EventKind::Conflict => "conflict",
            EventKind::TtlRefused => "ttl_refused",
            EventKind::EmptyName => "empty_name",
        }
    }
    pub const ALL: [EventKind; 14] = [
        EventKind::Failover,
        EventKind::Failback,
        EventKind::RecoveredPending,
        EventKind::Recovering,
        EventKind::AllDown,
        EventKind::LastRecordKept,
        EventKind::NoHealthyTarget,
        EventKind::MaxChangesExceeded,
        EventKind::Created,
        EventKind::LeftAlone,
        EventKind::ApplyFailed,
        EventKind::Conflict,
        EventKind::TtlRefused,
        EventKind::EmptyName,
    ];
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One thing worth telling, with its reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub kind: EventKind,
    pub severity: Severity,
    pub group: String,
    pub regions: Vec<String>,
    pub message: String,
}

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
    let rec_of = |t: &Target| records.iter().find(|r| dns::same_value(&r.value, &t.value));
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

struct Ctx<'a> {
    group: &'a Group,
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
        dns::remark(&verb, self.now, detail)
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
    /// time it went out is unknown (treated as long enough: the provider
    /// always reports an update time, and the file zone too).
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

    // -- active mode ---------------------------------------------------------

    fn active(&self, records: &[Record], plan: &mut GroupPlan) {
        let g = self.group;
        // Records that belong to a target, by value; the first one wins.
        let rec_of = |t: &Target| records.iter().find(|r| dns::same_value(&r.value, &t.value));
        let mut disables: Vec<(&Target, &Record)> = Vec::new();
        let mut enables: Vec<(&Target, &Record, EventKind, String)> = Vec::new();

        for t in &g.targets {
            let h = self.health_of(t);
            match rec_of(t) {
                None => {
                    if h == Health::Unknown {
                        continue;
                    }
                    let enabled = h != Health::Down;
                    let verb = if enabled { "created" } else { "disabled" };
                    let record = NewRecord {
                        value: t.value.clone(),
                        ttl: g.ttl,
                        enabled,
                        remark: self.remark(verb, &format!("{} {}", t.region, h.as_str())),
                    };
                    let why = format!(
                        "{} has no record for {} ({}); creating it {}",
                        g.key,
                        t.region,
                        t.value,
                        if enabled {
                            "enabled"
                        } else {
                            "disabled, since the target is down"
                        }
                    );
                    plan.events.push(self.event(
                        EventKind::Created,
                        Severity::Info,
                        vec![t.region.clone()],
                        why.clone(),
                    ));
                    plan.changes
                        .push(self.change(t, ChangeOp::Create { record }, why));
                }
                Some(r) if r.enabled && h == Health::Down => disables.push((t, r)),
                Some(r) if !r.enabled && h.is_up() => {
                    let asked = self.manual == Some(t.region.as_str());
                    if asked {
                        if h == Health::Healthy || self.opts.force {
                            enables.push((
                                t,
                                r,
                                EventKind::Failback,
                                format!(
                                    "{} recovered ({}); failback requested by an operator",
                                    t.region,
                                    self.summary(t)
                                ),
                            ));
                        } else {
                            plan.events.push(self.event(EventKind::NoHealthyTarget, Severity::Warning, vec![t.region.clone()], format!(
                                "failback of {} refused: not every attempt succeeded ({}); use --force to override", t.region, self.summary(t))));
                        }
                        continue;
                    }
                    if !r.remark_is_ours() {
                        // A healthy region kept out by a hand (or by a write
                        // whose marker was lost) is a standing warning: it
                        // pages once, with the command that puts it back.
                        let severity = if h == Health::Healthy {
                            Severity::Warning
                        } else {
                            Severity::Info
                        };
                        plan.events.push(self.event(EventKind::LeftAlone, severity, vec![t.region.clone()], format!(
                            "record {} of {} is disabled, but not by dns-failover (remark {:?}); left alone although the target is up ({}); to put it back: dns-failover failback --group {} --region {}",
                            r.id, t.region, r.remark, self.summary(t), g.name, t.region)));
                        continue;
                    }
                    if h != Health::Healthy {
                        continue; // degraded: stays out, no news
                    }
                    let (enough, out) = self.waited_enough(r);
                    if !enough {
                        plan.events.push(self.event(EventKind::Recovering, Severity::Info, vec![t.region.clone()], format!(
                            "{} is healthy again after {} out; it goes back in once it has been out {}",
                            t.region, human(out), human(g.failback_after))));
                    } else if g.failback == Failback::Auto {
                        enables.push((
                            t,
                            r,
                            EventKind::Failback,
                            format!(
                                "{} recovered ({}) after {} out",
                                t.region,
                                self.summary(t),
                                human(out)
                            ),
                        ));
                    } else {
                        plan.events.push(self.event(EventKind::RecoveredPending, Severity::Warning, vec![t.region.clone()], format!(
                            "{} recovered ({}) after {} out; failback is manual: run `dns-failover failback --group {} --region {}`",
                            t.region, self.summary(t), human(out), g.name, t.region)));
                    }
                }
                // An operator's failback that cannot be done is answered, not
                // silently dropped (as in failover mode).
                Some(r) if self.manual == Some(t.region.as_str()) && r.enabled => {
                    plan.events.push(self.event(
                        EventKind::LeftAlone,
                        Severity::Info,
                        vec![t.region.clone()],
                        format!(
                            "failback of {} asked, but its record {} is already enabled",
                            t.region, r.id
                        ),
                    ));
                }
                Some(_) if self.manual == Some(t.region.as_str()) => {
                    plan.events.push(self.event(
                        EventKind::NoHealthyTarget,
                        Severity::Warning,
                        vec![t.region.clone()],
                        format!(
                            "failback of {} refused: {} ({})",
                            t.region,
                            h.as_str(),
                            self.summary(t)
                        ),
                    ));
                }
                Some(_) => {}
            }
        }

        // Never leave the group without an enabled record of a target.
        let enabled_now: Vec<&Record> = g
            .targets
            .iter()
            .filter_map(&rec_of)
            .filter(|r| r.enabled)
            .collect();
        // Records this plan creates enabled count too: creates come first in
        // the plan and the pipeline stops a group at its first failed change,
        // so no disable below is applied unless those records exist.
        let created = plan
            .changes
            .iter()
            .filter(|c| matches!(&c.op, ChangeOp::Create { record } if record.enabled))
            .count();
        // The name serves nothing right now (whoever emptied it: a person,
        // or probers racing each other). Never wait for failback_after then.
        let empty = !records.is_empty() && records.iter().all(|r| !r.enabled);
        let remaining = enabled_now.len() - disables.len() + enables.len() + created;
        if remaining == 0 && (empty || !disables.is_empty()) {
            // Prefer an emergency failback of an up target the tool took out:
            // a healthy one first, then a degraded one, each by priority.
            let rescue = self
                .best_taken_out(&rec_of)
                .and_then(|t| Some((t, rec_of(t)?)));
            match rescue {
                Some((t, r)) if empty => {
                    // Its "recovering" note would contradict what happens.
                    plan.events.retain(|e| !(e.kind == EventKind::Recovering && e.regions == [t.region.clone()]));
                    enables.push((t, r, EventKind::EmptyName, format!(
                        "{} has no enabled record: the name does not resolve; {} is up ({}), put back at once, whatever failback_after says",
                        g.key, t.region, self.summary(t))));
                }
                Some((t, r)) => enables.push((t, r, EventKind::Failback, format!(
                    "{} is up ({}) and every enabled record is down: put back early, before failback_after",
                    t.region, self.summary(t)))),
                None if !disables.is_empty() => {
                    // Keep the highest-priority down record (disables are in priority order).
                    let (t, r) = disables.remove(0);
                    plan.events.push(self.event(EventKind::LastRecordKept, Severity::Critical, vec![t.region.clone()], format!(
                        "{} is down ({}) but record {} is the last enabled record of {}; kept enabled",
                        t.region, self.summary(t), r.id, g.key)));
                }
                None => {}
            }
        }
        if empty && !enables.iter().any(|e| e.2 == EventKind::EmptyName) {
            plan.events
                .push(self.empty_name(records, &enables, created, &rec_of));
        }

        // Enables first: if a write fails half way, the group keeps more
        // records in, never fewer.
        for (t, r, kind, why) in enables {
            let severity = if kind == EventKind::EmptyName {
                Severity::Critical
            } else {
                Severity::Warning
            };
            plan.events.push(self.event(
                kind,
                severity,
                vec![t.region.clone()],
                format!("{why}; enabling record {} ({}) of {}", r.id, r.value, g.key),
            ));
            plan.changes.push(self.change(
                t,
                ChangeOp::SetStatus {
                    record_id: r.id.clone(),
                    expect_value: r.value.clone(),
                    expect_enabled: false,
                    expect_updated_on: r.updated_on,
                    enabled: true,
                    remark: self.remark("enabled", &format!("{} recovered", t.region)),
                },
                why,
            ));
        }
        for (t, r) in disables {
            let why = format!("{} is down: {}", t.region, self.summary(t));
            plan.events.push(self.event(
                EventKind::Failover,
                Severity::Critical,
                vec![t.region.clone()],
                format!(
                    "{why}; disabling record {} ({}) of {}",
                    r.id, r.value, g.key
                ),
            ));
            let detail = format!(
                "{} down: {}",
                t.region,
                first_failure(self.health.get(t.region.as_str()).copied())
            );
            plan.changes.push(self.change(
                t,
                ChangeOp::SetStatus {
                    record_id: r.id.clone(),
                    expect_value: r.value.clone(),
                    expect_enabled: true,
                    expect_updated_on: r.updated_on,
                    enabled: false,
                    remark: self.remark("disabled", &detail),
                },
                why,
            ));
        }
    }

    /// The best up target whose record the tool took out: a healthy one
    /// first, then a degraded one, each by priority.
    fn best_taken_out<'r>(
        &self,
        rec_of: &dyn Fn(&Target) -> Option<&'r Record>,
    ) -> Option<&'a Target> {
        let taken_out = |t: &&Target| rec_of(t).is_some_and(|r| !r.enabled && r.remark_is_ours());
        let with = |h: Health| {
            self.group
                .targets
                .iter()
                .filter(taken_out)
                .find(|t| self.health_of(t) == h)
        };
        with(Health::Healthy).or_else(|| with(Health::Degraded))
    }

    /// The `empty_name` event of an active group that this plan does not
    /// rescue itself: say what puts a record back, or what a person must do.
    fn empty_name(
        &self,
        records: &[Record],
        enables: &[(&Target, &Record, EventKind, String)],
        created: usize,
        rec_of: &dyn Fn(&Target) -> Option<&'a Record>,
    ) -> Event {
        let g = self.group;
        let head = format!(
            "{} has no enabled record ({} record{}, all disabled): the name does not resolve",
            g.key,
            records.len(),
            if records.len() == 1 { "" } else { "s" }
        );
        let (regions, tail) = if let Some((t, ..)) = enables.first() {
            (
                vec![t.region.clone()],
                format!("; this run puts {} back", t.region),
            )
        } else if created > 0 {
            (vec![], "; this run creates an enabled record".to_string())
        } else {
            // Only records a person disabled are left, or no target is up.
            let up: Vec<&Target> = g
                .targets
                .iter()
                .filter(|t| self.health_of(t).is_up() && rec_of(t).is_some_and(|r| !r.enabled))
                .collect();
            match up.first() {
                Some(t) => (
                    up.iter().map(|t| t.region.clone()).collect(),
                    format!(
                        "; the records of the targets that are up were disabled by someone else, so the tool leaves them: to put {} back run `dns-failover failback --group {} --region {}`",
                        t.region, g.name, t.region
                    ),
                ),
                None => (
                    vec![],
                    "; no target with a disabled record is known to be up, so nothing was put back: enable a record by hand".to_string(),
                ),
            }
        };
        self.event(
            EventKind::EmptyName,
            Severity::Critical,
            regions,
            format!("{head}{tail}"),
        )
    }

    // -- failover mode -------------------------------------------------------

    /// Best target to serve, by priority: a healthy one first, else a degraded one.
    fn best_up(&self, exclude: Option<&str>) -> Option<&'a Target> {
        let cands = || {
            self.group
                .targets
                .iter()
                .filter(move |t| Some(t.region.as_str()) != exclude)
        };
        cands()
            .find(|t| self.health_of(t) == Health::Healthy)
            .or_else(|| cands().find(|t| self.health_of(t) == Health::Degraded))
    }

    fn failover(&self, records: &[Record], plan: &mut GroupPlan) {
        let g = self.group;
        let enabled: Vec<&Record> = records.iter().filter(|r| r.enabled).collect();
        let record = match (enabled.len(), records.len()) {
            (1, _) => enabled[0],
            (0, 0) => {
                // First run: create the record pointing at the best up target.
                match self.best_up(None) {
                    Some(t) => {
                        let why = format!(
                            "{} has no record; creating it for {} ({})",
                            g.key, t.region, t.value
                        );
                        plan.events.push(self.event(
                            EventKind::Created,
                            Severity::Info,
                            vec![t.region.clone()],
                            why.clone(),
                        ));
                        let record = NewRecord {
                            value: t.value.clone(),
                            ttl: g.ttl,
                            enabled: true,
                            remark: self.remark("created", &t.region),
                        };
                        plan.changes
                            .push(self.change(t, ChangeOp::Create { record }, why));
                    }
                    None => plan.events.push(self.event(
                        EventKind::NoHealthyTarget,
                        Severity::Critical,
                        vec![],
                        format!(
                            "{} has no record and no target is known to be up; nothing created",
                            g.key
                        ),
                    )),
                }
                return;
            }
            (0, _) => {
                // Failover mode never disables its record, so a person did.
                plan.events.push(self.event(EventKind::EmptyName, Severity::Critical, vec![], format!(
                    "every record of {} is disabled, not by a failover of this tool; left alone (the name does not resolve): enable the record in the DNS console", g.key)));
                return;
            }
            (n, _) => {
                plan.events.push(self.event(EventKind::LeftAlone, Severity::Warning, vec![], format!(
                    "{} has {n} enabled records; failover mode manages exactly one, so nothing was changed (use mode = \"active\" for one record per target)", g.key)));
                return;
            }
        };
        let Some(current) = g
            .targets
            .iter()
            .find(|t| dns::same_value(&t.value, &record.value))
        else {
            plan.events.push(self.event(
                EventKind::LeftAlone,
                Severity::Warning,
                vec![],
                format!(
                    "record {} of {} points at {}, which is no target's value; left alone (traffic is not watched: point it at a target's value in the DNS console, or add its target to the group)",
                    record.id, g.key, record.value
                ),
            ));
            return;
        };
        let cur_health = self.health_of(current);
        let set_value = |to: &Target, verb: &str, why: String| {
            self.change(
                to,
                ChangeOp::SetValue {
                    record_id: record.id.clone(),
                    expect_value: record.value.clone(),
                    expect_enabled: true,
                    expect_updated_on: record.updated_on,
                    value: to.value.clone(),
                    ttl: g.ttl,
                    enabled: true,
                    remark: self.remark(verb, &format!("{} -> {}", current.region, to.region)),
                },
                why,
            )
        };

        if let Some(region) = self.manual {
            if let Some(to) = g.target(region) {
                if to.region == current.region {
                    plan.events.push(self.event(
                        EventKind::LeftAlone,
                        Severity::Info,
                        vec![region.into()],
                        format!(
                            "failback to {region} asked, but {} already points at it",
                            g.key
                        ),
                    ));
                } else if self.health_of(to) == Health::Healthy
                    || (self.opts.force && self.health_of(to).is_up())
                {
                    let why = format!(
                        "failback to {} requested by an operator; {} is healthy ({})",
                        to.region,
                        to.region,
                        self.summary(to)
                    );
                    plan.events.push(self.event(
                        EventKind::Failback,
                        Severity::Warning,
                        vec![to.region.clone()],
                        format!("{why}; {}: {} -> {}", g.key, current.value, to.value),
                    ));
                    plan.changes.push(set_value(to, "failback", why));
                    return;
                } else {
                    plan.events.push(self.event(EventKind::NoHealthyTarget, Severity::Warning, vec![to.region.clone()], format!(
                        "failback to {} refused: {} ({}); use --force to override a degraded target", to.region,
                        self.health_of(to).as_str(), self.summary(to))));
                }
                // Nothing done for the operator: the normal rules still apply
                // (a down current target must not wait for the next run).
            }
        }

        if cur_health == Health::Down {
            match self.best_up(Some(&current.region)) {
                Some(to) => {
                    let why = format!("{} is down: {}", current.region, self.summary(current));
                    plan.events.push(self.event(
                        EventKind::Failover,
                        Severity::Critical,
                        vec![current.region.clone(), to.region.clone()],
                        format!(
                            "{why}; {} now points at {} ({} -> {}, ttl {})",
                            g.key, to.region, current.value, to.value, g.ttl
                        ),
                    ));
                    plan.changes.push(set_value(to, "failover", why));
                }
                None => plan.events.push(self.event(
                    EventKind::NoHealthyTarget,
                    Severity::Critical,
                    vec![current.region.clone()],
                    format!(
                    "{} is down ({}) and no other target is known to be up; {} left pointing at it",
                    current.region, self.summary(current), g.key),
                )),
            }
            return;
        }

        // Current target is up (or unknown): is a better one back?
        let Some(better) = g
            .targets
            .iter()
            .take_while(|t| t.region != current.region)
            .find(|t| self.health_of(t) == Health::Healthy)
        else {
            return;
        };
        if !record.remark_is_ours() {
            plan.events.push(self.event(EventKind::LeftAlone, Severity::Info, vec![better.region.clone()], format!(
                "{} points at {} and {} (higher priority) is healthy, but the record was last set by someone else; left alone",
                g.key, current.region, better.region)));
            return;
        }
        let (enough, out) = self.waited_enough(record);
        if !enough {
            plan.events.push(self.event(
                EventKind::Recovering,
                Severity::Info,
                vec![better.region.clone()],
                format!(
                    "{} is healthy again; {} failed over {} ago and fails back after {}",
                    better.region,
                    g.key,
                    human(out),
                    human(g.failback_after)
                ),
            ));
        } else if g.failback == Failback::Auto {
            let why = format!(
                "{} recovered ({}) after {} on {}",
                better.region,
                self.summary(better),
                human(out),
                current.region
            );
            plan.events.push(self.event(
                EventKind::Failback,
                Severity::Warning,
                vec![better.region.clone()],
                format!(
                    "{why}; {} points back at it ({} -> {})",
                    g.key, current.value, better.value
                ),
            ));
            plan.changes.push(set_value(better, "failback", why));
        } else {
            plan.events.push(self.event(EventKind::RecoveredPending, Severity::Warning, vec![better.region.clone()], format!(
                "{} recovered ({}); {} still points at {}; failback is manual: run `dns-failover failback --group {} --region {}`",
                better.region, self.summary(better), g.key, current.region, g.name, better.region)));
        }
    }
}

fn first_failure(o: Option<&TargetOutcome>) -> String {
    o.and_then(|o| o.attempts.iter().find(|a| !a.ok))
        .and_then(|a| a.failure)
        .map_or_else(|| "unknown".into(), |c| c.as_str().to_string())
}

/// "5m", "1h 2m", "40s".
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h {}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        if s.is_multiple_of(60) {
            format!("{}m", s / 60)
        } else {
            format!("{}m {}s", s / 60, s % 60)
        }
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
