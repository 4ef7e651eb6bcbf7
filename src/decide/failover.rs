//! `failover` mode: one record whose value is rewritten to the best up
//! target; failback to a better target after `failback_after`.

use super::{human, Ctx, GroupPlan};
use crate::model::event::{EventKind, Severity};
use crate::model::health::Health;
use crate::model::record::{self, ChangeOp, NewRecord, Record};
use crate::model::target::{Failback, Target};

impl<'a> Ctx<'a> {
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

    pub(super) fn failover(&self, records: &[Record], plan: &mut GroupPlan) {
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
                            ttl: self.ttl,
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
            .find(|t| record::same_value(&t.value, &record.value))
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
                    ttl: self.ttl,
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
                            g.key, to.region, current.value, to.value, self.ttl
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
