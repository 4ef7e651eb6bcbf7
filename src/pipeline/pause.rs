//! Operator pauses: `pause --group G [--for 2h] [--reason ...]` and
//! `resume --group G`, kept in DNS so that every regional prober honours
//! them.
//!
//! A paused group is still probed, read and decided, and reported; its
//! plan is never written: every planned change goes to the report's
//! `refused`, and what the plan would have done is one `left_alone`
//! warning (a standing condition: it pages once). A pause that expires
//! resumes by itself: the first pass that finds it expired marks it so and
//! raises `resumed`. Pausing and resuming raise `paused` and `resumed`
//! once, in the pass that writes them.
//!
//! Where and in what words: [`crate::model::pause`].

use chrono::{DateTime, Utc};

use super::{Action, Deps};
use crate::config::{Config, Group};
use crate::dns::{self, DnsProvider, PlanLimits, Record};
use crate::model::event::{Event, EventKind, Severity};
use crate::model::pause::{
    of, pause_key, pause_value, paused_remark, resumed_remark, rfc3339, Pause, Said,
};
use crate::report::GroupReport;

/// The pause records of `domain`, one read for every group.
pub async fn read(dns: &dyn DnsProvider, domain: &str) -> Result<Vec<Record>, dns::Error> {
    dns.list(&pause_key(domain, dns.default_line())).await
}

/// Write `remark` on `group`'s pause record (`current`, or a new one),
/// always disabled.
pub async fn write(
    dns: &dyn DnsProvider,
    domain: &str,
    group: &str,
    current: Option<&Record>,
    remark: String,
    ttl: u32,
) -> Result<(), dns::Error> {
    let key = pause_key(domain, dns.default_line());
    match current {
        Some(r) => dns.set_status(&key, r, false, &remark).await,
        None => dns
            .create(
                &key,
                &dns::NewRecord {
                    value: pause_value(group),
                    ttl,
                    enabled: false,
                    remark,
                },
            )
            .await
            .map(|_| ()),
    }
}

/// Kinds that say the plan was (or is being) written: in a paused group
/// they are folded into one `left_alone` warning.
fn claims_a_write(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Failover
            | EventKind::Failback
            | EventKind::Created
            | EventKind::MaxChangesExceeded
            | EventKind::TtlRefused
    )
}

/// Hold a paused group: its planned changes go to `refused`, unwritten;
/// the events that say they were written become one `left_alone` warning
/// naming what the plan would do; an `empty_name` says it is not fixed.
pub fn hold(g: &Group, report: &mut GroupReport, p: &Pause) {
    report.paused = Some(p.clone());
    let changes: Vec<dns::Change> = report.changes.drain(..).map(|c| c.change).collect();
    let mut regions: Vec<String> = changes.iter().map(|c| c.region.clone()).collect();
    let mut said = Vec::new();
    report.events.retain(|e| {
        if claims_a_write(e.kind) {
            regions.extend(e.regions.iter().cloned());
            said.push(e.message.clone());
            false
        } else {
            true
        }
    });
    for e in &mut report.events {
        if e.kind == EventKind::EmptyName {
            e.message
                .push_str(&format!("; not put back: group {} is paused", g.name));
        }
    }
    regions.sort();
    regions.dedup();
    if !changes.is_empty() || !said.is_empty() {
        let would: Vec<String> = changes.iter().map(dns::Change::summary).collect();
        report.events.push(Event {
            kind: EventKind::LeftAlone,
            severity: Severity::Warning,
            group: g.name.clone(),
            regions,
            message: format!(
                "group {} is paused{} (since {} by {}{}): nothing written; the plan would {}{}; `dns-failover resume --group {}` hands it back",
                g.name,
                p.until
                    .map(|u| format!(" until {}", rfc3339(u)))
                    .unwrap_or_default(),
                rfc3339(p.since),
                if p.by.is_empty() { "?" } else { &p.by },
                if p.reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", p.reason)
                },
                if would.is_empty() {
                    "change nothing".to_string()
                } else {
                    would.join("; ")
                },
                if said.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", said.join("; "))
                },
                g.name
            ),
        });
    }
    report.refused.extend(changes);
}

/// The event of a pause written by this pass.
pub fn paused_event(g: &Group, p: &Pause) -> Event {
    Event {
        kind: EventKind::Paused,
        severity: Severity::Warning,
        group: g.name.clone(),
        regions: vec![],
        message: format!(
            "group {} paused by {}{}{}: it is still probed and reported, but no prober writes its records until `dns-failover resume --group {}`{}",
            g.name,
            p.by,
            p.until
                .map(|u| format!(" until {}", rfc3339(u)))
                .unwrap_or_default(),
            if p.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", p.reason)
            },
            g.name,
            if p.until.is_some() {
                " or the pause expires"
            } else {
                ""
            }
        ),
    }
}

/// The event of a resume written by this pass (asked, or a pause expired).
pub fn resumed_event(g: &Group, why: &str) -> Event {
    Event {
        kind: EventKind::Resumed,
        severity: Severity::Warning,
        group: g.name.clone(),
        regions: vec![],
        message: format!(
            "group {} resumed ({why}): its records are managed again",
            g.name
        ),
    }
}

/// Settle every group's pause before anything is written: a `pause` or
/// `resume` of this pass is written (when the pass writes), an expired
/// pause is marked resumed, and a group that stays paused is held
/// ([`hold`]). `pauses` is the one read of the pause records (`None`: not
/// read, as for `probe`). Pause records that cannot be read are an error
/// of the pass, and a pass that writes writes nothing then: a prober that
/// cannot tell whether an operator paused a group must not write it (the
/// next pass reads again).
pub(super) async fn settle(
    deps: &Deps,
    cfg: &Config,
    action: &Action,
    pauses: Option<&Result<Vec<Record>, dns::Error>>,
    groups: &mut [GroupReport],
    ctx: &Settle<'_>,
    errors: &mut Vec<String>,
) {
    let Some(pauses) = pauses else { return };
    let records = match pauses {
        Ok(r) => r,
        Err(e) => {
            // The pass reports the read error once; each group is held.
            tracing::error!(error = %e, "cannot read the pause records; nothing is written this pass");
            for report in groups.iter_mut() {
                let held = report.changes.drain(..).map(|c| c.change);
                report.refused.extend(held);
            }
            return;
        }
    };
    for report in groups {
        let Some(g) = cfg.groups.iter().find(|g| g.name == report.name) else {
            continue;
        };
        let (rec, said) = of(&g.name, records, ctx.now);
        let ttl = ctx.limits.map_or(g.ttl, |l| l.ttl_for(g.ttl));
        let write = |remark: String| {
            let rec = rec.clone();
            async move {
                write(
                    deps.dns.as_ref(),
                    &g.key.domain,
                    &g.name,
                    rec.as_ref(),
                    remark,
                    ttl,
                )
                .await
            }
        };
        let mut failed = |report: &mut GroupReport, what: &str, e: dns::Error| {
            let msg = format!(
                "group {}: cannot write its pause record ({what}): {e}",
                g.name
            );
            tracing::error!(group = %g.name, error = %e, "{what}: cannot write the pause record");
            report.error = Some(msg.clone());
            errors.push(msg);
        };
        match action {
            Action::Pause {
                group,
                until_after,
                reason,
            } if *group == g.name => {
                let p = Pause {
                    since: ctx.now,
                    until: until_after
                        .and_then(|d| chrono::Duration::from_std(d).ok())
                        .map(|d| ctx.now + d),
                    by: cfg.prober.clone(),
                    reason: reason.clone(),
                };
                if ctx.writes {
                    match write(paused_remark(&g.name, &p)).await {
                        Ok(()) => report.events.push(paused_event(g, &p)),
                        Err(e) => failed(report, "pause", e),
                    }
                }
                hold(g, report, &p);
            }
            Action::Resume { group } if *group == g.name => match said {
                Said::Paused(p) | Said::Expired(p) => {
                    if ctx.writes {
                        let why = format!(
                            "asked by {}; paused since {} by {}",
                            cfg.prober,
                            rfc3339(p.since),
                            p.by
                        );
                        let remark = resumed_remark(&g.name, ctx.now, &cfg.prober, "asked");
                        match write(remark).await {
                            Ok(()) => report.events.push(resumed_event(g, &why)),
                            Err(e) => failed(report, "resume", e),
                        }
                    }
                }
                Said::Running => report.events.push(Event {
                    kind: EventKind::LeftAlone,
                    severity: Severity::Info,
                    group: g.name.clone(),
                    regions: vec![],
                    message: format!("group {} is not paused; nothing to resume", g.name),
                }),
            },
            _ => match said {
                Said::Paused(p) => hold(g, report, &p),
                Said::Expired(p) if ctx.writes => {
                    // Many probers find it expired at once: the one whose
                    // re-read still shows the pause marks it and says so.
                    let again = read(deps.dns.as_ref(), &g.key.domain)
                        .await
                        .map(|r| of(&g.name, &r, ctx.now));
                    let Ok((Some(now_rec), Said::Expired(_))) = again else {
                        continue;
                    };
                    if Some(&now_rec) != rec.as_ref() {
                        continue;
                    }
                    let until = p.until.map(rfc3339).unwrap_or_default();
                    let remark = resumed_remark(
                        &g.name,
                        ctx.now,
                        &cfg.prober,
                        &format!("pause expired at {until}"),
                    );
                    match write(remark).await {
                        Ok(()) => report.events.push(resumed_event(
                            g,
                            &format!(
                                "the pause by {} since {} ended at {until}",
                                p.by,
                                rfc3339(p.since)
                            ),
                        )),
                        // Not held: the pause is over whether or not the
                        // record says so yet; the next pass tries again.
                        Err(e) => {
                            tracing::warn!(group = %g.name, error = %e, "cannot mark the expired pause")
                        }
                    }
                }
                Said::Expired(_) | Said::Running => {}
            },
        }
    }
}

/// What [`settle`] needs of the pass.
pub(super) struct Settle<'a> {
    pub now: DateTime<Utc>,
    /// The pass writes (else pauses are shown, not written).
    pub writes: bool,
    pub limits: Option<&'a PlanLimits>,
}
