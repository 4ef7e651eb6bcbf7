//! Tests of [`decide_group`]: one test per mode and rule, multi-run scenarios
//! on a small in-memory record model, and a property test over random groups,
//! records and verdicts.
//!
//! Every call goes through [`decide`], which also checks what must hold of any
//! plan: it is deterministic, every change to an existing record carries the
//! state that record had (so the compare-and-swap in `dns::apply_change` can
//! work), and every remark the tool writes is recognised as its own and gives
//! back `now` through [`Record::changed_at`].

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::model::health::{Attempt, FailureClass, Health, TargetOutcome};
use crate::model::record::{self as dns, Change, ChangeOp, Record, RecordKey, RecordType};
use crate::model::target::{Check, Failback, Group, Mode, Target};

// -- builders ------------------------------------------------------------------

const GROUP: &str = "api";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn mins(m: i64) -> chrono::Duration {
    chrono::Duration::minutes(m)
}

fn target(region: &str, value: &str, priority: i64) -> Target {
    Target {
        region: region.into(),
        value: value.into(),
        priority,
        check: Check::Tcp {
            addr: "127.0.0.1:9".into(),
        },
        timeout: Duration::from_secs(2),
        tls: Default::default(),
    }
}

/// A group of targets `(region, value)` in priority order; failback auto after
/// 5 minutes, max_changes 2, TTL 60.
fn group(mode: Mode, targets: &[(&str, &str)]) -> Group {
    Group {
        name: GROUP.into(),
        key: RecordKey {
            domain: "example.com".into(),
            subdomain: "api".into(),
            rtype: RecordType::A,
            line: "默认".into(),
        },
        mode,
        failback: Failback::Auto,
        failback_after: Duration::from_secs(300),
        max_changes: 2,
        ttl: 60,
        targets: targets
            .iter()
            .enumerate()
            .map(|(i, (r, v))| target(r, v, i as i64))
            .collect(),
    }
}

/// Three regions: gz (priority 0), sh (1), bj (2).
fn three(mode: Mode) -> Group {
    group(
        mode,
        &[("gz", "10.0.0.1"), ("sh", "10.0.0.2"), ("bj", "10.0.0.3")],
    )
}

fn value_of(g: &Group, region: &str) -> String {
    g.target(region).unwrap().value.clone()
}

fn outcome_in(group: &str, region: &str, value: &str, health: Health) -> TargetOutcome {
    let ok = || Attempt::success(Duration::from_millis(4), Some(200));
    let bad = || {
        Attempt::failure(
            Duration::from_millis(2000),
            None,
            FailureClass::Timeout,
            "no answer",
        )
    };
    let attempts = match health {
        Health::Healthy => vec![ok(), ok(), ok()],
        Health::Degraded => vec![ok(), bad(), ok()],
        Health::Down => vec![bad(), bad(), bad()],
        Health::Unknown => vec![],
    };
    TargetOutcome {
        group: group.into(),
        region: region.into(),
        value: value.into(),
        endpoint: "tcp://127.0.0.1:9".into(),
        health,
        attempts,
        drill: false,
    }
}

/// Outcomes of `g`'s targets; a target left out of `health` has no outcome
/// (counts as Unknown), as has one given `Health::Unknown`.
fn outcomes(g: &Group, health: &[(&str, Health)]) -> Vec<TargetOutcome> {
    health
        .iter()
        .filter(|(_, h)| *h != Health::Unknown)
        .map(|(r, h)| outcome_in(&g.name, r, &value_of(g, r), *h))
        .collect()
}

use Health::{Degraded, Down, Healthy, Unknown};

fn all(g: &Group, h: Health) -> Vec<TargetOutcome> {
    let hs: Vec<(&str, Health)> = g.targets.iter().map(|t| (t.region.as_str(), h)).collect();
    outcomes(g, &hs)
}

fn rec(id: &str, value: &str, enabled: bool, remark: &str, updated: DateTime<Utc>) -> Record {
    Record {
        id: id.into(),
        value: value.into(),
        ttl: 60,
        enabled,
        updated_on: Some(updated),
        remark: remark.into(),
        weight: None,
    }
}

/// A record the tool last changed `ago` before `t0()` with `verb`.
fn ours(id: &str, value: &str, enabled: bool, verb: &str, ago: chrono::Duration) -> Record {
    let at = t0() - ago;
    // The provider's update time is later than the remark's: the remark wins.
    rec(
        id,
        value,
        enabled,
        &dns::remark(verb, at, "test"),
        at + mins(1),
    )
}

/// A record a person last touched `ago` before `t0()`.
fn theirs(id: &str, value: &str, enabled: bool, ago: chrono::Duration) -> Record {
    rec(
        id,
        value,
        enabled,
        "paused by ops for maintenance",
        t0() - ago,
    )
}

/// One enabled record per target of `g`, set up long ago by a person.
fn all_enabled(g: &Group) -> Vec<Record> {
    g.targets
        .iter()
        .enumerate()
        .map(|(i, t)| rec(&format!("{}", i + 1), &t.value, true, "", t0() - mins(600)))
        .collect()
}

fn opts() -> Options {
    Options::default()
}

fn forced() -> Options {
    Options {
        force: true,
        ..Options::default()
    }
}

fn failback_to(region: &str) -> Options {
    Options {
        failback: Some((GROUP.into(), region.into())),
        ..Options::default()
    }
}

// -- the checked call and plan inspection ---------------------------------------

/// `decide_group`, plus the checks every plan must pass.
fn decide(
    g: &Group,
    records: &[Record],
    outs: &[TargetOutcome],
    now: DateTime<Utc>,
    o: &Options,
) -> GroupPlan {
    let plan = decide_group(g, records, outs, now, o);
    assert_eq!(
        plan,
        decide_group(g, records, outs, now, o),
        "decide is not deterministic"
    );
    assert_eq!(plan.group, g.name);
    for c in plan.changes.iter().chain(&plan.refused) {
        assert_eq!(c.group, g.name);
        assert_eq!(c.key, g.key);
        assert!(
            g.target(&c.region).is_some(),
            "change for unknown region: {c:?}"
        );
        let remark = match &c.op {
            ChangeOp::Create { record } => {
                let ttl = o.limits.as_ref().map_or(g.ttl, |l| l.ttl_for(g.ttl));
                assert_eq!(
                    record.ttl, ttl,
                    "created with the group's TTL (or the floor)"
                );
                assert!(
                    records.iter().all(|r| r.value != record.value),
                    "creates a record that exists: {c:?}"
                );
                &record.remark
            }
            ChangeOp::SetStatus {
                record_id,
                expect_value,
                expect_enabled,
                remark,
                ..
            }
            | ChangeOp::SetValue {
                record_id,
                expect_value,
                expect_enabled,
                remark,
                ..
            } => {
                let r = records
                    .iter()
                    .find(|r| &r.id == record_id)
                    .unwrap_or_else(|| panic!("change of a record that is not there: {c:?}"));
                assert_eq!(&r.value, expect_value, "expect_value of {c:?}");
                assert_eq!(r.enabled, *expect_enabled, "expect_enabled of {c:?}");
                remark
            }
            ChangeOp::SetTtl {
                record_id,
                expect_value,
                expect_enabled,
                from_ttl,
                ttl,
                ..
            } => {
                let r = records
                    .iter()
                    .find(|r| &r.id == record_id)
                    .unwrap_or_else(|| panic!("change of a record that is not there: {c:?}"));
                assert_eq!(&r.value, expect_value, "expect_value of {c:?}");
                assert_eq!(r.enabled, *expect_enabled, "expect_enabled of {c:?}");
                assert_eq!(r.ttl, *from_ttl, "from_ttl of {c:?}");
                let want = o.limits.as_ref().map(|l| l.ttl_for(g.ttl));
                assert_eq!(Some(*ttl), want, "lowered to the group's TTL or the floor");
                assert!(*ttl < r.ttl, "only lowers: {c:?}");
                assert!(!c.moves_traffic());
                continue;
            }
        };
        assert!(remark.starts_with(dns::REMARK_MARKER), "{remark}");
        assert!(remark.len() <= 200, "remark too long for DNSPod: {remark}");
        let back = rec("x", "v", true, remark, now - mins(999));
        assert_eq!(
            back.changed_at(),
            Some(now),
            "remark {remark:?} does not round-trip"
        );
        if o.drill {
            assert!(c.reason.starts_with("[DRILL] "), "{}", c.reason);
            assert!(remark.contains("-drill "), "{remark}");
        } else {
            assert!(!c.reason.contains("[DRILL]"), "{}", c.reason);
            assert!(!remark.contains("-drill"), "{remark}");
        }
    }
    for e in &plan.events {
        assert_eq!(e.group, g.name);
        assert_eq!(e.message.starts_with("[DRILL] "), o.drill, "{}", e.message);
    }
    // At most one change per record or per created value.
    let mut seen = std::collections::HashSet::new();
    for c in &plan.changes {
        let k = match &c.op {
            ChangeOp::Create { record } => format!("new {}", record.value),
            ChangeOp::SetStatus { record_id, .. }
            | ChangeOp::SetValue { record_id, .. }
            | ChangeOp::SetTtl { record_id, .. } => record_id.clone(),
        };
        assert!(
            seen.insert(k),
            "two changes for one record: {:?}",
            plan.changes
        );
    }
    plan
}

fn kinds(p: &GroupPlan) -> Vec<EventKind> {
    p.events.iter().map(|e| e.kind).collect()
}

fn event(p: &GroupPlan, kind: EventKind) -> &Event {
    p.events
        .iter()
        .find(|e| e.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} event in {:#?}", p.events))
}

/// `(record id, enabled)` of each SetStatus, in order.
fn statuses(changes: &[Change]) -> Vec<(String, bool)> {
    changes
        .iter()
        .filter_map(|c| match &c.op {
            ChangeOp::SetStatus {
                record_id, enabled, ..
            } => Some((record_id.clone(), *enabled)),
            _ => None,
        })
        .collect()
}

/// `(value, enabled)` of each Create, in order.
fn creates(changes: &[Change]) -> Vec<(String, bool)> {
    changes
        .iter()
        .filter_map(|c| match &c.op {
            ChangeOp::Create { record } => Some((record.value.clone(), record.enabled)),
            _ => None,
        })
        .collect()
}

/// `(record id, new value)` of each SetValue, in order.
fn rewrites(changes: &[Change]) -> Vec<(String, String)> {
    changes
        .iter()
        .filter_map(|c| match &c.op {
            ChangeOp::SetValue {
                record_id, value, ..
            } => Some((record_id.clone(), value.clone())),
            _ => None,
        })
        .collect()
}

fn s(id: &str, enabled: bool) -> (String, bool) {
    (id.to_string(), enabled)
}

// -- a tiny record model ----------------------------------------------------------

/// Apply changes the way a provider would (compare, then write, stamping the
/// update time), panicking on a compare-and-swap mismatch.
fn apply(records: &mut Vec<Record>, changes: &[Change], now: DateTime<Utc>) {
    for c in changes {
        match &c.op {
            ChangeOp::Create { record } => {
                let id = records
                    .iter()
                    .filter_map(|r| r.id.parse::<u64>().ok())
                    .max()
                    .unwrap_or(0)
                    + 1;
                records.push(Record {
                    id: id.to_string(),
                    value: record.value.clone(),
                    ttl: record.ttl,
                    enabled: record.enabled,
                    updated_on: Some(now),
                    remark: record.remark.clone(),
                    weight: None,
                });
            }
            ChangeOp::SetStatus {
                record_id,
                expect_value,
                expect_enabled,
                enabled,
                remark,
                ..
            } => {
                let r = records.iter_mut().find(|r| &r.id == record_id).unwrap();
                assert_eq!((&r.value, r.enabled), (expect_value, *expect_enabled));
                r.enabled = *enabled;
                r.remark = remark.clone();
                r.updated_on = Some(now);
            }
            ChangeOp::SetValue {
                record_id,
                expect_value,
                expect_enabled,
                value,
                ttl,
                enabled,
                remark,
                ..
            } => {
                let r = records.iter_mut().find(|r| &r.id == record_id).unwrap();
                assert_eq!((&r.value, r.enabled), (expect_value, *expect_enabled));
                r.value = value.clone();
                r.ttl = *ttl;
                r.enabled = *enabled;
                r.remark = remark.clone();
                r.updated_on = Some(now);
            }
            ChangeOp::SetTtl {
                record_id,
                expect_value,
                expect_enabled,
                ttl,
                ..
            } => {
                let r = records.iter_mut().find(|r| &r.id == record_id).unwrap();
                assert_eq!((&r.value, r.enabled), (expect_value, *expect_enabled));
                r.ttl = *ttl;
                r.updated_on = Some(now);
            }
        }
    }
}

/// Values of the enabled records, sorted.
fn enabled_values(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .filter(|r| r.enabled)
        .map(|r| r.value.clone())
        .collect();
    v.sort();
    v
}

// -- active mode -------------------------------------------------------------------

#[test]
fn active_disables_the_enabled_record_of_a_down_target() {
    let g = three(Mode::Active);
    let recs = all_enabled(&g);
    let p = decide(
        &g,
        &recs,
        &outcomes(&g, &[("gz", Healthy), ("sh", Down), ("bj", Healthy)]),
        t0(),
        &opts(),
    );
    assert_eq!(statuses(&p.changes), vec![s("2", false)]);
    assert_eq!(kinds(&p), vec![EventKind::Failover]);
    let e = event(&p, EventKind::Failover);
    assert_eq!(e.severity, Severity::Critical);
    assert_eq!(e.regions, vec!["sh".to_string()]);
    assert!(e.message.contains("timeout"), "{}", e.message);
    let ChangeOp::SetStatus { remark, .. } = &p.changes[0].op else {
        unreachable!()
    };
    assert!(
        remark.starts_with("dns-failover disabled 2026-03-01T12:00:00Z sh down: timeout"),
        "{remark}"
    );
    assert_eq!(p.changes[0].region, "sh");
    assert!(p.refused.is_empty());
}

#[test]
fn active_disables_a_down_record_even_when_a_person_enabled_it() {
    let g = three(Mode::Active);
    let mut recs = all_enabled(&g);
    recs[0].remark = "enabled by alice".into();
    let p = decide(
        &g,
        &recs,
        &outcomes(&g, &[("gz", Down), ("sh", Healthy), ("bj", Healthy)]),
        t0(),
        &opts(),
    );
    assert_eq!(statuses(&p.changes), vec![s("1", false)]);
}

#[test]
fn active_leaves_healthy_enabled_records_alone() {
    let g = three(Mode::Active);
    let p = decide(&g, &all_enabled(&g), &all(&g, Healthy), t0(), &opts());
    assert!(p.changes.is_empty() && p.events.is_empty(), "{p:#?}");
}

#[test]
fn active_reenables_a_recovered_target_once_out_for_failback_after() {
    let g = three(Mode::Active);
    let mut recs = all_enabled(&g);
    recs[1] = ours("2", "10.0.0.2", false, "disabled", mins(6));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert_eq!(statuses(&p.changes), vec![s("2", true)]);
    let e = event(&p, EventKind::Failback);
    assert_eq!(e.regions, vec!["sh".to_string()]);
    assert!(e.message.contains("after 6m out"), "{}", e.message);

    // Exactly failback_after is enough.
    recs[1] = ours("2", "10.0.0.2", false, "disabled", mins(5));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert_eq!(statuses(&p.changes), vec![s("2", true)]);
}

#[test]
fn active_time_out_comes_from_the_remark_not_the_update_time() {
    let g = three(Mode::Active);
    let mut recs = all_enabled(&g);
    // Remark says 10 minutes ago; the provider's update time says 1 minute ago.
    recs[1] = ours("2", "10.0.0.2", false, "disabled", mins(10));
    recs[1].updated_on = Some(t0() - mins(1));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert_eq!(statuses(&p.changes), vec![s("2", true)]);
}

#[test]
fn active_recovering_target_waits_for_failback_after() {
    let g = three(Mode::Active);
    let mut recs = all_enabled(&g);
    recs[1] = ours("2", "10.0.0.2", false, "disabled", mins(4));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(kinds(&p), vec![EventKind::Recovering]);
    let e = event(&p, EventKind::Recovering);
    assert_eq!(e.severity, Severity::Info);
    assert!(e.message.contains("4m"), "{}", e.message);
    assert!(e.message.contains("5m"), "{}", e.message);

    // A remark time in the future (clock skew) counts as "just now".
    recs[1] = ours("2", "10.0.0.2", false, "disabled", mins(-3));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::Recovering]);
}

#[test]
fn active_manual_failback_reports_recovered_pending_and_changes_nothing() {
    let mut g = three(Mode::Active);
    g.failback = Failback::Manual;
    let mut recs = all_enabled(&g);
    recs[2] = ours("3", "10.0.0.3", false, "disabled", mins(60));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::RecoveredPending]);
    let e = event(&p, EventKind::RecoveredPending);
    assert!(
        e.message
            .contains("dns-failover failback --group api --region bj"),
        "{}",
        e.message
    );
    // Still recovering before failback_after, even in manual mode.
    recs[2] = ours("3", "10.0.0.3", false, "disabled", mins(1));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert_eq!(kinds(&p), vec![EventKind::Recovering]);
}

#[test]
fn active_operator_failback_enables_a_healthy_target_before_failback_after() {
    let mut g = three(Mode::Active);
    g.failback = Failback::Manual;
    let mut recs = all_enabled(&g);
    recs[1] = ours("2", "10.0.0.2", false, "disabled", mins(1));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &failback_to("sh"));
    assert_eq!(statuses(&p.changes), vec![s("2", true)]);
    assert!(event(&p, EventKind::Failback).message.contains("operator"));

    // A failback asked for another group does nothing here.
    let other = Options {
        failback: Some(("www".into(), "sh".into())),
        ..Options::default()
    };
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &other);
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::Recovering]);
}

#[test]
fn active_operator_failback_refuses_a_degraded_target_unless_forced() {
    let g = three(Mode::Active);
    let mut recs = all_enabled(&g);
    recs[1] = ours("2", "10.0.0.2", false, "disabled", mins(60));
    let outs = outcomes(&g, &[("gz", Healthy), ("sh", Degraded), ("bj", Healthy)]);
    let p = decide(&g, &recs, &outs, t0(), &failback_to("sh"));
    assert!(p.changes.is_empty());
    let e = event(&p, EventKind::NoHealthyTarget);
    assert!(e.message.contains("refused"), "{}", e.message);
    assert!(e.message.contains("--force"), "{}", e.message);

    let o = Options {
        force: true,
        ..failback_to("sh")
    };
    let p = decide(&g, &recs, &outs, t0(), &o);
    assert_eq!(statuses(&p.changes), vec![s("2", true)]);
}

#[test]
fn active_operator_failback_never_enables_a_down_target_even_forced() {
    let g = three(Mode::Active);
    let mut recs = all_enabled(&g);
    recs[1] = ours("2", "10.0.0.2", false, "disabled", mins(60));
    let outs = outcomes(&g, &[("gz", Healthy), ("sh", Down), ("bj", Healthy)]);
    for o in [
        failback_to("sh"),
        Options {
            force: true,
            ..failback_to("sh")
        },
    ] {
        let p = decide(&g, &recs, &outs, t0(), &o);
        assert!(p.changes.is_empty(), "{:?}", p.changes);
        // The request is answered, not dropped silently.
        let e = event(&p, EventKind::NoHealthyTarget);
        assert_eq!(e.regions, vec!["sh".to_string()]);
        assert!(e.message.contains("refused: down"), "{}", e.message);
    }
    // Not probed: refused too.
    let outs = outcomes(&g, &[("gz", Healthy), ("bj", Healthy)]);
    let p = decide(&g, &recs, &outs, t0(), &failback_to("sh"));
    assert!(p.changes.is_empty());
    assert!(event(&p, EventKind::NoHealthyTarget)
        .message
        .contains("refused: unknown"));
}

#[test]
fn active_operator_failback_of_a_target_already_in_says_so() {
    let g = three(Mode::Active);
    let p = decide(
        &g,
        &all_enabled(&g),
        &all(&g, Healthy),
        t0(),
        &failback_to("sh"),
    );
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::LeftAlone]);
    assert!(p.events[0].message.contains("already enabled"));
}

#[test]
fn active_a_record_created_in_the_same_plan_lets_the_last_down_record_go() {
    // Regression: a healthy target added during an outage of the only
    // enabled one used to keep the down record in for one more run
    // (`last_record_kept`), so the plan was not idempotent.
    let g = group(Mode::Active, &[("gz", "10.0.0.1"), ("sh", "10.0.0.2")]);
    let mut recs = vec![rec("1", "10.0.0.1", true, "", t0() - mins(600))];
    let outs = outcomes(&g, &[("gz", Down), ("sh", Healthy)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    // The create comes first, so the disable only happens once it exists.
    assert_eq!(creates(&p.changes), vec![("10.0.0.2".to_string(), true)]);
    assert_eq!(statuses(&p.changes), vec![s("1", false)]);
    assert!(matches!(p.changes[0].op, ChangeOp::Create { .. }));
    assert!(!kinds(&p).contains(&EventKind::LastRecordKept));
    apply(&mut recs, &p.changes, t0());
    assert_eq!(enabled_values(&recs), vec!["10.0.0.2"]);
    assert!(decide(&g, &recs, &outs, t0(), &opts()).changes.is_empty());

    // A record created disabled (its target is down) does not count.
    let g = three(Mode::Active);
    let recs = vec![rec("1", "10.0.0.1", true, "", t0() - mins(600))];
    let outs = outcomes(&g, &[("gz", Down), ("sh", Down), ("bj", Unknown)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert_eq!(creates(&p.changes), vec![("10.0.0.2".to_string(), false)]);
    assert!(statuses(&p.changes).is_empty());
    assert!(kinds(&p).contains(&EventKind::LastRecordKept));
}

#[test]
fn operator_failback_of_a_region_not_in_the_group_is_reported() {
    for mode in [Mode::Active, Mode::Failover] {
        let g = three(mode);
        let recs = match mode {
            Mode::Active => all_enabled(&g),
            Mode::Failover => vec![ours("1", "10.0.0.1", true, "created", mins(60))],
        };
        let p = decide(&g, &recs, &all(&g, Healthy), t0(), &failback_to("mars"));
        assert!(p.changes.is_empty());
        let e = event(&p, EventKind::NoHealthyTarget);
        assert_eq!(e.regions, vec!["mars".to_string()]);
        assert!(e.message.contains("not a target"), "{}", e.message);
    }
}

#[test]
fn active_degraded_target_is_neither_disabled_nor_reenabled() {
    let g = three(Mode::Active);
    let mut recs = all_enabled(&g);
    recs[2] = ours("3", "10.0.0.3", false, "disabled", mins(60));
    let outs = outcomes(&g, &[("gz", Degraded), ("sh", Healthy), ("bj", Degraded)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert!(p.events.is_empty(), "{:?}", p.events);
}

#[test]
fn active_never_disables_the_last_enabled_record_and_puts_an_up_target_back_early() {
    let g = three(Mode::Active);
    // gz and bj were taken out by the tool a minute ago; only sh is in, and now sh is down.
    let recs = vec![
        ours("1", "10.0.0.1", false, "disabled", mins(1)),
        rec("2", "10.0.0.2", true, "", t0() - mins(600)),
        ours("3", "10.0.0.3", false, "disabled", mins(1)),
    ];
    let outs = outcomes(&g, &[("gz", Down), ("sh", Down), ("bj", Degraded)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    // bj (up, taken out by us) goes back before failback_after; enables come first.
    assert_eq!(statuses(&p.changes), vec![s("3", true), s("2", false)]);
    let e = event(&p, EventKind::Failback);
    assert_eq!(e.regions, vec!["bj".to_string()]);
    assert!(e.message.contains("early"), "{}", e.message);
    assert!(!kinds(&p).contains(&EventKind::LastRecordKept));

    let mut after = recs.clone();
    apply(&mut after, &p.changes, t0());
    assert_eq!(enabled_values(&after), vec!["10.0.0.3".to_string()]);
}

#[test]
fn active_keeps_the_last_enabled_record_when_nothing_can_replace_it() {
    let g = three(Mode::Active);
    // gz and sh are in and both down; bj is out and unknown.
    let recs = vec![
        rec("1", "10.0.0.1", true, "", t0() - mins(600)),
        rec("2", "10.0.0.2", true, "", t0() - mins(600)),
        ours("3", "10.0.0.3", false, "disabled", mins(60)),
    ];
    let outs = outcomes(&g, &[("gz", Down), ("sh", Down)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    // The highest-priority down record (gz) stays; sh goes.
    assert_eq!(statuses(&p.changes), vec![s("2", false)]);
    let e = event(&p, EventKind::LastRecordKept);
    assert_eq!(e.severity, Severity::Critical);
    assert_eq!(e.regions, vec!["gz".to_string()]);
    let mut after = recs.clone();
    apply(&mut after, &p.changes, t0());
    assert_eq!(enabled_values(&after), vec!["10.0.0.1".to_string()]);

    // A single enabled record whose target is down, the rest out and down
    // (but not all down: one is unknown): kept, nothing changed.
    let recs = vec![
        rec("1", "10.0.0.1", true, "", t0() - mins(600)),
        ours("2", "10.0.0.2", false, "disabled", mins(60)),
        ours("3", "10.0.0.3", false, "disabled", mins(60)),
    ];
    let outs = outcomes(&g, &[("gz", Down), ("sh", Down)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::LastRecordKept]);
}

#[test]
fn active_never_puts_back_early_a_record_a_person_disabled() {
    let g = three(Mode::Active);
    let recs = vec![
        rec("1", "10.0.0.1", true, "", t0() - mins(600)),
        theirs("2", "10.0.0.2", false, mins(600)),
        ours("3", "10.0.0.3", false, "disabled", mins(1)),
    ];
    // gz down; sh is up but a person took it out; bj down.
    let outs = outcomes(&g, &[("gz", Down), ("sh", Healthy), ("bj", Down)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert!(kinds(&p).contains(&EventKind::LastRecordKept));
    assert!(kinds(&p).contains(&EventKind::LeftAlone));
}

#[test]
fn active_leaves_a_record_disabled_by_a_person_alone() {
    let g = three(Mode::Active);
    let mut recs = all_enabled(&g);
    recs[1] = theirs("2", "10.0.0.2", false, mins(24 * 60));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    let e = event(&p, EventKind::LeftAlone);
    assert_eq!(e.regions, vec!["sh".to_string()]);
    assert!(e.message.contains("not by dns-failover"), "{}", e.message);
    // An empty remark is a person's too.
    recs[1].remark.clear();
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::LeftAlone]);
    // Forcing does not change that.
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &forced());
    assert!(p.changes.is_empty());
}

#[test]
fn active_operator_failback_may_enable_a_record_a_person_disabled() {
    // The explicit request wins over "left alone": that is what the operator asked for.
    let g = three(Mode::Active);
    let mut recs = all_enabled(&g);
    recs[1] = theirs("2", "10.0.0.2", false, mins(60));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &failback_to("sh"));
    assert_eq!(statuses(&p.changes), vec![s("2", true)]);
}

#[test]
fn active_creates_missing_records_enabled_when_up_disabled_when_down() {
    let mut g = group(
        Mode::Active,
        &[
            ("gz", "10.0.0.1"),
            ("sh", "10.0.0.2"),
            ("bj", "10.0.0.3"),
            ("hk", "10.0.0.4"),
        ],
    );
    g.ttl = 120;
    let outs = outcomes(
        &g,
        &[
            ("gz", Healthy),
            ("sh", Degraded),
            ("bj", Down),
            ("hk", Unknown),
        ],
    );
    let p = decide(&g, &[], &outs, t0(), &opts());
    // An unknown target gets no record yet: nothing is decided on it.
    assert_eq!(
        creates(&p.changes),
        vec![
            ("10.0.0.1".to_string(), true),
            ("10.0.0.2".to_string(), true),
            ("10.0.0.3".to_string(), false)
        ]
    );
    assert_eq!(
        kinds(&p),
        vec![EventKind::Created, EventKind::Created, EventKind::Created]
    );
    for c in &p.changes {
        let ChangeOp::Create { record } = &c.op else {
            unreachable!()
        };
        assert_eq!(record.ttl, 120);
        let verb = if record.enabled {
            "created"
        } else {
            "disabled"
        };
        assert!(
            record
                .remark
                .starts_with(&format!("dns-failover {verb} 2026-03-01T12:00:00Z")),
            "{}",
            record.remark
        );
    }

    // A new target added to a running group: only its record is created.
    let recs = all_enabled(&three(Mode::Active));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert_eq!(creates(&p.changes), vec![("10.0.0.4".to_string(), true)]);
    assert_eq!(p.changes.len(), 1);
}

#[test]
fn creates_do_not_count_against_max_changes() {
    let mut g = group(
        Mode::Active,
        &[
            ("a", "10.0.0.1"),
            ("b", "10.0.0.2"),
            ("c", "10.0.0.3"),
            ("d", "10.0.0.4"),
        ],
    );
    g.max_changes = 1;
    let p = decide(&g, &[], &all(&g, Healthy), t0(), &opts());
    assert_eq!(p.changes.len(), 4);
    assert!(p.refused.is_empty());
    assert!(!kinds(&p).contains(&EventKind::MaxChangesExceeded));
}

#[test]
fn active_ignores_records_that_belong_to_no_target() {
    let g = three(Mode::Active);
    let mut recs = all_enabled(&g);
    recs.push(rec("9", "192.0.2.9", true, "", t0() - mins(600)));
    recs.push(rec("8", "192.0.2.8", false, "", t0() - mins(600)));
    let p = decide(
        &g,
        &recs,
        &outcomes(&g, &[("gz", Healthy), ("sh", Down), ("bj", Healthy)]),
        t0(),
        &opts(),
    );
    assert_eq!(statuses(&p.changes), vec![s("2", false)]);
}

#[test]
fn unknown_health_changes_nothing() {
    // Active: unknown targets keep their records as they are.
    let g = three(Mode::Active);
    let recs = vec![
        rec("1", "10.0.0.1", true, "", t0() - mins(600)),
        ours("2", "10.0.0.2", false, "disabled", mins(600)),
        rec("3", "10.0.0.3", true, "", t0() - mins(600)),
    ];
    let p = decide(&g, &recs, &[], t0(), &opts());
    assert!(p.changes.is_empty() && p.events.is_empty(), "{p:#?}");
    let p = decide(&g, &recs, &outcomes(&g, &[("gz", Healthy)]), t0(), &opts());
    assert!(p.changes.is_empty() && p.events.is_empty(), "{p:#?}");

    // Failover: an unknown current target is not failed over from.
    let g = three(Mode::Failover);
    let recs = vec![ours("1", "10.0.0.2", true, "failover", mins(600))];
    let p = decide(&g, &recs, &[], t0(), &opts());
    assert!(p.changes.is_empty() && p.events.is_empty(), "{p:#?}");
    let p = decide(
        &g,
        &recs,
        &outcomes(&g, &[("gz", Unknown), ("bj", Healthy)]),
        t0(),
        &opts(),
    );
    assert!(p.changes.is_empty() && p.events.is_empty(), "{p:#?}");
    // Nothing known at all on a first run: nothing created.
    let p = decide(&g, &[], &[], t0(), &opts());
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::NoHealthyTarget]);
}

#[test]
fn outcomes_of_other_groups_are_ignored() {
    let g = three(Mode::Active);
    let recs = all_enabled(&g);
    let mut outs = all(&g, Healthy);
    outs.push(outcome_in("www", "sh", "10.0.0.2", Down));
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    // Without its own outcome, sh is unknown here, whatever www saw.
    let mut outs = vec![outcome_in("www", "sh", "10.0.0.2", Down)];
    outs.extend(all(&g, Healthy).into_iter().filter(|o| o.region != "sh"));
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert!(p.changes.is_empty(), "{:?}", p.changes);
}

#[test]
fn all_down_changes_nothing_and_raises_a_critical_event() {
    for mode in [Mode::Active, Mode::Failover] {
        let g = three(mode);
        let recs_sets = [
            vec![],
            all_enabled(&g),
            vec![ours("1", "10.0.0.1", true, "failover", mins(60))],
        ];
        for recs in &recs_sets {
            for o in [opts(), forced(), failback_to("sh")] {
                let p = decide(&g, recs, &all(&g, Down), t0(), &o);
                assert!(p.changes.is_empty() && p.refused.is_empty(), "{p:#?}");
                assert_eq!(kinds(&p), vec![EventKind::AllDown]);
                let e = event(&p, EventKind::AllDown);
                assert_eq!(e.severity, Severity::Critical);
                assert_eq!(e.regions, vec!["gz", "sh", "bj"]);
                assert!(e.message.contains("network"), "{}", e.message);
            }
        }
    }
}

#[test]
fn max_changes_refuses_moving_changes_but_keeps_creates_and_force_lets_them_through() {
    let mut g = group(
        Mode::Active,
        &[
            ("a", "10.0.0.1"),
            ("b", "10.0.0.2"),
            ("c", "10.0.0.3"),
            ("d", "10.0.0.4"),
            ("e", "10.0.0.5"),
        ],
    );
    g.max_changes = 2;
    // a..d have records, e has none. b, c, d go down: 3 disables > 2.
    let recs: Vec<Record> = all_enabled(&g).into_iter().take(4).collect();
    let outs = outcomes(
        &g,
        &[
            ("a", Healthy),
            ("b", Down),
            ("c", Down),
            ("d", Down),
            ("e", Healthy),
        ],
    );
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert_eq!(creates(&p.changes), vec![("10.0.0.5".to_string(), true)]);
    assert_eq!(p.changes.len(), 1);
    assert_eq!(
        statuses(&p.refused),
        vec![s("2", false), s("3", false), s("4", false)]
    );
    let e = event(&p, EventKind::MaxChangesExceeded);
    assert_eq!(e.severity, Severity::Critical);
    assert_eq!(e.regions, vec!["b", "c", "d"]);
    assert!(e.message.contains("max_changes = 2"), "{}", e.message);
    assert!(e.message.contains("--force"), "{}", e.message);
    // The refused changes still have their own events (what would have happened).
    assert!(kinds(&p).contains(&EventKind::Failover));

    let p = decide(&g, &recs, &outs, t0(), &forced());
    assert!(p.refused.is_empty());
    assert_eq!(
        statuses(&p.changes),
        vec![s("2", false), s("3", false), s("4", false)]
    );
    assert!(!kinds(&p).contains(&EventKind::MaxChangesExceeded));

    // Exactly max_changes is allowed.
    let outs = outcomes(
        &g,
        &[
            ("a", Healthy),
            ("b", Down),
            ("c", Down),
            ("d", Healthy),
            ("e", Healthy),
        ],
    );
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert_eq!(statuses(&p.changes), vec![s("2", false), s("3", false)]);
    assert!(p.refused.is_empty());
}

// -- failover mode -----------------------------------------------------------------

fn the_record(value: &str, verb: &str, ago: chrono::Duration) -> Vec<Record> {
    vec![ours("7", value, true, verb, ago)]
}

#[test]
fn failover_creates_the_record_on_first_run_for_the_best_healthy_target() {
    let g = three(Mode::Failover);
    let p = decide(&g, &[], &all(&g, Healthy), t0(), &opts());
    assert_eq!(creates(&p.changes), vec![("10.0.0.1".to_string(), true)]);
    assert_eq!(kinds(&p), vec![EventKind::Created]);
    assert_eq!(p.changes[0].region, "gz");

    // First target down, second degraded, third healthy: healthy wins.
    let outs = outcomes(&g, &[("gz", Down), ("sh", Degraded), ("bj", Healthy)]);
    let p = decide(&g, &[], &outs, t0(), &opts());
    assert_eq!(creates(&p.changes), vec![("10.0.0.3".to_string(), true)]);
    // Only degraded ones: the highest-priority degraded one.
    let outs = outcomes(&g, &[("gz", Down), ("sh", Degraded), ("bj", Degraded)]);
    let p = decide(&g, &[], &outs, t0(), &opts());
    assert_eq!(creates(&p.changes), vec![("10.0.0.2".to_string(), true)]);
}

#[test]
fn failover_first_run_with_no_target_up_creates_nothing() {
    let g = three(Mode::Failover);
    let outs = outcomes(&g, &[("gz", Down), ("sh", Down)]);
    let p = decide(&g, &[], &outs, t0(), &opts());
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::NoHealthyTarget]);
    assert_eq!(
        event(&p, EventKind::NoHealthyTarget).severity,
        Severity::Critical
    );
}

#[test]
fn failover_rewrites_a_down_target_to_the_highest_priority_up_target() {
    let g = three(Mode::Failover);
    let recs = the_record("10.0.0.1", "created", mins(600));
    let outs = outcomes(&g, &[("gz", Down), ("sh", Healthy), ("bj", Healthy)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert_eq!(
        rewrites(&p.changes),
        vec![("7".to_string(), "10.0.0.2".to_string())]
    );
    let c = &p.changes[0];
    assert_eq!(c.region, "sh");
    let ChangeOp::SetValue {
        ttl,
        enabled,
        remark,
        ..
    } = &c.op
    else {
        unreachable!()
    };
    assert_eq!(*ttl, 60);
    assert!(*enabled);
    assert!(
        remark.starts_with("dns-failover failover 2026-03-01T12:00:00Z gz -> sh"),
        "{remark}"
    );
    let e = event(&p, EventKind::Failover);
    assert_eq!(e.severity, Severity::Critical);
    assert_eq!(e.regions, vec!["gz", "sh"]);
}

#[test]
fn failover_prefers_a_healthy_target_over_a_degraded_one_of_higher_priority() {
    let g = three(Mode::Failover);
    let recs = the_record("10.0.0.1", "created", mins(600));
    let outs = outcomes(&g, &[("gz", Down), ("sh", Degraded), ("bj", Healthy)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert_eq!(
        rewrites(&p.changes),
        vec![("7".to_string(), "10.0.0.3".to_string())]
    );
    // With nothing healthy, a degraded target is better than a down one.
    let outs = outcomes(&g, &[("gz", Down), ("sh", Down), ("bj", Degraded)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert_eq!(
        rewrites(&p.changes),
        vec![("7".to_string(), "10.0.0.3".to_string())]
    );
    // A failover may move to a higher-priority target than the current one.
    let recs = the_record("10.0.0.3", "failover", mins(1));
    let outs = outcomes(&g, &[("gz", Healthy), ("sh", Healthy), ("bj", Down)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert_eq!(
        rewrites(&p.changes),
        vec![("7".to_string(), "10.0.0.1".to_string())]
    );
}

#[test]
fn failover_never_points_at_a_down_or_unknown_target() {
    let g = three(Mode::Failover);
    let recs = the_record("10.0.0.1", "created", mins(600));
    // The others are down or not probed: the record stays where it is.
    let outs = outcomes(&g, &[("gz", Down), ("sh", Down)]);
    let p = decide(&g, &recs, &outs, t0(), &forced());
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(kinds(&p), vec![EventKind::NoHealthyTarget]);
    let e = event(&p, EventKind::NoHealthyTarget);
    assert_eq!(e.severity, Severity::Critical);
    assert_eq!(e.regions, vec!["gz"]);
}

#[test]
fn failover_fails_back_after_failback_after() {
    let g = three(Mode::Failover);
    let outs = all(&g, Healthy);
    // Failed over to sh 6 minutes ago; gz is healthy again.
    let recs = the_record("10.0.0.2", "failover", mins(6));
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert_eq!(
        rewrites(&p.changes),
        vec![("7".to_string(), "10.0.0.1".to_string())]
    );
    let e = event(&p, EventKind::Failback);
    assert_eq!(e.regions, vec!["gz"]);
    let ChangeOp::SetValue { remark, .. } = &p.changes[0].op else {
        unreachable!()
    };
    assert!(remark.starts_with("dns-failover failback "), "{remark}");
    assert!(remark.ends_with("sh -> gz"), "{remark}");

    // 4 minutes: recovering, nothing changes.
    let recs = the_record("10.0.0.2", "failover", mins(4));
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::Recovering]);

    // Manual failback: reported, not done.
    let mut gm = g.clone();
    gm.failback = Failback::Manual;
    let recs = the_record("10.0.0.2", "failover", mins(60));
    let p = decide(&gm, &recs, &outs, t0(), &opts());
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::RecoveredPending]);
    assert!(event(&p, EventKind::RecoveredPending)
        .message
        .contains("--region gz"),);
}

#[test]
fn failover_fails_back_only_to_a_healthy_better_target() {
    let g = three(Mode::Failover);
    let recs = the_record("10.0.0.3", "failover", mins(60));
    // gz degraded, sh healthy: back to sh (better than bj), not gz.
    let outs = outcomes(&g, &[("gz", Degraded), ("sh", Healthy), ("bj", Healthy)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert_eq!(
        rewrites(&p.changes),
        vec![("7".to_string(), "10.0.0.2".to_string())]
    );
    // Nothing better is healthy: stays.
    let outs = outcomes(&g, &[("gz", Degraded), ("sh", Down), ("bj", Degraded)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert!(p.changes.is_empty() && p.events.is_empty(), "{p:#?}");
}

#[test]
fn failover_does_not_fail_back_a_record_last_set_by_someone_else() {
    let g = three(Mode::Failover);
    let recs = vec![theirs("7", "10.0.0.2", true, mins(600))];
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::LeftAlone]);
    assert!(event(&p, EventKind::LeftAlone)
        .message
        .contains("someone else"));
}

#[test]
fn failover_still_fails_over_a_record_someone_else_set_when_its_target_is_down() {
    // Traffic safety beats ownership: the name must not point at a dead target.
    let g = three(Mode::Failover);
    let recs = vec![theirs("7", "10.0.0.2", true, mins(600))];
    let outs = outcomes(&g, &[("gz", Healthy), ("sh", Down), ("bj", Healthy)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert_eq!(
        rewrites(&p.changes),
        vec![("7".to_string(), "10.0.0.1".to_string())]
    );
}

#[test]
fn failover_leaves_alone_a_record_pointing_at_no_target() {
    let g = three(Mode::Failover);
    let recs = vec![ours("7", "192.0.2.1", true, "failover", mins(600))];
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::LeftAlone]);
    assert!(event(&p, EventKind::LeftAlone)
        .message
        .contains("no target's value"));
}

#[test]
fn failover_leaves_alone_a_name_with_several_enabled_records() {
    let g = three(Mode::Failover);
    let recs = vec![
        rec("7", "10.0.0.1", true, "", t0() - mins(600)),
        rec("8", "10.0.0.2", true, "", t0() - mins(600)),
    ];
    let outs = outcomes(&g, &[("gz", Down), ("sh", Healthy), ("bj", Healthy)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::LeftAlone]);
    assert!(event(&p, EventKind::LeftAlone)
        .message
        .contains("2 enabled"));
}

#[test]
fn failover_leaves_alone_a_name_whose_records_are_all_disabled_and_pages_it_as_empty() {
    let g = three(Mode::Failover);
    let recs = vec![
        theirs("7", "10.0.0.1", false, mins(600)),
        ours("8", "10.0.0.2", false, "failover", mins(600)),
    ];
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &forced());
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::EmptyName]);
    assert_eq!(event(&p, EventKind::EmptyName).severity, Severity::Critical);
}

#[test]
fn failover_uses_the_one_enabled_record_next_to_disabled_ones() {
    let g = three(Mode::Failover);
    let recs = vec![
        theirs("6", "10.0.0.3", false, mins(600)),
        ours("7", "10.0.0.1", true, "created", mins(600)),
    ];
    let outs = outcomes(&g, &[("gz", Down), ("sh", Healthy), ("bj", Healthy)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert_eq!(
        rewrites(&p.changes),
        vec![("7".to_string(), "10.0.0.2".to_string())]
    );
}

#[test]
fn failover_operator_failback_moves_to_a_healthy_target_before_failback_after() {
    let mut g = three(Mode::Failover);
    g.failback = Failback::Manual;
    let recs = the_record("10.0.0.3", "failover", mins(1));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &failback_to("gz"));
    assert_eq!(
        rewrites(&p.changes),
        vec![("7".to_string(), "10.0.0.1".to_string())]
    );
    assert!(event(&p, EventKind::Failback).message.contains("operator"));

    // Even when someone else set the record.
    let recs = vec![theirs("7", "10.0.0.3", true, mins(1))];
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &failback_to("sh"));
    assert_eq!(
        rewrites(&p.changes),
        vec![("7".to_string(), "10.0.0.2".to_string())]
    );

    // Already there: nothing to do.
    let recs = the_record("10.0.0.1", "failback", mins(1));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &failback_to("gz"));
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::LeftAlone]);
}

#[test]
fn failover_operator_failback_refuses_a_degraded_target_unless_forced_and_a_down_one_always() {
    let g = three(Mode::Failover);
    let recs = the_record("10.0.0.3", "failover", mins(60));
    let outs = outcomes(&g, &[("gz", Degraded), ("sh", Down), ("bj", Healthy)]);
    let p = decide(&g, &recs, &outs, t0(), &failback_to("gz"));
    assert!(p.changes.is_empty());
    assert!(event(&p, EventKind::NoHealthyTarget)
        .message
        .contains("refused"));
    let o = Options {
        force: true,
        ..failback_to("gz")
    };
    let p = decide(&g, &recs, &outs, t0(), &o);
    assert_eq!(
        rewrites(&p.changes),
        vec![("7".to_string(), "10.0.0.1".to_string())]
    );
    // Down: refused even with force.
    let o = Options {
        force: true,
        ..failback_to("sh")
    };
    let p = decide(&g, &recs, &outs, t0(), &o);
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::NoHealthyTarget]);
    // Unknown: refused too.
    let outs = outcomes(&g, &[("bj", Healthy)]);
    let p = decide(&g, &recs, &outs, t0(), &o);
    assert!(p.changes.is_empty());
}

#[test]
fn failover_a_refused_operator_failback_does_not_delay_a_needed_failover() {
    let g = three(Mode::Failover);
    // The record points at bj, which is down; the operator asks for sh, which is down too.
    let recs = the_record("10.0.0.3", "failover", mins(60));
    let outs = outcomes(&g, &[("gz", Healthy), ("sh", Down), ("bj", Down)]);
    let p = decide(&g, &recs, &outs, t0(), &failback_to("sh"));
    assert!(kinds(&p).contains(&EventKind::NoHealthyTarget));
    assert!(kinds(&p).contains(&EventKind::Failover));
    assert_eq!(
        rewrites(&p.changes),
        vec![("7".to_string(), "10.0.0.1".to_string())]
    );
}

// -- drills and remarks --------------------------------------------------------------

#[test]
fn drill_marks_remarks_reasons_and_messages() {
    let drill = Options {
        drill: true,
        ..Options::default()
    };
    // Active: the checks in `decide` assert the markers on every change and event.
    let g = three(Mode::Active);
    let outs = outcomes(&g, &[("gz", Healthy), ("sh", Down), ("bj", Healthy)]);
    let p = decide(&g, &all_enabled(&g), &outs, t0(), &drill);
    assert_eq!(statuses(&p.changes), vec![s("2", false)]);
    let ChangeOp::SetStatus { remark, .. } = &p.changes[0].op else {
        unreachable!()
    };
    assert!(
        remark.starts_with("dns-failover disabled-drill 2026-03-01T12:00:00Z"),
        "{remark}"
    );
    assert!(p.events[0].message.starts_with("[DRILL] sh is down"));

    // Failover, first run and failover.
    let g = three(Mode::Failover);
    let p = decide(&g, &[], &outs, t0(), &drill);
    assert_eq!(creates(&p.changes), vec![("10.0.0.1".to_string(), true)]);
    let outs = outcomes(&g, &[("gz", Down), ("sh", Healthy), ("bj", Healthy)]);
    let p = decide(
        &g,
        &the_record("10.0.0.1", "created", mins(60)),
        &outs,
        t0(),
        &drill,
    );
    let ChangeOp::SetValue { remark, .. } = &p.changes[0].op else {
        unreachable!()
    };
    assert!(
        remark.starts_with("dns-failover failover-drill "),
        "{remark}"
    );

    // All down in a drill: the event says so.
    let p = decide(&g, &[], &all(&g, Down), t0(), &drill);
    assert!(p.events[0].message.starts_with("[DRILL] every target"));

    // A record a drill disabled counts as the tool's: it comes back after failback_after.
    let g = three(Mode::Active);
    let mut recs = all_enabled(&g);
    recs[1] = ours("2", "10.0.0.2", false, "disabled-drill", mins(10));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert_eq!(statuses(&p.changes), vec![s("2", true)]);
}

#[test]
fn remarks_written_by_the_tool_round_trip_through_changed_at() {
    let g = three(Mode::Active);
    let now = t0() + chrono::Duration::seconds(17);
    let outs = outcomes(&g, &[("gz", Healthy), ("sh", Down), ("bj", Healthy)]);
    let mut recs = all_enabled(&g);
    recs[2] = ours("3", "10.0.0.3", false, "disabled", mins(60));
    let p = decide(&g, &recs, &outs, now, &opts());
    assert_eq!(p.changes.len(), 2);
    apply(&mut recs, &p.changes, now - mins(30)); // a provider clock that lags
    for id in ["2", "3"] {
        let r = recs.iter().find(|r| r.id == id).unwrap();
        assert!(r.remark_is_ours());
        assert_eq!(r.changed_at(), Some(now), "{}", r.remark);
    }
    // And with a long detail cut to fit DNSPod's limit, the time survives.
    let long = dns::remark("disabled", now, &"区域".repeat(200));
    let r = rec("1", "v", false, &long, t0());
    assert_eq!(r.changed_at(), Some(now));
}

// -- configs from TOML ---------------------------------------------------------------

#[test]
fn a_group_parsed_from_toml_is_decided_in_priority_order() {
    let text = r#"
[probe]
attempts = 3
fail_threshold = 2

[dns]
provider = "file"
domain = "example.com"
ttl = 600
path = "/nonexistent/zone.json"

[[group]]
name = "www"
subdomain = "www"
type = "CNAME"
mode = "failover"
failback = "manual"
failback_after = "10m"
max_changes = 1

[[group.target]]
region = "ap-beijing"
value = "bj.apigw.example.com."
tcp = "127.0.0.1:1"
priority = 3

[[group.target]]
region = "ap-guangzhou"
value = "gz.apigw.example.com"
tcp = "127.0.0.1:2"
priority = 1

[[group.target]]
region = "ap-shanghai"
value = "sh.apigw.example.com"
tcp = "127.0.0.1:3"
priority = 2
"#;
    let cfg = crate::Config::from_toml(text, std::path::Path::new("test.toml")).unwrap();
    let g = &cfg.groups[0];
    assert_eq!(g.mode, Mode::Failover);
    assert_eq!(g.failback, Failback::Manual);
    assert_eq!(g.failback_after, Duration::from_secs(600));
    let regions: Vec<&str> = g.targets.iter().map(|t| t.region.as_str()).collect();
    assert_eq!(regions, vec!["ap-guangzhou", "ap-shanghai", "ap-beijing"]);

    let h = |hs: &[(&str, Health)]| -> Vec<TargetOutcome> {
        hs.iter()
            .map(|(r, h)| outcome_in("www", r, &value_of(g, r), *h))
            .collect()
    };
    // First run: guangzhou (priority 1) is down, shanghai gets the record, TTL 600.
    let outs = h(&[
        ("ap-guangzhou", Down),
        ("ap-shanghai", Healthy),
        ("ap-beijing", Healthy),
    ]);
    let p = decide(g, &[], &outs, t0(), &opts());
    assert_eq!(
        creates(&p.changes),
        vec![("sh.apigw.example.com".to_string(), true)]
    );
    let mut recs = Vec::new();
    apply(&mut recs, &p.changes, t0());
    assert_eq!(recs[0].ttl, 600);
    // Guangzhou back an hour later: manual failback, so only reported.
    let outs = h(&[
        ("ap-guangzhou", Healthy),
        ("ap-shanghai", Healthy),
        ("ap-beijing", Healthy),
    ]);
    let p = decide(g, &recs, &outs, t0() + mins(60), &opts());
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::RecoveredPending]);
    let p = decide(
        g,
        &recs,
        &outs,
        t0() + mins(60),
        &Options {
            failback: Some(("www".into(), "ap-guangzhou".into())),
            ..Options::default()
        },
    );
    assert_eq!(
        rewrites(&p.changes),
        vec![("1".to_string(), "gz.apigw.example.com".to_string())]
    );
}

// -- multi-run scenarios -------------------------------------------------------------

/// One scheduled run: decide on the current records, apply, then check that a
/// second decision on the applied state (same verdicts, same time) plans nothing.
fn step(
    g: &Group,
    recs: &mut Vec<Record>,
    health: &[(&str, Health)],
    now: DateTime<Utc>,
) -> GroupPlan {
    let outs = outcomes(g, health);
    let p = decide(g, recs, &outs, now, &opts());
    assert!(p.refused.is_empty(), "{:?}", p.refused);
    apply(recs, &p.changes, now);
    let again = decide(g, recs, &outs, now, &opts());
    assert!(
        again.changes.is_empty(),
        "not idempotent at {now}: {:#?}",
        again.changes
    );
    p
}

#[test]
fn active_scenario_fail_over_stay_fail_back() {
    let g = three(Mode::Active);
    let mut recs = Vec::new();
    let ok = [("gz", Healthy), ("sh", Healthy), ("bj", Healthy)];
    let sh_down = [("gz", Healthy), ("sh", Down), ("bj", Healthy)];
    let sh_shaky = [("gz", Healthy), ("sh", Degraded), ("bj", Healthy)];
    let mut now = t0();

    // Run 1: empty zone bootstraps itself.
    let p = step(&g, &mut recs, &ok, now);
    assert_eq!(creates(&p.changes).len(), 3);
    assert_eq!(enabled_values(&recs).len(), 3);

    // Run 2: sh goes down and is taken out.
    now += mins(1);
    let p = step(&g, &mut recs, &sh_down, now);
    assert_eq!(kinds(&p), vec![EventKind::Failover]);
    assert_eq!(enabled_values(&recs), vec!["10.0.0.1", "10.0.0.3"]);

    // Runs 3-5: still down, then degraded, then healthy but too early: stays out.
    for (m, health) in [(1, &sh_down), (1, &sh_shaky), (1, &ok)] {
        now += mins(m);
        let p = step(&g, &mut recs, health, now);
        assert!(p.changes.is_empty());
    }
    let p = step(&g, &mut recs, &ok, now);
    assert_eq!(kinds(&p), vec![EventKind::Recovering]);
    assert_eq!(enabled_values(&recs), vec!["10.0.0.1", "10.0.0.3"]);

    // 5 minutes after it went out: back in.
    now = t0() + mins(1) + mins(5);
    let p = step(&g, &mut recs, &ok, now);
    assert_eq!(kinds(&p), vec![EventKind::Failback]);
    assert_eq!(enabled_values(&recs).len(), 3);

    // And steady after that.
    now += mins(1);
    let p = step(&g, &mut recs, &ok, now);
    assert!(p.changes.is_empty() && p.events.is_empty());
}

#[test]
fn active_scenario_rolling_outage_never_empties_the_group() {
    let g = three(Mode::Active);
    let mut recs = all_enabled(&g);
    let mut now = t0();
    let runs: [[Health; 3]; 7] = [
        [Down, Healthy, Healthy],
        [Down, Down, Healthy],
        [Down, Down, Down], // all down: nothing changes
        [Down, Down, Unknown],
        [Down, Healthy, Down], // bj is the last enabled one: sh comes back early
        [Healthy, Healthy, Down],
        [Healthy, Healthy, Healthy],
    ];
    for hs in runs {
        now += mins(1);
        let health: Vec<(&str, Health)> = ["gz", "sh", "bj"].into_iter().zip(hs).collect();
        step(&g, &mut recs, &health, now);
        assert!(
            !enabled_values(&recs).is_empty(),
            "group emptied at {hs:?}: {recs:#?}"
        );
    }
    // sh was put back early at run 5 (and bj went out); gz came back at
    // run 6, 5 minutes after it went out; bj is still recovering.
    assert_eq!(enabled_values(&recs), vec!["10.0.0.1", "10.0.0.2"]);
    // After failback_after everything is back.
    now += mins(10);
    let all_ok = [("gz", Healthy), ("sh", Healthy), ("bj", Healthy)];
    step(&g, &mut recs, &all_ok, now);
    assert_eq!(enabled_values(&recs).len(), 3);
}

#[test]
fn failover_scenario_fail_over_stay_fail_back() {
    let g = three(Mode::Failover);
    let mut recs = Vec::new();
    let mut now = t0();
    let ok = [("gz", Healthy), ("sh", Healthy), ("bj", Healthy)];
    let gz_down = [("gz", Down), ("sh", Healthy), ("bj", Healthy)];

    let p = step(&g, &mut recs, &ok, now);
    assert_eq!(kinds(&p), vec![EventKind::Created]);
    assert_eq!(enabled_values(&recs), vec!["10.0.0.1"]);

    // gz down: over to sh.
    now += mins(1);
    let failed_at = now;
    let p = step(&g, &mut recs, &gz_down, now);
    assert_eq!(kinds(&p), vec![EventKind::Failover]);
    assert_eq!(enabled_values(&recs), vec!["10.0.0.2"]);

    // sh down too: over to bj (never back to gz, which is still down).
    now += mins(1);
    let both = [("gz", Down), ("sh", Down), ("bj", Healthy)];
    let p = step(&g, &mut recs, &both, now);
    assert_eq!(kinds(&p), vec![EventKind::Failover]);
    assert_eq!(enabled_values(&recs), vec!["10.0.0.3"]);
    let second_at = now;
    assert!(second_at > failed_at);

    // gz healthy again: recovering for 5 minutes counted from the last change.
    for _ in 0..4 {
        now += mins(1);
        let p = step(&g, &mut recs, &ok, now);
        assert!(p.changes.is_empty());
        assert_eq!(kinds(&p), vec![EventKind::Recovering]);
    }
    now = second_at + mins(5);
    let p = step(&g, &mut recs, &ok, now);
    assert_eq!(kinds(&p), vec![EventKind::Failback]);
    assert_eq!(enabled_values(&recs), vec!["10.0.0.1"]);
    assert_eq!(recs.len(), 1, "the tool never creates a second record here");

    // Steady.
    now += mins(1);
    let p = step(&g, &mut recs, &ok, now);
    assert!(p.changes.is_empty() && p.events.is_empty());
}

#[test]
fn failover_scenario_manual_failback_waits_for_the_operator() {
    let mut g = three(Mode::Failover);
    g.failback = Failback::Manual;
    let mut recs = the_record("10.0.0.1", "created", mins(600));
    let mut now = t0();
    step(&g, &mut recs, &[("gz", Down), ("sh", Healthy)], now);
    assert_eq!(enabled_values(&recs), vec!["10.0.0.2"]);
    for _ in 0..20 {
        now += mins(1);
        let p = step(&g, &mut recs, &[("gz", Healthy), ("sh", Healthy)], now);
        assert!(p.changes.is_empty());
    }
    let outs = outcomes(&g, &[("gz", Healthy), ("sh", Healthy)]);
    let p = decide(&g, &recs, &outs, now, &failback_to("gz"));
    apply(&mut recs, &p.changes, now);
    assert_eq!(enabled_values(&recs), vec!["10.0.0.1"]);
    let p = step(&g, &mut recs, &[("gz", Healthy), ("sh", Healthy)], now);
    assert!(p.changes.is_empty() && p.events.is_empty());
}

// -- small helpers of the module -------------------------------------------------------

#[test]
fn human_durations_read_naturally() {
    assert_eq!(human(Duration::from_secs(40)), "40s");
    assert_eq!(human(Duration::from_secs(300)), "5m");
    assert_eq!(human(Duration::from_secs(330)), "5m 30s");
    assert_eq!(human(Duration::from_secs(3720)), "1h 2m");
}

#[test]
fn event_kinds_and_severities_round_trip_their_names() {
    for k in EventKind::ALL {
        assert_eq!(EventKind::parse(k.as_str()), Some(k));
        assert_eq!(
            serde_json::to_value(k).unwrap(),
            serde_json::json!(k.as_str())
        );
    }
    for s in [Severity::Info, Severity::Warning, Severity::Critical] {
        assert_eq!(Severity::parse(s.as_str()), Some(s));
    }
    assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
    assert_eq!(EventKind::parse("nope"), None);
}

// -- property test -------------------------------------------------------------------

const REGIONS: [&str; 5] = ["r0", "r1", "r2", "r3", "r4"];
const VERBS: [&str; 6] = [
    "created",
    "disabled",
    "enabled",
    "failover",
    "failback",
    "disabled-drill",
];

fn health_strategy() -> impl Strategy<Value = Health> {
    prop_oneof![Just(Healthy), Just(Degraded), Just(Down), Just(Unknown)]
}

/// One current record: which value (0..n a target's, above a stranger's),
/// enabled, remark (None: a person's; Some(verb)), minutes since its change.
type RawRecord = (usize, bool, Option<usize>, i64);

#[derive(Debug, Clone)]
struct Case {
    group: Group,
    records: Vec<Record>,
    outcomes: Vec<TargetOutcome>,
    health: Vec<Health>,
    opts: Options,
    now: DateTime<Utc>,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (1usize..=5).prop_flat_map(|n| {
        (
            (
                any::<bool>(), // active?
                any::<bool>(), // manual failback?
                prop_oneof![Just(0u64), Just(60), Just(300), Just(900)],
                1u32..=4,                                   // max_changes
                proptest::collection::vec(any::<i64>(), n), // priorities (shuffled order)
            ),
            proptest::collection::vec(health_strategy(), n),
            proptest::collection::vec(
                (
                    0..n + 2,
                    any::<bool>(),
                    proptest::option::of(0..VERBS.len()),
                    -2i64..40,
                ),
                0..=n + 2,
            ),
            (
                any::<bool>(),                  // force
                any::<bool>(),                  // drill
                proptest::option::of(0..n + 1), // operator failback region
                any::<bool>(),                  // stray outcome of another group
            ),
        )
            .prop_map(move |(gp, health, raw, op)| build_case(n, gp, health, raw, op))
    })
}

fn build_case(
    n: usize,
    (active, manual, after, max_changes, prios): (bool, bool, u64, u32, Vec<i64>),
    health: Vec<Health>,
    raw: Vec<RawRecord>,
    (force, drill, fb, stray): (bool, bool, Option<usize>, bool),
) -> Case {
    let now = t0();
    let value = |i: usize| format!("10.0.0.{}", i + 1);
    let mut targets: Vec<Target> = (0..n)
        .map(|i| target(REGIONS[i], &value(i), prios[i] % 4))
        .collect();
    // As the config does: stable sort by priority.
    targets.sort_by_key(|t| t.priority);
    let group = Group {
        name: GROUP.into(),
        key: RecordKey {
            domain: "example.com".into(),
            subdomain: "api".into(),
            rtype: RecordType::A,
            line: "默认".into(),
        },
        mode: if active { Mode::Active } else { Mode::Failover },
        failback: if manual {
            Failback::Manual
        } else {
            Failback::Auto
        },
        failback_after: Duration::from_secs(after),
        max_changes,
        ttl: 60,
        targets,
    };
    // The provider refuses two records with the same value on one key.
    let mut records: Vec<Record> = Vec::new();
    for (i, (v, enabled, verb, ago)) in raw.into_iter().enumerate() {
        let value = value(v);
        if records.iter().any(|r| r.value == value) {
            continue;
        }
        let at = now - mins(ago);
        let remark = match verb {
            Some(k) => dns::remark(VERBS[k], at, "prop"),
            None => ["", "maintenance by ops"][i % 2].to_string(),
        };
        let mut r = rec(&(100 + i).to_string(), &value, enabled, &remark, at);
        // Some records serve a TTL above the group's 60 s.
        if i % 3 == 0 {
            r.ttl = 600;
        }
        records.push(r);
    }
    let mut outs: Vec<TargetOutcome> = (0..n)
        .filter(|&i| health[i] != Unknown)
        .map(|i| outcome_in(GROUP, REGIONS[i], &value(i), health[i]))
        .collect();
    if stray {
        // Another group's verdict about a region of the same name must not count.
        outs.push(outcome_in("other", REGIONS[0], &value(0), Down));
        outs.push(outcome_in("other", REGIONS[0], &value(0), Healthy));
    }
    let region = |i: usize| REGIONS.get(i).filter(|_| i < n).unwrap_or(&"nowhere");
    Case {
        group,
        records,
        outcomes: outs,
        health,
        opts: Options {
            force,
            drill,
            failback: fb.map(|i| (GROUP.to_string(), region(i).to_string())),
            // Limits unknown, no floor, or the free plan's 600 s floor.
            limits: match after % 3 {
                0 => None,
                1 => Some(PlanLimits::unlimited()),
                _ => Some(PlanLimits {
                    plan: Some("DP_Free".into()),
                    min_ttl: 600,
                    record_roll: Some(2),
                }),
            },
        },
        now,
    }
}

impl Case {
    fn health_of_value(&self, value: &str) -> Option<Health> {
        let i = (0..self.health.len()).find(|&i| format!("10.0.0.{}", i + 1) == value)?;
        Some(self.health[i])
    }
    fn is_target_value(&self, value: &str) -> bool {
        self.group.targets.iter().any(|t| t.value == value)
    }
    fn enabled_target_records(&self, records: &[Record]) -> usize {
        records
            .iter()
            .filter(|r| r.enabled && self.is_target_value(&r.value))
            .count()
    }
}

proptest! {
    // 2000 cases by default (about a second); PROPTEST_CASES overrides.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
    ))]

    #[test]
    fn no_plan_breaks_the_safety_rules(c in case_strategy()) {
        let g = &c.group;
        // (6) deterministic, plus expectations, remarks and drill marks: checked in `decide`.
        let p = decide(g, &c.records, &c.outcomes, c.now, &c.opts);

        // (1) a group with an enabled target record keeps one, after the whole
        // plan and after any prefix of it (the pipeline stops a group at its first failure).
        if c.enabled_target_records(&c.records) > 0 {
            for k in 0..=p.changes.len() {
                let mut after = c.records.clone();
                apply(&mut after, &p.changes[..k], c.now);
                prop_assert!(
                    c.enabled_target_records(&after) > 0,
                    "group emptied after {k} changes: {:#?}\nfrom {:#?}", p.changes, c.records
                );
            }
        }

        let all_down = c.health.iter().all(|h| *h == Down);
        for ch in &p.changes {
            let (value, enables) = match &ch.op {
                ChangeOp::Create { record } => (record.value.clone(), record.enabled),
                ChangeOp::SetValue { value, enabled, .. } => (value.clone(), *enabled),
                ChangeOp::SetStatus { record_id, enabled, .. } => {
                    let r = c.records.iter().find(|r| &r.id == record_id).unwrap();
                    (r.value.clone(), *enabled)
                }
                // Moves nothing: its status is kept (checked in `decide`).
                ChangeOp::SetTtl { .. } => continue,
            };
            let h = c.health_of_value(&value);
            prop_assert!(h.is_some(), "change to a non-target value: {ch:?}");
            let h = h.unwrap();
            // (2) failover mode never points the record at a down target.
            if g.mode == Mode::Failover {
                prop_assert!(
                    !matches!(ch.op, ChangeOp::SetStatus { .. }),
                    "failover mode changes values, not statuses: {ch:?}"
                );
                prop_assert!(h != Down, "failover record pointed at a down target: {ch:?}");
            }
            // (3) nothing enables a down target; in fact only targets known to be up.
            if enables {
                prop_assert!(h.is_up(), "enabled a {h:?} target: {ch:?}");
            }
            // The region named by the change is the target the value belongs to.
            prop_assert_eq!(&g.target(&ch.region).unwrap().value, &value);
            // A record a person disabled is only enabled when an operator asks for it.
            if let ChangeOp::SetStatus { record_id, enabled: true, .. } = &ch.op {
                let r = c.records.iter().find(|r| &r.id == record_id).unwrap();
                if !r.remark_is_ours() {
                    prop_assert_eq!(
                        c.opts.failback.as_ref().map(|(_, r)| r.as_str()),
                        Some(ch.region.as_str())
                    );
                }
            }
        }

        // (4) max_changes holds unless forced; refused changes only when not forced.
        let moving = p.changes.iter().filter(|c| c.moves_traffic()).count();
        if !c.opts.force {
            prop_assert!(moving <= g.max_changes as usize, "{moving} > {}", g.max_changes);
        } else {
            prop_assert!(p.refused.is_empty());
        }
        prop_assert_eq!(
            !p.refused.is_empty(),
            p.events.iter().any(|e| e.kind == EventKind::MaxChangesExceeded)
        );
        prop_assert!(p.refused.iter().all(|c| c.moves_traffic()));

        // (5) all down: no change at all, one critical all_down.
        if all_down {
            prop_assert!(p.changes.is_empty() && p.refused.is_empty());
            prop_assert_eq!(kinds(&p), vec![EventKind::AllDown]);
        } else {
            prop_assert!(!kinds(&p).contains(&EventKind::AllDown));
        }

        // Idempotence: once a plan that was not refused is applied, the same
        // verdicts at the same time plan nothing more. (An operator failback
        // is a one-off request, so it is left out here.)
        if p.refused.is_empty() && c.opts.failback.is_none() {
            let mut after = c.records.clone();
            apply(&mut after, &p.changes, c.now);
            let again = decide(g, &after, &c.outcomes, c.now, &c.opts);
            prop_assert!(
                again.changes.is_empty() && again.refused.is_empty(),
                "second pass plans {:#?}\nafter {:#?}\nfrom {:#?}", again.changes, p.changes, c.records
            );
        }

        // Failover mode changes at most one record.
        if g.mode == Mode::Failover {
            prop_assert!(p.changes.len() + p.refused.len() <= 1, "{:#?}", p.changes);
        }
    }
}

// -- never empty, never stranded (issue: safety under faults) -------------------

/// Three probers each took a different region out at the same moment: every
/// record is disabled by the tool, a minute ago, and every target is healthy.
/// The next run must not wait for failback_after: the name serves nothing.
#[test]
fn an_empty_name_gets_its_best_healthy_record_back_at_once_whatever_failback_after_says() {
    let g = three(Mode::Active);
    let recs = vec![
        ours("1", "10.0.0.1", false, "disabled", mins(1)),
        ours("2", "10.0.0.2", false, "disabled", mins(1)),
        ours("3", "10.0.0.3", false, "disabled", mins(1)),
    ];
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert_eq!(statuses(&p.changes), vec![s("1", true)]);
    assert_eq!(
        kinds(&p),
        vec![
            EventKind::Recovering,
            EventKind::Recovering,
            EventKind::EmptyName
        ]
    );
    let e = event(&p, EventKind::EmptyName);
    assert_eq!(e.severity, Severity::Critical);
    assert_eq!(e.regions, vec!["gz".to_string()]);

    // Healthy beats degraded even at a lower priority.
    let outs = outcomes(&g, &[("gz", Degraded), ("sh", Down), ("bj", Healthy)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert_eq!(statuses(&p.changes), vec![s("3", true)]);
    // A degraded target still beats an empty name.
    let outs = outcomes(&g, &[("gz", Degraded), ("sh", Down), ("bj", Down)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert_eq!(statuses(&p.changes), vec![s("1", true)]);
    assert_eq!(event(&p, EventKind::EmptyName).severity, Severity::Critical);
}

#[test]
fn an_empty_name_whose_records_a_person_disabled_pages_with_the_command_and_writes_nothing() {
    let g = three(Mode::Active);
    let recs = vec![
        theirs("1", "10.0.0.1", false, mins(1)),
        theirs("2", "10.0.0.2", false, mins(1)),
        ours("3", "10.0.0.3", false, "disabled", mins(1)),
    ];
    let outs = outcomes(&g, &[("gz", Healthy), ("sh", Healthy), ("bj", Down)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    let e = event(&p, EventKind::EmptyName);
    assert_eq!(e.severity, Severity::Critical);
    assert!(
        e.message
            .contains("dns-failover failback --group api --region gz"),
        "{}",
        e.message
    );
}

#[test]
fn an_empty_name_that_normal_failback_refills_is_still_paged() {
    let g = three(Mode::Active);
    let recs = vec![
        ours("1", "10.0.0.1", false, "disabled", mins(10)),
        ours("2", "10.0.0.2", false, "disabled", mins(10)),
        ours("3", "10.0.0.3", false, "disabled", mins(10)),
    ];
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &forced());
    assert_eq!(
        statuses(&p.changes),
        vec![s("1", true), s("2", true), s("3", true)]
    );
    assert!(kinds(&p).contains(&EventKind::EmptyName), "{:?}", kinds(&p));
    assert_eq!(event(&p, EventKind::EmptyName).severity, Severity::Critical);

    // max_changes (2 here) refuses the three enables, but never the first
    // one of an empty name.
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert_eq!(statuses(&p.changes), vec![s("1", true)]);
    assert!(kinds(&p).contains(&EventKind::MaxChangesExceeded));
    assert_eq!(p.refused.len(), 2);
}

#[test]
fn a_healthy_region_kept_out_by_someone_else_is_a_warning_with_the_fixing_command() {
    let g = three(Mode::Active);
    let mut recs = all_enabled(&g);
    recs[1] = theirs("2", "10.0.0.2", false, mins(30));
    let p = decide(&g, &recs, &all(&g, Healthy), t0(), &opts());
    assert!(p.changes.is_empty());
    let e = event(&p, EventKind::LeftAlone);
    assert_eq!(e.severity, Severity::Warning);
    assert!(
        e.message
            .contains("dns-failover failback --group api --region sh"),
        "{}",
        e.message
    );
    // Only when healthy: a degraded target stays an informational note.
    let outs = outcomes(&g, &[("gz", Healthy), ("sh", Degraded), ("bj", Healthy)]);
    let p = decide(&g, &recs, &outs, t0(), &opts());
    assert_eq!(event(&p, EventKind::LeftAlone).severity, Severity::Info);
}

// -- the check after writes ---------------------------------------------------

fn rescue(g: &Group, recs: &[Record], outs: &[TargetOutcome], mine: &[&str]) -> GroupPlan {
    let mine: Vec<String> = mine.iter().map(|s| s.to_string()).collect();
    rescue_empty(g, recs, outs, &mine, t0(), &opts())
}

#[test]
fn after_writes_a_name_with_an_enabled_record_needs_nothing() {
    let g = three(Mode::Active);
    let mut recs = all_enabled(&g);
    recs[0].enabled = false;
    recs[1].enabled = false;
    assert_eq!(
        rescue(&g, &recs, &all(&g, Healthy), &["1"]),
        GroupPlan {
            group: GROUP.into(),
            ..Default::default()
        }
    );
    // Failover groups are never emptied by the tool.
    let f = three(Mode::Failover);
    recs[2].enabled = false;
    assert!(rescue(&f, &recs, &all(&f, Healthy), &["1"])
        .events
        .is_empty());
}

#[test]
fn after_writes_an_empty_name_gets_the_best_up_target_the_tool_took_out() {
    // Three probers, each took out the region it saw down.
    let g = three(Mode::Active);
    let recs = vec![
        ours("1", "10.0.0.1", false, "disabled", mins(0)),
        ours("2", "10.0.0.2", false, "disabled", mins(0)),
        ours("3", "10.0.0.3", false, "disabled", mins(0)),
    ];
    // This prober saw gz down and disabled it; sh and bj are healthy here.
    let outs = outcomes(&g, &[("gz", Down), ("sh", Healthy), ("bj", Healthy)]);
    let p = rescue(&g, &recs, &outs, &["1"]);
    assert_eq!(statuses(&p.changes), vec![s("2", true)]);
    assert_eq!(kinds(&p), vec![EventKind::EmptyName]);
    assert_eq!(p.events[0].severity, Severity::Critical);
    let ChangeOp::SetStatus {
        remark,
        expect_enabled,
        ..
    } = &p.changes[0].op
    else {
        panic!("{:?}", p.changes[0]);
    };
    assert!(!expect_enabled);
    assert!(remark.starts_with(dns::REMARK_MARKER));
}

#[test]
fn after_writes_an_empty_name_emptied_by_a_person_gets_our_own_disable_undone() {
    // A person disabled sh and bj while this run disabled gz (down).
    let g = three(Mode::Active);
    let recs = vec![
        ours("1", "10.0.0.1", false, "disabled", mins(0)),
        theirs("2", "10.0.0.2", false, mins(0)),
        theirs("3", "10.0.0.3", false, mins(0)),
    ];
    let outs = outcomes(&g, &[("gz", Down), ("sh", Healthy), ("bj", Healthy)]);
    let p = rescue(&g, &recs, &outs, &["1"]);
    assert_eq!(statuses(&p.changes), vec![s("1", true)]);
    assert!(
        p.events[0].message.contains("undoing"),
        "{}",
        p.events[0].message
    );
    // Not ours to undo and nothing of ours up: only the page.
    let p = rescue(&g, &recs, &outs, &[]);
    assert!(p.changes.is_empty());
    assert_eq!(kinds(&p), vec![EventKind::EmptyName]);
    assert!(p.events[0]
        .message
        .contains("failback --group api --region sh"));
}

// -- certificate expiry (issue 14) --------------------------------------------

/// Outcomes whose every attempt presented a certificate ending at `not_after`.
fn with_cert(mut outs: Vec<TargetOutcome>, not_after: DateTime<Utc>) -> Vec<TargetOutcome> {
    for o in &mut outs {
        for a in &mut o.attempts {
            a.cert_not_after = Some(not_after);
        }
    }
    outs
}

#[test]
fn an_expiring_certificate_is_a_warning_that_moves_no_traffic() {
    let mut g = three(Mode::Failover);
    for mode in [Mode::Failover, Mode::Active] {
        g.mode = mode;
        for t in &mut g.targets {
            t.tls.cert_expiry_warning = Some(Duration::from_secs(14 * 86400));
        }
        let records = [ours("1", "10.0.0.1", true, "created", mins(60))];
        for health in [
            vec![("gz", Healthy), ("sh", Healthy), ("bj", Healthy)],
            vec![("gz", Down), ("sh", Healthy), ("bj", Healthy)],
            vec![("gz", Down), ("sh", Down), ("bj", Down)],
        ] {
            let plain = decide(&g, &records, &outcomes(&g, &health), t0(), &opts());
            let soon = with_cert(outcomes(&g, &health), t0() + chrono::Duration::days(5));
            let p = decide(&g, &records, &soon, t0(), &opts());
            // The same changes and the same other events: health ignores it.
            assert_eq!(p.changes, plain.changes, "{mode:?} {health:?}");
            let others: Vec<_> = p
                .events
                .iter()
                .filter(|e| e.kind != EventKind::CertExpiring)
                .cloned()
                .collect();
            assert_eq!(others, plain.events);
            // One warning per target, each naming its region.
            let certs: Vec<_> = p
                .events
                .iter()
                .filter(|e| e.kind == EventKind::CertExpiring)
                .collect();
            assert_eq!(certs.len(), 3, "{:#?}", p.events);
            assert!(certs.iter().all(|e| e.severity == Severity::Warning));
            assert_eq!(certs[0].regions, ["gz"]);
            assert!(certs[0].message.contains("in 5d"), "{}", certs[0].message);
            assert!(certs[0].message.contains("14d"), "{}", certs[0].message);
        }
    }
}

#[test]
fn a_certificate_beyond_the_warning_or_without_one_raises_nothing() {
    let mut g = three(Mode::Failover);
    let outs = with_cert(all(&g, Healthy), t0() + chrono::Duration::days(30));
    let records = [ours("1", "10.0.0.1", true, "created", mins(60))];
    // No cert_expiry_warning: nothing.
    let p = decide(&g, &records, &outs, t0(), &opts());
    assert!(!kinds(&p).contains(&EventKind::CertExpiring), "{p:#?}");
    // 14 days: 30 days left is fine; 31 days of warning is not.
    g.targets[0].tls.cert_expiry_warning = Some(Duration::from_secs(14 * 86400));
    let p = decide(&g, &records, &outs, t0(), &opts());
    assert!(!kinds(&p).contains(&EventKind::CertExpiring), "{p:#?}");
    g.targets[0].tls.cert_expiry_warning = Some(Duration::from_secs(31 * 86400));
    let p = decide(&g, &records, &outs, t0(), &opts());
    assert_eq!(event(&p, EventKind::CertExpiring).regions, ["gz"]);
}
