//! `active` mode: one record per target; a down target's record is
//! disabled, a recovered one enabled again; the name is never left empty.

use super::{first_failure, human, Ctx, GroupPlan};
use crate::model::event::{Event, EventKind, Severity};
use crate::model::health::Health;
use crate::model::record::{self, ChangeOp, NewRecord, Record};
use crate::model::target::{Failback, Target};

impl<'a> Ctx<'a> {
    // -- active mode ---------------------------------------------------------

    pub(super) fn active(&self, records: &[Record], plan: &mut GroupPlan) {
        let g = self.group;
        // Records that belong to a target, by value; the first one wins.
        let rec_of = |t: &Target| {
            records
                .iter()
                .find(|r| record::same_value(&r.value, &t.value))
        };
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
                        ttl: self.ttl,
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
    pub(super) fn best_taken_out<'r>(
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
    pub(super) fn empty_name(
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
}
